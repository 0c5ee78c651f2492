//! The word lists shipped in `fixtures/words/`, compiled into the binary.
//!
//! Questions come from the curated themed lists (`fixtures/words/*.txt`); accepted answers also
//! include the nouns of the Korean hunspell dictionary (`fixtures/words/dictionary/*.txt`, under
//! its own license). A list added to either folder is picked up at the next build.
//!
//! ```
//! let bank = quiz_core::builtin::word_bank();
//! assert!(bank.questions().len() >= 1_000);
//! assert!(bank.is_answer("ㄱㅇㅈ", "강아지"));
//! ```

use std::borrow::Cow;

use crate::words::WordBank;

// Written by `build.rs` from `fixtures/words/`: QUESTION_LISTS and DICTIONARY_LISTS (the files,
// compiled in), and QUESTIONS, ANSWERS and PATTERNS (the word bank they make, already indexed).
include!(concat!(env!("OUT_DIR"), "/builtin_words.rs"));

/// The word bank of the shipped lists.
///
/// The lists were parsed, validated and indexed when this crate was compiled, so a Lambda cold
/// start does not pay for indexing 33,000 words; what is left is the loader relocating the
/// tables' pointers as the binary starts.
pub fn word_bank() -> WordBank {
    WordBank::from_tables(&QUESTIONS, &ANSWERS, &PATTERNS)
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
        let parsed = WordBank::new(parse(QUESTION_LISTS), parse(DICTIONARY_LISTS)).unwrap();
        let compiled = word_bank();
        assert_eq!(compiled.questions(), parsed.questions());
        assert_eq!(compiled.answers(), parsed.answers());
        assert_eq!(compiled.answers_per_pattern(), parsed.answers_per_pattern());
        assert!(compiled.answer_total() > 30_000);
        assert!(compiled.is_answer("ㄱㅇㅈ", "강아지"));
    }
}
