//! The server's clock: hints, timeouts and pauses that reach clients who send nothing, with the
//! timers in process and on a real SQS API (moto), on both stores.

use std::time::Duration;

use quiz_local::{LocalOptions, TimerBackend};
use serde_json::{json, Value};

use crate::support::{hint_options, now_millis, options, words, Client, Gateway, TestStore};

/// How late a timer may reach a client.
const ON_TIME: u64 = 1_000;

/// Reads `count` state frames, each with when it arrived.
async fn hear(client: &mut Client, count: usize) -> Vec<(Value, u64)> {
    let mut heard = Vec::new();
    while heard.len() < count {
        let frame = client.expect_state().await;
        heard.push((frame, now_millis()));
    }
    heard
}

/// A gateway with `timers` and `options`, and the named players in `room`, the first of them
/// having sent `start!`; returns the state they all received.
async fn start_room<S: TestStore>(
    store: S,
    options: LocalOptions,
    room: &str,
    names: &[&str],
) -> (Gateway<S>, Vec<Client>, Value) {
    let game = Gateway::start(store, options).await;
    let mut clients = Vec::new();
    for name in names {
        clients.push(game.connect(room, Some(name)).await);
    }
    clients[0].send_text("start!").await;
    let mut state = Value::Null;
    for client in &mut clients {
        state = client.expect_state().await;
    }
    (game, clients, state)
}

/// In a room where nobody sends anything, every client receives the first hint, the second
/// hint and the timeout at their instants, each exactly once.
pub async fn a_silent_room_hears_hints_and_the_timeout<S: TestStore>(
    store: S,
    timers: TimerBackend,
) {
    let options = LocalOptions {
        timers,
        ..hint_options(3)
    };
    let (_game, clients, state) = start_room(store, options, "clock", &["민지", "준호"]).await;
    let Ok([mut minji, mut junho]) = <[Client; 2]>::try_from(clients) else {
        unreachable!("two names, two clients");
    };
    let started = state["roundStartedAt"].as_u64().expect("a number");
    let version = state["version"].as_u64().expect("a number");

    // Three changes, then the next round's first hint: versions with no gap and no repeat.
    let (heard_by_minji, heard_by_junho) = tokio::join!(hear(&mut minji, 4), hear(&mut junho, 4));
    let expected = [
        (1_000, "강ㅇㅈ", 1, 1),
        (2_000, "강아ㅈ", 2, 1),
        (3_000, "ㄱㅇㅈ", 0, 2),
        (4_000, "강ㅇㅈ", 1, 2),
    ];
    for heard in [heard_by_minji, heard_by_junho] {
        for (i, ((frame, arrived), (offset, shown, level, round))) in
            heard.iter().zip(expected).enumerate()
        {
            assert_eq!(frame["reason"], "changed", "{frame}");
            assert_eq!(frame["nowConsonant"], shown, "{frame}");
            assert_eq!(frame["hintLevel"], level, "{frame}");
            assert_eq!(frame["round"], round, "{frame}");
            assert_eq!(frame["version"], version + 1 + i as u64, "{frame}");
            let due = started + offset;
            assert!(
                (due..due + ON_TIME).contains(arrived),
                "due at +{offset} ms, arrived at +{} ms: {frame}",
                arrived - started
            );
        }
        let timeout = &heard[2].0;
        assert_eq!(
            timeout["previous"],
            json!({
                "round": 1, "word": "강아지", "winner": null, "reason": "timeout",
                "pattern": "ㄱㅇㅈ", "others": [], "answerCount": 1,
            })
        );
        assert_eq!(timeout["paused"], false);
    }
}

/// A correct answer sent as the round times out ends that round once, whichever wins.
pub async fn an_answer_racing_the_timeout_ends_the_round_once<S: TestStore>(
    store: S,
    timers: TimerBackend,
) {
    let options = LocalOptions {
        timers,
        round_secs: Some(2),
        words: Some(words("race.txt")),
        ..options()
    };
    let (_game, clients, state) = start_room(store, options, "race", &["민지", "준호"]).await;
    let Ok([mut minji, mut junho]) = <[Client; 2]>::try_from(clients) else {
        unreachable!("two names, two clients");
    };
    let deadline = state["deadline"].as_u64().expect("a number");
    let answer = match state["pattern"].as_str() {
        Some("ㅅㄹ") => "사람",
        Some("ㄱㅇㅈ") => "강아지",
        other => panic!("a question of race.txt, not {other:?}"),
    };

    tokio::time::sleep(Duration::from_millis(
        deadline.saturating_sub(now_millis() + 5),
    ))
    .await;
    minji.chat("민지", answer).await;
    let listen_until = deadline + 1_500;
    let (heard_by_minji, heard_by_junho) = tokio::join!(
        states_until(&mut minji, listen_until),
        states_until(&mut junho, listen_until)
    );
    for states in [heard_by_minji, heard_by_junho] {
        let versions: Vec<u64> = states
            .iter()
            .filter_map(|s| s["version"].as_u64())
            .collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "every change once, in order: {versions:?}"
        );
        let endings: Vec<&Value> = states
            .iter()
            .map(|s| &s["previous"])
            .filter(|previous| previous["round"] == 1)
            .collect();
        assert!(!endings.is_empty(), "round 1 ended: {states:?}");
        assert!(
            endings.iter().all(|ending| *ending == endings[0]),
            "round 1 ended more than one way: {endings:?}"
        );
        // The late answer, if it was late, was wrong for round 2: no round ended twice.
        assert!(
            states.iter().all(|s| s["round"].as_u64() <= Some(2)),
            "{states:?}"
        );
    }
}

/// The state frames a client receives until `until` (milliseconds since the epoch).
async fn states_until(client: &mut Client, until: u64) -> Vec<Value> {
    let mut states = Vec::new();
    while now_millis() < until {
        let wait = Duration::from_millis(until.saturating_sub(now_millis()));
        let Ok(frame) = tokio::time::timeout(wait, client.next_frame()).await else {
            break;
        };
        if frame["type"] == "state" {
            states.push(frame);
        }
    }
    states
}

/// After three rounds in a row time out with nobody talking, the room pauses and stays quiet;
/// a chat line resumes it on a fresh clock.
pub async fn a_silent_room_pauses_and_a_chat_wakes_it<S: TestStore>(
    store: S,
    timers: TimerBackend,
) {
    let options = LocalOptions {
        timers,
        ..hint_options(3)
    };
    let (_game, mut clients, _) = start_room(store, options, "pause", &["민지"]).await;
    let mut minji = clients.remove(0);

    // Rounds of two hints and a timeout. Round 1 heard `start!`, so it is not silent; the
    // timeouts of rounds 2, 3 and 4 are, and the third of them pauses.
    let heard = hear(&mut minji, 12).await;
    for (i, (frame, _)) in heard.iter().enumerate() {
        assert_eq!(frame["paused"], i == 11, "{frame}");
    }
    let paused = &heard[11].0;
    assert_eq!(paused["round"], 5, "{paused}");
    assert_eq!(paused["previous"]["reason"], "timeout", "{paused}");
    minji.expect_silence_for(Duration::from_millis(3_500)).await;

    let spoke_at = now_millis();
    minji.chat("민지", "안녕").await;
    minji.expect_chat("민지", "안녕").await;
    let resumed = minji.expect_state().await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    assert_eq!(resumed["round"], 5, "the same question, on a fresh clock");
    let started = resumed["roundStartedAt"].as_u64().expect("a number");
    assert!(started >= spoke_at, "{resumed}");
    let (hint, arrived) = hear(&mut minji, 1).await.remove(0);
    assert_eq!(hint["hintLevel"], 1, "{hint}");
    assert!((started + 1_000..started + 1_000 + ON_TIME).contains(&arrived));
}

/// A room everybody left stops its timers: its last timer finds nobody and is deleted, and the
/// SQS queue is left empty.
pub async fn an_abandoned_room_leaves_the_queue_empty<S: TestStore>(store: S) {
    let sqs = crate::support::moto_timers().await;
    let TimerBackend::Sqs { endpoint, queue } = sqs.clone() else {
        unreachable!("moto_timers is SQS");
    };
    let options = LocalOptions {
        timers: sqs,
        ..hint_options(2)
    };
    let (game, mut clients, _) = start_room(store, options, "gone", &["민지"]).await;
    let queued = || crate::support::queued_timers(&endpoint, &queue);
    assert!(queued().await > 0, "the game's first timer is in the queue");

    clients.remove(0).close().await;
    game.wait_for_connections("gone", 0).await;
    let empty =
        crate::support::eventually(Duration::from_secs(10), || async { queued().await == 0 }).await;
    assert!(empty, "timers are left in the queue of an abandoned room");
}
