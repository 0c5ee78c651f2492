//! Indexes the shipped word lists when the crate is compiled, so a cold start does not.
//!
//! The lists are parsed and validated by the crate's own `hangul` and `words` modules (included
//! here by path), so a bad edit to a list fails the build with the file and line. The resulting
//! sorted tables are written as Rust statics that `src/builtin.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/hangul.rs"]
mod hangul;
#[allow(dead_code)]
#[path = "src/words.rs"]
mod words;

/// Must match the lists `src/builtin.rs` names.
const QUESTION_LISTS: &[&str] = &[
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
const DICTIONARY_LISTS: &[&str] = &["dictionary/hunspell-ko-nouns.txt"];

fn main() {
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/words");
    let read = |names: &[&str]| -> Vec<words::ListedWord> {
        let mut all = Vec::new();
        for name in names {
            let path = lists.join(name);
            println!("cargo:rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read word list {}: {err}", path.display()));
            match words::parse_word_list(name, &text) {
                Ok(listed) => all.extend(listed),
                Err(err) => panic!("shipped word list is invalid: {err}"),
            }
        }
        all
    };
    let bank = words::WordBank::new(read(QUESTION_LISTS), read(DICTIONARY_LISTS))
        .unwrap_or_else(|err| panic!("shipped word lists are invalid: {err}"));

    let mut out = String::new();
    write_words(&mut out, "QUESTIONS", bank.questions());
    write_words(&mut out, "ANSWERS", bank.answers());
    let patterns = bank.answers_per_pattern();
    writeln!(
        out,
        "static PATTERNS: [(Cow<'static, str>, u32); {}] = [",
        patterns.len()
    )
    .unwrap();
    for (pattern, count) in patterns {
        writeln!(out, "(Cow::Borrowed({pattern:?}), {count}),").unwrap();
    }
    out.push_str("];\n");

    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(Path::new(&out_dir).join("builtin_words.rs"), out)
        .expect("write the word tables into OUT_DIR");
}

fn write_words(out: &mut String, name: &str, words: &[std::borrow::Cow<'static, str>]) {
    writeln!(
        out,
        "static {name}: [Cow<'static, str>; {}] = [",
        words.len()
    )
    .unwrap();
    for word in words {
        writeln!(out, "Cow::Borrowed({word:?}),").unwrap();
    }
    out.push_str("];\n");
}
