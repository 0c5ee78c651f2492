//! One client cannot hurt a room: a flooder is held to the message limit and then closed, and
//! a client that never reads loses its own frames (429) while the room plays on. And a
//! throttled account (429 on posts) costs a room time, not chat lines.

use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::primitives::Blob;
use quiz_local::LocalOptions;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{management_client, options, Client, Gateway, TestStore};

/// The limit quiz-local runs with by default: a burst of 10, then 3 a second.
const BURST: f64 = 10.0;
const PER_SEC: f64 = 3.0;

/// What a normal member saw while the flood went on.
struct Member {
    flood_lines: usize,
    slowest_echo: Duration,
}

/// Sends a chat line every 300 ms for `duration`, timing each echo, and counts the flooder's
/// lines among what arrives.
async fn play(client: &mut Client, name: &str, duration: Duration) -> Member {
    let mut member = Member {
        flood_lines: 0,
        slowest_echo: Duration::ZERO,
    };
    let until = Instant::now() + duration;
    let mut sent = 0;
    while Instant::now() < until {
        let content = format!("{name} {sent}");
        client.chat(name, &content).await;
        sent += 1;
        let sent_at = Instant::now();
        let next_send = sent_at + Duration::from_millis(300);
        let mut echoed = false;
        while Instant::now() < next_send || !echoed {
            assert!(
                sent_at.elapsed() < Duration::from_secs(5),
                "{name}'s line was not echoed"
            );
            let Some(Message::Text(text)) =
                client.next_message_within(Duration::from_millis(20)).await
            else {
                continue;
            };
            let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if frame["username"] == "도배" {
                member.flood_lines += 1;
            }
            if frame["content"] == content.as_str() {
                echoed = true;
                member.slowest_echo = member.slowest_echo.max(sent_at.elapsed());
            }
        }
    }
    member
}

/// What the flooder saw.
struct Flood {
    refused: usize,
    closed_with: Option<u16>,
    seconds: f64,
}

/// Sends at 100 lines a second for at most `duration` or until the gateway closes it.
async fn flood(client: &mut Client, duration: Duration) -> Flood {
    let started = Instant::now();
    let mut result = Flood {
        refused: 0,
        closed_with: None,
        seconds: 0.0,
    };
    let mut i = 0;
    while started.elapsed() < duration && result.closed_with.is_none() {
        let line = format!(r#"{{"username":"도배","content":"도배 {i}"}}"#);
        i += 1;
        if !client.try_send_text(&line).await {
            result.closed_with = Some(1006);
            break;
        }
        let next = Instant::now() + Duration::from_millis(10);
        while let Some(message) = client
            .next_message_within(next.saturating_duration_since(Instant::now()))
            .await
        {
            match message {
                Message::Text(text) if text.as_str().contains("\"slow_down\"") => {
                    result.refused += 1
                }
                Message::Close(frame) => {
                    result.closed_with = Some(frame.map_or(1005, |frame| u16::from(frame.code)));
                    break;
                }
                _ => {}
            }
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// A flooder at 100 lines a second reaches the other members no more than 10 + 3·t times, is
/// told to slow down, and is closed once it keeps going; the others' lines keep echoing within
/// a second.
pub async fn a_flooder_is_held_to_the_limit_and_closed<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut flooder = game.connect("flood", Some("도배")).await;
    let mut minji = game.connect("flood", Some("민지")).await;
    let mut junho = game.connect("flood", Some("준호")).await;
    game.wait_for_connections("flood", 3).await;

    let (flood, minji_saw, junho_saw) = tokio::join!(
        flood(&mut flooder, Duration::from_secs(20)),
        play(&mut minji, "민지", Duration::from_secs(4)),
        play(&mut junho, "준호", Duration::from_secs(4)),
    );
    assert!(flood.refused > 0, "the flooder was never told to slow down");
    assert_eq!(flood.closed_with, Some(1000), "the flooder was not closed");
    let allowance = (BURST + PER_SEC * flood.seconds.ceil()) as usize;
    for (name, saw) in [("민지", &minji_saw), ("준호", &junho_saw)] {
        assert!(
            saw.flood_lines <= allowance,
            "{name} got {} flood lines in {:.1} s, over 10 + 3·t = {allowance}",
            saw.flood_lines,
            flood.seconds
        );
        assert!(saw.flood_lines >= BURST as usize, "{name} missed the burst");
        assert!(
            saw.slowest_echo < Duration::from_secs(1),
            "{name}'s slowest echo took {:?}",
            saw.slowest_echo
        );
    }
    // The flooder's row is gone; the others play on.
    game.wait_for_connections("flood", 2).await;
}

/// A client that never reads: once its buffer is full, posts to it answer 429 and its frames
/// are dropped, its connection stays, and the rest of its room is unaffected.
pub async fn a_client_that_never_reads_gets_429_not_the_room<S: TestStore>(store: S) {
    let cap = 256 * 1024;
    let options = LocalOptions {
        max_outbound_bytes: cap,
        ..options()
    };
    let game = Gateway::start(store, options).await;
    let stalled = game.connect("stall", Some("멈춤")).await;
    let mut minji = game.connect("stall", Some("민지")).await;
    let ids = game.wait_for_connections("stall", 2).await;
    let mut stalled_id = None;
    for id in ids {
        let row = game
            .store
            .get_connection(&id)
            .await
            .expect("the store answers");
        if row.and_then(|row| row.username).as_deref() == Some("멈춤") {
            stalled_id = Some(id);
        }
    }
    let stalled_id = stalled_id.expect("the stalled client's row");

    let client = management_client(&game.server.management_endpoint());
    let frame = vec![b'x'; 30 * 1024];
    let (mut accepted, mut throttled) = (0usize, 0usize);
    for _ in 0..2_000 {
        let post = client
            .post_to_connection()
            .connection_id(&stalled_id.0)
            .data(Blob::new(frame.clone()))
            .send()
            .await;
        match post {
            Ok(_) => accepted += 1,
            Err(err) => {
                let service = err.as_service_error().expect("an answer from the gateway");
                assert!(service.is_limit_exceeded_exception(), "{service:?}");
                throttled += 1;
                if throttled == 20 {
                    break;
                }
            }
        }
    }
    assert_eq!(
        throttled, 20,
        "posts were never refused; {accepted} accepted"
    );
    assert!(accepted < 2_000);

    // The room plays on: each chat's broadcast meets the full buffer (429), retries it twice
    // (a few hundred milliseconds: a full buffer and a throttled account look the same) and
    // goes on, so the next line (read only once the last one is handled) echoes soon too.
    let started = Instant::now();
    for line in ["아무도 안 막혀", "정말로"] {
        minji.chat("민지", line).await;
        // The room's first line also creates its game: a state frame follows the echo.
        while minji.next_frame().await["content"] != line {}
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "two lines took {:?}",
        started.elapsed()
    );
    assert!(game
        .store
        .get_connection(&stalled_id)
        .await
        .expect("the store answers")
        .is_some());
    drop(stalled);
}

/// The account's post rate for [`a_throttled_account_loses_no_chat_line`]. With the rate
/// used up just before a line is sent, its four posts find fewer than four requests' worth
/// refilled if the handler posts within 0.2 s (it takes a few milliseconds), and the handler's
/// retries of a throttled post (0.3 to 0.6 s in all) leave time for six.
const ACCOUNT_POSTS_PER_SEC: f64 = 20.0;

/// A moderate account throttle (429 on `@connections` past a rate, as AWS answers when the
/// account's request rate is exceeded) delays frames but loses none: the handler retries a
/// throttled post with backoff. Before each line the account's rate is used up, so the
/// room's posts are refused at first.
pub async fn a_throttled_account_loses_no_chat_line<S: TestStore>(store: S) {
    let options = LocalOptions {
        throttle_posts_per_sec: Some(ACCOUNT_POSTS_PER_SEC),
        ..options()
    };
    let game = Gateway::start(store, options).await;
    let names = ["가", "나", "다", "라"];
    let mut players = Vec::new();
    for name in names {
        players.push(game.connect("busy", Some(name)).await);
    }
    game.wait_for_connections("busy", names.len()).await;
    // The room's game first: its state goes to everyone.
    players[0].send_text("start!").await;
    for player in &mut players {
        player.expect_state().await;
    }

    let management = management_client(&game.server.management_endpoint());
    let nobody = "bm9ib2R5";
    let mut refused_room_posts = 0;
    for (round, sender) in names.iter().enumerate() {
        // Use up the account's rate: past it, even a post to nobody is refused (429).
        loop {
            let post = management
                .post_to_connection()
                .connection_id(nobody)
                .data(Blob::new("x"))
                .send()
                .await;
            let err = post.expect_err("nobody is connected");
            if err
                .as_service_error()
                .is_some_and(|service| service.is_limit_exceeded_exception())
            {
                break;
            }
        }
        let refused_before = game.server.throttled_posts();
        let line = format!("{round}번째 줄");
        players[round].chat(sender, &line).await;
        for (player, name) in players.iter_mut().zip(names) {
            let frame = player.next_frame().await;
            assert_eq!(
                (frame["username"].as_str(), frame["content"].as_str()),
                (Some(*sender), Some(line.as_str())),
                "{name} did not get {sender}'s line of round {round}: {frame}"
            );
        }
        refused_room_posts += game.server.throttled_posts() - refused_before;
    }
    assert!(
        refused_room_posts > 0,
        "the account's rate never refused the room's posts: nothing was tested"
    );
    for mut player in players {
        player.expect_silence().await;
    }
}
