//! How long a chat and a correct answer take in the handler against DynamoDB Local, with each
//! of DynamoDB's answers held back by a proxy (0 and 50 ms by default): the handler's time,
//! and how long until its first post leaves. The growth per 50 ms of delay is the number of
//! round trips the handler waits for in a row.
//!
//! ```sh
//! cargo run --release -p quiz-lambda --example chat_latency -- [DELAY_MS ...]
//! ```
//!
//! Starts DynamoDB Local itself (or uses `DYNAMODB_ENDPOINT`). The posts go to a poster that
//! notes when each is made, so only DynamoDB's part is measured.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Context, LambdaEvent};
use quiz_core::game::{GameConfig, Rules};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_lambda::broadcast::{ConnectionPoster, PostError};
use quiz_lambda::handler::App;
use quiz_lambda::timers::{ScheduleError, Timer, TimerQueue};
use quiz_store::{ConnectionId, DynamoStore, Room, Store, TableNames};
use quiz_testkit::dynamodb_local;
use quiz_testkit::latency::LatencyProxy;

const PLAYERS: usize = 10;
const CHATS: usize = 40;
const ANSWERS: usize = 20;

/// Notes when the first post of the current event leaves.
#[derive(Default)]
struct FirstPost(Mutex<Option<Instant>>);

impl FirstPost {
    fn take(&self) -> Option<Instant> {
        self.0.lock().unwrap().take()
    }
}

impl ConnectionPoster for FirstPost {
    async fn post(&self, _: &str, _: &ConnectionId, _: &str) -> Result<(), PostError> {
        self.0.lock().unwrap().get_or_insert_with(Instant::now);
        Ok(())
    }

    async fn disconnect(&self, _: &str, _: &ConnectionId) -> Result<(), PostError> {
        Ok(())
    }
}

struct NoTimers;

impl TimerQueue for NoTimers {
    async fn schedule(&self, _: &Timer, _: u64) -> Result<(), ScheduleError> {
        Ok(())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn event(
    connection: &str,
    route: &str,
    body: Option<String>,
    at: i64,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    let context = &mut event.request_context;
    context.connection_id = Some(connection.to_owned());
    context.route_key = Some(route.to_owned());
    context.event_type = Some(
        match route {
            "$connect" => "CONNECT",
            _ => "MESSAGE",
        }
        .to_owned(),
    );
    context.domain_name = Some("example.execute-api.ap-northeast-2.amazonaws.com".to_owned());
    context.stage = Some("dev".to_owned());
    context.request_time_epoch = at;
    context.connected_at = at;
    event.body = body;
    event
}

fn rules() -> Rules {
    let questions = "사람\n소리\n바다\n나무\n하늘\n구름\n가방\n우유\n사과\n기차\n";
    let bank = WordBank::new(
        parse_word_list("questions.txt", questions).unwrap(),
        parse_word_list("dictionary.txt", "").unwrap(),
    )
    .unwrap();
    Rules::new(bank, GameConfig::default())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Median handler time and time to first post, in ms, for chats and correct answers.
async fn measure(endpoint: &str, delay: Duration) -> [(f64, f64); 2] {
    let tables = TableNames::with_prefix(&dynamodb_local::unique_prefix());
    quiz_store::create_tables(&dynamodb_local::client_for(endpoint), &tables)
        .await
        .unwrap();
    let upstream = endpoint.trim_start_matches("http://");
    let proxy = LatencyProxy::start(upstream, delay).await.unwrap();
    let store = DynamoStore::new(dynamodb_local::client_for(&proxy.endpoint()), tables);
    let app = App::new(store, FirstPost::default(), NoTimers, rules(), None);
    let room = format!("bench{}", delay.as_millis());
    let mut clock = now_ms();
    let ids: Vec<String> = (0..PLAYERS).map(|i| format!("conn{i:02}=")).collect();
    for (i, id) in ids.iter().enumerate() {
        let mut connect = event(id, "$connect", None, clock);
        connect.query_string_parameters = format!("room={room}&username=p{i}").parse().unwrap();
        app.handle(LambdaEvent::new(connect, Context::default()))
            .await
            .unwrap();
    }
    let mut send = |i: usize, content: &str| {
        // A second apart per connection: nobody reaches the message limit.
        clock += 1_000;
        let body = serde_json::json!({"username": format!("p{}", i % PLAYERS), "content": content});
        event(
            &ids[i % PLAYERS],
            "sendmessage",
            Some(body.to_string()),
            clock,
        )
    };
    // Warm every connection into the cache and start the game.
    for i in 0..PLAYERS {
        let warm = send(i, "안녕");
        app.handle(LambdaEvent::new(warm, Context::default()))
            .await
            .unwrap();
    }
    let mut results = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for i in 0..CHATS + ANSWERS {
        let answering = i >= CHATS;
        let content = if answering {
            let game = app
                .store()
                .load_game(&Room(room.clone()))
                .await
                .unwrap()
                .unwrap();
            game.question().to_owned()
        } else {
            "ㅋㅋ 어렵다".to_owned()
        };
        let message = send(i, &content);
        app.poster().take();
        let started = Instant::now();
        app.handle(LambdaEvent::new(message, Context::default()))
            .await
            .unwrap();
        let took = started.elapsed();
        let first_post = app.poster().take().expect("a chat is posted");
        let (handler, posted) = &mut results[usize::from(answering)];
        handler.push(took.as_secs_f64() * 1_000.0);
        posted.push(first_post.duration_since(started).as_secs_f64() * 1_000.0);
    }
    results.map(|(handler, posted)| (median(handler), median(posted)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let delays: Vec<u64> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse().expect("delays are whole milliseconds"))
        .collect();
    let delays = if delays.is_empty() {
        vec![0, 50]
    } else {
        delays
    };
    let local = dynamodb_local::local_dynamo()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local: {err}"));
    println!("| answers held back | chat: handler ms | chat: first post ms | correct answer: handler ms | correct answer: first post ms |");
    println!("| --- | --- | --- | --- | --- |");
    for delay in delays {
        let [chat, answer] = measure(local.endpoint(), Duration::from_millis(delay)).await;
        println!(
            "| {delay} ms | {:.1} | {:.1} | {:.1} | {:.1} |",
            chat.0, chat.1, answer.0, answer.1
        );
    }
}
