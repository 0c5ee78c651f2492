//! Every fixture event through the real handler, with the embedded store and a poster that
//! records what each connection receives.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{Context, LambdaEvent};
use quiz_core::game::{GameConfig, Rules};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_lambda::broadcast::{ConnectionPoster, PostError, PostErrorKind};
use quiz_lambda::handler::{App, TimerOutcome};
use quiz_lambda::invocation::{Incoming, Outgoing};
use quiz_lambda::timers::{ScheduleError, Timer, TimerQueue};
use quiz_store::{ConnectionId, MemoryStore, MessageRate, Room, Store};
use serde_json::Value;

const MINJI: &str = "L0SM9cOFvHcCIhw=";
const JUNHO: &str = "L0SN4dLfPHcCJ2Q=";
const ENDPOINT: &str = "https://k3x9q2w7ab.execute-api.ap-northeast-2.amazonaws.com/dev";

/// Records posts; connections in `gone` answer 410.
#[derive(Default)]
struct RecordingPoster {
    posts: Mutex<Vec<(String, String, String)>>,
    gone: Mutex<HashSet<String>>,
    /// Connections whose buffer is full: they answer 429.
    throttled: Mutex<HashSet<String>>,
    disconnected: Mutex<Vec<String>>,
}

impl RecordingPoster {
    fn frames_to(&self, id: &str) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, to, _)| to == id)
            .map(|(_, _, frame)| serde_json::from_str(frame).unwrap())
            .collect()
    }

    fn clear(&self) {
        self.posts.lock().unwrap().clear();
    }

    fn count(&self) -> usize {
        self.posts.lock().unwrap().len()
    }
}

impl ConnectionPoster for RecordingPoster {
    async fn post(&self, endpoint: &str, id: &ConnectionId, frame: &str) -> Result<(), PostError> {
        if self.gone.lock().unwrap().contains(&id.0) {
            return Err(PostErrorKind::Gone.into());
        }
        if self.throttled.lock().unwrap().contains(&id.0) {
            return Err(PostErrorKind::Throttled.into());
        }
        self.posts
            .lock()
            .unwrap()
            .push((endpoint.to_owned(), id.0.clone(), frame.to_owned()));
        Ok(())
    }

    async fn disconnect(&self, _endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        self.disconnected.lock().unwrap().push(id.0.clone());
        Ok(())
    }
}

/// Records the timers the handler schedules.
#[derive(Default)]
struct RecordingTimers {
    scheduled: Mutex<Vec<Timer>>,
}

impl RecordingTimers {
    fn take(&self) -> Vec<Timer> {
        std::mem::take(&mut self.scheduled.lock().unwrap())
    }
}

impl TimerQueue for RecordingTimers {
    async fn schedule(&self, timer: &Timer, _now: u64) -> Result<(), ScheduleError> {
        self.scheduled.lock().unwrap().push(timer.clone());
        Ok(())
    }
}

type TestApp = App<MemoryStore, RecordingPoster, RecordingTimers>;

fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/events")
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

fn fixture(name: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The fixture as sent by another connection (and, optionally, another player name).
fn from(mut event: ApiGatewayWebsocketProxyRequest, id: &str) -> ApiGatewayWebsocketProxyRequest {
    event.request_context.connection_id = Some(id.to_owned());
    event
}

fn with_body(
    mut event: ApiGatewayWebsocketProxyRequest,
    body: &str,
) -> ApiGatewayWebsocketProxyRequest {
    event.body = Some(body.to_owned());
    event
}

/// Rounds of pattern ㅅㄹ: two questions of that pattern and extra dictionary words.
fn rules() -> Rules {
    let bank = WordBank::new(
        parse_word_list("q.txt", "사람\n소리\n").unwrap(),
        parse_word_list("d.txt", "사랑\n서랍\n").unwrap(),
    )
    .unwrap();
    Rules::new(bank, GameConfig::default())
}

/// The handler with the default message limit (a burst of 10, then 3 a second).
fn limited_app() -> TestApp {
    App::new(
        MemoryStore::new(),
        RecordingPoster::default(),
        RecordingTimers::default(),
        rules(),
        None,
    )
}

/// The fixtures carry request times seconds apart and out of order, so most tests send many
/// frames within a few seconds, some going back in time:
/// a limit no test reaches unless it means to.
fn app() -> TestApp {
    limited_app().with_message_rate(MessageRate::new(100_000, 1_000.0))
}

async fn send(app: &TestApp, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    app.handle(LambdaEvent::new(event, Context::default()))
        .await
        .expect("the handler never fails an invocation")
}

fn body(response: &ApiGatewayProxyResponse) -> Option<Value> {
    match &response.body {
        Some(Body::Text(text)) => Some(serde_json::from_str(text).unwrap()),
        None => None,
        other => panic!("unexpected body {other:?}"),
    }
}

/// Both players connected to room `general`.
/// Minji (named on connect) and Junho (no name yet: a spectator until he sends one) in room
/// `general`.
async fn two_players(app: &TestApp) {
    let minji = send(app, fixture("connect.json")).await;
    assert_eq!(minji.status_code, 200);
    let mut junho = from(fixture("connect.json"), JUNHO);
    junho.query_string_parameters = "room=general".parse().unwrap();
    assert_eq!(send(app, junho).await.status_code, 200);
}

fn assert_is_state(frame: &Value) {
    assert!(frame["id"].is_u64(), "{frame}");
    assert!(frame["nowConsonant"].is_string(), "{frame}");
    assert!(frame["nowWordIdx"].is_u64(), "{frame}");
    assert!(frame["answeredWords"].is_string(), "{frame}");
    assert!(frame.get("username").is_none() || frame.get("content").is_none());
}

#[tokio::test]
async fn every_fixture_deserializes() {
    for entry in
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events"))
            .unwrap()
    {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("sqs-") {
            let event: Incoming = serde_json::from_str(&fixture_text(&name)).unwrap();
            let Incoming::Sqs(batch) = event else {
                panic!("{name} is not read as an SQS event");
            };
            let record = &batch.records[0];
            assert_eq!(record.event_source.as_deref(), Some("aws:sqs"), "{name}");
            assert!(record.message_id.is_some(), "{name}");
            Timer::from_body(record.body.as_deref().unwrap())
                .unwrap_or_else(|err| panic!("{name}: {err}"));
            continue;
        }
        let event = fixture(&name);
        let context = &event.request_context;
        assert!(context.connection_id.is_some(), "{name}");
        assert!(
            context.route_key.is_some() && context.event_type.is_some(),
            "{name}"
        );
        assert!(
            context.domain_name.is_some() && context.stage.is_some(),
            "{name}"
        );
        assert!(
            context.request_time_epoch > 0 && context.connected_at > 0,
            "{name}"
        );
        assert!(context.identity.source_ip.is_some(), "{name}");
    }
}

#[tokio::test]
async fn connect_records_the_connection_with_its_room_and_name() {
    let app = app();
    let response = send(&app, fixture("connect.json")).await;
    assert_eq!(response.status_code, 200);
    let row = app
        .store()
        .get_connection(&ConnectionId(MINJI.into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.room, Room("general".into()));
    assert_eq!(row.username.as_deref(), Some("민지"));
    assert_eq!(row.connected_at, 1_795_304_317_000);
    assert!(row.expires_at >= 1_795_304_317 + 2 * 3600);
}

#[tokio::test]
async fn connect_refuses_bad_names_and_rooms() {
    let app = app();
    for query in [
        "username=",
        "room=",
        "username=%07bell",
        &format!("username={}", "x".repeat(10_000)),
    ] {
        let mut event = fixture("connect.json");
        event.query_string_parameters = query.parse().unwrap();
        let response = send(&app, event).await;
        assert_eq!(response.status_code, 400, "{query}");
    }
    assert!(app
        .store()
        .get_connection(&ConnectionId(MINJI.into()))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn start_replies_with_the_state_to_the_sender_only() {
    let app = app();
    two_players(&app).await;
    let response = send(&app, fixture("message-start.json")).await;
    // The game did not exist yet: creating it is a change, so the state goes to the room.
    assert_eq!(body(&response), None);
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames.len(), 1);
        assert_is_state(&frames[0]);
        assert_eq!(frames[0]["nowConsonant"], "ㅅㄹ");
    }
    app.poster().clear();

    // Once the game exists, start! is answered through the route response alone.
    let response = send(&app, fixture("message-start.json")).await;
    let state = body(&response).unwrap();
    assert_is_state(&state);
    assert_eq!(state["nowConsonant"], "ㅅㄹ");
    assert_eq!(state["room"], "general");
    assert_eq!(app.poster().count(), 0);
}

#[tokio::test]
async fn a_chat_reaches_everyone_in_the_room_and_is_stored() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-start.json")).await;
    app.poster().clear();

    let response = send(&app, fixture("message-chat.json")).await;
    assert_eq!(body(&response), None);
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(
            frames,
            [serde_json::json!({"username": "민지", "content": "안녕하세요 ㅋㅋ"})]
        );
    }
    let posts = app.poster().posts.lock().unwrap().clone();
    assert!(posts.iter().all(|(endpoint, _, _)| endpoint == ENDPOINT));
    let history = app
        .store()
        .recent_chat(&Room("general".into()), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].content, "안녕하세요 ㅋㅋ");
    assert!(!history[0].correct);
}

#[tokio::test]
async fn a_correct_answer_broadcasts_the_chat_then_the_new_state() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-start.json")).await;
    app.poster().clear();

    let response = send(&app, fixture("message-correct-answer.json")).await;
    assert_eq!(body(&response), None);
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            frames[0],
            serde_json::json!({"username": "민지", "content": "사랑"})
        );
        assert_is_state(&frames[1]);
        assert_eq!(frames[1]["answeredWords"], "사랑");
        assert_eq!(frames[1]["round"], 2);
        assert_eq!(frames[1]["scores"]["민지"], 1);
        assert_eq!(frames[1]["previous"]["winner"], "민지");
    }
    let history = app
        .store()
        .recent_chat(&Room("general".into()), 10)
        .await
        .unwrap();
    assert!(history[0].correct);

    // The same word again is refused: a notice to the sender, the chat to everyone, no state.
    app.poster().clear();
    let mut again = from(fixture("message-correct-answer.json"), JUNHO);
    again.body = Some(r#"{"username":"준호","content":"사랑"}"#.into());
    let response = send(&app, again).await;
    let notice = body(&response).unwrap();
    assert_eq!(notice["type"], "notice");
    assert_eq!(notice["code"], "already_answered");
    assert_eq!(app.poster().frames_to(MINJI).len(), 1);
}

#[tokio::test]
async fn decomposed_answers_count() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-start.json")).await;
    app.poster().clear();
    let nfd = quiz_core::hangul::decompose("서랍");
    let event = with_body(
        fixture("message-correct-answer.json"),
        &serde_json::json!({"username": "민지", "content": nfd}).to_string(),
    );
    send(&app, event).await;
    let frames = app.poster().frames_to(JUNHO);
    assert_eq!(frames[1]["answeredWords"], "서랍");
}

#[tokio::test]
async fn bad_frames_get_an_error_and_change_nothing() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-correct-answer.json")).await;
    app.poster().clear();
    let before = app
        .store()
        .load_game(&Room("general".into()))
        .await
        .unwrap();

    let start = fixture("message-start.json");
    let cases = [
        (fixture("message-broken-json.json"), "malformed_json"),
        (fixture("message-oversized.json"), "too_large"),
        (with_body(start.clone(), "[1,2,3]"), "not_an_object"),
        (with_body(start.clone(), "null"), "not_an_object"),
        (
            with_body(start.clone(), r#"{"username":5,"content":"사랑"}"#),
            "wrong_type",
        ),
        (
            with_body(start.clone(), r#"{"username":"민지"}"#),
            "missing_field",
        ),
        (
            with_body(start.clone(), r#"{"username":"민지","content":"  "}"#),
            "invalid_content",
        ),
        (
            with_body(start.clone(), r#"{"username":"민지","content":"a\u0000b"}"#),
            "invalid_content",
        ),
        (
            with_body(start.clone(), r#"{"username":"준호","content":"사랑"}"#),
            "name_taken",
        ),
        (
            with_body(start.clone(), r#"{"action":"fly"}"#),
            "unknown_action",
        ),
        (
            with_body(
                start.clone(),
                r#"{"action":"join","username":"민지","room":"other"}"#,
            ),
            "room_mismatch",
        ),
    ];
    for (event, code) in cases {
        let response = send(&app, event).await;
        assert_eq!(response.status_code, 200);
        let frame = body(&response).unwrap();
        assert_eq!(frame["type"], "error", "{code}: {frame}");
        assert_eq!(frame["code"], code, "{frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let mut binary = fixture("message-start.json");
    binary.is_base64_encoded = true;
    assert_eq!(
        body(&send(&app, binary).await).unwrap()["code"],
        "binary_frame"
    );

    assert_eq!(app.poster().count(), 0, "nobody else saw anything");
    let after = app
        .store()
        .load_game(&Room("general".into()))
        .await
        .unwrap();
    assert_eq!(before, after);
    let history = app
        .store()
        .recent_chat(&Room("general".into()), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "the earlier line is still there");
}

#[tokio::test]
async fn a_gone_connection_is_removed_and_the_rest_still_receive() {
    let app = app();
    two_players(&app).await;
    app.poster().gone.lock().unwrap().insert(JUNHO.into());
    let general = Room("general".into());
    // Within a few seconds of its $connect, a 410 may only mean the handshake is not done.
    send(&app, fixture("message-chat.json")).await;
    let room = app.store().room_connections(&general).await.unwrap();
    assert_eq!(room.len(), 2, "a brand-new connection is kept");

    let mut later = fixture("message-chat.json");
    later.request_context.request_time_epoch += 10_000;
    later.body = Some(r#"{"username":"민지","content":"아직 있어?"}"#.into());
    send(&app, later).await;
    let frames = app.poster().frames_to(MINJI);
    assert!(
        frames.iter().any(|f| f["content"] == "아직 있어?"),
        "the rest still receive: {frames:?}"
    );
    let room = app.store().room_connections(&general).await.unwrap();
    assert_eq!(room, [ConnectionId(MINJI.into())]);
}

#[tokio::test]
async fn disconnect_removes_the_row() {
    let app = app();
    two_players(&app).await;
    let response = send(&app, fixture("disconnect.json")).await;
    assert_eq!(response.status_code, 200);
    let room = app
        .store()
        .room_connections(&Room("general".into()))
        .await
        .unwrap();
    assert_eq!(room, [ConnectionId(JUNHO.into())]);
    // A message from the vanished connection is told to reconnect.
    let response = send(&app, fixture("message-chat.json")).await;
    assert_eq!(body(&response).unwrap()["code"], "not_connected");
}

#[tokio::test]
async fn votes_history_and_join() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-chat.json")).await;

    // Junho has no name yet: voting needs one.
    let junho_hint = from(
        with_body(fixture("message-start.json"), r#"{"action":"hint"}"#),
        JUNHO,
    );
    assert_eq!(
        body(&send(&app, junho_hint.clone()).await).unwrap()["code"],
        "join_first"
    );
    let join = from(
        with_body(
            fixture("message-start.json"),
            r#"{"action":"join","username":"준호","room":"general"}"#,
        ),
        JUNHO,
    );
    let state = body(&send(&app, join).await).unwrap();
    assert_is_state(&state);

    app.poster().clear();
    let vote = body(&send(&app, junho_hint).await).unwrap();
    assert_eq!(vote["code"], "vote_counted");
    assert_eq!(app.poster().frames_to(MINJI)[0]["hintVotes"], 1);
    let minji_hint = with_body(fixture("message-start.json"), r#"{"action":"hint"}"#);
    assert_eq!(
        body(&send(&app, minji_hint).await).unwrap()["code"],
        "vote_passed"
    );
    let frames = app.poster().frames_to(MINJI);
    assert_eq!(frames.last().unwrap()["hintLevel"], 1);
    assert_ne!(frames.last().unwrap()["nowConsonant"], "ㅅㄹ");

    let history = with_body(
        fixture("message-start.json"),
        r#"{"action":"history","limit":5}"#,
    );
    let history = body(&send(&app, history).await).unwrap();
    assert_eq!(history["type"], "history");
    assert_eq!(history["lines"][0]["content"], "안녕하세요 ㅋㅋ");
}

const ROUND_MS: u64 = 60_000;
/// `requestTimeEpoch` of `message-start.json`: when the game starts.
const START: u64 = 1_795_304_318_200;

/// Two players, a game started by `start!`, and the one timer that created.
async fn started_game(app: &TestApp) -> Timer {
    two_players(app).await;
    send(app, fixture("message-start.json")).await;
    app.poster().clear();
    let timers = app.timers().take();
    assert_eq!(
        timers.len(),
        1,
        "the room's first game sets one timer: {timers:?}"
    );
    timers.into_iter().next().unwrap()
}

#[tokio::test]
async fn the_first_game_schedules_its_first_hint() {
    let app = app();
    let timer = started_game(&app).await;
    assert_eq!(timer.room, "general");
    // 사람 and 소리 have two syllables: one hint, at a third of the round.
    assert_eq!(timer.at, START + ROUND_MS / 3);
    assert_eq!(timer.endpoint.as_deref(), Some(ENDPOINT));
    let game = app
        .store()
        .load_game(&Room("general".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(timer.game_id, game.id());
}

#[tokio::test]
async fn a_timer_at_its_instant_reaches_everyone_and_schedules_the_next() {
    let app = app();
    let timer = started_game(&app).await;

    let outcome = app.fire_timer(&timer, timer.at, false).await.unwrap();
    assert_eq!(outcome, TimerOutcome::Fired);
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames.len(), 1, "{id}: {frames:?}");
        assert_eq!(frames[0]["reason"], "changed");
        assert_eq!(frames[0]["hintLevel"], 1);
        assert_eq!(frames[0]["paused"], false);
    }
    let next = app.timers().take();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].at, START + ROUND_MS, "then the timeout");

    app.poster().clear();
    assert_eq!(
        app.fire_timer(&next[0], next[0].at, false).await.unwrap(),
        TimerOutcome::Fired
    );
    let frames = app.poster().frames_to(MINJI);
    assert_eq!(frames[0]["previous"]["reason"], "timeout");
    assert_eq!(frames[0]["round"], 2);
    assert_eq!(app.timers().take()[0].at, START + ROUND_MS + ROUND_MS / 3);
}

#[tokio::test]
async fn stale_duplicate_and_early_timers_write_and_post_nothing() {
    let app = app();
    let timer = started_game(&app).await;
    let room = Room("general".into());

    // Early: sent again for the rest, nothing else.
    assert_eq!(
        app.fire_timer(&timer, timer.at - 1, false).await.unwrap(),
        TimerOutcome::Early
    );
    assert_eq!(app.timers().take(), std::slice::from_ref(&timer));
    assert_eq!(app.poster().count(), 0);

    app.fire_timer(&timer, timer.at, false).await.unwrap();
    app.timers().take();
    app.poster().clear();
    let version = app
        .store()
        .load_game(&room)
        .await
        .unwrap()
        .unwrap()
        .version();

    // Delivered twice, or for another game: nothing.
    for stale in [
        timer.clone(),
        Timer {
            game_id: timer.game_id + 1,
            ..timer.clone()
        },
        Timer {
            room: "elsewhere".into(),
            ..timer.clone()
        },
    ] {
        assert_eq!(
            app.fire_timer(&stale, stale.at + 5_000, false)
                .await
                .unwrap(),
            TimerOutcome::Stale
        );
    }
    assert_eq!(app.poster().count(), 0);
    assert!(app.timers().take().is_empty());
    assert_eq!(
        app.store()
            .load_game(&room)
            .await
            .unwrap()
            .unwrap()
            .version(),
        version
    );
}

#[tokio::test]
async fn a_room_nobody_is_in_ends_its_timer_chain() {
    let app = app();
    let timer = started_game(&app).await;
    for id in [MINJI, JUNHO] {
        send(&app, from(fixture("disconnect.json"), id)).await;
    }
    assert_eq!(
        app.fire_timer(&timer, timer.at, false).await.unwrap(),
        TimerOutcome::NobodyHere
    );
    assert!(app.timers().take().is_empty());
    assert_eq!(app.poster().count(), 0);
}

#[tokio::test]
async fn only_writes_that_set_a_new_wake_up_schedule_a_timer() {
    let app = app();
    started_game(&app).await;
    // Junho takes a name, so Minji's give-up vote below is one of two needed.
    let join = from(
        with_body(
            fixture("message-start.json"),
            r#"{"action":"join","username":"준호"}"#,
        ),
        JUNHO,
    );
    send(&app, join).await;
    // A chat changes nothing; a vote changes the game but not its clock.
    send(
        &app,
        with_body(
            fixture("message-chat.json"),
            r#"{"username":"민지","content":"안녕"}"#,
        ),
    )
    .await;
    send(
        &app,
        with_body(fixture("message-chat.json"), r#"{"action":"give-up"}"#),
    )
    .await;
    assert!(app.timers().take().is_empty());
    // A correct answer starts a round: its first hint is the new wake-up.
    send(&app, fixture("message-correct-answer.json")).await;
    let timers = app.timers().take();
    assert_eq!(timers.len(), 1, "{timers:?}");
}

#[tokio::test]
async fn the_sqs_fixture_fires_through_the_function_entry_point() {
    let app = app();
    let timer = started_game(&app).await;
    let mut event: Value = serde_json::from_str(&fixture_text("sqs-timer.json")).unwrap();
    // The fixture's shape with this game's timer inside; the bad record goes to the DLQ.
    event["Records"][0]["body"] = Value::from(timer.to_body());
    let mut bad = event["Records"][0].clone();
    bad["messageId"] = Value::from("not-a-timer");
    bad["body"] = Value::from("hello");
    event["Records"].as_array_mut().unwrap().push(bad);
    let incoming: Incoming = serde_json::from_value(event).unwrap();

    let answer = app
        .invoke(LambdaEvent::new(incoming, Context::default()))
        .await
        .unwrap();
    let Outgoing::Sqs(batch) = answer else {
        panic!("an SQS event gets a batch response");
    };
    let failed: Vec<&str> = batch
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["not-a-timer"]);
    // The system clock is long past the fixture's round: the timer applies its timeout.
    let frames = app.poster().frames_to(MINJI);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["previous"]["reason"], "timeout");
    assert_eq!(app.timers().take().len(), 1);
}

/// A chat line from Minji at `at` (milliseconds since the epoch).
fn chat_at(at: u64, content: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut event = with_body(
        fixture("message-chat.json"),
        &format!(r#"{{"username":"민지","content":"{content}"}}"#),
    );
    event.request_context.request_time_epoch = at as i64;
    event
}

fn is_slow_down(response: &ApiGatewayProxyResponse) -> bool {
    body(response).is_some_and(|frame| frame["code"] == "slow_down")
}

#[tokio::test]
async fn a_burst_passes_then_the_limit_says_slow_down_and_refills() {
    let app = limited_app();
    two_players(&app).await;
    let t = START + 10_000;
    for i in 0..10 {
        let response = send(&app, chat_at(t, &format!("안녕 {i}"))).await;
        assert!(!is_slow_down(&response), "message {i} of the burst");
    }
    app.poster().clear();
    let refused = send(&app, chat_at(t, "하나 더")).await;
    let frame = body(&refused).expect("an error frame");
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["code"], "slow_down");
    assert_eq!(frame["retryAfter"], 0.4, "333 ms, to the tenth above");
    // Neither stored nor broadcast.
    assert_eq!(app.poster().count(), 0);
    let lines = app
        .store()
        .recent_chat(&Room("general".into()), 50)
        .await
        .unwrap();
    assert!(lines.iter().all(|line| line.content != "하나 더"));
    // start! counts too.
    assert!(is_slow_down(
        &send(&app, fixture("message-start.json")).await
    ));

    // The bucket refills at 3 a second: one message a third of a second later, not two.
    assert!(!is_slow_down(&send(&app, chat_at(t + 334, "다시")).await));
    assert!(is_slow_down(&send(&app, chat_at(t + 334, "또")).await));
    // Junho has his own allowance.
    let mut junho = from(chat_at(t, "준호 왔어"), JUNHO);
    junho.body = Some(r#"{"username":"준호","content":"안녕"}"#.into());
    assert!(!is_slow_down(&send(&app, junho).await));
}

#[tokio::test]
async fn a_connection_that_keeps_flooding_is_closed() {
    let app = limited_app();
    two_players(&app).await;
    let t = START + 10_000;
    for i in 0..10 {
        send(&app, chat_at(t, &format!("{i}"))).await;
    }
    for i in 0..49 {
        assert!(
            is_slow_down(&send(&app, chat_at(t + i, "x")).await),
            "refusal {i}"
        );
    }
    assert!(app.poster().disconnected.lock().unwrap().is_empty());
    app.poster().clear();
    let last = send(&app, chat_at(t + 50, "x")).await;
    assert_eq!(
        body(&last),
        None,
        "the last word is posted before the close"
    );
    let told = app.poster().frames_to(MINJI);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["code"], "flooding");
    assert_eq!(
        *app.poster().disconnected.lock().unwrap(),
        [MINJI.to_owned()]
    );
    assert!(app
        .store()
        .get_connection(&ConnectionId(MINJI.into()))
        .await
        .unwrap()
        .is_none());
    // Junho is still there.
    assert!(app
        .store()
        .get_connection(&ConnectionId(JUNHO.into()))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn refusals_in_another_minute_start_a_new_count() {
    let app = limited_app();
    two_players(&app).await;
    // 40 refusals in one minute, 40 in the next: nobody is closed.
    let minute = (START / 60_000 + 1) * 60_000;
    for base in [minute, minute + 60_000] {
        for i in 0..10 {
            send(&app, chat_at(base, &format!("{i}"))).await;
        }
        for _ in 0..40 {
            assert!(is_slow_down(&send(&app, chat_at(base + 1, "x")).await));
        }
    }
    assert!(app.poster().disconnected.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_redelivered_timer_that_finds_nothing_due_schedules_the_next_wake_up() {
    let app = app();
    let timer = started_game(&app).await;
    app.fire_timer(&timer, timer.at, false).await.unwrap();
    let next = app.timers().take();
    // As if scheduling `next` had failed and SQS delivered the first timer again.
    assert_eq!(
        app.fire_timer(&timer, timer.at + 1_000, true)
            .await
            .unwrap(),
        TimerOutcome::Stale
    );
    assert_eq!(app.timers().take(), next);
    assert_eq!(
        app.poster().count(),
        2,
        "only the first firing posted (to both)"
    );
}

/// A store that, once armed, slips another player's move into the room's game just before
/// the next game save: a write landing between a handler's read and its write.
#[derive(Clone)]
struct SlipsIn {
    inner: MemoryStore,
    rules: Rules,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The other player's move.
    slip: fn(&Rules, &mut quiz_core::game::Game),
}

/// A counted give-up vote: it changes the game but not its wake-up.
fn a_vote_slips_in(rules: &Rules, game: &mut quiz_core::game::Game) {
    let before = game.next_wake(rules);
    let at = game.round_started_at() + 1;
    let vote = game.vote(rules, quiz_core::game::VoteKind::GiveUp, "준호", 2, at);
    assert!(!vote.events.is_empty() && game.next_wake(rules) == before);
}

/// Junho answers the round's question first.
fn a_win_slips_in(rules: &Rules, game: &mut quiz_core::game::Game) {
    let answer = game.question().to_owned();
    let at = game.round_started_at() + 1;
    let submitted = game.submit(rules, "준호", &answer, 2, at);
    assert!(matches!(
        submitted.verdict,
        quiz_core::game::Verdict::Correct { .. }
    ));
}

/// The handler on a store where `slip` lands before the next game save, once armed.
fn app_where(
    slip: fn(&Rules, &mut quiz_core::game::Game),
) -> (SlipsIn, App<SlipsIn, RecordingPoster, RecordingTimers>) {
    let store = SlipsIn {
        inner: MemoryStore::new(),
        rules: rules(),
        armed: Default::default(),
        slip,
    };
    let app = App::new(
        store.clone(),
        RecordingPoster::default(),
        RecordingTimers::default(),
        rules(),
        None,
    )
    .with_message_rate(MessageRate::new(100_000, 1_000.0));
    (store, app)
}

impl Store for SlipsIn {
    async fn put_connection(
        &self,
        c: &quiz_store::Connection,
    ) -> Result<(), quiz_store::StoreError> {
        self.inner.put_connection(c).await
    }
    async fn get_connection(
        &self,
        id: &ConnectionId,
    ) -> Result<Option<quiz_store::Connection>, quiz_store::StoreError> {
        self.inner.get_connection(id).await
    }
    async fn bind_username(
        &self,
        id: &ConnectionId,
        name: &str,
    ) -> Result<quiz_store::Binding, quiz_store::StoreError> {
        self.inner.bind_username(id, name).await
    }
    async fn remove_connection(&self, id: &ConnectionId) -> Result<(), quiz_store::StoreError> {
        self.inner.remove_connection(id).await
    }
    async fn prune_connection(
        &self,
        id: &ConnectionId,
        before: u64,
    ) -> Result<bool, quiz_store::StoreError> {
        self.inner.prune_connection(id, before).await
    }
    async fn admit_message(
        &self,
        id: &ConnectionId,
        now: u64,
        rate: MessageRate,
    ) -> Result<quiz_store::MessageAdmission, quiz_store::StoreError> {
        self.inner.admit_message(id, now, rate).await
    }
    async fn count_refusal(
        &self,
        id: &ConnectionId,
        window: u64,
    ) -> Result<u32, quiz_store::StoreError> {
        self.inner.count_refusal(id, window).await
    }
    async fn room_connections(
        &self,
        room: &Room,
    ) -> Result<Vec<ConnectionId>, quiz_store::StoreError> {
        self.inner.room_connections(room).await
    }
    async fn room_members(
        &self,
        room: &Room,
    ) -> Result<Vec<quiz_store::RoomMember>, quiz_store::StoreError> {
        self.inner.room_members(room).await
    }
    async fn save_report(&self, report: &quiz_store::Report) -> Result<(), quiz_store::StoreError> {
        self.inner.save_report(report).await
    }
    async fn recent_reports(
        &self,
        room: &Room,
        limit: usize,
    ) -> Result<Vec<quiz_store::Report>, quiz_store::StoreError> {
        self.inner.recent_reports(room, limit).await
    }
    async fn append_chat(
        &self,
        line: &quiz_store::NewChatLine,
    ) -> Result<quiz_store::ChatLine, quiz_store::StoreError> {
        self.inner.append_chat(line).await
    }
    async fn set_chat_correct(
        &self,
        line: &quiz_store::ChatLine,
        correct: bool,
    ) -> Result<(), quiz_store::StoreError> {
        self.inner.set_chat_correct(line, correct).await
    }
    async fn recent_chat(
        &self,
        room: &Room,
        limit: usize,
    ) -> Result<Vec<quiz_store::ChatLine>, quiz_store::StoreError> {
        self.inner.recent_chat(room, limit).await
    }
    async fn load_game(
        &self,
        room: &Room,
    ) -> Result<Option<quiz_core::game::Game>, quiz_store::StoreError> {
        self.inner.load_game(room).await
    }
    async fn save_game(
        &self,
        room: &Room,
        game: &quiz_core::game::Game,
        expected: Option<u64>,
    ) -> Result<(), quiz_store::StoreError> {
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let mut current = self.inner.load_game(room).await?.expect("a game");
            let version = current.version();
            (self.slip)(&self.rules, &mut current);
            self.inner.save_game(room, &current, Some(version)).await?;
        }
        self.inner.save_game(room, game, expected).await
    }
    async fn replace_unreadable_game(
        &self,
        room: &Room,
        game: &quiz_core::game::Game,
        salvaged: &quiz_store::Salvaged,
    ) -> Result<(), quiz_store::StoreError> {
        self.inner
            .replace_unreadable_game(room, game, salvaged)
            .await
    }
}

#[tokio::test]
async fn a_timer_that_loses_its_write_to_another_change_looks_again() {
    let (store, app) = app_where(a_vote_slips_in);
    for event in [fixture("connect.json"), fixture("message-start.json")] {
        app.handle(LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
    }
    let timer = app.timers().take().remove(0);

    store.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome = app.fire_timer(&timer, timer.at, false).await.unwrap();
    assert_eq!(
        outcome,
        TimerOutcome::Fired,
        "the timer must not give up to the vote"
    );
    let game = store
        .inner
        .load_game(&Room("general".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(game.hint_level(), 1);
    assert_eq!(
        game.votes(quiz_core::game::VoteKind::GiveUp).len(),
        1,
        "the vote stays"
    );
    assert_eq!(
        app.timers().take().len(),
        1,
        "and the next wake-up is scheduled"
    );
}

#[tokio::test]
async fn a_throttled_connection_misses_the_frame_and_keeps_its_row() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-start.json")).await;
    app.poster().clear();
    app.poster()
        .throttled
        .lock()
        .unwrap()
        .insert(JUNHO.to_owned());
    send(&app, fixture("message-chat.json")).await;
    assert!(app.poster().frames_to(JUNHO).is_empty());
    assert_eq!(
        app.poster().frames_to(MINJI).len(),
        1,
        "the others still get it"
    );
    assert!(app
        .store()
        .get_connection(&ConnectionId(JUNHO.into()))
        .await
        .unwrap()
        .is_some());
}

/// Log lines written on this thread while a capture lives, as JSON objects (the deployed
/// format). One subscriber for the whole process writes each line to the capture of the thread
/// that logged it: a subscriber set per thread would miss lines of callsites another thread
/// registered first.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<CapturedLogs>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the capture of the current thread, if any.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|capture| {
            if let Some(logs) = &*capture.borrow() {
                logs.0.lock().unwrap().extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stops the thread's capture when dropped.
struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|capture| capture.borrow_mut().take());
    }
}

impl CapturedLogs {
    /// Captures this thread's logs (a `#[tokio::test]` runs on one thread) at `info` and up.
    fn start() -> (CapturedLogs, CaptureGuard) {
        static SUBSCRIBER: std::sync::Once = std::sync::Once::new();
        SUBSCRIBER.call_once(|| {
            tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::INFO)
                .with_writer(|| ThreadCapture)
                .init();
        });
        let logs = CapturedLogs::default();
        CAPTURING.with(|capture| *capture.borrow_mut() = Some(logs.clone()));
        (logs, CaptureGuard)
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The last `handled` line: what the event did, in one line.
    fn handled(&self) -> Value {
        self.lines()
            .into_iter()
            .rev()
            .find(|line| line["fields"]["message"] == "handled")
            .expect("a handled line")["fields"]
            .clone()
    }
}

#[tokio::test]
async fn the_events_line_counts_its_posts_and_a_throttled_post_is_a_warning() {
    let app = app();
    two_players(&app).await;
    send(&app, fixture("message-start.json")).await;
    app.poster()
        .throttled
        .lock()
        .unwrap()
        .insert(JUNHO.to_owned());
    let (logs, _guard) = CapturedLogs::start();
    send(&app, fixture("message-chat.json")).await;
    let handled = logs.handled();
    assert_eq!(handled["outcome"], "chat", "{handled}");
    assert_eq!(handled["posts_delivered"], 1, "{handled}");
    assert_eq!(handled["posts_throttled"], 1, "{handled}");
    assert_eq!(handled["posts_retried"], 2, "{handled}");
    assert_eq!(handled["posts_gone"], 0, "{handled}");
    assert_eq!(handled["posts_failed"], 0, "{handled}");
    assert_eq!(handled["store_failed"], 0, "{handled}");
    assert!(handled["store_ok"].as_u64().unwrap() >= 3, "{handled}");
    let warnings: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["fields"]["kind"], "Throttled", "{warnings:?}");
}

/// Answers 403 to every post, as API Gateway does when the function lacks
/// `execute-api:ManageConnections`.
struct ForbiddenPoster;

impl ConnectionPoster for ForbiddenPoster {
    async fn post(&self, _: &str, _: &ConnectionId, _: &str) -> Result<(), PostError> {
        Err(PostError::with_source(
            PostErrorKind::Forbidden,
            std::io::Error::other("AccessDeniedException: not authorized"),
        ))
    }

    async fn disconnect(&self, _: &str, _: &ConnectionId) -> Result<(), PostError> {
        Err(PostErrorKind::Forbidden.into())
    }
}

#[tokio::test]
async fn a_post_the_function_may_not_make_is_an_error_with_its_source() {
    let app = App::new(
        MemoryStore::new(),
        ForbiddenPoster,
        RecordingTimers::default(),
        rules(),
        None,
    );
    for event in [fixture("connect.json"), fixture("message-start.json")] {
        app.handle(LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
    }
    let (logs, _guard) = CapturedLogs::start();
    app.handle(LambdaEvent::new(
        fixture("message-chat.json"),
        Context::default(),
    ))
    .await
    .unwrap();
    let handled = logs.handled();
    assert_eq!(handled["posts_failed"], 1, "{handled}");
    assert_eq!(handled["posts_delivered"], 0, "{handled}");
    let errors: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = errors[0]["fields"]["error"].as_str().unwrap();
    assert!(
        error.contains("403") && error.contains("AccessDeniedException"),
        "{error}"
    );
}

/// A chat line is written while the game decides. When a rival's answer lands first, the
/// line the first attempt stored as correct is corrected, the rival is the one winner, and
/// everyone still gets the chat before the state.
#[tokio::test]
async fn an_answer_that_loses_the_race_is_stored_as_not_correct() {
    let (store, app) = app_where(a_win_slips_in);
    let mut junho = from(fixture("connect.json"), JUNHO);
    junho.query_string_parameters = "room=general&username=준호".parse().unwrap();
    for event in [
        fixture("connect.json"),
        junho,
        fixture("message-start.json"),
    ] {
        app.handle(LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
    }
    let room = Room("general".into());
    let before = store.inner.load_game(&room).await.unwrap().unwrap();
    app.poster().clear();

    store.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = before.question().to_owned();
    let response = app
        .handle(LambdaEvent::new(
            with_body(
                fixture("message-chat.json"),
                &format!(r#"{{"username":"민지","content":"{answer}"}}"#),
            ),
            Context::default(),
        ))
        .await
        .unwrap();
    assert_eq!(body(&response).unwrap()["code"], "already_answered");

    let game = store.inner.load_game(&room).await.unwrap().unwrap();
    assert_eq!(game.round(), before.round() + 1);
    assert_eq!(game.score("준호"), 1);
    assert_eq!(game.score("민지"), 0, "one winner");
    let history = store.inner.recent_chat(&room, 10).await.unwrap();
    let line = history.iter().find(|l| l.content == answer).unwrap();
    assert_eq!(line.username, "민지");
    assert!(
        !line.correct,
        "the stored verdict follows the game's: {line:?}"
    );
    // Minji's game write lost, so the state the room gets is the one her retry found.
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames[0]["content"], answer.as_str(), "{frames:?}");
        assert!(frames[1..].iter().all(|f| f.get("content").is_none()));
    }
}

/// Makes the room's stored game unreadable (a field of the wrong type, as a newer release
/// might write it), keeping its scores; returns the game as it was.
async fn break_the_stored_game(app: &TestApp) -> quiz_core::game::Game {
    use aws_sdk_dynamodb::types::AttributeValue;
    use quiz_store::items::{game_item, ItemTable};
    let room = Room("general".into());
    let game = app.store().load_game(&room).await.unwrap().unwrap();
    let mut item = game_item(&room, &game, "w", START).unwrap();
    let Some(AttributeValue::M(state)) = item.get_mut("state") else {
        panic!("a state map");
    };
    state.insert("round".into(), AttributeValue::S("three".into()));
    app.store().import_item(ItemTable::Game, &item).unwrap();
    assert!(app.store().load_game(&room).await.is_err());
    game
}

#[tokio::test]
async fn a_room_whose_game_cannot_be_read_restarts_with_its_scores() {
    let app = app();
    started_game(&app).await;
    send(&app, fixture("message-correct-answer.json")).await;
    let broken = break_the_stored_game(&app).await;
    assert_eq!(broken.score("민지"), 1);
    app.poster().clear();
    app.timers().take();

    // A chat line restarts the room instead of failing with server_error.
    let response = send(&app, fixture("message-chat.json")).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(body(&response), None, "a chat line, no error");
    let game = app
        .store()
        .load_game(&Room("general".into()))
        .await
        .unwrap()
        .expect("a readable game again");
    assert_ne!(game.id(), broken.id(), "a new game");
    assert_eq!(game.scores(), broken.scores());
    assert!(game.version() > broken.version());
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames.len(), 2, "{id}: {frames:?}");
        assert_eq!(frames[0]["content"], "안녕하세요 ㅋㅋ");
        assert_is_state(&frames[1]);
        assert_eq!(frames[1]["id"], game.id());
        assert_eq!(frames[1]["round"], 1);
        assert_eq!(frames[1]["scores"]["민지"], 1);
    }
    let timers = app.timers().take();
    assert_eq!(timers.len(), 1, "the new game's first wake-up: {timers:?}");
    assert_eq!(timers[0].game_id, game.id());
}

#[tokio::test]
async fn a_timer_restarts_a_room_whose_game_cannot_be_read() {
    let app = app();
    let timer = started_game(&app).await;
    send(&app, fixture("message-correct-answer.json")).await;
    let broken = break_the_stored_game(&app).await;
    app.poster().clear();
    app.timers().take();

    let outcome = app.fire_timer(&timer, timer.at, false).await.unwrap();
    assert_eq!(outcome, TimerOutcome::Fired);
    let game = app
        .store()
        .load_game(&Room("general".into()))
        .await
        .unwrap()
        .expect("a readable game again");
    assert_ne!(game.id(), broken.id());
    assert_eq!(game.score("민지"), 1);
    for id in [MINJI, JUNHO] {
        let frames = app.poster().frames_to(id);
        assert_eq!(frames.len(), 1, "{id}: {frames:?}");
        assert_eq!(frames[0]["id"], game.id());
        assert_eq!(frames[0]["scores"]["민지"], 1);
    }
    let next = app.timers().take();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].game_id, game.id());
}
