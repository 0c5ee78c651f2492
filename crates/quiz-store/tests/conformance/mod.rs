//! The conformance suite: what every [`Store`] must do, run against each implementation by the
//! [`conformance_suite!`] macro (see `memory.rs` and `dynamo.rs` beside this folder).
//!
//! Each check gets a store of its own with empty tables, so checks can use fixed room names.
//! `items` loads items as earlier releases stored them (`fixtures/items/`) into each store.

use std::collections::BTreeSet;
use std::sync::Arc;

use quiz_core::game::{Game, GameConfig, Rules, Verdict, VoteKind};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_store::{
    update_game, update_loaded_game, Admission, Binding, ChatLine, Connection, ConnectionId,
    MessageRate, NewChatLine, Report, ReportKind, Room, RoomMember, Store, StoreError,
    CONNECTION_TTL_SECS,
};
use tokio::sync::Barrier;

pub mod items;
pub use items::{
    an_unreadable_game_restarts_keeping_its_scores, new_rows_live_beside_old_ones,
    racing_restarts_leave_one_game, report_items_read_back_through_the_codec,
    v0_items_load_and_play_on, v1_items_load_and_play_on, v2_items_load_and_play_on,
};

/// 2100-01-01T00:00:00Z: a fixed clock, so tests replay exactly. It is in the future on
/// purpose: DynamoDB Local really deletes rows whose `expiresAt` has passed (a background sweep,
/// as in AWS), so rows stamped with a past clock would vanish in the middle of a test.
pub const NOW: u64 = 4_102_444_800_000;

/// How many tasks race in the concurrency checks.
pub const RACERS: usize = 50;

/// Expands to one `#[tokio::test]` per check, each calling `$make` (an expression of a future
/// that yields a fresh store) for its store.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@each $make;
            connections_put_get_remove,
            gone_connections_are_pruned_unless_brand_new,
            connection_rows_carry_their_ttl,
            bind_username_once,
            room_connections_lists_only_that_room,
            connections_carry_their_theme,
            room_members_tell_players_from_spectators,
            reports_are_kept_in_order_per_room,
            report_items_read_back_through_the_codec,
            chat_keeps_same_millisecond_lines_and_returns_newest_in_order,
            a_chat_line_verdict_can_be_corrected,
            game_load_and_conditional_save,
            racing_saves_from_one_version_have_one_winner,
            racing_correct_answers_have_one_winner,
            message_allowance_is_a_burst_then_a_rate,
            admitting_a_message_reads_the_connection,
            racing_messages_share_one_allowance,
            refusals_are_counted_per_window,
            v0_items_load_and_play_on,
            v1_items_load_and_play_on,
            v2_items_load_and_play_on,
            an_unreadable_game_restarts_keeping_its_scores,
            racing_restarts_leave_one_game,
            new_rows_live_beside_old_ones,
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store = $make.await;
                $crate::conformance::$check(&store).await;
            }
        )*
    };
}

/// A small bank whose questions have different patterns, so after a round is won the old
/// answer cannot be right again.
pub fn rules() -> Rules {
    let questions = parse_word_list("questions.txt", "강아지\n고양이\n호랑이\n사과나무\n바다\n")
        .expect("test word list parses");
    Rules::new(
        WordBank::new(questions, []).expect("test word bank builds"),
        GameConfig::default(),
    )
}

fn id(text: &str) -> ConnectionId {
    ConnectionId(text.to_owned())
}

fn room(text: &str) -> Room {
    Room(text.to_owned())
}

pub async fn connections_put_get_remove<S: Store>(store: &S) {
    let first = Connection::new(id("conn-1"), room("lobby"), None, NOW);
    store.put_connection(&first).await.unwrap();
    assert_eq!(
        store.get_connection(&first.id).await.unwrap(),
        Some(first.clone())
    );

    // A new $connect with a reused id replaces the stale row.
    let replaced = Connection::new(
        id("conn-1"),
        room("other"),
        Some("민지".into()),
        NOW + 5_000,
    );
    store.put_connection(&replaced).await.unwrap();
    assert_eq!(
        store.get_connection(&first.id).await.unwrap(),
        Some(replaced)
    );

    assert_eq!(store.get_connection(&id("nobody")).await.unwrap(), None);
    store.remove_connection(&first.id).await.unwrap();
    assert_eq!(store.get_connection(&first.id).await.unwrap(), None);
    // Removing twice (a $disconnect after the row expired) is fine.
    store.remove_connection(&first.id).await.unwrap();
    store.remove_connection(&id("never-there")).await.unwrap();
}

pub async fn gone_connections_are_pruned_unless_brand_new<S: Store>(store: &S) {
    let old = Connection::new(id("old"), room("lobby"), None, NOW);
    let new = Connection::new(id("new"), room("lobby"), None, NOW + 10_000);
    store.put_connection(&old).await.unwrap();
    store.put_connection(&new).await.unwrap();
    // A 410 at NOW + 10 s with a 5 s grace: the old row goes, the new one's handshake may
    // simply not have finished.
    let cutoff = NOW + 5_000;
    assert!(store.prune_connection(&old.id, cutoff).await.unwrap());
    assert!(!store.prune_connection(&new.id, cutoff).await.unwrap());
    assert!(!store
        .prune_connection(&id("never-there"), cutoff)
        .await
        .unwrap());
    assert_eq!(store.get_connection(&old.id).await.unwrap(), None);
    assert_eq!(store.get_connection(&new.id).await.unwrap(), Some(new));
}

pub async fn connection_rows_carry_their_ttl<S: Store>(store: &S) {
    let connection = Connection::new(id("conn-ttl"), room("lobby"), None, NOW);
    assert_eq!(connection.expires_at, NOW / 1_000 + CONNECTION_TTL_SECS);
    store.put_connection(&connection).await.unwrap();
    let stored = store.get_connection(&connection.id).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, NOW / 1_000 + CONNECTION_TTL_SECS);
    assert_eq!(stored.connected_at, NOW);
}

pub async fn bind_username_once<S: Store>(store: &S) {
    let connection = Connection::new(id("conn-a"), room("lobby"), None, NOW);
    store.put_connection(&connection).await.unwrap();

    let bound = store.bind_username(&connection.id, "민지").await.unwrap();
    let expected = Connection {
        username: Some("민지".into()),
        ..connection.clone()
    };
    assert_eq!(bound, Binding::Bound(expected.clone()));
    assert_eq!(
        store.get_connection(&connection.id).await.unwrap(),
        Some(expected.clone())
    );

    // The same name again is a no-op; another name is refused and the bound one reported.
    assert_eq!(
        store.bind_username(&connection.id, "민지").await.unwrap(),
        Binding::Bound(expected.clone())
    );
    assert_eq!(
        store.bind_username(&connection.id, "철수").await.unwrap(),
        Binding::Taken("민지".into())
    );
    assert_eq!(
        store.get_connection(&connection.id).await.unwrap(),
        Some(expected)
    );

    // A row put with a name already carries it.
    let named = Connection::new(id("conn-b"), room("lobby"), Some("영희".into()), NOW);
    store.put_connection(&named).await.unwrap();
    assert_eq!(
        store.bind_username(&named.id, "철수").await.unwrap(),
        Binding::Taken("영희".into())
    );

    match store.bind_username(&id("gone"), "민지").await {
        Err(StoreError::NotFound { key, table }) => {
            assert_eq!(key, "gone");
            assert!(table.ends_with("User"), "{table}");
        }
        other => panic!("binding a missing connection gave {other:?}"),
    }
    // Refusing did not create the row.
    assert_eq!(store.get_connection(&id("gone")).await.unwrap(), None);
}

pub async fn room_connections_lists_only_that_room<S: Store>(store: &S) {
    for (conn, in_room) in [
        ("c3", "lobby"),
        ("c1", "lobby"),
        ("x1", "side"),
        ("c2", "lobby"),
        ("x2", "side"),
    ] {
        store
            .put_connection(&Connection::new(id(conn), room(in_room), None, NOW))
            .await
            .unwrap();
    }
    let sorted = |mut ids: Vec<ConnectionId>| {
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(store.room_connections(&room("lobby")).await.unwrap()),
        vec![id("c1"), id("c2"), id("c3")]
    );
    assert_eq!(
        sorted(store.room_connections(&room("side")).await.unwrap()),
        vec![id("x1"), id("x2")]
    );
    assert!(store
        .room_connections(&room("empty"))
        .await
        .unwrap()
        .is_empty());

    store.remove_connection(&id("c2")).await.unwrap();
    assert_eq!(
        sorted(store.room_connections(&room("lobby")).await.unwrap()),
        vec![id("c1"), id("c3")]
    );
}

/// The theme a client asked for on connect is kept in its row, and every read of the row
/// (a read, the allowance's write, a binding) hands it back.
pub async fn connections_carry_their_theme<S: Store>(store: &S) {
    let themed =
        Connection::new(id("themed"), room("lobby"), None, NOW).with_theme(Some("동물".into()));
    assert_eq!(themed.theme.as_deref(), Some("동물"));
    store.put_connection(&themed).await.unwrap();
    assert_eq!(
        store.get_connection(&themed.id).await.unwrap(),
        Some(themed.clone())
    );

    let rate = MessageRate::new(1, 1.0);
    let admitted = store.admit_message(&themed.id, NOW_US, rate).await.unwrap();
    assert_eq!(admitted.decision, Admission::Admitted);
    assert_eq!(admitted.connection, themed);
    let named = Connection {
        username: Some("민지".into()),
        ..themed.clone()
    };
    assert_eq!(
        store.bind_username(&themed.id, "민지").await.unwrap(),
        Binding::Bound(named.clone())
    );
    let refused = store.admit_message(&themed.id, NOW_US, rate).await.unwrap();
    assert!(matches!(refused.decision, Admission::Refused { .. }));
    assert_eq!(refused.connection, named);
    assert_eq!(store.get_connection(&themed.id).await.unwrap(), Some(named));

    // No theme asked for is none, and a reconnection under the same id without one has none.
    let plain = Connection::new(id("plain"), room("lobby"), Some("준호".into()), NOW);
    assert_eq!(plain.theme, None);
    assert_eq!(plain.clone().with_theme(None), plain);
    store.put_connection(&plain).await.unwrap();
    assert_eq!(store.get_connection(&plain.id).await.unwrap(), Some(plain));
    let again = Connection::new(id("themed"), room("lobby"), None, NOW + 1);
    store.put_connection(&again).await.unwrap();
    assert_eq!(store.get_connection(&again.id).await.unwrap(), Some(again));
}

fn member(conn: &str, named: bool) -> RoomMember {
    RoomMember {
        id: id(conn),
        named,
    }
}

/// A room's members say who has a name (a player) and who has not (a spectator), from the
/// same listing that gives the room's connections.
pub async fn room_members_tell_players_from_spectators<S: Store>(store: &S) {
    for (conn, in_room, name) in [
        ("c3", "lobby", Some("민지")),
        ("c1", "lobby", None),
        ("c2", "lobby", Some("준호")),
        ("x1", "side", None),
        ("x2", "side", Some("유나")),
    ] {
        let connection = Connection::new(id(conn), room(in_room), name.map(Into::into), NOW)
            .with_theme(Some("과일".into()));
        store.put_connection(&connection).await.unwrap();
    }
    let members = |in_room: &'static str| async move {
        let mut members = store.room_members(&room(in_room)).await.unwrap();
        members.sort();
        members
    };
    assert_eq!(
        members("lobby").await,
        vec![member("c1", false), member("c2", true), member("c3", true)]
    );
    assert_eq!(
        members("side").await,
        vec![member("x1", false), member("x2", true)]
    );
    assert!(members("empty").await.is_empty());
    let mut ids = store.room_connections(&room("lobby")).await.unwrap();
    ids.sort();
    assert_eq!(ids, vec![id("c1"), id("c2"), id("c3")]);

    // A spectator who picks a name becomes a player.
    store.bind_username(&id("c1"), "영희").await.unwrap();
    assert_eq!(
        members("lobby").await,
        vec![member("c1", true), member("c2", true), member("c3", true)]
    );
    store.remove_connection(&id("c2")).await.unwrap();
    store.remove_connection(&id("x2")).await.unwrap();
    assert_eq!(
        members("lobby").await,
        vec![member("c1", true), member("c3", true)]
    );
    assert_eq!(members("side").await, vec![member("x1", false)]);
}

pub fn report(in_room: &str, word: &str, kind: ReportKind, reported_at: u64) -> Report {
    Report {
        room: room(in_room),
        username: "민지".into(),
        connection_id: id("conn-1"),
        word: word.into(),
        kind,
        reason: None,
        pattern: "ㄱㅇㅈ".into(),
        reported_at,
    }
}

/// Reports come back oldest first, newest last; two in the same millisecond are both kept;
/// kind and reason read back as written.
pub async fn reports_are_kept_in_order_per_room<S: Store>(store: &S) {
    assert!(store
        .recent_reports(&room("lobby"), 10)
        .await
        .unwrap()
        .is_empty());
    let twin_a = Report {
        reason: Some("사전에 있는 말이에요".into()),
        ..report("lobby", "강아지", ReportKind::Add, NOW)
    };
    let twin_b = Report {
        username: "준호".into(),
        connection_id: id("conn-2"),
        ..report("lobby", "고양이", ReportKind::Remove, NOW)
    };
    let later = report("lobby", "기운줄", ReportKind::Add, NOW + 2_000);
    let latest = Report {
        reason: Some("비속어".into()),
        pattern: "ㅂㄷ".into(),
        ..report("lobby", "바다", ReportKind::Remove, NOW + 60_000)
    };
    let earliest = report("lobby", "가위질", ReportKind::Add, NOW - 1);
    let elsewhere = report("side", "호랑이", ReportKind::Add, NOW + 5);
    // Saved out of order: the time, not the arrival, decides the order.
    for saved in [&twin_a, &latest, &elsewhere, &twin_b, &later, &earliest] {
        store.save_report(saved).await.unwrap();
    }

    let all = store.recent_reports(&room("lobby"), 100).await.unwrap();
    assert_eq!(
        all.len(),
        5,
        "both same-millisecond reports are kept: {all:?}"
    );
    assert_eq!(all[0], earliest);
    assert!(
        all[1..3].contains(&twin_a) && all[1..3].contains(&twin_b),
        "{all:?}"
    );
    assert_eq!(all[3..], [later.clone(), latest.clone()]);
    assert_eq!(
        store.recent_reports(&room("lobby"), 2).await.unwrap(),
        vec![later, latest]
    );
    assert!(store
        .recent_reports(&room("lobby"), 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.recent_reports(&room("side"), 10).await.unwrap(),
        vec![elsewhere]
    );
    assert!(store
        .recent_reports(&room("nowhere"), 10)
        .await
        .unwrap()
        .is_empty());

    // The same report again (a player insisting) is one more report, not an overwrite.
    store.save_report(&twin_a).await.unwrap();
    let twice = store.recent_reports(&room("lobby"), 100).await.unwrap();
    assert_eq!(twice.iter().filter(|r| **r == twin_a).count(), 2);
}

fn line(in_room: &str, content: &str, sent_at: u64) -> NewChatLine {
    NewChatLine {
        room: room(in_room),
        username: "민지".into(),
        content: content.into(),
        connection_id: id("conn-1"),
        correct: false,
        sent_at,
        expires_at: None,
    }
}

pub async fn chat_keeps_same_millisecond_lines_and_returns_newest_in_order<S: Store>(store: &S) {
    let mut appended: Vec<ChatLine> = Vec::new();
    // Two lines in the same millisecond, then three later ones (appended out of order: the
    // key, not the arrival, decides the order).
    for (content, sent_at) in [
        ("twin-a", NOW),
        ("twin-b", NOW),
        ("third", NOW + 1),
        ("fifth", NOW + 60_000),
        ("fourth", NOW + 2_000),
    ] {
        let stored = store
            .append_chat(&line("lobby", content, sent_at))
            .await
            .unwrap();
        let prefix = format!("{}#", quiz_store::iso8601_millis(sent_at));
        assert!(stored.sent_at.starts_with(&prefix), "{}", stored.sent_at);
        assert_eq!(stored.content, content);
        appended.push(stored);
    }
    let special = NewChatLine {
        correct: true,
        expires_at: Some(NOW / 1_000 + 86_400),
        username: "철수".into(),
        connection_id: id("conn-2"),
        ..line("side", "강아지", NOW + 5)
    };
    let special_stored = store.append_chat(&special).await.unwrap();

    let all = store.recent_chat(&room("lobby"), 100).await.unwrap();
    assert_eq!(
        all.len(),
        5,
        "both same-millisecond lines are kept: {all:?}"
    );
    let keys: Vec<&str> = all.iter().map(|line| line.sent_at.as_str()).collect();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(keys, sorted_keys, "oldest first");
    let twins: BTreeSet<&str> = all[..2].iter().map(|l| l.content.as_str()).collect();
    assert_eq!(twins, BTreeSet::from(["twin-a", "twin-b"]));
    for stored in &appended {
        assert!(all.contains(stored), "{stored:?} read back unchanged");
    }

    let recent = store.recent_chat(&room("lobby"), 3).await.unwrap();
    let contents: Vec<&str> = recent.iter().map(|l| l.content.as_str()).collect();
    assert_eq!(contents, ["third", "fourth", "fifth"]);

    assert_eq!(
        store.recent_chat(&room("side"), 10).await.unwrap(),
        vec![special_stored]
    );
    assert!(store
        .recent_chat(&room("lobby"), 0)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .recent_chat(&room("nowhere"), 5)
        .await
        .unwrap()
        .is_empty());
}

/// A line written before the game decided its verdict is corrected in place, not duplicated.
pub async fn a_chat_line_verdict_can_be_corrected<S: Store>(store: &S) {
    let first = store
        .append_chat(&line("lobby", "강아지", NOW))
        .await
        .unwrap();
    let second = store
        .append_chat(&line("lobby", "고양이", NOW + 1))
        .await
        .unwrap();
    store.set_chat_correct(&first, true).await.unwrap();
    let lines = store.recent_chat(&room("lobby"), 10).await.unwrap();
    assert_eq!(
        lines,
        vec![
            ChatLine {
                correct: true,
                ..first.clone()
            },
            second
        ]
    );
    store.set_chat_correct(&first, false).await.unwrap();
    assert_eq!(
        store.recent_chat(&room("lobby"), 10).await.unwrap()[0],
        first
    );
    // A line that is not there is not created.
    let missing = ChatLine {
        sent_at: quiz_store::chat_sort_key(NOW + 9, "zzzzzz"),
        ..first
    };
    assert!(matches!(
        store.set_chat_correct(&missing, true).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store.recent_chat(&room("lobby"), 10).await.unwrap().len(),
        2
    );
}

pub async fn game_load_and_conditional_save<S: Store>(store: &S) {
    let rules = rules();
    let lobby = room("lobby");
    assert_eq!(store.load_game(&lobby).await.unwrap(), None);

    let game = Game::new(&rules, 1, 42, NOW);
    store.save_game(&lobby, &game, None).await.unwrap();
    assert_eq!(store.load_game(&lobby).await.unwrap(), Some(game.clone()));

    // Creating again loses to the game that is there.
    match store.save_game(&lobby, &game, None).await {
        Err(StoreError::Conflict { room, expected }) => {
            assert_eq!((room.as_str(), expected), ("lobby", None));
        }
        other => panic!("creating over a game gave {other:?}"),
    }

    let mut next = game.clone();
    let answer = next.question().to_owned();
    let submission = next.submit(&rules, "민지", &answer, 1, NOW + 1_000);
    assert!(matches!(submission.verdict, Verdict::Correct { .. }));
    assert_eq!(next.version(), game.version() + 1);
    store
        .save_game(&lobby, &next, Some(game.version()))
        .await
        .unwrap();
    assert_eq!(store.load_game(&lobby).await.unwrap(), Some(next.clone()));

    // A save computed from the old version is refused, and so is one from a made-up version.
    for stale in [game.version(), 999] {
        let err = store
            .save_game(&lobby, &game, Some(stale))
            .await
            .unwrap_err();
        match &err {
            StoreError::Conflict { room, expected } => {
                assert_eq!((room.as_str(), *expected), ("lobby", Some(stale)));
            }
            other => panic!("a stale save gave {other:?}"),
        }
        assert!(err.is_retryable());
    }
    // A save that expects a game where there is none is refused too.
    assert!(matches!(
        store.save_game(&room("empty"), &game, Some(1)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.load_game(&room("empty")).await.unwrap(), None);
    assert_eq!(store.load_game(&lobby).await.unwrap(), Some(next));
}

pub async fn racing_saves_from_one_version_have_one_winner<S: Store + Clone + 'static>(store: &S) {
    let rules = Arc::new(rules());
    let lobby = room("lobby");
    let base = Game::new(&rules, 1, 7, NOW);
    store.save_game(&lobby, &base, None).await.unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, rules, barrier, lobby) =
                (store.clone(), rules.clone(), barrier.clone(), lobby.clone());
            let mut next = base.clone();
            let version = base.version();
            tokio::spawn(async move {
                // Each racer computes its own next state from the same version.
                let player = format!("p{i:02}");
                next.vote(&rules, VoteKind::Hint, &player, 1_000, NOW + 10);
                assert_eq!(next.version(), version + 1);
                barrier.wait().await;
                let result = store.save_game(&lobby, &next, Some(version)).await;
                (player, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (player, result) = task.await.expect("racer task");
        match result {
            Ok(()) => winners.push(player),
            Err(StoreError::Conflict { expected, .. }) => {
                assert_eq!(expected, Some(base.version()));
                conflicts += 1;
            }
            Err(other) => panic!("a racer failed with {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(conflicts, RACERS - 1);
    let stored = store.load_game(&lobby).await.unwrap().unwrap();
    assert_eq!(stored.version(), base.version() + 1);
    let voters: Vec<&String> = stored.votes(VoteKind::Hint).iter().collect();
    assert_eq!(
        voters,
        vec![&winners[0]],
        "the stored state is the winner's"
    );
}

pub async fn racing_correct_answers_have_one_winner<S: Store + Clone + 'static>(store: &S) {
    let rules = Arc::new(rules());
    let lobby = room("lobby");
    store
        .save_game(&lobby, &Game::new(&rules, 1, 11, NOW), None)
        .await
        .unwrap();
    let before = store.load_game(&lobby).await.unwrap().unwrap();
    let answer = before.question().to_owned();
    let round = before.round();

    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, rules, barrier, lobby, answer) = (
                store.clone(),
                rules.clone(),
                barrier.clone(),
                lobby.clone(),
                answer.clone(),
            );
            tokio::spawn(async move {
                let player = format!("p{i:02}");
                let apply = |game: &mut Game| {
                    let played = game.round();
                    (
                        played,
                        game.submit(&rules, &player, &answer, RACERS, NOW + 1_000),
                    )
                };
                let new_game = || Game::new(&rules, 1, 11, NOW);
                // Half read the game before the race, as a handler that reads it at once with
                // the room does: their first attempt works on what may be stale by then.
                let updated = if i % 2 == 0 {
                    let loaded = store.load_game(&lobby).await.unwrap();
                    barrier.wait().await;
                    update_loaded_game(&store, &lobby, loaded, new_game, apply).await
                } else {
                    barrier.wait().await;
                    update_game(&store, &lobby, new_game, apply).await
                };
                (player, updated)
            })
        })
        .collect();

    let mut winners = Vec::new();
    for task in tasks {
        let (player, updated) = task.await.expect("player task");
        let updated = updated.unwrap_or_else(|err| panic!("{player}: {err}"));
        let (played, submission) = updated.outcome;
        if matches!(submission.verdict, Verdict::Correct { .. }) {
            assert_eq!(played, round, "{player} won a round it did not see");
            assert!(updated.changed);
            winners.push(player);
        } else {
            assert!(
                matches!(
                    submission.verdict,
                    Verdict::WrongPattern | Verdict::AlreadyAnswered
                ),
                "{player}: {:?}",
                submission.verdict
            );
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");

    let after = store.load_game(&lobby).await.unwrap().unwrap();
    assert_eq!(after.round(), round + 1);
    assert_eq!(after.scores().values().sum::<u32>(), 1);
    assert_eq!(after.score(&winners[0]), 1);
    let previous = after.previous().expect("the round ended");
    assert_eq!(previous.winner.as_deref(), Some(winners[0].as_str()));
}

/// `NOW` in microseconds, the allowance's unit.
const NOW_US: u64 = NOW * 1_000;

async fn connected<S: Store>(store: &S, name: &str) -> ConnectionId {
    let connection = Connection::new(id(name), room("lobby"), None, NOW);
    store.put_connection(&connection).await.unwrap();
    connection.id
}

pub async fn message_allowance_is_a_burst_then_a_rate<S: Store>(store: &S) {
    let rate = MessageRate::new(3, 2.0); // 3 at once, then one every 500 ms
    let minji = connected(store, "minji").await;
    for _ in 0..3 {
        assert_eq!(
            store
                .admit_message(&minji, NOW_US, rate)
                .await
                .unwrap()
                .decision,
            Admission::Admitted
        );
    }
    assert_eq!(
        store
            .admit_message(&minji, NOW_US, rate)
            .await
            .unwrap()
            .decision,
        Admission::Refused {
            retry_after_us: 500_000
        }
    );
    // A refusal takes nothing: half a second later exactly one more goes through.
    let later = NOW_US + 500_000;
    assert_eq!(
        store
            .admit_message(&minji, later, rate)
            .await
            .unwrap()
            .decision,
        Admission::Admitted
    );
    assert!(matches!(
        store
            .admit_message(&minji, later, rate)
            .await
            .unwrap()
            .decision,
        Admission::Refused { .. }
    ));
    // Each connection has its own allowance.
    let junho = connected(store, "junho").await;
    assert_eq!(
        store
            .admit_message(&junho, NOW_US, rate)
            .await
            .unwrap()
            .decision,
        Admission::Admitted
    );
    // A reconnection under the same id starts full, and a gone row is NotFound.
    store
        .put_connection(&Connection::new(minji.clone(), room("lobby"), None, NOW))
        .await
        .unwrap();
    assert_eq!(
        store
            .admit_message(&minji, later, rate)
            .await
            .unwrap()
            .decision,
        Admission::Admitted
    );
    store.remove_connection(&minji).await.unwrap();
    assert!(matches!(
        store.admit_message(&minji, later, rate).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// The allowance's write hands back the connection's row, so a message needs no other read.
pub async fn admitting_a_message_reads_the_connection<S: Store>(store: &S) {
    let rate = MessageRate::new(1, 1.0);
    let minji = connected(store, "minji").await;
    let admitted = store.admit_message(&minji, NOW_US, rate).await.unwrap();
    assert_eq!(admitted.decision, Admission::Admitted);
    assert_eq!(
        admitted.connection,
        store.get_connection(&minji).await.unwrap().unwrap()
    );
    store.bind_username(&minji, "민지").await.unwrap();
    let refused = store.admit_message(&minji, NOW_US, rate).await.unwrap();
    assert!(matches!(refused.decision, Admission::Refused { .. }));
    assert_eq!(refused.connection.username.as_deref(), Some("민지"));
    assert_eq!(refused.connection.room, room("lobby"));
}

/// Many handler instances taking from one connection's allowance at once admit exactly the
/// burst: the allowance lives in the row, not in any instance.
pub async fn racing_messages_share_one_allowance<S: Store + Clone + 'static>(store: &S) {
    let rate = MessageRate::new(10, 3.0);
    let minji = connected(store, "minji").await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, minji, barrier) = (store.clone(), minji.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // Contention may exhaust a request's attempts; asking again is what a handler
                // would answer (`try_again`).
                loop {
                    match store.admit_message(&minji, NOW_US, rate).await {
                        Ok(admission) => break admission.decision,
                        Err(err) if err.is_retryable() => continue,
                        Err(err) => panic!("{err}"),
                    }
                }
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap() == Admission::Admitted {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 10);
}

pub async fn refusals_are_counted_per_window<S: Store>(store: &S) {
    let minji = connected(store, "minji").await;
    assert_eq!(store.count_refusal(&minji, 7).await.unwrap(), 1);
    assert_eq!(store.count_refusal(&minji, 7).await.unwrap(), 2);
    assert_eq!(store.count_refusal(&minji, 7).await.unwrap(), 3);
    assert_eq!(
        store.count_refusal(&minji, 8).await.unwrap(),
        1,
        "a new window"
    );
    // A frame stamped in an older window counts in the newer one, never resets it.
    assert_eq!(store.count_refusal(&minji, 7).await.unwrap(), 2);
    let junho = connected(store, "junho").await;
    assert_eq!(store.count_refusal(&junho, 8).await.unwrap(), 1);
    store.remove_connection(&minji).await.unwrap();
    assert!(matches!(
        store.count_refusal(&minji, 8).await,
        Err(StoreError::NotFound { .. })
    ));
}
