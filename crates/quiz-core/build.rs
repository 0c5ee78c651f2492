//! Indexes the shipped word lists when the crate is compiled, so a cold start does not.
//!
//! The lists are found the way `quiz-local --words DIR` finds them: every `*.txt` in
//! `fixtures/words/` is a question list, every `*.txt` in `fixtures/words/dictionary/` adds
//! accepted answers, each in file-name order. They are parsed and validated by the crate's own
//! `hangul` and `words` modules (included here by path), so a bad edit to a list fails the build
//! with the file and line. The output, `builtin_words.rs`, holds the lists' texts and the word
//! bank's sorted tables as statics, and `src/builtin.rs` includes it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/hangul.rs"]
mod hangul;
#[allow(dead_code)]
#[path = "src/words.rs"]
mod words;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/words");
    let questions = text_files(&root);
    let dictionary_dir = root.join("dictionary");
    // Optional, as for `quiz-local --words DIR`.
    let dictionary = if dictionary_dir.is_dir() {
        text_files(&dictionary_dir)
    } else {
        Vec::new()
    };
    let parse = |files: &[PathBuf], prefix: &str| -> Vec<words::ListedWord> {
        let mut all = Vec::new();
        for path in files {
            let name = format!("{prefix}{}", file_name(path));
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|err| panic!("cannot read word list {}: {err}", path.display()));
            match words::parse_word_list(&name, &text) {
                Ok(listed) => all.extend(listed),
                Err(err) => panic!("shipped word list is invalid: {err}"),
            }
        }
        all
    };
    let bank = words::WordBank::new(parse(&questions, ""), parse(&dictionary, "dictionary/"))
        .unwrap_or_else(|err| panic!("shipped word lists are invalid: {err}"));

    let mut out = String::new();
    write_lists(
        &mut out,
        "QUESTION_LISTS",
        "The question lists",
        &questions,
        "",
    );
    write_lists(
        &mut out,
        "DICTIONARY_LISTS",
        "The extra accepted answers",
        &dictionary,
        "dictionary/",
    );
    write_words(&mut out, "QUESTIONS", bank.questions());
    write_words(&mut out, "ANSWERS", bank.answers());
    let patterns = bank.answers_per_pattern();
    let _ = writeln!(
        out,
        "static PATTERNS: [(Cow<'static, str>, u32); {}] = [",
        patterns.len()
    );
    for (pattern, count) in patterns {
        let _ = writeln!(out, "(Cow::Borrowed({pattern:?}), {count}),");
    }
    out.push_str("];\n");

    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(Path::new(&out_dir).join("builtin_words.rs"), out)
        .expect("write the word tables into OUT_DIR");
}

/// The `*.txt` files of `dir`, sorted; cargo reruns this script when the folder or one of them
/// changes.
fn text_files(dir: &Path) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list word lists in {}: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn write_lists(out: &mut String, name: &str, doc: &str, files: &[PathBuf], prefix: &str) {
    let _ = writeln!(out, "/// {doc}: (file name, contents).");
    let _ = writeln!(out, "pub const {name}: &[(&str, &str)] = &[");
    for path in files {
        let label = format!("{prefix}{}", file_name(path));
        let _ = writeln!(
            out,
            "({label:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
}

fn write_words(out: &mut String, name: &str, words: &[Cow<'static, str>]) {
    let _ = writeln!(
        out,
        "static {name}: [Cow<'static, str>; {}] = [",
        words.len()
    );
    for word in words {
        let _ = writeln!(out, "Cow::Borrowed({word:?}),");
    }
    out.push_str("];\n");
}
