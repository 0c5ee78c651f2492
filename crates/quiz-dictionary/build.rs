//! Indexes quiz-core's curated questions with the hunspell nouns as extra answers when the
//! crate is compiled, so a cold start does not index 33,000 words.

use std::path::Path;

use quiz_core::words::{parse_word_list, ListedWord, WordBank};

fn main() {
    let nouns_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("words/hunspell-ko-nouns.txt");
    println!("cargo:rerun-if-changed={}", nouns_path.display());
    let nouns = std::fs::read_to_string(&nouns_path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", nouns_path.display()));
    let dictionary = parse_word_list("hunspell-ko-nouns.txt", &nouns)
        .unwrap_or_else(|err| panic!("the noun list is invalid: {err}"));
    let questions: Vec<ListedWord> = quiz_core::builtin::QUESTION_LISTS
        .iter()
        .flat_map(|(name, text)| {
            parse_word_list(name, text)
                .unwrap_or_else(|err| panic!("quiz-core's question list is invalid: {err}"))
        })
        .collect();
    let bank = WordBank::new(questions, dictionary)
        .unwrap_or_else(|err| panic!("the word lists are invalid: {err}"));
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(
        Path::new(&out_dir).join("dictionary_words.rs"),
        bank.tables_source(),
    )
    .expect("write the word tables into OUT_DIR");
}
