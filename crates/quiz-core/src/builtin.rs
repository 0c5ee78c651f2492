//! The curated question lists shipped in `fixtures/words/`, compiled into the crate.
//!
//! These lists were written for this project and are under its license (MIT OR Apache-2.0), so
//! this is all the data the crate embeds: the bank accepts the questions' own words as answers.
//! A game that should accept any dictionary word gives [`WordBank::new`] a dictionary of its own;
//! the deployed game uses the `quiz-dictionary` crate (32,000 nouns of the Korean hunspell
//! dictionary, GPL-3.0-or-later), which builds on these lists. A list added to `fixtures/words/`
//! is picked up at the next build.
//!
//! ```
//! let bank = quiz_core::builtin::word_bank();
//! assert!(bank.questions().len() >= 1_000);
//! assert!(bank.is_answer("ㄱㅇㅈ", "강아지"));
//! ```

use std::borrow::Cow;

use crate::words::{BankTables, Theme, WordBank};

// Written by `build.rs` from `fixtures/words/`: QUESTION_LISTS (the files, compiled in), and
// TABLES (the word bank they make, already indexed: questions, answers, patterns, themes).
include!(concat!(env!("OUT_DIR"), "/builtin_words.rs"));

/// The word bank of the curated lists: their words are the questions and the only answers.
///
/// The lists were parsed, validated and indexed when this crate was compiled, so a cold start
/// does not pay for indexing.
pub fn word_bank() -> WordBank {
    WordBank::from_tables(&TABLES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::{parse_word_list, ListedWord};

    fn parse(lists: &[(&str, &str)]) -> Vec<ListedWord> {
        lists
            .iter()
            .flat_map(|(name, text)| parse_word_list(name, text).unwrap())
            .collect()
    }

    /// The compiled tables are exactly what parsing the shipped lists at run time gives.
    #[test]
    fn compiled_tables_match_the_lists() {
        let parsed = WordBank::new(parse(QUESTION_LISTS), Vec::new()).unwrap();
        let compiled = word_bank();
        assert_eq!(compiled.questions(), parsed.questions());
        assert_eq!(compiled.answers(), parsed.answers());
        assert_eq!(compiled.answers_per_pattern(), parsed.answers_per_pattern());
    }

    /// The default build embeds only the curated lists: a curated word counts, a word found
    /// only in the hunspell dictionary (the `quiz-dictionary` crate) does not.
    #[test]
    fn the_default_bank_holds_only_the_curated_words() {
        let bank = word_bank();
        assert!(bank.is_answer("ㄱㅇㅈ", "강아지"));
        assert!(!bank.contains("거북선"), "a hunspell-only word");
        assert_eq!(bank.answer_total(), bank.questions().len());
    }
}
