//! Stored items outlive releases: items as an earlier release wrote them (`fixtures/items/`)
//! load into either store and the game plays on, and a game item that cannot be read restarts
//! its room with its scores.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use quiz_core::game::{Game, GameConfig, Rules, Verdict};
use quiz_core::ranking::Period;
use quiz_store::items::{item_from_json, report_item, Item, ItemTable};
use quiz_store::{
    chat_sort_key, update_game, update_loaded_game, Binding, DynamoStore, ErrorKind, LoadedGame,
    MemoryStore, MessageRate, NewChatLine, Report, ReportKind, Room, Store, CONNECTION_TTL_SECS,
};
use tokio::sync::Barrier;

use super::{NOW, RACERS};

/// Writing an item exactly as given, as DynamoDB's PutItem does.
pub trait RawItems {
    fn put_raw(&self, table: ItemTable, item: Item) -> impl Future<Output = ()>;
}

impl RawItems for MemoryStore {
    async fn put_raw(&self, table: ItemTable, item: Item) {
        self.import_item(table, &item)
            .unwrap_or_else(|err| panic!("importing a {table:?} item: {err}"));
    }
}

impl RawItems for DynamoStore {
    async fn put_raw(&self, table: ItemTable, item: Item) {
        let names = self.table_names();
        let name = match table {
            ItemTable::User => &names.user,
            ItemTable::Chat => &names.chat,
            ItemTable::Game => &names.game,
            ItemTable::Report => &names.report,
        };
        self.client()
            .put_item()
            .table_name(name)
            .set_item(Some(item))
            .send()
            .await
            .unwrap_or_else(|err| panic!("putting a {table:?} item: {err:?}"));
    }
}

/// The items of one release shape, as captured in `fixtures/items/<shape>/`.
pub struct Fixture {
    pub users: Vec<Item>,
    pub chat: Vec<Item>,
    pub games: Vec<Item>,
    /// Word reports (none before `v2/`).
    pub reports: Vec<Item>,
}

/// `Items` of a scan's output, in DynamoDB JSON. Each `expiresAt` (the TTL) moves to a day
/// after [`NOW`]: the captured instants have passed, and DynamoDB Local deletes expired rows.
fn scanned(json: &str) -> Vec<Item> {
    let scan: serde_json::Value = serde_json::from_str(json).expect("a scan's output is JSON");
    let items = scan["Items"].as_array().expect("a scan's output has Items");
    items
        .iter()
        .map(|json| {
            let mut item = item_from_json(json).expect("an item in DynamoDB JSON");
            if let Some(AttributeValue::N(expires_at)) = item.get_mut("expiresAt") {
                *expires_at = (NOW / 1_000 + 86_400).to_string();
            }
            item
        })
        .collect()
}

impl Fixture {
    pub fn v0() -> Fixture {
        Fixture {
            users: scanned(include_str!("../../../../fixtures/items/v0/user.json")),
            chat: scanned(include_str!("../../../../fixtures/items/v0/chat.json")),
            games: scanned(include_str!("../../../../fixtures/items/v0/game.json")),
            reports: Vec::new(),
        }
    }

    pub fn v1() -> Fixture {
        Fixture {
            users: scanned(include_str!("../../../../fixtures/items/v1/user.json")),
            chat: scanned(include_str!("../../../../fixtures/items/v1/chat.json")),
            games: scanned(include_str!("../../../../fixtures/items/v1/game.json")),
            reports: Vec::new(),
        }
    }

    /// Themes, spectators, rankings and reports: a room opened with a theme, a connection
    /// with no name, a game item with its ranking, and a report.
    pub fn v2() -> Fixture {
        Fixture {
            users: scanned(include_str!("../../../../fixtures/items/v2/user.json")),
            chat: scanned(include_str!("../../../../fixtures/items/v2/chat.json")),
            games: scanned(include_str!("../../../../fixtures/items/v2/game.json")),
            reports: scanned(include_str!("../../../../fixtures/items/v2/report.json")),
        }
    }

    pub async fn put_into<S: RawItems>(&self, store: &S) {
        for (table, items) in [
            (ItemTable::User, &self.users),
            (ItemTable::Chat, &self.chat),
            (ItemTable::Game, &self.games),
            (ItemTable::Report, &self.reports),
        ] {
            for item in items {
                store.put_raw(table, item.clone()).await;
            }
        }
    }
}

/// Reads the test's expectations out of a raw item, leniently.
fn attribute<'a>(item: &'a Item, path: &[&str]) -> &'a AttributeValue {
    let (last, parents) = path.split_last().expect("a path");
    let mut map = item;
    for name in parents {
        match map.get(*name) {
            Some(AttributeValue::M(inner)) => map = inner,
            other => panic!("{name} is not a map: {other:?}"),
        }
    }
    map.get(*last)
        .unwrap_or_else(|| panic!("no {path:?} in {item:?}"))
}

/// The attribute at `path`, if the item has it.
fn optional_text(item: &Item, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last().expect("a path");
    let mut map = item;
    for name in parents {
        match map.get(*name) {
            Some(AttributeValue::M(inner)) => map = inner,
            _ => return None,
        }
    }
    match map.get(*last) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

fn text(item: &Item, path: &[&str]) -> String {
    match attribute(item, path) {
        AttributeValue::S(text) => text.clone(),
        other => panic!("{path:?} is not a string: {other:?}"),
    }
}

fn number(item: &Item, path: &[&str]) -> u64 {
    match attribute(item, path) {
        AttributeValue::N(text) => text.parse().expect("a whole number"),
        other => panic!("{path:?} is not a number: {other:?}"),
    }
}

fn scores(item: &Item) -> BTreeMap<String, u32> {
    match attribute(item, &["state", "scores"]) {
        AttributeValue::M(scores) => scores
            .iter()
            .map(|(name, score)| match score {
                AttributeValue::N(text) => (name.clone(), text.parse().expect("a score")),
                other => panic!("a score that is not a number: {other:?}"),
            })
            .collect(),
        other => panic!("scores is not a map: {other:?}"),
    }
}

/// The shipped question lists: the fixtures were played with them.
fn shipped_rules() -> Rules {
    Rules::new(quiz_core::builtin::word_bank(), GameConfig::default())
}

/// The items of `fixture` load into the store, and the rooms play on: the same game with its
/// scores, the same chat history, the same connections, all usable.
pub async fn fixture_items_load_and_play_on<S: Store + RawItems>(store: &S, fixture: Fixture) {
    fixture.put_into(store).await;
    let rules = shipped_rules();
    assert!(!fixture.games.is_empty() && fixture.chat.len() >= 2 && fixture.users.len() >= 2);

    for item in &fixture.games {
        let room = Room(text(item, &["room"]));
        let game = store
            .load_game(&room)
            .await
            .unwrap_or_else(|err| panic!("the stored game of {room} does not load: {err}"))
            .expect("the game is there");
        assert_eq!(game.id(), number(item, &["state", "id"]));
        assert_eq!(game.version(), number(item, &["version"]));
        assert_eq!(u64::from(game.round()), number(item, &["state", "round"]));
        assert_eq!(game.pattern(), text(item, &["state", "pattern"]));
        assert_eq!(game.question(), text(item, &["state", "question"]));
        assert_eq!(game.scores(), &scores(item));
        assert!(!game.scores().is_empty(), "the fixture has scores");
        // Before themes a game asked from every list; since, it keeps its theme and ranking.
        let theme = optional_text(item, &["state", "theme"]).unwrap_or_else(|| "all".into());
        assert_eq!(game.theme(), theme);
        let all_time = game
            .ranking()
            .top(Period::AllTime, NOW, rules.config.week, usize::MAX);
        if attribute_exists(item, &["state", "ranking"]) {
            let ranked: BTreeMap<String, u32> =
                all_time.iter().map(|(n, c)| (n.to_string(), *c)).collect();
            let mut players = scores(item);
            players.retain(|name, _| !game.is_bot(name));
            assert_eq!(
                ranked, players,
                "every player's win so far was ranked, no bot's"
            );
        } else {
            assert!(all_time.is_empty());
        }

        // A player wins the round; the game is saved over the old item.
        let player = game.scores().keys().next().cloned().expect("a player");
        let at = game.round_started_at() + 1_000;
        let before = game.clone();
        let updated = update_game(
            store,
            &room,
            || panic!("the stored game is there: no new game"),
            |game| {
                let answer = game.question().to_owned();
                game.submit(&rules, &player, &answer, 2, at)
            },
        )
        .await
        .unwrap_or_else(|err| panic!("playing on in {room}: {err}"));
        assert!(
            matches!(updated.outcome.verdict, Verdict::Correct { .. }),
            "{:?}",
            updated.outcome
        );
        let after = store.load_game(&room).await.unwrap().expect("still there");
        assert_eq!(after, updated.game);
        assert_eq!(after.id(), before.id());
        assert_eq!(after.version(), before.version() + 1);
        assert_eq!(after.round(), before.round() + 1);
        assert_eq!(after.score(&player), before.score(&player) + 1);
        for (name, score) in before.scores() {
            if *name != player {
                assert_eq!(after.score(name), *score, "{name}'s score is kept");
            }
        }
        assert_eq!(
            after.answered_words().last().map(String::as_str),
            Some(before.question())
        );
    }

    // The chat history reads back line for line, oldest first, and grows.
    let mut lines: Vec<&Item> = fixture.chat.iter().collect();
    lines.sort_by_key(|item| text(item, &["sentAt"]));
    let room = Room(text(lines[0], &["room"]));
    let history = store.recent_chat(&room, 50).await.unwrap();
    assert_eq!(history.len(), lines.len());
    for (read, item) in history.iter().zip(&lines) {
        assert_eq!(read.sent_at, text(item, &["sentAt"]));
        assert_eq!(read.username, text(item, &["username"]));
        assert_eq!(read.content, text(item, &["content"]));
        assert_eq!(read.connection_id.0, text(item, &["connectionId"]));
        let correct = matches!(attribute(item, &["correct"]), AttributeValue::Bool(true));
        assert_eq!(read.correct, correct);
    }
    assert!(history.iter().any(|line| line.correct));
    let new_line = store
        .append_chat(&NewChatLine {
            room: room.clone(),
            username: history[0].username.clone(),
            content: "다시 왔어요".into(),
            connection_id: history[0].connection_id.clone(),
            correct: false,
            sent_at: NOW,
            expires_at: Some(NOW / 1_000 + 86_400),
        })
        .await
        .unwrap();
    let grown = store.recent_chat(&room, 50).await.unwrap();
    assert_eq!(grown.len(), history.len() + 1);
    assert_eq!(grown[..history.len()], history[..]);
    assert_eq!(grown.last(), Some(&new_line));

    // The connections are there, usable, and named as they were.
    for item in &fixture.users {
        let id = quiz_store::ConnectionId(text(item, &["connectionId"]));
        let connection = store
            .get_connection(&id)
            .await
            .unwrap()
            .expect("the row is there");
        assert_eq!(connection.room.0, text(item, &["room"]));
        assert_eq!(connection.connected_at, number(item, &["connectedAt"]));
        assert_eq!(connection.theme, optional_text(item, &["theme"]));
        let admitted = store
            .admit_message(&id, NOW * 1_000, MessageRate::new(10, 3.0))
            .await
            .unwrap();
        assert_eq!(admitted.connection, connection);
        let members = store.room_members(&connection.room).await.unwrap();
        let member = members
            .iter()
            .find(|member| member.id == id)
            .expect("the room lists the connection");
        // A spectator (no name) binds one now, as its first chat line would.
        let Some(name) = optional_text(item, &["username"]) else {
            assert_eq!(connection.username, None);
            assert!(!member.named, "a row with no name is a spectator");
            assert!(matches!(
                store.bind_username(&id, "관전자").await.unwrap(),
                Binding::Bound(_)
            ));
            continue;
        };
        assert!(member.named);
        assert_eq!(connection.username.as_deref(), Some(name.as_str()));
        assert_eq!(
            store.bind_username(&id, &name).await.unwrap(),
            Binding::Bound(connection.clone())
        );
        assert_eq!(
            store.bind_username(&id, "누군가").await.unwrap(),
            Binding::Taken(name)
        );
        assert!(store
            .room_connections(&connection.room)
            .await
            .unwrap()
            .contains(&id));
        assert_eq!(store.count_refusal(&id, 1).await.unwrap(), 1);
    }

    // Reports read back as written.
    for item in &fixture.reports {
        let room = Room(text(item, &["room"]));
        let reports = store.recent_reports(&room, 100).await.unwrap();
        let report = reports
            .iter()
            .find(|report| report.word == text(item, &["word"]))
            .unwrap_or_else(|| panic!("the report is there: {reports:?}"));
        assert_eq!(report.username, text(item, &["username"]));
        assert_eq!(report.kind.as_str(), text(item, &["kind"]));
        assert_eq!(report.pattern, text(item, &["pattern"]));
        assert_eq!(report.reason, optional_text(item, &["reason"]));
        assert_eq!(report.reported_at, number(item, &["reportedAtMs"]));
    }
}

pub async fn v0_items_load_and_play_on<S: Store + RawItems>(store: &S) {
    fixture_items_load_and_play_on(store, Fixture::v0()).await;
}

pub async fn v1_items_load_and_play_on<S: Store + RawItems>(store: &S) {
    fixture_items_load_and_play_on(store, Fixture::v1()).await;
}

pub async fn v2_items_load_and_play_on<S: Store + RawItems>(store: &S) {
    fixture_items_load_and_play_on(store, Fixture::v2()).await;
}

fn attribute_exists(item: &Item, path: &[&str]) -> bool {
    let (last, parents) = path.split_last().expect("a path");
    let mut map = item;
    for name in parents {
        match map.get(*name) {
            Some(AttributeValue::M(inner)) => map = inner,
            _ => return false,
        }
    }
    map.contains_key(*last)
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The v0 game item of the fixture, moved to `room` and changed by `change`.
fn game_item_in(room: &str, change: impl FnOnce(&mut Item, &mut Item)) -> Item {
    let mut item = Fixture::v0().games.remove(0);
    item.insert("room".into(), s(room));
    let Some(AttributeValue::M(mut state)) = item.remove("state") else {
        panic!("the fixture's game has a state map");
    };
    change(&mut item, &mut state);
    if !state.is_empty() {
        item.insert("state".into(), AttributeValue::M(state));
    }
    item
}

/// A game item no release of this store can read, and what a restart must keep.
struct Unreadable {
    what: &'static str,
    item: Item,
    /// The stored version, when it is a number.
    version: Option<u64>,
    scores: BTreeMap<String, u32>,
}

fn unreadable(
    what: &'static str,
    item: Item,
    version: Option<u64>,
    scores: BTreeMap<String, u32>,
) -> Unreadable {
    Unreadable {
        what,
        item,
        version,
        scores,
    }
}

/// Game items no release of this store can read, each with what a restart must keep: the
/// stored version (when it is a number) and the scores.
fn unreadable_games() -> Vec<Unreadable> {
    let scores = |state: &mut Item| {
        state.insert(
            "scores".into(),
            AttributeValue::M(HashMap::from([
                ("민지".into(), n(5)),
                ("준호".into(), n(2)),
                // Unreadable itself: left behind, the rest is kept.
                ("유나".into(), s("many")),
            ])),
        );
    };
    let kept = BTreeMap::from([("민지".to_owned(), 5), ("준호".to_owned(), 2)]);
    vec![
        unreadable(
            "a field of the wrong type",
            game_item_in("wrong-type", |item, state| {
                item.insert("version".into(), n(12));
                state.insert("version".into(), n(12));
                state.insert("round".into(), s("three"));
                scores(state);
            }),
            Some(12),
            kept.clone(),
        ),
        unreadable(
            "a future shape of a field",
            game_item_in("future-shape", |item, state| {
                item.insert("version".into(), n(40));
                state.insert("version".into(), n(40));
                state.insert(
                    "answeredWords".into(),
                    AttributeValue::M(HashMap::from([(
                        "recent".into(),
                        AttributeValue::L(vec![s("호떡")]),
                    )])),
                );
                scores(state);
            }),
            Some(40),
            kept.clone(),
        ),
        unreadable(
            "no version attribute",
            game_item_in("no-version", |item, state| {
                item.remove("version");
                state.insert("deck".into(), s("shuffled"));
                scores(state);
            }),
            None,
            kept.clone(),
        ),
        unreadable(
            "a version that is not a number",
            game_item_in("text-version", |item, state| {
                item.insert("version".into(), s("7"));
                scores(state);
            }),
            None,
            kept,
        ),
        unreadable(
            "no state at all",
            game_item_in("no-state", |item, state| {
                item.insert("version".into(), n(3));
                state.clear();
            }),
            Some(3),
            BTreeMap::new(),
        ),
    ]
}

/// A game item that cannot be read is reported with what could be salvaged, and the next
/// move restarts the room: a new game, the old scores, a version past the old one. The chat
/// history is untouched.
pub async fn an_unreadable_game_restarts_keeping_its_scores<S: Store + RawItems>(store: &S) {
    let rules = super::rules();
    for unreadable in unreadable_games() {
        let Unreadable {
            what,
            item,
            version,
            scores: kept,
        } = unreadable;
        let room = Room(text(&item, &["room"]));
        let line = store
            .append_chat(&super::line(&room.0, "before", NOW))
            .await
            .unwrap();
        store.put_raw(ItemTable::Game, item).await;

        let err = store.load_game(&room).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{what}: {err}");
        assert!(err.to_string().contains(&room.0), "{what}: {err}");
        let salvaged = err.salvaged().unwrap_or_else(|| panic!("{what}: {err:?}"));
        assert_eq!(salvaged.version, version, "{what}");
        assert_eq!(salvaged.scores, kept, "{what}");

        let updated = update_game(
            store,
            &room,
            || Game::new(&rules, 77, 1, NOW),
            |game| game.submit(&rules, "준호", "ㅋㅋ", 2, NOW + 1),
        )
        .await
        .unwrap_or_else(|err| panic!("{what}: the room did not restart: {err}"));
        assert!(updated.changed, "{what}");
        let game = store
            .load_game(&room)
            .await
            .unwrap_or_else(|err| panic!("{what}: still unreadable: {err}"))
            .expect("a game");
        assert_eq!(game, updated.game, "{what}");
        assert_eq!(game.id(), 77, "{what}");
        assert_eq!(game.scores(), &kept, "{what}");
        assert!(game.version() > version.unwrap_or(0), "{what}");

        // The restarted game plays on like any other.
        let answer = game.question().to_owned();
        let won = update_game(
            store,
            &room,
            || panic!("{what}: the game is there"),
            |game| game.submit(&rules, "민지", &answer, 2, NOW + 2),
        )
        .await
        .unwrap();
        assert!(matches!(won.outcome.verdict, Verdict::Correct { .. }));
        assert_eq!(
            won.game.score("민지"),
            kept.get("민지").copied().unwrap_or(0) + 1
        );
        assert_eq!(store.recent_chat(&room, 10).await.unwrap(), vec![line]);
    }
}

/// Many instances find the same unreadable game at once (each with its own new game): one
/// restart wins, and every other applies its move to the winner's game.
pub async fn racing_restarts_leave_one_game<S: Store + RawItems + Clone + 'static>(store: &S) {
    let rules = Arc::new(super::rules());
    let Unreadable {
        item, scores: kept, ..
    } = unreadable_games().remove(0);
    let room = Room(text(&item, &["room"]));
    store.put_raw(ItemTable::Game, item).await;
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, rules, barrier, room) =
                (store.clone(), rules.clone(), barrier.clone(), room.clone());
            tokio::spawn(async move {
                let loaded = LoadedGame::from_load(store.load_game(&room).await).unwrap();
                assert!(matches!(loaded, LoadedGame::Unreadable { .. }));
                barrier.wait().await;
                let id = 1_000 + i as u64;
                update_loaded_game(
                    &store,
                    &room,
                    loaded,
                    || Game::new(&rules, id, id, NOW),
                    |game| game.submit(&rules, &format!("p{i:02}"), "ㅋㅋ", RACERS, NOW + 1),
                )
                .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let updated = task.await.expect("racer task").expect("every racer plays");
        ids.push(updated.game.id());
    }
    let stored = store.load_game(&room).await.unwrap().expect("a game");
    assert!(ids.iter().all(|id| *id == stored.id()), "{ids:?}");
    assert_eq!(stored.scores(), &kept);
}

/// A connection of this release joins a room of v0 rows: the room lists them all.
pub async fn new_rows_live_beside_old_ones<S: Store + RawItems>(store: &S) {
    let fixture = Fixture::v0();
    fixture.put_into(store).await;
    let room = Room(text(&fixture.chat[0], &["room"]));
    let connection = quiz_store::Connection::new(
        quiz_store::ConnectionId("new-conn".into()),
        room.clone(),
        Some("새사람".into()),
        NOW,
    );
    store.put_connection(&connection).await.unwrap();
    assert_eq!(connection.expires_at, NOW / 1_000 + CONNECTION_TTL_SECS);
    let listed = store.room_connections(&room).await.unwrap();
    assert_eq!(listed.len(), fixture.users.len() + 1, "{listed:?}");
    assert!(listed.contains(&connection.id));
}

/// Report items as the codec writes them (and as an operator's export would hold them) read
/// back into reports, with and without a reason, in key order.
pub async fn report_items_read_back_through_the_codec<S: Store + RawItems>(store: &S) {
    let with_reason = Report {
        reason: Some("표준국어대사전".into()),
        ..super::report("lobby", "도토리", ReportKind::Add, NOW + 1)
    };
    let without = super::report("lobby", "도토리묵", ReportKind::Remove, NOW);
    for (report, suffix) in [(&with_reason, "0000000a"), (&without, "0000000b")] {
        let item = report_item(report, &chat_sort_key(report.reported_at, suffix));
        assert_eq!(
            item.get("schemaVersion"),
            Some(&n(quiz_store::items::SCHEMA_VERSION))
        );
        assert_eq!(item.contains_key("reason"), report.reason.is_some());
        store.put_raw(ItemTable::Report, item).await;
    }
    assert_eq!(
        store
            .recent_reports(&Room("lobby".into()), 10)
            .await
            .unwrap(),
        vec![without, with_reason]
    );
}
