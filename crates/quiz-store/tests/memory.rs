//! The conformance suite on [`MemoryStore`], and what only the memory store does: its bounds
//! (chat lines per room, rooms left with no connection, reports) and its room index.

mod conformance;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use quiz_core::game::Game;
use quiz_store::{
    ChatLine, Connection, ConnectionId, MemoryStats, MemoryStore, NewChatLine, ReportKind, Room,
    Store, StoreError, DEFAULT_IDLE_ROOM_TTL, MEMORY_CHAT_LINES_PER_ROOM, MEMORY_REPORTS_PER_ROOM,
    MEMORY_REPORT_ROOMS,
};

use conformance::NOW;

conformance_suite!(async { quiz_store::MemoryStore::new() });

fn id(text: &str) -> ConnectionId {
    ConnectionId(text.to_owned())
}

fn room(text: &str) -> Room {
    Room(text.to_owned())
}

fn connection(conn: &str, in_room: &str) -> Connection {
    Connection::new(id(conn), room(in_room), None, NOW)
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

fn new_game() -> Game {
    Game::new(&conformance::rules(), 1, 7, NOW)
}

#[tokio::test]
async fn clones_share_tables() {
    let store = MemoryStore::new();
    let clone = store.clone();
    let connection = connection("c", "r");
    clone.put_connection(&connection).await.unwrap();
    assert_eq!(
        store.get_connection(&connection.id).await.unwrap(),
        Some(connection)
    );
}

#[tokio::test]
async fn a_room_keeps_its_newest_lines_and_history_serves_them() {
    let store = MemoryStore::new();
    let total = 3 * MEMORY_CHAT_LINES_PER_ROOM + 7;
    let mut stored: Vec<ChatLine> = Vec::new();
    for n in 0..total {
        let sent_at = NOW + 1_000 * n as u64;
        stored.push(
            store
                .append_chat(&line("lobby", &format!("line {n}"), sent_at))
                .await
                .unwrap(),
        );
    }
    store
        .append_chat(&line("side", "elsewhere", NOW))
        .await
        .unwrap();

    let kept = store.recent_chat(&room("lobby"), usize::MAX).await.unwrap();
    assert_eq!(kept.len(), MEMORY_CHAT_LINES_PER_ROOM);
    assert_eq!(kept, stored[total - MEMORY_CHAT_LINES_PER_ROOM..]);
    // A history request gets the newest lines, oldest first, whatever its limit.
    let newest: Vec<String> = store
        .recent_chat(&room("lobby"), 3)
        .await
        .unwrap()
        .into_iter()
        .map(|line| line.content)
        .collect();
    let expected: Vec<String> = (total - 3..total).map(|n| format!("line {n}")).collect();
    assert_eq!(newest, expected);
    assert_eq!(
        store.recent_chat(&room("side"), 10).await.unwrap().len(),
        1,
        "the cap is per room"
    );

    // A line older than every kept one (a sender's clock behind) is the one dropped.
    let late = store
        .append_chat(&line("lobby", "late", NOW - 1))
        .await
        .unwrap();
    let kept_now = store.recent_chat(&room("lobby"), usize::MAX).await.unwrap();
    assert_eq!(kept_now, kept);
    // Correcting a dropped line is NotFound, as for an item DynamoDB deleted, and creates
    // nothing.
    for dropped in [&late, &stored[0]] {
        assert!(matches!(
            store.set_chat_correct(dropped, true).await,
            Err(StoreError::NotFound { .. })
        ));
    }
    store
        .set_chat_correct(&stored[total - 1], true)
        .await
        .unwrap();
    let last = store.recent_chat(&room("lobby"), 1).await.unwrap();
    assert!(last[0].correct);
    assert_eq!(store.stats().chat_lines, MEMORY_CHAT_LINES_PER_ROOM + 1);
}

#[tokio::test]
async fn a_room_with_no_connection_is_forgotten_after_the_idle_time_and_not_before() {
    let ttl = Duration::from_secs(600);
    let store = MemoryStore::new().with_idle_room_ttl(ttl);
    assert_eq!(store.idle_room_ttl(), ttl);
    let player = connection("c1", "lobby");
    store.put_connection(&player).await.unwrap();
    store
        .append_chat(&line("lobby", "안녕", NOW))
        .await
        .unwrap();
    store
        .save_game(&room("lobby"), &new_game(), None)
        .await
        .unwrap();
    // While it has a connection, no amount of time forgets it.
    assert_eq!(store.sweep_idle_rooms(Instant::now() + 100 * ttl), 0);

    let before_leaving = Instant::now();
    store.remove_connection(&player.id).await.unwrap();
    let after_leaving = Instant::now();
    assert_eq!(
        store.stats(),
        MemoryStats {
            connections: 0,
            rooms: 1,
            idle_rooms: 1,
            chat_lines: 1,
            games: 1,
            reports: 0,
        }
    );

    // Not before its idle time...
    assert_eq!(
        store.sweep_idle_rooms(before_leaving + ttl - Duration::from_millis(1)),
        0
    );
    assert_eq!(
        store.recent_chat(&room("lobby"), 10).await.unwrap().len(),
        1
    );
    assert!(store.load_game(&room("lobby")).await.unwrap().is_some());

    // ...and then its chat and its game (the scores) go.
    assert_eq!(store.sweep_idle_rooms(after_leaving + ttl), 1);
    assert!(store
        .recent_chat(&room("lobby"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.load_game(&room("lobby")).await.unwrap(), None);
    assert_eq!(store.stats(), MemoryStats::default());

    // A new game starts there as in a room never played.
    store
        .save_game(&room("lobby"), &new_game(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_connection_coming_back_restarts_the_idle_time() {
    let ttl = Duration::from_secs(600);
    let store = MemoryStore::new().with_idle_room_ttl(ttl);
    let first = connection("c1", "lobby");
    store.put_connection(&first).await.unwrap();
    store
        .save_game(&room("lobby"), &new_game(), None)
        .await
        .unwrap();
    let left_first = Instant::now();
    store.remove_connection(&first.id).await.unwrap();

    // Back within the idle time: kept however long it now stays.
    store
        .put_connection(&connection("c2", "lobby"))
        .await
        .unwrap();
    assert_eq!(store.sweep_idle_rooms(left_first + 100 * ttl), 0);

    let left_again = Instant::now();
    store.remove_connection(&id("c2")).await.unwrap();
    assert_eq!(
        store.sweep_idle_rooms(left_again + ttl - Duration::from_millis(1)),
        0
    );
    assert!(store.load_game(&room("lobby")).await.unwrap().is_some());
    assert_eq!(store.sweep_idle_rooms(Instant::now() + ttl), 1);
    assert_eq!(store.load_game(&room("lobby")).await.unwrap(), None);
}

#[tokio::test]
async fn a_room_never_connected_to_is_idle_from_its_first_write() {
    let ttl = Duration::from_secs(600);
    let store = MemoryStore::new().with_idle_room_ttl(ttl);
    let before = Instant::now();
    store
        .append_chat(&line("nobody-here", "echo", NOW))
        .await
        .unwrap();
    let after = Instant::now();
    assert_eq!(store.stats().idle_rooms, 1);
    // More writes do not keep it: only a connection does.
    store
        .append_chat(&line("nobody-here", "echo again", NOW + 1))
        .await
        .unwrap();
    assert_eq!(
        store.sweep_idle_rooms(before + ttl - Duration::from_millis(1)),
        0
    );
    assert_eq!(store.sweep_idle_rooms(after + ttl), 1);
    assert_eq!(store.stats(), MemoryStats::default());
}

#[tokio::test]
async fn writes_forget_expired_rooms_by_themselves() {
    // With no idle time at all, the next write forgets a room left empty.
    let store = MemoryStore::new().with_idle_room_ttl(Duration::ZERO);
    let player = connection("c1", "lobby");
    store.put_connection(&player).await.unwrap();
    store
        .append_chat(&line("lobby", "안녕", NOW))
        .await
        .unwrap();
    store
        .save_game(&room("lobby"), &new_game(), None)
        .await
        .unwrap();
    // Writes elsewhere never forget a room with a connection.
    for n in 0..5 {
        store
            .append_chat(&line("side", &format!("{n}"), NOW + n))
            .await
            .unwrap();
    }
    assert!(store.load_game(&room("lobby")).await.unwrap().is_some());

    store.remove_connection(&player.id).await.unwrap();
    assert_eq!(store.stats().idle_rooms, 1, "the room that was just left");
    store
        .put_connection(&connection("c2", "other"))
        .await
        .unwrap();
    assert_eq!(store.load_game(&room("lobby")).await.unwrap(), None);
    assert!(store
        .recent_chat(&room("lobby"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.stats(),
        MemoryStats {
            connections: 1,
            rooms: 1,
            idle_rooms: 0,
            chat_lines: 0,
            games: 0,
            reports: 0,
        }
    );
}

#[tokio::test]
async fn the_idle_time_can_be_forever_and_is_an_hour_by_default() {
    assert_eq!(MemoryStore::new().idle_room_ttl(), DEFAULT_IDLE_ROOM_TTL);
    assert_eq!(DEFAULT_IDLE_ROOM_TTL, Duration::from_secs(3600));
    let store = MemoryStore::new().with_idle_room_ttl(Duration::MAX);
    store
        .append_chat(&line("lobby", "안녕", NOW))
        .await
        .unwrap();
    let much_later = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    assert_eq!(store.sweep_idle_rooms(much_later), 0);
    assert_eq!(
        store.recent_chat(&room("lobby"), 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn rooms_that_hold_nothing_are_not_kept() {
    // Connections to invented room names leave nothing behind once they close.
    let store = MemoryStore::new();
    for n in 0..100 {
        let visitor = connection(&format!("v{n}"), &format!("made-up-{n}"));
        store.put_connection(&visitor).await.unwrap();
        assert_eq!(
            store.room_connections(&visitor.room).await.unwrap().len(),
            1
        );
        store.remove_connection(&visitor.id).await.unwrap();
    }
    assert_eq!(store.stats(), MemoryStats::default());
    // Reading a room creates nothing either.
    assert!(store.room_connections(&room("x")).await.unwrap().is_empty());
    assert!(store.recent_chat(&room("x"), 5).await.unwrap().is_empty());
    assert_eq!(store.load_game(&room("x")).await.unwrap(), None);
    assert_eq!(store.stats(), MemoryStats::default());
}

/// A small deterministic generator (a linear congruential one), so the sequence replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[tokio::test]
async fn room_connections_stay_right_through_many_connects_and_disconnects() {
    const ROOMS: u64 = 12;
    const IDS: u64 = 300;
    let store = MemoryStore::new();
    let mut model: BTreeMap<ConnectionId, (Room, u64)> = BTreeMap::new();
    let mut random = Lcg(19);
    for step in 0..6_000u64 {
        let conn = id(&format!("conn-{:03}", random.below(IDS)));
        match random.below(10) {
            // Connect (a reused id moves to its new room, as a stale row is replaced).
            0..=4 => {
                let in_room = room(&format!("room-{}", random.below(ROOMS)));
                let connected_at = NOW + step;
                let row = Connection::new(conn.clone(), in_room.clone(), None, connected_at);
                store.put_connection(&row).await.unwrap();
                model.insert(conn, (in_room, connected_at));
            }
            5..=7 => {
                store.remove_connection(&conn).await.unwrap();
                model.remove(&conn);
            }
            // A 410: pruned only if it connected before the cutoff.
            _ => {
                let cutoff = NOW + step.saturating_sub(random.below(500));
                let stale = model.get(&conn).is_some_and(|(_, at)| *at < cutoff);
                assert_eq!(store.prune_connection(&conn, cutoff).await.unwrap(), stale);
                if stale {
                    model.remove(&conn);
                }
            }
        }
        if step % 97 == 0 || step == 5_999 {
            for r in 0..ROOMS {
                let in_room = room(&format!("room-{r}"));
                let expected: Vec<ConnectionId> = model
                    .iter()
                    .filter(|(_, (its_room, _))| *its_room == in_room)
                    .map(|(conn, _)| conn.clone())
                    .collect();
                assert_eq!(
                    store.room_connections(&in_room).await.unwrap(),
                    expected,
                    "room {r} at step {step}, in the room index's order"
                );
            }
        }
    }
    let occupied: std::collections::BTreeSet<&Room> =
        model.values().map(|(in_room, _)| in_room).collect();
    assert_eq!(
        store.stats(),
        MemoryStats {
            connections: model.len(),
            rooms: occupied.len(),
            idle_rooms: 0,
            chat_lines: 0,
            games: 0,
            reports: 0,
        }
    );
}

#[tokio::test]
async fn a_room_keeps_its_newest_reports() {
    let store = MemoryStore::new();
    let total = MEMORY_REPORTS_PER_ROOM + 7;
    for n in 0..total {
        let report = conformance::report(
            "lobby",
            &format!("낱말{n}"),
            ReportKind::Add,
            NOW + n as u64,
        );
        store.save_report(&report).await.unwrap();
    }
    let kept = store
        .recent_reports(&room("lobby"), usize::MAX)
        .await
        .unwrap();
    assert_eq!(kept.len(), MEMORY_REPORTS_PER_ROOM);
    let words: Vec<&str> = kept.iter().map(|r| r.word.as_str()).collect();
    let expected: Vec<String> = (7..total).map(|n| format!("낱말{n}")).collect();
    assert_eq!(words, expected, "the newest, oldest first");
    assert_eq!(store.stats().reports, MEMORY_REPORTS_PER_ROOM);
    // A report older than every kept one is the one dropped.
    store
        .save_report(&conformance::report(
            "lobby",
            "늦음",
            ReportKind::Remove,
            NOW - 1,
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .recent_reports(&room("lobby"), usize::MAX)
            .await
            .unwrap(),
        kept
    );
}

#[tokio::test]
async fn reports_are_kept_for_the_rooms_reported_in_last() {
    let store = MemoryStore::new();
    let report = |in_room: &str| conformance::report(in_room, "낱말", ReportKind::Add, NOW);
    for n in 0..MEMORY_REPORT_ROOMS {
        store.save_report(&report(&format!("r{n}"))).await.unwrap();
    }
    assert_eq!(store.stats().reports, MEMORY_REPORT_ROOMS);
    // r0 is reported in again, so r1 is now the room reported in longest ago...
    store.save_report(&report("r0")).await.unwrap();
    // ...and one room more forgets it.
    store.save_report(&report("new")).await.unwrap();
    let count = |in_room: &'static str| {
        let store = store.clone();
        async move {
            store
                .recent_reports(&room(in_room), 10)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("r1").await, 0);
    assert_eq!(count("r0").await, 2);
    assert_eq!(count("r2").await, 1);
    assert_eq!(count("new").await, 1);
    assert_eq!(store.stats().reports, MEMORY_REPORT_ROOMS + 1);
    // Reading a room reported in long ago brings nothing back.
    assert_eq!(count("r1").await, 0);
}

#[tokio::test]
async fn reports_outlive_their_idle_room() {
    let ttl = Duration::from_secs(600);
    let store = MemoryStore::new().with_idle_room_ttl(ttl);
    let player = connection("c1", "lobby");
    store.put_connection(&player).await.unwrap();
    store
        .append_chat(&line("lobby", "안녕", NOW))
        .await
        .unwrap();
    let reported = conformance::report("lobby", "안녕", ReportKind::Remove, NOW);
    store.save_report(&reported).await.unwrap();
    store.remove_connection(&player.id).await.unwrap();
    assert_eq!(store.sweep_idle_rooms(Instant::now() + ttl), 1);
    assert!(store
        .recent_chat(&room("lobby"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.recent_reports(&room("lobby"), 10).await.unwrap(),
        vec![reported]
    );
    assert_eq!(
        store.stats(),
        MemoryStats {
            reports: 1,
            ..MemoryStats::default()
        }
    );
}

#[tokio::test]
async fn room_members_stay_right_as_names_are_bound() {
    let store = MemoryStore::new();
    for n in 0..20 {
        store
            .put_connection(&connection(&format!("c{n:02}"), "lobby"))
            .await
            .unwrap();
    }
    for n in (0..20).step_by(3) {
        store
            .bind_username(&id(&format!("c{n:02}")), &format!("p{n}"))
            .await
            .unwrap();
    }
    let members = store.room_members(&room("lobby")).await.unwrap();
    // In the room index's order, each exactly as its row says.
    let ids: Vec<ConnectionId> = members.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, store.room_connections(&room("lobby")).await.unwrap());
    for member in members {
        let row = store.get_connection(&member.id).await.unwrap().unwrap();
        assert_eq!(member.named, row.username.is_some(), "{}", member.id);
    }
}
