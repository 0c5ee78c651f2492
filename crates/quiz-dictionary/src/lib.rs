//! The word bank the deployed game plays with: quiz-core's curated questions, and as accepted
//! answers also the 32,000 nouns of the Korean hunspell dictionary (hunspell-dict-ko 0.7.92).
//!
//! The noun list is derived from hunspell-dict-ko's built dictionary and is under the GNU GPL,
//! version 3 or later (see `LICENSE.md` beside this crate), and so is this crate. quiz-core
//! itself embeds only the curated lists (MIT OR Apache-2.0); depending on this crate is the
//! explicit choice to ship the dictionary, and its license, with a program.
//!
//! ```
//! let bank = quiz_dictionary::word_bank();
//! assert!(bank.is_answer("ㄱㅂㅅ", "거북선")); // only in the dictionary
//! assert!(!quiz_core::builtin::word_bank().contains("거북선"));
//! ```

use std::borrow::Cow;

use quiz_core::words::{BankTables, Theme, WordBank};

/// The noun list as shipped: one word per line, `#` comments.
pub const NOUNS: &str = include_str!("../words/hunspell-ko-nouns.txt");

// Written by `build.rs`: TABLES, the indexed bank.
include!(concat!(env!("OUT_DIR"), "/dictionary_words.rs"));

/// quiz-core's curated questions, accepting any of them or any dictionary noun as an answer.
/// Indexed when this crate was compiled.
pub fn word_bank() -> WordBank {
    WordBank::from_tables(&TABLES)
}

#[cfg(test)]
mod tests {
    use quiz_core::words::{parse_word_list, ListedWord};

    use super::*;

    /// The compiled tables are exactly what parsing the lists at run time gives.
    #[test]
    fn compiled_tables_match_the_lists() {
        let questions: Vec<ListedWord> = quiz_core::builtin::QUESTION_LISTS
            .iter()
            .flat_map(|(name, text)| parse_word_list(name, text).unwrap())
            .collect();
        let nouns = parse_word_list("hunspell-ko-nouns.txt", NOUNS).unwrap();
        let parsed = WordBank::new(questions, nouns).unwrap();
        let compiled = word_bank();
        assert_eq!(compiled.questions(), parsed.questions());
        assert_eq!(compiled.answers(), parsed.answers());
        assert_eq!(compiled.answers_per_pattern(), parsed.answers_per_pattern());
        assert!(compiled.answer_total() > 30_000);
        assert_eq!(
            compiled.questions(),
            quiz_core::builtin::word_bank().questions()
        );
    }
}
