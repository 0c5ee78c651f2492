//! Bots end to end, on the rounds' timers (in process and over SQS): they win rounds, race
//! players fairly, stay out of votes, are limited to two, and leave with the last player.

use std::collections::BTreeMap;
use std::time::Duration;

use quiz_local::{LocalOptions, TimerBackend};
use quiz_store::Room;
use serde_json::{json, Value};

use crate::support::{
    assert_typed, eventually, options, queued_timers, words, Client, Gateway, TestStore,
};

/// The strongest bot's name.
const MASTER: &str = "🤖 달인";

/// Rooms on the themed lists, `round_secs`-long rounds, the given timers.
fn bot_options(timers: TimerBackend, round_secs: u64) -> LocalOptions {
    LocalOptions {
        words: Some(words("themes")),
        round_secs: Some(round_secs),
        timers,
        ..options()
    }
}

/// A player in `room` (theme `food`, so consecutive rounds have different patterns) who has
/// started the game; returns the gateway, the client and the first state.
async fn player_in<S: TestStore>(
    store: S,
    timers: TimerBackend,
    round_secs: u64,
    room: &str,
) -> (Gateway<S>, Client, Value) {
    let game = Gateway::start(store, bot_options(timers, round_secs)).await;
    let mut player = Client::connect(
        &game.server,
        &[("room", room), ("username", "민지"), ("theme", "food")],
    )
    .await
    .expect("the player connects");
    player.send_text("start!").await;
    let state = player.expect_state().await;
    (game, player, state)
}

/// Seats a bot; returns the state that announced it (the notice comes after it; frames of
/// rounds going on meanwhile are passed over).
async fn add_bot(player: &mut Client, level: u8) -> Value {
    player
        .send_json(json!({ "action": "add-bot", "level": level }))
        .await;
    let mut state = Value::Null;
    loop {
        let frame = player.next_frame().await;
        match frame["type"].as_str() {
            Some("state") => state = frame,
            Some("notice") if frame["code"] == "bot_added" => return state,
            _ => {}
        }
    }
}

/// Frames until a state ends round `round`, with the chat lines seen on the way.
async fn until_round_ends(client: &mut Client, round: u64) -> (Value, Vec<Value>) {
    let mut lines = Vec::new();
    loop {
        let frame = client.next_frame().await;
        if frame.get("content").is_some() {
            lines.push(frame);
        } else if frame["previous"]["round"] == round {
            return (frame, lines);
        }
    }
}

/// A level-5 bot wins rounds against a silent player: its word arrives as a chat line from
/// its name, then the state names it the winner; it scores, and the history keeps its lines.
pub async fn a_strong_bot_wins_rounds_against_a_silent_player<S: TestStore>(
    store: S,
    timers: TimerBackend,
) {
    // Short rounds: a level-5 bot sits out one round in a hundred, which then times out.
    let (game, mut player, _) = player_in(store, timers, 5, "bots-win").await;
    let seated = add_bot(&mut player, 5).await;
    assert_eq!(seated["bots"], json!([{ "name": MASTER, "level": 5 }]));

    let mut won = 0;
    let mut round = seated["round"].as_u64().expect("a round");
    while won < 2 {
        let (state, lines) = until_round_ends(&mut player, round).await;
        round += 1;
        if state["previous"]["reason"] == "timeout" {
            assert!(round < 5, "the bot sat out too many rounds: {state}");
            continue;
        }
        assert_eq!(state["previous"]["winner"], MASTER, "{state}");
        let word = state["previous"]["word"].clone();
        assert_eq!(lines, [json!({ "username": MASTER, "content": word })]);
        won += 1;
        assert_eq!(state["scores"][MASTER], won);
    }
    // The lines are kept as they are posted.
    let room = Room("bots-win".into());
    let kept = eventually(Duration::from_secs(5), || async {
        let history = game
            .store
            .recent_chat(&room, 10)
            .await
            .expect("the store answers");
        let bot_lines: Vec<_> = history.iter().filter(|l| l.username == MASTER).collect();
        bot_lines.len() >= 2 && bot_lines.iter().all(|line| line.correct)
    })
    .await;
    assert!(kept, "the history holds the bot's winning lines");
}

/// A player's answer racing a bot's: one winner of the round, whoever it is, and every
/// point accounted for.
pub async fn a_player_racing_a_bot_leaves_one_winner<S: TestStore>(store: S, timers: TimerBackend) {
    let food: BTreeMap<&str, &str> =
        [("ㄱㅊ", "김치"), ("ㄹㅁ", "라면"), ("ㅂㄱㄱ", "불고기")].into();
    let (game, mut player, _) = player_in(store, timers, 30, "bots-race").await;
    let seated = add_bot(&mut player, 5).await;
    let pattern = seated["pattern"].as_str().expect("a pattern").to_owned();
    // The bot answers about a second into the round (0.75 to 1.25 s, later over SQS); the
    // player answers at a second.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    player.chat("민지", food[pattern.as_str()]).await;

    let (state, _) =
        until_round_ends(&mut player, seated["round"].as_u64().expect("a round")).await;
    let winner = state["previous"]["winner"]
        .as_str()
        .expect("a winner")
        .to_owned();
    assert!(winner == "민지" || winner == MASTER, "{state}");
    // Let the race settle, then count: one point per round that ended.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = game
        .store
        .load_game(&Room("bots-race".into()))
        .await
        .expect("the store answers")
        .expect("a game");
    let points: u32 = stored.scores().values().sum();
    let solved = stored.round() - 1;
    assert_eq!(
        points,
        solved,
        "every ended round has exactly one winner: {:?}",
        stored.scores()
    );
    assert_eq!(stored.score(&winner).min(1), 1);
    // The bot never ranks.
    let week = quiz_core::ranking::WeekStart::default();
    let ranked = stored
        .ranking()
        .top(quiz_core::ranking::Period::AllTime, u64::MAX / 2, week, 20);
    assert!(ranked.iter().all(|(name, _)| *name != MASTER));
}

/// Bots do not vote and do not count in votes: a lone player's give-up passes beside one; a
/// third bot is refused; the newest leaves first.
pub async fn bots_do_not_vote_and_two_is_the_limit<S: TestStore>(store: S, timers: TimerBackend) {
    let (_game, mut player, _) = player_in(store, timers, 30, "bots-seats").await;
    let seated = add_bot(&mut player, 1).await;
    player.send_json(json!({ "action": "give-up" })).await;
    let round = seated["round"].as_u64().expect("a round");
    let (state, _) = until_round_ends(&mut player, round).await;
    assert_eq!(state["previous"]["reason"], "gave-up", "{state}");
    player.expect_notice("vote_passed").await;

    let second = add_bot(&mut player, 1).await;
    assert_eq!(second["bots"].as_array().map(Vec::len), Some(2), "{second}");
    let names: Vec<&str> = second["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bot| bot["name"].as_str().unwrap())
        .collect();
    assert_ne!(names[0], names[1]);
    player
        .send_json(json!({ "action": "add-bot", "level": 3 }))
        .await;
    // Skip the give-up's notice and anything the bots did meanwhile.
    let refused = loop {
        let frame = player.next_frame().await;
        if frame["type"] == "error" {
            break frame;
        }
    };
    assert_typed(&refused, "error", "too_many_bots");
    player.send_json(json!({ "action": "remove-bot" })).await;
    let after = loop {
        let frame = player.next_frame().await;
        if frame["type"] == "state" && frame["bots"].as_array().map(Vec::len) == Some(1) {
            break frame;
        }
    };
    assert_eq!(after["bots"][0]["name"], names[0], "the newest left first");
    // A player may not take a bot's name.
    let taken = Client::connect(
        &_game.server,
        &[("room", "bots-seats"), ("username", names[0])],
    )
    .await;
    assert!(taken.is_err(), "a bot's name is refused at connect");
}

/// When the last player leaves, the bots leave with them and nothing stays scheduled.
pub async fn the_bots_leave_with_the_last_player<S: TestStore>(store: S, timers: TimerBackend) {
    let queue = match &timers {
        TimerBackend::Sqs { endpoint, queue } => Some((endpoint.clone(), queue.clone())),
        TimerBackend::InProcess => None,
    };
    let (game, mut player, _) = player_in(store, timers, 30, "bots-leave").await;
    add_bot(&mut player, 5).await;
    player.close().await;
    game.wait_for_connections("bots-leave", 0).await;
    let room = Room("bots-leave".into());
    let gone = eventually(Duration::from_secs(15), || async {
        let stored = game
            .store
            .load_game(&room)
            .await
            .expect("the store answers");
        stored.is_some_and(|game| game.bots().is_empty() && game.bot_moves().is_empty())
    })
    .await;
    assert!(gone, "the bots are still seated in an empty room");
    let settled = game.store.load_game(&room).await.unwrap().expect("a game");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = game.store.load_game(&room).await.unwrap().expect("a game");
    assert_eq!(
        later.version(),
        settled.version(),
        "nothing moved after they left"
    );
    if let Some((endpoint, queue)) = queue {
        let empty = eventually(Duration::from_secs(10), || async {
            queued_timers(&endpoint, &queue).await == 0
        })
        .await;
        assert!(
            empty,
            "timers are left in the queue of a room the bots left"
        );
    }
}
