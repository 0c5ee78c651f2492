//! Indexes the shipped question lists when the crate is compiled, so a cold start does not.
//!
//! The lists are found the way `quiz-local --words DIR` finds its questions: every `*.txt` in
//! `fixtures/words/`, in file-name order. These are the curated lists written for this project
//! and under its license; a larger dictionary of accepted answers is the caller's to add
//! (`WordBank::new`, or the `quiz-dictionary` crate). They are parsed and validated by the
//! crate's own `hangul` and `words` modules (included here by path), so a bad edit to a list
//! fails the build with the file and line. The output, `builtin_words.rs`, holds the lists'
//! texts and the word bank's sorted tables as statics, and `src/builtin.rs` includes it.

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
    let mut listed = Vec::new();
    for path in &questions {
        let name = file_name(path);
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("cannot read word list {}: {err}", path.display()));
        match words::parse_word_list(&name, &text) {
            Ok(words) => listed.extend(words),
            Err(err) => panic!("shipped word list is invalid: {err}"),
        }
    }
    let bank = words::WordBank::new(listed, Vec::new())
        .unwrap_or_else(|err| panic!("shipped word lists are invalid: {err}"));

    let mut out = String::new();
    let _ = writeln!(out, "/// The question lists: (file name, contents).");
    out.push_str("pub const QUESTION_LISTS: &[(&str, &str)] = &[\n");
    for path in &questions {
        let _ = writeln!(
            out,
            "({:?}, include_str!({:?})),",
            file_name(path),
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    out.push_str(&bank.tables_source());

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
