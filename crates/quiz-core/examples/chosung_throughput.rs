//! Measures `chosung` throughput on a file, for comparison with other implementations, next to
//! the plain `chars()` loop with the same output.
//!
//! ```text
//! cargo run --release -p quiz-core --example chosung_throughput -- --write-text text.txt
//! cargo run --release -p quiz-core --example chosung_throughput -- --write-lines lines.txt
//! cargo run --release -p quiz-core --example chosung_throughput -- [--lines] FILE [SECONDS]
//! cargo run --release -p quiz-core --example chosung_throughput -- --print [--lines] FILE
//! ```
//!
//! `--write-text` writes the 64 KiB chat text, `--write-lines` the 200,000 chat lines (one per
//! line, no final newline). Measuring takes the whole file as one text, or with `--lines` each
//! of its lines as one text, one call per line. After a warm-up, `chosung` and the plain loop
//! run in alternating rounds of about 100 ms until each has run for SECONDS (3 by default), so
//! a machine busy at one moment slows both alike. Prints one JSON line per implementation:
//! corpus, bytes and calls per pass, passes, seconds, MB/s (10^6 bytes per second). `--print`
//! prints `chosung`'s output, one line per input line with `--lines`.

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use quiz_core::hangul::chosung;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["--write-text", path] => std::fs::write(path, common::chat_text())?,
        ["--write-lines", path] => std::fs::write(path, common::chat_lines().join("\n"))?,
        ["--print", rest @ ..] => {
            let (lines, path) = corpus_args(rest)?;
            let text = std::fs::read_to_string(path)?;
            let texts = split(&text, lines);
            let outputs: Vec<String> = texts.iter().map(|text| chosung(text)).collect();
            print!("{}", outputs.join("\n"));
        }
        rest => {
            let (seconds, rest) = match rest {
                [head @ .., last] if last.parse::<f64>().is_ok() => (last.parse::<f64>()?, head),
                _ => (3.0, rest),
            };
            let (lines, path) = corpus_args(rest)?;
            let text = std::fs::read_to_string(path)?;
            let texts = split(&text, lines);
            measure(&texts, if lines { "lines" } else { "text" }, seconds);
        }
    }
    Ok(())
}

/// `[--lines] FILE`.
fn corpus_args<'a>(args: &[&'a str]) -> Result<(bool, &'a str), String> {
    match args {
        ["--lines", path] => Ok((true, path)),
        [path] if !path.starts_with("--") => Ok((false, path)),
        _ => Err(
            "usage: chosung_throughput --write-text FILE | --write-lines FILE \
                  | [--lines] FILE [SECONDS] | --print [--lines] FILE"
                .into(),
        ),
    }
}

fn split(text: &str, lines: bool) -> Vec<&str> {
    if lines {
        text.split('\n').collect()
    } else {
        vec![text]
    }
}

/// The implementations measured, in the order they are printed.
const IMPLEMENTATIONS: [&str; 2] = ["quiz-core", "plain-chars-loop"];

fn measure(texts: &[&str], corpus: &str, seconds: f64) {
    let bytes: usize = texts.iter().map(|text| text.len()).sum();
    assert!(
        texts
            .iter()
            .all(|text| chosung(text) == common::plain_chars_loop(text)),
        "the plain loop must give chosung's output"
    );
    // `passes` passes of implementation `which`; each is called directly, as callers do.
    let run = |which: usize, passes: u64| {
        let started = Instant::now();
        for _ in 0..passes {
            match which {
                0 => each_text(texts, chosung),
                _ => each_text(texts, common::plain_chars_loop),
            }
        }
        started.elapsed()
    };
    // Warm up, and size the rounds so each takes about 100 ms.
    let mut passes_per_round = 1;
    for which in 0..IMPLEMENTATIONS.len() {
        let started = Instant::now();
        let mut passes = 0;
        while started.elapsed() < Duration::from_millis(250) {
            run(which, 1);
            passes += 1;
        }
        passes_per_round = u64::max(passes_per_round, passes * 100 / 250);
    }
    let mut passes = [0; IMPLEMENTATIONS.len()];
    let mut elapsed = [Duration::ZERO; IMPLEMENTATIONS.len()];
    let budget = Duration::from_secs_f64(seconds);
    while elapsed.iter().any(|&spent| spent < budget) {
        for which in 0..IMPLEMENTATIONS.len() {
            elapsed[which] += run(which, passes_per_round);
            passes[which] += passes_per_round;
        }
    }
    for (which, name) in IMPLEMENTATIONS.into_iter().enumerate() {
        let seconds = elapsed[which].as_secs_f64();
        let mb_per_s = (bytes as f64 * passes[which] as f64) / seconds / 1e6;
        println!(
            "{{\"impl\":\"{name}\",\"corpus\":\"{corpus}\",\"bytes\":{bytes},\"calls\":{},\"passes\":{},\"seconds\":{seconds:.3},\"mb_per_s\":{mb_per_s:.1}}}",
            texts.len(),
            passes[which],
        );
    }
}

/// Calls `f` once per text.
fn each_text(texts: &[&str], f: impl Fn(&str) -> String) {
    for text in texts {
        black_box(f(black_box(text)));
    }
}
