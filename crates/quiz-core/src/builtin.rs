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

use crate::words::{parse_word_list, ListedWord, WordBank};

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

/// Parses the shipped lists into a word bank.
///
/// # Panics
/// Never in a released build: every shipped list is parsed by this crate's tests.
pub fn word_bank() -> WordBank {
    let parse = |lists: &[(&str, &str)]| -> Vec<ListedWord> {
        lists
            .iter()
            .flat_map(|(name, text)| {
                parse_word_list(name, text)
                    .unwrap_or_else(|err| panic!("shipped word list is invalid: {err}"))
            })
            .collect()
    };
    WordBank::new(parse(QUESTION_LISTS), parse(DICTIONARY_LISTS))
        .unwrap_or_else(|err| panic!("shipped word lists are invalid: {err}"))
}
