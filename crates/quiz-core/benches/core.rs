//! quiz-core throughput: chosung extraction, answer checks and game transitions.
//!
//! Run with `cargo bench -p quiz-core`; `cargo bench -p quiz-core --bench core -- chosung` runs
//! only chosung's, on the 64 KiB text and on the 200,000 chat lines, each next to the plain
//! `chars()` loop it is measured against.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use quiz_core::builtin;
use quiz_core::game::{Game, GameConfig, Rules};
use quiz_core::hangul::chosung;
use quiz_core::words::{normalize_answer, parse_word_list, ListedWord, WordBank};

fn bench_chosung(c: &mut Criterion) {
    let text = common::chat_text();
    let lines = common::chat_lines();
    let line_bytes: usize = lines.iter().map(String::len).sum();
    let same = |text: &str| chosung(text) == common::plain_chars_loop(text);
    assert!(same(&text) && lines.iter().all(|line| same(line)));

    let mut group = c.benchmark_group("chosung");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("chat_text_64KiB", |b| b.iter(|| chosung(black_box(&text))));
    group.bench_function("plain_chars_loop_64KiB", |b| {
        b.iter(|| common::plain_chars_loop(black_box(&text)))
    });
    // The floor to approach: one pass over the same bytes that touches each of them.
    group.bench_function("baseline_byte_pass", |b| {
        b.iter(|| {
            black_box(&text)
                .as_bytes()
                .iter()
                .fold(0u32, |acc, &byte| acc.wrapping_add(u32::from(byte >= 0xE0)))
        })
    });
    // What chosung is called on: one call per chat line, 200,000 of them per iteration.
    group.throughput(Throughput::Bytes(line_bytes as u64));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.bench_function("chat_lines_200k", |b| b.iter(|| each_line(&lines, chosung)));
    group.bench_function("plain_chars_loop_lines", |b| {
        b.iter(|| each_line(&lines, common::plain_chars_loop))
    });
    group.finish();
}

/// Calls `f` once per line, as a chat server calls `chosung` once per message.
fn each_line(lines: &[String], f: impl Fn(&str) -> String) {
    for line in lines {
        black_box(f(black_box(line)));
    }
}

fn bench_answers(c: &mut Criterion) {
    let bank = builtin::word_bank();
    let candidates: Vec<(String, String)> = bank
        .questions()
        .iter()
        .take(500)
        .map(|w| (chosung(w), w.to_string()))
        .chain(["사람 아님", "ㅋㅋㅋ", "강아지🐶", "자동차"].map(|w| ("ㅅㄹ".into(), w.into())))
        .collect();
    let mut group = c.benchmark_group("answers");
    group.throughput(Throughput::Elements(candidates.len() as u64));
    group.bench_function("normalize_and_check", |b| {
        b.iter(|| {
            candidates
                .iter()
                .filter(|(pattern, text)| bank.is_answer(pattern, &normalize_answer(text)))
                .count()
        })
    });
    group.finish();
}

fn bench_game(c: &mut Criterion) {
    let rules = Rules::new(builtin::word_bank(), GameConfig::default());
    let start = 1_700_000_000_000u64;
    let fresh = Game::new(&rules, 1, 42, start);
    let mut group = c.benchmark_group("game");
    group.throughput(Throughput::Elements(1));
    group.bench_function("wrong_answer", |b| {
        let mut game = fresh.clone();
        b.iter(|| game.submit(&rules, "민지", black_box("아무말 대잔치"), 10, start + 1))
    });
    group.bench_function("correct_answer", |b| {
        b.iter_batched(
            || (fresh.clone(), fresh.question().to_owned()),
            |(mut game, answer)| game.submit(&rules, "민지", &answer, 10, start + 1),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tick_no_change", |b| {
        let mut game = fresh.clone();
        b.iter(|| game.tick(&rules, black_box(start + 1)))
    });
    group.finish();
}

/// Parsing and indexing the shipped lists at run time: what a start with `WORDS_PATH` pays.
/// The built-in bank skips this; `build.rs` does it when the crate is compiled.
fn bench_word_bank(c: &mut Criterion) {
    let parse = |lists: &[(&str, &str)]| -> Vec<ListedWord> {
        lists
            .iter()
            .flat_map(|(name, text)| parse_word_list(name, text).expect("shipped lists parse"))
            .collect()
    };
    let mut group = c.benchmark_group("words");
    group.sample_size(20);
    group.bench_function("index_shipped_lists", |b| {
        b.iter(|| WordBank::new(parse(builtin::QUESTION_LISTS), Vec::new()))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_chosung,
    bench_answers,
    bench_game,
    bench_word_bank
);
criterion_main!(benches);
