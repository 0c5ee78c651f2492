//! The end-to-end cases, each generic over the store so `main.rs` runs every one on the
//! embedded store and on DynamoDB Local.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::future::join_all;
use quiz_core::hangul::decompose;
use quiz_local::{events, LocalOptions, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use quiz_store::{Connection, ConnectionId, Room};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    assert_typed, eventually, management_client, now_millis, options, Client, Gateway, TestStore,
    FRAME_TIMEOUT,
};

/// What the Android app does: connect (no name), `start!`, chat, answer.
pub async fn android_session<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut minji = game.connect("general", None).await;
    let mut junho = game.connect("general", Some("준호")).await;

    // The room's first game is a change, so its state goes to the whole room.
    minji.send_text("start!").await;
    let state = minji.expect_state().await;
    assert_eq!(state["nowConsonant"], "ㅅㄹ");
    assert_eq!(state["answeredWords"], "");
    assert_eq!(state["round"], 1);
    assert_eq!(junho.expect_state().await["id"], state["id"]);

    // Once the game exists, `start!` is answered to the sender alone.
    junho.send_text("start!").await;
    let reply = junho.expect_state().await;
    assert_eq!(reply["reason"], "reply");
    assert_eq!(reply["id"], state["id"]);
    minji.expect_silence().await;

    // A chat reaches everyone, the sender included, in the app's exact shape.
    minji.chat("민지", "안녕하세요").await;
    minji.expect_chat("민지", "안녕하세요").await;
    junho.expect_chat("민지", "안녕하세요").await;

    // A correct answer: the chat line, then the new state, for everyone.
    junho.chat("준호", "사랑").await;
    for client in [&mut minji, &mut junho] {
        client.expect_chat("준호", "사랑").await;
        let state = client.expect_state().await;
        assert_eq!(state["answeredWords"], "사랑");
        assert_eq!(state["scores"], json!({ "준호": 1 }));
        assert_eq!(state["round"], 2);
        assert_eq!(state["previous"]["winner"], "준호");
        assert_eq!(state["nowConsonant"], "ㅅㄹ");
    }

    // The same word again is refused: a notice to the sender, no new state.
    minji.chat("민지", "사랑").await;
    minji.expect_chat("민지", "사랑").await;
    junho.expect_chat("민지", "사랑").await;
    minji.expect_notice("already_answered").await;
    junho.expect_silence().await;

    // An NFD-encoded answer (as some keyboards send it) counts.
    let nfd = decompose("서랍");
    assert_ne!(nfd, "서랍");
    minji.chat("민지", &nfd).await;
    for client in [&mut minji, &mut junho] {
        client.expect_chat("민지", &nfd).await;
        let state = client.expect_state().await;
        assert_eq!(state["answeredWords"], "사랑, 서랍");
        assert_eq!(state["scores"], json!({ "민지": 1, "준호": 1 }));
    }

    let stored = game
        .store
        .load_game(&Room("general".into()))
        .await
        .expect("the store answers")
        .expect("the game was stored");
    assert_eq!(stored.round(), 3);
    assert_eq!(stored.answered_words(), ["사랑", "서랍"]);
}

/// Two rooms play two games: nothing from one reaches the other.
pub async fn rooms_are_independent<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut a1 = game.connect("a", Some("민지")).await;
    let mut a2 = game.connect("a", Some("준호")).await;
    let mut b1 = game.connect("b", Some("서연")).await;

    a1.send_text("start!").await;
    a1.expect_state().await;
    a2.expect_state().await;
    b1.expect_silence().await;

    a1.chat("민지", "사랑").await;
    for client in [&mut a1, &mut a2] {
        client.expect_chat("민지", "사랑").await;
        assert_eq!(client.expect_state().await["answeredWords"], "사랑");
    }
    b1.expect_silence().await;

    // Room b's game knows nothing of room a's answer: the same word wins there too.
    b1.send_json(json!({ "action": "state" })).await;
    let state = b1.expect_state().await;
    assert_eq!(state["room"], "b");
    assert_eq!(state["answeredWords"], "");
    assert_eq!(state["scores"], json!({}));
    b1.chat("서연", "사랑").await;
    b1.expect_chat("서연", "사랑").await;
    assert_eq!(b1.expect_state().await["scores"], json!({ "서연": 1 }));
    a1.expect_silence().await;
    a2.expect_silence().await;
}

/// Scores belong to the name: reconnecting under the same name keeps them.
pub async fn reconnecting_keeps_the_score<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut first = game.connect("r", Some("민지")).await;
    first.send_text("start!").await;
    first.expect_state().await;
    first.chat("민지", "사랑").await;
    first.expect_chat("민지", "사랑").await;
    assert_eq!(first.expect_state().await["scores"], json!({ "민지": 1 }));
    first.close().await;
    game.wait_for_connections("r", 0).await;

    let mut again = game.connect("r", Some("민지")).await;
    again.send_json(json!({ "action": "state" })).await;
    assert_eq!(again.expect_state().await["scores"], json!({ "민지": 1 }));
    again.chat("민지", "서랍").await;
    again.expect_chat("민지", "서랍").await;
    assert_eq!(again.expect_state().await["scores"], json!({ "민지": 2 }));
}

/// 50 players send the same right answer at the same moment: one wins, once.
pub async fn fifty_players_answer_at_once<S: TestStore>(store: S) {
    const PLAYERS: usize = 50;
    let game = Gateway::start(store, options()).await;
    let names: Vec<String> = (0..PLAYERS).map(|i| format!("p{i:02}")).collect();
    let mut clients = Vec::new();
    for name in &names {
        clients.push(game.connect("race", Some(name)).await);
    }
    clients[0].send_text("start!").await;
    let first = join_all(clients.iter_mut().map(Client::expect_state)).await;
    assert!(first.iter().all(|state| state["round"] == 1));

    join_all(
        clients
            .iter_mut()
            .zip(&names)
            .map(|(client, name)| client.chat(name, "사랑")),
    )
    .await;

    // Everyone sees all 50 chat lines and exactly one new state; every loser a notice.
    let seen = join_all(clients.iter_mut().zip(&names).map(|(client, name)| {
        let name = name.clone();
        async move {
            let (mut chats, mut states, mut notices) = (0, Vec::new(), Vec::new());
            loop {
                let winner = states
                    .first()
                    .and_then(|state: &Value| state["previous"]["winner"].as_str())
                    .map(str::to_owned);
                let done = chats == PLAYERS
                    && winner.is_some_and(|winner| winner == name || !notices.is_empty());
                if done {
                    break;
                }
                let frame = client.next_frame().await;
                if frame.get("username").is_some() && frame.get("content").is_some() {
                    chats += 1;
                } else if frame["type"] == "state" {
                    states.push(frame);
                } else {
                    notices.push(frame);
                }
            }
            client.expect_silence().await;
            (name, states, notices)
        }
    }))
    .await;

    let winner = seen[0].1[0]["previous"]["winner"]
        .as_str()
        .expect("the state names the winner")
        .to_owned();
    for (name, states, notices) in &seen {
        assert_eq!(states.len(), 1, "{name} saw {} new states", states.len());
        let state = &states[0];
        assert_eq!(state["round"], 2, "{state}");
        assert_eq!(state["previous"]["winner"], winner.as_str(), "{state}");
        assert_eq!(state["scores"], json!({ winner.as_str(): 1 }), "{state}");
        if *name == winner {
            assert!(notices.is_empty(), "{notices:?}");
        } else {
            assert_eq!(notices.len(), 1, "{name}: {notices:?}");
            assert_eq!(
                notices[0]["code"], "already_answered",
                "{name}: {notices:?}"
            );
        }
    }

    let room = Room("race".into());
    let stored = game
        .store
        .load_game(&room)
        .await
        .expect("the store answers");
    let stored = stored.expect("the game was stored");
    assert_eq!(stored.round(), 2);
    assert_eq!(stored.scores().values().sum::<u32>(), 1);
    assert_eq!(stored.score(&winner), 1);
    let lines = game
        .store
        .recent_chat(&room, 50)
        .await
        .expect("the store answers");
    assert_eq!(lines.len(), PLAYERS);
    assert_eq!(lines.iter().filter(|line| line.correct).count(), 1);
}

/// A client that vanishes gets `$disconnect`; a row the gateway does not know is pruned by
/// the next broadcast (410); everyone else keeps receiving.
pub async fn vanished_and_stale_connections_are_pruned<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut minji = game.connect("v", Some("민지")).await;
    let mut junho = game.connect("v", Some("준호")).await;
    let mut ghost = game.connect("v", Some("유령")).await;
    minji.send_text("start!").await;
    for client in [&mut minji, &mut junho, &mut ghost] {
        client.expect_state().await;
    }
    game.wait_for_connections("v", 3).await;

    // No close frame, as the Android app does: the gateway notices and sends `$disconnect`.
    ghost.vanish();
    game.wait_for_connections("v", 2).await;

    // A row whose connection the gateway does not know (a lost `$disconnect`).
    let stale = ConnectionId(events::connection_id());
    let row = Connection::new(
        stale.clone(),
        Room("v".into()),
        Some("유령2".into()),
        // Connected a minute ago: old enough that a 410 means it is gone.
        now_millis() - 60_000,
    );
    game.store
        .put_connection(&row)
        .await
        .expect("the row was written");
    game.wait_for_connections("v", 3).await;

    minji.chat("민지", "안녕").await;
    minji.expect_chat("민지", "안녕").await;
    junho.expect_chat("민지", "안녕").await;
    let pruned = eventually(Duration::from_secs(10), || async {
        game.store
            .get_connection(&stale)
            .await
            .expect("the store answers")
            .is_none()
    })
    .await;
    assert!(
        pruned,
        "the 410 from the management API did not prune {stale}"
    );

    junho.chat("준호", "반가워").await;
    minji.expect_chat("준호", "반가워").await;
    junho.expect_chat("준호", "반가워").await;
    assert_eq!(game.room_connections("v").await.len(), 2);
}

/// Bad input from one client: errors for it (or API Gateway's close, for binary and
/// oversized frames), nothing for the others, and nothing stored is lost.
pub async fn bad_input_is_refused<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut minji = game.connect("x", Some("민지")).await;
    let mut villain = game.connect("x", Some("악당")).await;
    minji.send_text("start!").await;
    minji.expect_state().await;
    villain.expect_state().await;
    minji.chat("민지", "사랑").await;
    for client in [&mut minji, &mut villain] {
        client.expect_chat("민지", "사랑").await;
        client.expect_state().await;
    }

    let long_name = "가".repeat(10_000);
    let too_long_name = "가".repeat(21);
    let cases: Vec<(String, &str)> = vec![
        (r#"{"username":"악당","#.into(), "malformed_json"),
        ("[1,2,3]".into(), "not_an_object"),
        ("null".into(), "not_an_object"),
        ("42".into(), "not_an_object"),
        (r#""start!""#.into(), "not_an_object"),
        (
            json!({ "username": 7, "content": "안녕" }).to_string(),
            "wrong_type",
        ),
        (
            json!({ "username": "악당", "content": ["안녕"] }).to_string(),
            "wrong_type",
        ),
        (json!({ "content": "안녕" }).to_string(), "missing_field"),
        (json!({ "username": "악당" }).to_string(), "missing_field"),
        (
            json!({ "username": "악당", "content": "" }).to_string(),
            "invalid_content",
        ),
        (
            json!({ "username": "악당", "content": "   " }).to_string(),
            "invalid_content",
        ),
        (
            json!({ "username": "악당", "content": "x".repeat(201) }).to_string(),
            "invalid_content",
        ),
        (
            json!({ "username": "악당", "content": "a\u{0}b" }).to_string(),
            "invalid_content",
        ),
        (
            json!({ "username": "악당", "content": "줄\n바꿈" }).to_string(),
            "invalid_content",
        ),
        (
            json!({ "username": "악\u{7}당", "content": "안녕" }).to_string(),
            "invalid_username",
        ),
        (
            json!({ "username": too_long_name, "content": "안녕" }).to_string(),
            "invalid_username",
        ),
        // 30 KB: under API Gateway's 32 KB frame limit, over the handler's 8 KiB.
        (
            json!({ "username": long_name, "content": "안녕" }).to_string(),
            "too_large",
        ),
        (
            json!({ "username": "민지", "content": "사칭" }).to_string(),
            "name_taken",
        ),
        (json!({ "action": "dance" }).to_string(), "unknown_action"),
        (json!({ "action": 7 }).to_string(), "wrong_type"),
        (
            json!({ "action": "history", "limit": "ten" }).to_string(),
            "wrong_type",
        ),
        (
            json!({ "action": "join", "username": "악당", "room": "y" }).to_string(),
            "room_mismatch",
        ),
    ];
    for (frame, code) in &cases {
        assert!(
            frame.len() < MAX_FRAME_BYTES,
            "{code}: the frame must reach the handler"
        );
        villain.send_text(frame).await;
        let error = villain.next_frame().await;
        let shown: String = frame.chars().take(60).collect();
        println!("{shown} -> {error}");
        assert_typed(&error, "error", code);
    }
    // The villain's connection still works, and Minji saw none of it: her next frame is the
    // villain's first good line.
    villain.chat("악당", "미안").await;
    villain.expect_chat("악당", "미안").await;
    minji.expect_chat("악당", "미안").await;

    // Binary frames: API Gateway closes the connection with 1003.
    let mut binary = game.connect("x", Some("바이너리")).await;
    binary.send(Message::binary(vec![0u8, 159, 146, 150])).await;
    assert_eq!(binary.expect_close().await, 1003);
    // A 200 KB frame (and a 40 KB one: over the 32 KB frame limit): closed with 1009.
    for size in [200 * 1024, 40 * 1024] {
        let mut big = game.connect("x", Some("대형")).await;
        big.send_text(&"가".repeat(size / 3)).await;
        assert_eq!(big.expect_close().await, 1009, "a {size}-byte frame");
    }
    // Names that cannot be played are refused at the door (403, the handshake fails).
    let long_ascii_name = "x".repeat(10_000);
    for name in [long_ascii_name.as_str(), "악\u{7}당", " "] {
        let shown: String = name.chars().take(20).collect();
        let refused = Client::connect(&game.server, &[("room", "x"), ("username", name)]).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{shown:?}");
            }
            Err(err) => panic!("expected a 403 for {shown:?}, got {err}"),
            Ok(_) => panic!("a connection named {shown:?} was accepted"),
        }
    }
    minji.expect_silence().await;
    game.wait_for_connections("x", 2).await;

    // The server keeps serving, and what was stored before is still there.
    minji.send_json(json!({ "action": "state" })).await;
    let state = minji.expect_state().await;
    assert_eq!(state["answeredWords"], "사랑");
    assert_eq!(state["scores"], json!({ "민지": 1 }));
    minji.send_json(json!({ "action": "history" })).await;
    let history = minji.next_frame().await;
    let lines: Vec<(&str, &str)> = history["lines"]
        .as_array()
        .expect("history has lines")
        .iter()
        .map(|line| {
            (
                line["username"].as_str().unwrap_or_default(),
                line["content"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(lines, [("민지", "사랑"), ("악당", "미안")]);
}

/// A connection with no data frame for the idle timeout is closed (1001) and gets
/// `$disconnect`; one that keeps talking stays open.
pub async fn idle_connections_are_closed<S: TestStore>(store: S) {
    let options = LocalOptions {
        idle_timeout: Duration::from_millis(1_500),
        ..options()
    };
    let game = Gateway::start(store, options).await;
    let mut idle = game.connect("i", Some("민지")).await;
    let mut busy = game.connect("i", Some("준호")).await;
    busy.send_text("start!").await;
    busy.expect_state().await;
    idle.expect_state().await;

    // The broadcast reset the idle timer of both; only one keeps talking.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        busy.send_json(json!({ "action": "state" })).await;
        busy.expect_state().await;
    }
    assert_eq!(idle.expect_close().await, 1001);
    game.wait_for_connections("i", 1).await;
    busy.send_json(json!({ "action": "state" })).await;
    busy.expect_state().await;
    assert_eq!(busy.expect_close().await, 1001);
    game.wait_for_connections("i", 0).await;
}

/// The management API, through the same SDK the handler uses, and raw.
pub async fn management_api_answers_like_api_gateway<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut minji = game.connect("m", Some("민지")).await;
    let id = game.wait_for_connections("m", 1).await.remove(0);
    let client = management_client(&game.server.management_endpoint());

    let connection = client
        .get_connection()
        .connection_id(&id.0)
        .send()
        .await
        .expect("GetConnection answers");
    assert!(connection.connected_at().is_some());
    assert!(connection.last_active_at().is_some());
    let identity = connection.identity().expect("an identity");
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));

    client
        .post_to_connection()
        .connection_id(&id.0)
        .data(Blob::new("관리 API에서 안녕".as_bytes()))
        .send()
        .await
        .expect("PostToConnection answers");
    assert_eq!(minji.next_text().await, "관리 API에서 안녕");

    // Over API Gateway's 128 KB message limit.
    let err = client
        .post_to_connection()
        .connection_id(&id.0)
        .data(Blob::new(vec![b'x'; MAX_MESSAGE_BYTES + 1]))
        .send()
        .await
        .expect_err("a post over 128 KB is refused");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_payload_too_large_exception()),
        "{err:?}"
    );

    let unknown = events::connection_id();
    let err = client
        .post_to_connection()
        .connection_id(&unknown)
        .data(Blob::new("?"))
        .send()
        .await
        .expect_err("an unknown connection is gone");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{err:?}"
    );
    let err = client
        .get_connection()
        .connection_id(&unknown)
        .send()
        .await
        .expect_err("an unknown connection is gone");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{err:?}"
    );
    let err = client
        .delete_connection()
        .connection_id(&unknown)
        .send()
        .await
        .expect_err("an unknown connection is gone");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{err:?}"
    );

    // What API Gateway sends on the wire for a gone connection.
    let raw = raw_http(
        &game,
        "POST",
        &format!("/dev/@connections/{}", unknown.replace('=', "%3D")),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 410"), "{raw}");
    assert!(
        raw.to_ascii_lowercase()
            .contains("x-amzn-errortype: goneexception"),
        "{raw}"
    );
    assert!(raw.ends_with(r#"{"message":"Gone"}"#), "{raw}");

    // DeleteConnection closes the connection normally, and `$disconnect` removes the row.
    client
        .delete_connection()
        .connection_id(&id.0)
        .send()
        .await
        .expect("DeleteConnection answers");
    assert_eq!(minji.expect_close().await, 1000);
    game.wait_for_connections("m", 0).await;
    let err = client
        .post_to_connection()
        .connection_id(&id.0)
        .data(Blob::new("?"))
        .send()
        .await
        .expect_err("a deleted connection is gone");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{err:?}"
    );
}

/// A clean shutdown closes every connection (1001) after its `$disconnect`.
pub async fn shutdown_closes_every_connection<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut minji = game.connect("s", Some("민지")).await;
    let mut junho = game.connect("s", Some("준호")).await;
    minji.send_text("start!").await;
    minji.expect_state().await;
    junho.expect_state().await;
    let url = game.server.url();

    let Gateway { server, store } = game;
    let (stopped, minji_code, junho_code) = tokio::join!(
        server.shutdown(),
        minji.expect_close(),
        junho.expect_close()
    );
    stopped.expect("the server stopped cleanly");
    assert_eq!((minji_code, junho_code), (1001, 1001));
    let left = quiz_store::Store::room_connections(&store, &Room("s".into()))
        .await
        .expect("the store answers");
    assert!(left.is_empty(), "{left:?}");
    let refused = tokio_tungstenite::connect_async(url).await;
    assert!(refused.is_err(), "the server still accepts connections");
}

/// One HTTP/1.1 request over a fresh TCP connection; the whole response as text.
async fn raw_http<S>(game: &Gateway<S>, method: &str, path: &str) -> String {
    let addr = game.server.addr();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the gateway accepts TCP connections");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1\r\nConnection: close\r\n\r\n?"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request was sent");
    let mut response = Vec::new();
    tokio::time::timeout(FRAME_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("the gateway answered in time")
        .expect("the response was read");
    String::from_utf8(response).expect("the response is text")
}
