//! The word lists shipped in `fixtures/words/`, compiled into the binary.
//!
//! Questions come from the curated themed lists; accepted answers also include the nouns of the
//! Korean hunspell dictionary (`fixtures/words/dictionary/`, under its own license).
//!
//! ```
//! let bank = quiz_core::builtin::word_bank();
//! assert!(bank.questions().len() >= 1_000);
//! assert!(bank.is_answer("ㄱㅇㅈ", "강아지"));
//! ```

use std::borrow::Cow;

use crate::words::WordBank;

macro_rules! word_lists {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../fixtures/words/", $name)))),*]
    };
}

/// The themed question lists: (file name, contents).
pub const QUESTION_LISTS: &[(&str, &str)] = word_lists![
    "animals.txt",
    "body.txt",
    "clothing.txt",
    "culture.txt",
    "food.txt",
    "home.txt",
    "jobs.txt",
    "nature.txt",
    "places.txt",
    "school.txt",
    "sports.txt",
    "transport.txt",
];

/// The extra accepted answers: (file name, contents).
pub const DICTIONARY_LISTS: &[(&str, &str)] = word_lists!["dictionary/hunspell-ko-nouns.txt"];

// QUESTIONS, ANSWERS and PATTERNS: the bank of the lists above, indexed by `build.rs`.
include!(concat!(env!("OUT_DIR"), "/builtin_words.rs"));

/// The word bank of the shipped lists.
///
/// The lists were parsed, validated and indexed when this crate was compiled, so this costs
/// nothing at run time: a Lambda cold start does not pay for indexing 33,000 words.
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
