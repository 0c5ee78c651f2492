//! A client that never reads, on a quiz-local started in this process: 400 posts of 30 KB to
//! it through the management API (as the issue that capped the buffers measured), counting
//! what is accepted and what answers 429, with this process's resident memory before and
//! after, and how long another member of its room then waits for its own chat echo.
//!
//! ```sh
//! cargo run --release -p quiz-local --example stalled_reader            # the 1 MiB default
//! cargo run --release -p quiz-local --example stalled_reader -- 1000000000  # no real cap
//! ```

use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::{SinkExt as _, StreamExt as _};
use quiz_local::{LocalOptions, LocalServer};
use quiz_store::{MemoryStore, Room, Store};
use tokio_tungstenite::tungstenite::Message;

/// This process's resident memory, from /proc (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let store = MemoryStore::new();
    let defaults = LocalOptions::default();
    let options = LocalOptions {
        addr: "127.0.0.1:0".parse().expect("an address"),
        max_outbound_bytes: std::env::args()
            .nth(1)
            .and_then(|bytes| bytes.parse().ok())
            .unwrap_or(defaults.max_outbound_bytes),
        ..defaults
    };
    let cap = options.max_outbound_bytes;
    let server = LocalServer::start(options, store.clone())
        .await
        .expect("quiz-local started");
    let url = server.url();
    let (stalled, _) =
        tokio_tungstenite::connect_async(format!("{url}?room=stall&username=stalled"))
            .await
            .expect("connected");
    let (mut player, _) =
        tokio_tungstenite::connect_async(format!("{url}?room=stall&username=player"))
            .await
            .expect("connected");
    let room = Room("stall".into());
    let stalled_id = loop {
        let mut stalled_id = None;
        for id in store.room_connections(&room).await.expect("listed") {
            let row = store.get_connection(&id).await.expect("read");
            if row.and_then(|row| row.username).as_deref() == Some("stalled") {
                stalled_id = Some(id);
            }
        }
        if let Some(id) = stalled_id {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "example"))
        .endpoint_url(server.management_endpoint())
        .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
        .build();
    let client = aws_sdk_apigatewaymanagement::Client::from_conf(config);
    let frame = vec![b'x'; 30 * 1024];
    let before = rss_kib();
    let (mut accepted, mut throttled) = (0, 0);
    for _ in 0..400 {
        let post = client
            .post_to_connection()
            .connection_id(&stalled_id.0)
            .data(Blob::new(frame.clone()))
            .send()
            .await;
        match post {
            Ok(_) => accepted += 1,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_limit_exceeded_exception()) =>
            {
                throttled += 1
            }
            Err(err) => panic!("unexpected answer: {err:?}"),
        }
    }
    let after = rss_kib();

    let sent = Instant::now();
    player
        .send(Message::text(
            r#"{"username":"player","content":"still here"}"#,
        ))
        .await
        .expect("sent");
    loop {
        match player.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().contains("still here") => break,
            Some(Ok(_)) => continue,
            other => panic!("the player's connection ended: {other:?}"),
        }
    }
    let echo = sent.elapsed();
    println!(
        "cap {cap} bytes; 400 posts of 30 KB to a client that never reads: {accepted} accepted, {throttled} answered 429; \
         resident memory {before} KiB before, {after} KiB after ({:+} KiB); \
         another member's echo then took {:.1} ms",
        after as i64 - before as i64,
        echo.as_secs_f64() * 1_000.0
    );
    drop(stalled);
    server.shutdown().await.expect("stopped");
}
