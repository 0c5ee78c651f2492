//! Measures `chosung` throughput on a text file, for comparison with other implementations.
//!
//! ```text
//! cargo run --release -p quiz-core --example chosung_throughput -- sample.txt [seconds]
//! cargo run --release -p quiz-core --example chosung_throughput -- --write-sample sample.txt
//! cargo run --release -p quiz-core --example chosung_throughput -- --print sample.txt
//! ```
//!
//! Prints one JSON line: bytes per pass, passes, seconds, MB/s (10^6 bytes per second).

#[path = "../benches/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use quiz_core::hangul::chosung;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, path] if flag == "--write-sample" => {
            std::fs::write(path, common::chat_text())?;
            Ok(())
        }
        [flag, path] if flag == "--print" => {
            print!("{}", chosung(&std::fs::read_to_string(path)?));
            Ok(())
        }
        [path, rest @ ..] => {
            let text = std::fs::read_to_string(path)?;
            let seconds: f64 = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
            let budget = Duration::from_secs_f64(seconds);
            // Warm up, then count whole passes until the budget is spent.
            for _ in 0..100 {
                black_box(chosung(black_box(&text)));
            }
            let started = Instant::now();
            let mut passes = 0u64;
            while started.elapsed() < budget {
                black_box(chosung(black_box(&text)));
                passes += 1;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let mb_per_s = (text.len() as f64 * passes as f64) / elapsed / 1e6;
            println!(
                "{{\"impl\":\"quiz-core\",\"bytes\":{},\"passes\":{passes},\"seconds\":{elapsed:.3},\"mb_per_s\":{mb_per_s:.1}}}",
                text.len()
            );
            Ok(())
        }
        _ => Err(
            "usage: chosung_throughput FILE [SECONDS] | --write-sample FILE | --print FILE".into(),
        ),
    }
}
