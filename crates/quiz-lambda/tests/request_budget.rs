//! How many DynamoDB requests and PostToConnection calls each kind of event costs, and how
//! many of the requests wait on each other, measured on the wire against DynamoDB Local (an
//! SDK interceptor sees every HTTP request, retries included), not estimated.
//!
//! The budget: a plain chat at most 4 DynamoDB requests, a correct answer at most 5 (the
//! room's ranking is part of the game item it writes anyway), a ranking request 2 (the game,
//! and the allowance beside it), a report 3, seating a bot 4 and a bot's move (a timer) 4, no
//! Scan;
//! one of them is the message limit's conditional UpdateItem on the sender's row, which also
//! reads the row of a connection the instance has not seen yet. A round's first message pays
//! one more PutItem (the game notes the round was not silent). A timer that fires costs 3
//! (two reads at once, one write) and schedules the next; a stale one reads twice and writes,
//! posts and schedules nothing.
//!
//! The round trips: DynamoDB's answers pass through a proxy that holds each back, so requests
//! sent at once overlap and requests that wait on an answer do not. A chat's reads go out
//! together, its echo right after them, and the chat line is written while it is posted: one
//! round trip before the first post and two in all, also for a correct answer, whose state
//! frame is posted only after its game write ended.
//! `cargo test -p quiz-lambda --test request_budget -- --nocapture` prints the table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use lambda_runtime::{Context, LambdaEvent};
use quiz_core::game::{GameConfig, Rules};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_lambda::broadcast::{ConnectionPoster, PostError};
use quiz_lambda::handler::{App, TimerOutcome};
use quiz_lambda::timers::{ScheduleError, Timer, TimerQueue};
use quiz_store::{ConnectionId, DynamoStore, Store, TableNames};
use quiz_testkit::dynamodb_local;
use quiz_testkit::latency::LatencyProxy;

/// How long the proxy holds back each of DynamoDB's answers: far longer than the handler
/// needs between sending requests it sends at once.
const HELD_BACK: Duration = Duration::from_millis(40);

/// One DynamoDB request on the wire: its operation, and when it was sent and answered.
#[derive(Debug, Clone)]
struct Request {
    operation: String,
    table: String,
    sent: Instant,
    answered: Instant,
}

/// The request in flight: its operation and when it was sent, kept in its config bag.
#[derive(Debug, Clone)]
struct Sent(String, String, Instant);

impl Storable for Sent {
    type Storer = StoreReplace<Sent>;
}

/// Records every DynamoDB request: its operation (the `X-Amz-Target` header) and timing.
#[derive(Debug, Clone, Default)]
struct RequestLog(Arc<Mutex<Vec<Request>>>);

impl RequestLog {
    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let table = context
            .request()
            .body()
            .bytes()
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
            .and_then(|body| body["TableName"].as_str().map(str::to_owned))
            .unwrap_or_default();
        cfg.interceptor_state()
            .store_put(Sent(operation, table, Instant::now()));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let answered = Instant::now();
        let Some(Sent(operation, table, sent)) = cfg.load::<Sent>().cloned() else {
            return Err("a request was answered that was never seen being sent".into());
        };
        self.0.lock().unwrap().push(Request {
            operation,
            table,
            sent,
            answered,
        });
        Ok(())
    }
}

/// Counts posts and notes when each was made.
#[derive(Default)]
struct CountingPoster(Mutex<Vec<Instant>>);

impl CountingPoster {
    fn take(&self) -> Vec<Instant> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl ConnectionPoster for CountingPoster {
    async fn post(
        &self,
        _endpoint: &str,
        _id: &ConnectionId,
        _frame: &str,
    ) -> Result<(), PostError> {
        self.0.lock().unwrap().push(Instant::now());
        Ok(())
    }

    async fn disconnect(&self, _endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        panic!("nothing in the request budget floods, yet {id} was disconnected");
    }
}

/// How many requests in `requests` waited on each other: the longest chain in which each was
/// sent after the one before it was answered.
fn round_trips(requests: &[Request]) -> usize {
    let mut sorted: Vec<&Request> = requests.iter().collect();
    sorted.sort_by_key(|r| r.sent);
    let mut depth: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, request) in sorted.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| sorted[j].answered <= request.sent)
            .map(|j| depth[j])
            .max()
            .unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// The round trips that ended before `instant`.
fn round_trips_before(requests: &[Request], instant: Instant) -> usize {
    let before: Vec<Request> = requests
        .iter()
        .filter(|r| r.answered <= instant)
        .cloned()
        .collect();
    round_trips(&before)
}

/// Keeps the timers the handler schedules, to count and to fire them.
#[derive(Default)]
struct KeptTimers(Mutex<Vec<Timer>>);

impl KeptTimers {
    fn take(&self) -> Vec<Timer> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl TimerQueue for KeptTimers {
    async fn schedule(&self, timer: &Timer, _now: u64) -> Result<(), ScheduleError> {
        self.0.lock().unwrap().push(timer.clone());
        Ok(())
    }
}

fn fixture(name: &str) -> ApiGatewayWebsocketProxyRequest {
    let path = format!(
        "{}/../../fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixtures' clock is in the past and DynamoDB Local deletes expired rows, so events are
/// moved to now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn event(name: &str, connection: &str, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture(name);
    event.request_context.connection_id = Some(connection.to_owned());
    event.request_context.request_time_epoch = now_ms();
    event.request_context.connected_at = now_ms();
    if let Some(body) = body {
        event.body = Some(body.to_owned());
    }
    event
}

fn rules() -> Rules {
    let bank = WordBank::new(
        parse_word_list("q.txt", "사람\n소리\n소라\n수레\n").unwrap(),
        parse_word_list("d.txt", "사랑\n서랍\n").unwrap(),
    )
    .unwrap();
    Rules::new(bank, GameConfig::default())
}

async fn app_on(
    endpoint: &str,
    tables: &TableNames,
    log: &RequestLog,
) -> App<DynamoStore, CountingPoster, KeptTimers> {
    let client = dynamodb_local::client_for(endpoint);
    let config = client
        .config()
        .to_builder()
        .interceptor(log.clone())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables.clone());
    App::new(
        store,
        CountingPoster::default(),
        KeptTimers::default(),
        rules(),
        None,
    )
}

/// What one event cost.
struct Measured {
    label: String,
    requests: Vec<Request>,
    posts: Vec<Instant>,
    timers: usize,
}

impl Measured {
    fn total(&self) -> usize {
        self.requests.len()
    }

    fn operations(&self) -> BTreeMap<String, usize> {
        let mut counted = BTreeMap::new();
        for request in &self.requests {
            *counted.entry(request.operation.clone()).or_insert(0) += 1;
        }
        counted
    }

    /// Round trips in a row: in all, and before the first post.
    fn round_trips(&self) -> (usize, Option<usize>) {
        let first_post = self.posts.iter().min();
        (
            round_trips(&self.requests),
            first_post.map(|&at| round_trips_before(&self.requests, at)),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_stays_within_its_request_budget() {
    let local = dynamodb_local::local_dynamo().await.unwrap();
    let tables = TableNames::with_prefix(&dynamodb_local::unique_prefix());
    quiz_store::create_tables(&local.client(), &tables)
        .await
        .unwrap();
    let upstream = local.endpoint().trim_start_matches("http://");
    let proxy = LatencyProxy::start(upstream, HELD_BACK).await.unwrap();
    let log = RequestLog::default();
    let warm = app_on(&proxy.endpoint(), &tables, &log).await;

    let (minji, junho) = ("L0SM9cOFvHcCIhw=", "L0SN4dLfPHcCJ2Q=");
    let steps: Vec<(&str, &str, ApiGatewayWebsocketProxyRequest)> = vec![
        ("connect", minji, event("connect.json", minji, None)),
        ("connect", junho, event("connect.json", junho, None)),
        (
            "start! (creates the game)",
            minji,
            event("message-start.json", minji, None),
        ),
        ("start!", junho, event("message-start.json", junho, None)),
        ("chat", minji, event("message-chat.json", minji, None)),
        ("chat again", minji, event("message-chat.json", minji, None)),
        (
            "correct answer",
            minji,
            event("message-correct-answer.json", minji, None),
        ),
        (
            "ranking",
            minji,
            event(
                "message-chat.json",
                minji,
                Some(r#"{"action":"ranking","period":"week"}"#),
            ),
        ),
        (
            "report",
            minji,
            event(
                "message-chat.json",
                minji,
                Some(r#"{"action":"report","word":"소라게","kind":"add"}"#),
            ),
        ),
        (
            "broken frame",
            minji,
            event("message-broken-json.json", minji, None),
        ),
        ("disconnect", junho, event("disconnect.json", junho, None)),
    ];
    // Junho connects with the same fixture, so give him his own name.
    let mut steps = steps;
    steps[1].2.query_string_parameters = "room=general&username=준호".parse().unwrap();

    let mut table = Vec::new();
    let mut scheduled = Vec::new();
    // Each event a second after the last, as a person types: a new round sets a new wake-up,
    // and nobody goes over the message limit (a burst would take one more UpdateItem).
    let start = now_ms();
    let mut clock = start;
    for (label, _, mut event) in steps {
        clock += 1_000;
        event.request_context.request_time_epoch = clock;
        Box::pin(warm.handle(LambdaEvent::new(event, Context::default())))
            .await
            .unwrap();
        let timers = warm.timers().take();
        table.push(Measured {
            label: label.to_owned(),
            requests: log.take(),
            posts: warm.poster().take(),
            timers: timers.len(),
        });
        scheduled.extend(timers);
    }

    // The correct answer's round set the last wake-up; fire it at its instant, then again.
    let timer = scheduled.last().expect("timers were scheduled").clone();
    for (label, outcome) in [
        ("timer (hint)", TimerOutcome::Fired),
        ("timer (stale, again)", TimerOutcome::Stale),
    ] {
        assert_eq!(
            Box::pin(warm.fire_timer(&timer, timer.at, false))
                .await
                .unwrap(),
            outcome
        );
        table.push(Measured {
            label: label.to_owned(),
            requests: log.take(),
            posts: warm.poster().take(),
            timers: warm.timers().take().len(),
        });
    }

    // A cold instance has not seen the connection yet: the allowance's write reads its row.
    let cold = app_on(&proxy.endpoint(), &tables, &log).await;
    let mut chat = event(
        "message-chat.json",
        minji,
        Some(r#"{"username":"민지","content":"다시 안녕"}"#),
    );
    chat.request_context.request_time_epoch = clock + 1_000;
    Box::pin(cold.handle(LambdaEvent::new(chat, Context::default())))
        .await
        .unwrap();
    table.push(Measured {
        label: "chat (cold instance)".to_owned(),
        requests: log.take(),
        posts: cold.poster().take(),
        timers: cold.timers().take().len(),
    });

    // A bot: seating it is a move like a vote; its answer is a timer like a hint. A level-5
    // bot sits out one round in a hundred, so seat it until it plans a move this round.
    let room = quiz_store::Room("general".into());
    let mut bot_move = None;
    for _ in 0..5 {
        clock += 2_000;
        let mut seat = event(
            "message-chat.json",
            minji,
            Some(r#"{"action":"add-bot","level":5}"#),
        );
        seat.request_context.request_time_epoch = clock;
        Box::pin(warm.handle(LambdaEvent::new(seat, Context::default())))
            .await
            .unwrap();
        let seated = Measured {
            label: "add-bot".to_owned(),
            requests: log.take(),
            posts: warm.poster().take(),
            timers: warm.timers().take().len(),
        };
        let game = warm
            .store()
            .load_game(&room)
            .await
            .unwrap()
            .expect("a game");
        log.take();
        if let Some(planned) = game.bot_moves().first().cloned() {
            table.push(seated);
            bot_move = Some((game, planned));
            break;
        }
        clock += 1_000;
        let mut unseat = event(
            "message-chat.json",
            minji,
            Some(r#"{"action":"remove-bot"}"#),
        );
        unseat.request_context.request_time_epoch = clock;
        Box::pin(warm.handle(LambdaEvent::new(unseat, Context::default())))
            .await
            .unwrap();
        log.take();
        warm.poster().take();
        warm.timers().take();
    }
    let (game, planned) = bot_move.expect("a level-5 bot plans a move");
    let bot_timer = Timer {
        room: room.0.clone(),
        game_id: game.id(),
        at: planned.at,
        endpoint: Some("https://example.com/dev".into()),
    };
    assert_eq!(
        Box::pin(warm.fire_timer(&bot_timer, planned.at, false))
            .await
            .unwrap(),
        TimerOutcome::Fired
    );
    table.push(Measured {
        label: "timer (bot move)".to_owned(),
        requests: log.take(),
        posts: warm.poster().take(),
        timers: warm.timers().take().len(),
    });

    println!(
        "{:<28} {:>5}  {:<55} {:>5} {:>6} {:>11} {:>11}",
        "event", "total", "DynamoDB requests", "posts", "timers", "round trips", "before post"
    );
    for measured in &table {
        let (in_all, before_post) = measured.round_trips();
        println!(
            "{:<28} {:>5}  {:<55} {:>5} {:>6} {in_all:>11} {:>11}",
            measured.label,
            measured.total(),
            format!("{:?}", measured.operations()),
            measured.posts.len(),
            measured.timers,
            before_post.map_or("-".to_owned(), |n| n.to_string()),
        );
    }

    let find = |label: &str| -> &Measured { table.iter().find(|m| m.label == label).unwrap() };
    let count = |label: &str| -> (usize, BTreeMap<String, usize>, usize) {
        let measured = find(label);
        (
            measured.total(),
            measured.operations(),
            measured.posts.len(),
        )
    };
    let timers = |label: &str| -> usize { find(label).timers };
    let round_trips_of = |label: &str| -> (usize, Option<usize>) { find(label).round_trips() };
    for measured in &table {
        assert!(
            !measured.operations().contains_key("Scan"),
            "no event may Scan: {:?}",
            measured.operations()
        );
    }
    let ops = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(count("connect"), (1, ops(&[("PutItem", 1)]), 0));
    // The room's first message creates the game and broadcasts it to both players.
    assert_eq!(
        count("start! (creates the game)"),
        (
            4,
            ops(&[
                ("GetItem", 1),
                ("PutItem", 1),
                ("Query", 1),
                ("UpdateItem", 1)
            ]),
            2
        )
    );
    // Junho's connection was recorded by this warm instance, so only the game is read (and his
    // allowance taken); the state goes back in the route response, not through a post.
    assert_eq!(
        count("start!"),
        (2, ops(&[("GetItem", 1), ("UpdateItem", 1)]), 0)
    );
    // "start!" was the round's first chat, so these write only their lines.
    let chat_ops = ops(&[
        ("GetItem", 1),
        ("PutItem", 1),
        ("Query", 1),
        ("UpdateItem", 1),
    ]);
    assert_eq!(count("chat"), (4, chat_ops.clone(), 2));
    assert_eq!(count("chat again"), (4, chat_ops.clone(), 2));
    assert_eq!(
        count("correct answer"),
        (
            5,
            ops(&[
                ("GetItem", 1),
                ("PutItem", 2),
                ("Query", 1),
                ("UpdateItem", 1)
            ]),
            4
        )
    );
    // One round trip before the echo, two in all, whether or not the game changed.
    for label in ["chat", "chat again", "correct answer"] {
        assert_eq!(round_trips_of(label), (2, Some(1)), "{label}");
    }
    // The correct answer's state frames leave only after its game write was answered.
    let correct = find("correct answer");
    let game_saved = correct
        .requests
        .iter()
        .find(|r| r.operation == "PutItem" && r.table == tables.game)
        .expect("the correct answer saved the game")
        .answered;
    let mut posts = correct.posts.clone();
    posts.sort();
    assert!(
        posts[..2].iter().all(|&at| at < game_saved),
        "the echo first"
    );
    assert!(
        posts[2..].iter().all(|&at| at >= game_saved),
        "then the state"
    );
    // The ranking lives in the game item the correct answer already wrote: a ranking request
    // reads it once, beside the allowance.
    assert_eq!(
        count("ranking"),
        (2, ops(&[("GetItem", 1), ("UpdateItem", 1)]), 0)
    );
    assert_eq!(round_trips_of("ranking"), (1, None));
    // A report reads the round's pattern beside the allowance, then writes the report.
    assert_eq!(
        count("report"),
        (
            3,
            ops(&[("GetItem", 1), ("PutItem", 1), ("UpdateItem", 1)]),
            0
        )
    );
    assert_eq!(round_trips_of("report"), (2, None));
    let report_write = find("report")
        .requests
        .iter()
        .find(|r| r.operation == "PutItem")
        .expect("the report was written");
    assert_eq!(report_write.table, tables.report);
    assert_eq!(count("broken frame"), (0, ops(&[]), 0));
    assert_eq!(count("disconnect"), (1, ops(&[("DeleteItem", 1)]), 0));
    // A new game and a new round set a wake-up; nothing else does.
    assert_eq!(timers("start! (creates the game)"), 1);
    assert_eq!(timers("correct answer"), 1);
    for label in [
        "connect",
        "start!",
        "chat",
        "chat again",
        "ranking",
        "report",
        "broken frame",
        "disconnect",
    ] {
        assert_eq!(timers(label), 0, "{label}");
    }
    // After Junho left, the room has one connection: one post per timer that fires. Its two
    // reads go out at once.
    assert_eq!(
        count("timer (hint)"),
        (3, ops(&[("GetItem", 1), ("PutItem", 1), ("Query", 1)]), 1)
    );
    assert_eq!(round_trips_of("timer (hint)"), (2, Some(2)));
    assert_eq!(timers("timer (hint)"), 1);
    assert_eq!(
        count("timer (stale, again)"),
        (2, ops(&[("GetItem", 1), ("Query", 1)]), 0)
    );
    assert_eq!(timers("timer (stale, again)"), 0);
    // The cold instance's chat is also round 2's first message, which marks the round as
    // heard from (a game write; nothing more is broadcast than the chat line). The row comes
    // with the allowance, so the room's reads wait for one round trip more.
    assert_eq!(
        count("chat (cold instance)"),
        (
            5,
            ops(&[
                ("GetItem", 1),
                ("PutItem", 2),
                ("Query", 1),
                ("UpdateItem", 1)
            ]),
            1
        )
    );
    assert_eq!(round_trips_of("chat (cold instance)"), (3, Some(2)));
    // Seating a bot reads like a vote and writes the game; its first move is a new wake-up.
    assert_eq!(
        count("add-bot"),
        (
            4,
            ops(&[
                ("GetItem", 1),
                ("PutItem", 1),
                ("Query", 1),
                ("UpdateItem", 1)
            ]),
            1
        )
    );
    assert_eq!(timers("add-bot"), 1);
    // A bot's move: the timer's two reads, the game's write, then the bot's chat line while
    // its line and the state are posted and the next wake-up scheduled.
    assert_eq!(
        count("timer (bot move)"),
        (4, ops(&[("GetItem", 1), ("PutItem", 2), ("Query", 1)]), 2)
    );
    // The bot's line is written once the game's write says the bot won.
    assert_eq!(round_trips_of("timer (bot move)"), (3, Some(2)));
    assert_eq!(timers("timer (bot move)"), 1);
}
