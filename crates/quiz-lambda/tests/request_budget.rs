//! How many DynamoDB requests and PostToConnection calls each kind of event costs, counted on
//! the wire against DynamoDB Local (an SDK interceptor sees every HTTP request, retries
//! included), not estimated.
//!
//! The budget: a plain chat at most 4 DynamoDB requests, a correct answer at most 5, no Scan;
//! one of them is the message limit's conditional UpdateItem on the sender's row. A
//! connection seen for the first time by a warm instance pays one more GetItem, and a round's
//! first message one more PutItem (the game notes the round was not silent). A timer
//! that fires costs 3 (two reads at once, one write) and schedules the next; a stale one
//! reads twice and writes, posts and schedules nothing.
//! `cargo test -p quiz-lambda --test request_budget -- --nocapture` prints the table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use lambda_runtime::{Context, LambdaEvent};
use quiz_core::game::{GameConfig, Rules};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_lambda::broadcast::{ConnectionPoster, PostError};
use quiz_lambda::handler::{App, TimerOutcome};
use quiz_lambda::timers::{ScheduleError, Timer, TimerQueue};
use quiz_store::{ConnectionId, DynamoStore, TableNames};
use quiz_testkit::dynamodb_local;

/// Counts DynamoDB operations by their `X-Amz-Target` header.
#[derive(Debug, Clone, Default)]
struct RequestCounter(Arc<Mutex<BTreeMap<String, u32>>>);

impl RequestCounter {
    fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_insert(0) += 1;
        Ok(())
    }
}

#[derive(Default)]
struct CountingPoster(Mutex<u32>);

impl CountingPoster {
    fn take(&self) -> u32 {
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
        *self.0.lock().unwrap() += 1;
        Ok(())
    }

    async fn disconnect(&self, _endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        panic!("nothing in the request budget floods, yet {id} was disconnected");
    }
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
    client: &aws_sdk_dynamodb::Client,
    tables: &TableNames,
    counter: &RequestCounter,
) -> App<DynamoStore, CountingPoster, KeptTimers> {
    let config = client
        .config()
        .to_builder()
        .interceptor(counter.clone())
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

#[tokio::test]
async fn each_event_stays_within_its_request_budget() {
    let local = dynamodb_local::local_dynamo().await.unwrap();
    let tables = TableNames::with_prefix(&dynamodb_local::unique_prefix());
    quiz_store::create_tables(&local.client(), &tables)
        .await
        .unwrap();
    let counter = RequestCounter::default();
    let warm = app_on(&local.client(), &tables, &counter).await;

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
        (
            "correct answer",
            minji,
            event("message-correct-answer.json", minji, None),
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
        warm.handle(LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        let timers = warm.timers().take();
        table.push((
            label.to_owned(),
            counter.take(),
            warm.poster().take(),
            timers.len(),
        ));
        scheduled.extend(timers);
    }

    // The correct answer's round set the last wake-up; fire it at its instant, then again.
    let timer = scheduled.last().expect("timers were scheduled").clone();
    for (label, outcome) in [
        ("timer (hint)", TimerOutcome::Fired),
        ("timer (stale, again)", TimerOutcome::Stale),
    ] {
        assert_eq!(
            warm.fire_timer(&timer, timer.at, false).await.unwrap(),
            outcome
        );
        table.push((
            label.to_owned(),
            counter.take(),
            warm.poster().take(),
            warm.timers().take().len(),
        ));
    }

    // A cold instance has not seen the connection yet: one more GetItem.
    let cold = app_on(&local.client(), &tables, &counter).await;
    let mut chat = event(
        "message-chat.json",
        minji,
        Some(r#"{"username":"민지","content":"다시 안녕"}"#),
    );
    chat.request_context.request_time_epoch = clock + 1_000;
    cold.handle(LambdaEvent::new(chat, Context::default()))
        .await
        .unwrap();
    table.push((
        "chat (cold instance)".to_owned(),
        counter.take(),
        cold.poster().take(),
        cold.timers().take().len(),
    ));

    println!(
        "{:<28} {:>5}  {:<55} {:>5} {:>6}",
        "event", "total", "DynamoDB requests", "posts", "timers"
    );
    for (label, requests, posts, timers) in &table {
        let total: u32 = requests.values().sum();
        println!(
            "{label:<28} {total:>5}  {:<55} {posts:>5} {timers:>6}",
            format!("{requests:?}")
        );
    }

    let count = |label: &str| -> (u32, BTreeMap<String, u32>, u32) {
        let (_, requests, posts, _) = table.iter().find(|(l, ..)| l == label).unwrap();
        (requests.values().sum(), requests.clone(), *posts)
    };
    let timers = |label: &str| -> usize { table.iter().find(|(l, ..)| l == label).unwrap().3 };
    for (_, requests, _, _) in &table {
        assert!(
            !requests.contains_key("Scan"),
            "no event may Scan: {requests:?}"
        );
    }
    let ops = |pairs: &[(&str, u32)]| -> BTreeMap<String, u32> {
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
    assert_eq!(
        count("chat"),
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
    assert_eq!(count("broken frame"), (0, ops(&[]), 0));
    assert_eq!(count("disconnect"), (1, ops(&[("DeleteItem", 1)]), 0));
    // A new game and a new round set a wake-up; nothing else does.
    assert_eq!(timers("start! (creates the game)"), 1);
    assert_eq!(timers("correct answer"), 1);
    for label in ["connect", "start!", "chat", "broken frame", "disconnect"] {
        assert_eq!(timers(label), 0, "{label}");
    }
    // After Junho left, the room has one connection: one post per timer that fires. The cold
    // instance's chat is also round 2's first message, which marks the round as heard from
    // (a game write; nothing more is broadcast than the chat line).
    assert_eq!(
        count("timer (hint)"),
        (3, ops(&[("GetItem", 1), ("PutItem", 1), ("Query", 1)]), 1)
    );
    assert_eq!(timers("timer (hint)"), 1);
    assert_eq!(
        count("timer (stale, again)"),
        (2, ops(&[("GetItem", 1), ("Query", 1)]), 0)
    );
    assert_eq!(timers("timer (stale, again)"), 0);
    assert_eq!(
        count("chat (cold instance)"),
        (
            6,
            ops(&[
                ("GetItem", 2),
                ("PutItem", 2),
                ("Query", 1),
                ("UpdateItem", 1)
            ]),
            1
        )
    );
}
