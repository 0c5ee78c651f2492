//! How late the rounds' timers reach players: `CLIENTS` rooms of one silent player each, on a
//! quiz-local started in this process with 3-second rounds, for 8 seconds (before the rooms
//! pause after three silent timeouts). For every hint and timeout a client receives, the delay
//! from the instant it was due to the moment the frame arrived over the WebSocket.
//!
//! ```sh
//! cargo run --release -p quiz-local --example timer_lateness -- 100
//! cargo run --release -p quiz-local --example timer_lateness -- 100 http://127.0.0.1:5000  # SQS
//! ```

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use quiz_local::{LocalOptions, LocalServer, TimerBackend};
use quiz_store::MemoryStore;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const ROUND_MS: u64 = 3_000;
const LISTEN: Duration = Duration::from_secs(8);

fn now_millis() -> u64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(elapsed.as_millis()).expect("milliseconds fit in u64")
}

/// When a state frame was due: its hint's instant, or the previous round's deadline.
fn due(frame: &Value, last: &Value) -> Option<u64> {
    let round = frame["round"].as_u64()?;
    if round != last["round"].as_u64()? {
        return last["deadline"].as_u64();
    }
    let level = frame["hintLevel"].as_u64()?;
    Some(frame["roundStartedAt"].as_u64()? + (ROUND_MS * level).div_ceil(3))
}

async fn listen(url: String, room: usize) -> Vec<u64> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?room=r{room}&username=p"))
        .await
        .expect("connected");
    ws.send(Message::text("start!")).await.expect("sent");
    let mut last: Option<Value> = None;
    let mut lateness = Vec::new();
    let until = tokio::time::Instant::now() + LISTEN;
    while let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout_at(until, ws.next()).await {
        let arrived = now_millis();
        let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
        if frame["type"] != "state" {
            continue;
        }
        if let Some(due) = last.as_ref().and_then(|last| due(&frame, last)) {
            lateness.push(arrived.saturating_sub(due));
        }
        last = Some(frame);
    }
    lateness
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let timers = match args.next() {
        Some(endpoint) => TimerBackend::Sqs {
            endpoint,
            queue: format!("lateness-{}", now_millis()),
        },
        None => TimerBackend::InProcess,
    };
    let options = LocalOptions {
        addr: "127.0.0.1:0".parse().expect("an address"),
        round_secs: Some(ROUND_MS / 1_000),
        timers,
        ..LocalOptions::default()
    };
    let server = LocalServer::start(options, MemoryStore::new())
        .await
        .expect("quiz-local started");
    let listeners: Vec<_> = (0..clients)
        .map(|room| tokio::spawn(listen(server.url(), room)))
        .collect();
    let mut lateness = Vec::new();
    for listener in listeners {
        lateness.extend(listener.await.expect("a listener"));
    }
    server.shutdown().await.expect("stopped");
    lateness.sort_unstable();
    if lateness.is_empty() {
        eprintln!("no timer reached a client");
        std::process::exit(1);
    }
    let at = |q: f64| lateness[((lateness.len() - 1) as f64 * q).round() as usize];
    println!(
        "{} timers in {clients} rooms: median {} ms, p99 {} ms, worst {} ms after their instant",
        lateness.len(),
        at(0.5),
        at(0.99),
        lateness.last().copied().unwrap_or(0)
    );
}
