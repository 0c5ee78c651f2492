//! The room features end to end: themes, spectators, answers typed in Latin mode, the ranking
//! and word reports.

use std::collections::BTreeMap;

use quiz_local::LocalOptions;
use quiz_store::Room;
use serde_json::{json, Value};

use crate::support::{assert_typed, options, words, Client, Gateway, TestStore};

/// Two themes: 동물 (강아지, 고양이) and 음식 (김치, 라면, 불고기), and 기차 as an extra answer.
fn themed_options() -> LocalOptions {
    LocalOptions {
        words: Some(words("themes")),
        ..options()
    }
}

async fn connect_with(game: &Gateway<impl TestStore>, query: &[(&str, &str)]) -> Client {
    Client::connect(&game.server, query)
        .await
        .unwrap_or_else(|err| panic!("cannot connect with {query:?}: {err}"))
}

/// A themed room asks only its theme's questions, keeps its theme for later connections,
/// and an unknown theme is refused at connect.
pub async fn a_themed_room_asks_only_its_theme<S: TestStore>(store: S) {
    let game = Gateway::start(store, themed_options()).await;
    let mut cook = connect_with(
        &game,
        &[("room", "kitchen"), ("theme", "food"), ("username", "민지")],
    )
    .await;

    cook.send_json(json!({ "action": "themes" })).await;
    let themes = cook.next_frame().await;
    assert_eq!(
        themes,
        json!({ "type": "themes", "themes": [
            { "id": "all", "name": "전체", "questions": 5 },
            { "id": "animals", "name": "동물", "questions": 2 },
            { "id": "food", "name": "음식", "questions": 3 },
        ]})
    );

    let food: BTreeMap<&str, &str> =
        [("ㄱㅊ", "김치"), ("ㄹㅁ", "라면"), ("ㅂㄱㄱ", "불고기")].into();
    cook.send_text("start!").await;
    let mut state = cook.expect_state().await;
    assert_eq!(state["theme"], "food");
    // Two cycles of the deck: every question is food.
    for round in 1..=6 {
        let pattern = state["pattern"].as_str().expect("a pattern").to_owned();
        let Some(word) = food.get(pattern.as_str()) else {
            panic!("round {round} asks {pattern}, which is no food question");
        };
        cook.chat("민지", word).await;
        cook.expect_chat("민지", word).await;
        state = cook.expect_state().await;
        assert_eq!(state["round"], round + 1);
    }

    // A later connection asking for another theme joins the room as it is.
    let mut visitor = connect_with(
        &game,
        &[
            ("room", "kitchen"),
            ("theme", "animals"),
            ("username", "서준"),
        ],
    )
    .await;
    visitor.send_text("start!").await;
    assert_eq!(visitor.expect_state().await["theme"], "food");

    // A room opened with no theme asks from every list.
    let mut anyone = game.connect("lobby", Some("유나")).await;
    anyone.send_text("start!").await;
    assert_eq!(anyone.expect_state().await["theme"], "all");

    let refused = Client::connect(&game.server, &[("room", "kitchen"), ("theme", "sports")]).await;
    assert!(refused.is_err(), "an unknown theme is refused at connect");
}

/// Spectators (connections with no name) see everything but do not count in votes: a lone
/// player's give-up passes beside two of them.
pub async fn a_lone_give_up_passes_beside_two_spectators<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut watchers = vec![
        game.connect("stage", None).await,
        game.connect("stage", None).await,
    ];
    let mut player = game.connect("stage", Some("민지")).await;
    game.wait_for_connections("stage", 3).await;

    player.send_text("start!").await;
    let state = player.expect_state().await;
    assert_eq!(
        (state["online"].clone(), state["spectators"].clone()),
        (json!(1), json!(2))
    );
    for watcher in &mut watchers {
        assert_eq!(watcher.expect_state().await["id"], state["id"]);
    }

    // A spectator may not vote.
    watchers[0].send_json(json!({ "action": "give-up" })).await;
    assert_typed(&watchers[0].next_frame().await, "error", "join_first");

    player.send_json(json!({ "action": "give-up" })).await;
    let ended = player.expect_state().await;
    assert_eq!(ended["previous"]["reason"], "gave-up");
    assert_eq!(ended["round"], 2);
    player.expect_notice("vote_passed").await;
    for watcher in &mut watchers {
        let seen = watcher.expect_state().await;
        assert_eq!(seen["previous"]["reason"], "gave-up");
        assert_eq!(seen["spectators"], 2);
    }

    // A spectator can still ask for the state and the history.
    watchers[1].send_json(json!({ "action": "state" })).await;
    let reply = watchers[1].expect_state().await;
    assert_eq!(reply["reason"], "reply");
    assert!(
        reply.get("online").is_none(),
        "a reply reads no connections, so it does not say who is here: {reply}"
    );
    watchers[1].send_json(json!({ "action": "history" })).await;
    assert_eq!(watchers[1].next_frame().await["type"], "history");
}

/// `rkddkwl`, typed with the keyboard still in Latin mode, wins a ㄱㅇㅈ round as 강아지; the
/// echo keeps what was typed, and `gg` is still a give-up vote.
pub async fn an_answer_typed_in_latin_mode_counts<S: TestStore>(store: S) {
    let game = Gateway::start(
        store,
        LocalOptions {
            words: Some(words("hints.txt")),
            ..options()
        },
    )
    .await;
    let mut player = game.connect("qwerty", Some("민지")).await;
    player.send_text("start!").await;
    assert_eq!(player.expect_state().await["pattern"], "ㄱㅇㅈ");

    player.chat("민지", "rkddkwl").await;
    player.expect_chat("민지", "rkddkwl").await;
    let state = player.expect_state().await;
    assert_eq!(state["previous"]["word"], "강아지");
    assert_eq!(state["previous"]["winner"], "민지");
    assert_eq!(state["scores"], json!({ "민지": 1 }));

    player.chat("민지", "gg").await;
    player.expect_chat("민지", "gg").await;
    assert_eq!(player.expect_state().await["previous"]["reason"], "gave-up");
    player.expect_notice("vote_passed").await;
}

/// The ranking shows the winner for the week and for all time; the round's end names the
/// other answers; a report is stored and acknowledged, and bad ones are refused.
pub async fn the_ranking_shows_the_winner_and_reports_are_kept<S: TestStore>(store: S) {
    let game = Gateway::start(store, options()).await;
    let mut player = game.connect("ranked", Some("민지")).await;
    let mut watcher = game.connect("ranked", None).await;
    game.wait_for_connections("ranked", 2).await;
    player.send_text("start!").await;
    player.expect_state().await;
    watcher.expect_state().await;

    player.chat("민지", "사랑").await;
    player.expect_chat("민지", "사랑").await;
    let state = player.expect_state().await;
    assert_eq!(
        state["previous"]["others"],
        json!(["사람", "소라", "소리", "수레", "서랍"]),
        "curated words first, then the dictionary's"
    );
    assert_eq!(state["previous"]["answerCount"], 6);
    watcher.expect_chat("민지", "사랑").await;
    assert_eq!(
        watcher.expect_state().await["previous"]["others"],
        state["previous"]["others"]
    );

    player.send_json(json!({ "action": "ranking" })).await;
    let week = player.next_frame().await;
    assert_eq!(week["type"], "ranking");
    assert_eq!(week["room"], "ranked");
    assert_eq!(week["period"], "week");
    assert_eq!(week["top"], json!([{ "username": "민지", "score": 1 }]));
    let since = week["since"].as_str().expect("a week has a start");
    assert!(
        since.len() == 25 && since.ends_with("T00:00:00+09:00"),
        "weeks start at midnight in Korea: {since}"
    );
    watcher
        .send_json(json!({ "action": "ranking", "period": "all" }))
        .await;
    let all = watcher.next_frame().await;
    assert_eq!(
        (all["period"].clone(), all["since"].clone()),
        (json!("all"), Value::Null)
    );
    assert_eq!(all["top"], json!([{ "username": "민지", "score": 1 }]));

    player
        .send_json(
            json!({ "action": "report", "word": "소 라게", "kind": "add", "reason": "바다 생물" }),
        )
        .await;
    player.expect_notice("report_received").await;
    for (frame, code) in [
        (
            json!({ "action": "report", "kind": "add" }),
            "missing_field",
        ),
        (
            json!({ "action": "report", "word": "소라게", "kind": "maybe" }),
            "wrong_type",
        ),
        (
            json!({ "action": "report", "word": "crab", "kind": "add" }),
            "invalid_word",
        ),
        (
            json!({ "action": "ranking", "period": "year" }),
            "wrong_type",
        ),
    ] {
        player.send_json(frame.clone()).await;
        assert_typed(&player.next_frame().await, "error", code);
    }
    watcher
        .send_json(json!({ "action": "report", "word": "소라게", "kind": "remove" }))
        .await;
    assert_typed(&watcher.next_frame().await, "error", "join_first");

    let reports = game
        .store
        .recent_reports(&Room("ranked".into()), 10)
        .await
        .expect("the store answers");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert_eq!(
        (
            report.word.as_str(),
            report.username.as_str(),
            report.pattern.as_str()
        ),
        ("소라게", "민지", "ㅅㄹ")
    );
    assert_eq!(report.reason.as_deref(), Some("바다 생물"));
}
