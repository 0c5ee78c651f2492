//! What the end-to-end cases share: starting a gateway on a store, WebSocket clients that
//! speak the protocol, and waiting for the store to catch up.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use futures_util::{SinkExt as _, StreamExt as _};
use quiz_local::{LocalOptions, LocalServer, RunningServer, TimerBackend};
use quiz_store::{ConnectionId, DynamoStore, MemoryStore, Room, Store};
use quiz_testkit::dynamodb_local;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a client waits for a frame it expects. Generous: the DynamoDB suite's first test
/// also waits for DynamoDB Local to start.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client listens to make sure nothing else arrives.
pub const QUIET: Duration = Duration::from_millis(300);

/// A store the suite can run on; a clone shares the server's data.
pub trait TestStore: Store + Clone + 'static {}
impl<T: Store + Clone + 'static> TestStore for T {}

pub async fn memory_store() -> MemoryStore {
    MemoryStore::new()
}

/// New tables on DynamoDB Local (started for this test process unless `DYNAMODB_ENDPOINT`
/// names one). No DynamoDB Local is a failure, never a skip.
pub async fn dynamo_store() -> DynamoStore {
    dynamodb_local::fresh_store()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local for the end-to-end tests: {err}"))
}

/// Timers in the gateway's own process (quiz-local's default).
pub async fn in_process_timers() -> TimerBackend {
    TimerBackend::InProcess
}

/// Timers through moto's SQS server (started for this test process unless `SQS_ENDPOINT`
/// names one), on a queue of the test's own. No SQS is a failure, never a skip.
pub async fn moto_timers() -> TimerBackend {
    let sqs = quiz_testkit::moto_sqs::local_sqs()
        .await
        .unwrap_or_else(|err| panic!("no SQS server for the timer tests: {err}"));
    TimerBackend::Sqs {
        endpoint: sqs.endpoint().to_owned(),
        queue: quiz_testkit::moto_sqs::unique_queue_name(),
    }
}

/// How many timers an SQS queue holds: waiting for their delay, ready, or being handled.
pub async fn queued_timers(endpoint: &str, queue: &str) -> u64 {
    let client = quiz_testkit::moto_sqs::client_for(endpoint);
    let url = client
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .expect("the queue exists")
        .queue_url
        .expect("a queue URL");
    let attributes = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .expect("the queue answers")
        .attributes
        .unwrap_or_default();
    [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    .iter()
    .map(|name| {
        attributes
            .iter()
            .find(|(key, _)| key.as_str() == *name)
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .expect("SQS reports the count")
    })
    .sum::<u64>()
}

/// A management API client configured as the handler's is: dummy credentials, the gateway's
/// endpoint.
pub fn management_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "e2e"))
        .endpoint_url(endpoint)
        // A 429 or a 410 is the answer under test, not something to retry.
        .retry_config(aws_sdk_apigatewaymanagement::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// A word list of `tests/words/`.
pub fn words(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/words")
        .join(name)
}

/// Options for a test server: a free port, and the questions 사람 and 소리 (pattern ㅅㄹ) with
/// the extra answers 사랑 and 서랍.
pub fn options() -> LocalOptions {
    LocalOptions {
        addr: "127.0.0.1:0".parse().expect("a literal address"),
        words: Some(words("basic")),
        ..LocalOptions::default()
    }
}

/// Options whose only question is 강아지 (two hints per round), with `round_secs`-long rounds.
pub fn hint_options(round_secs: u64) -> LocalOptions {
    LocalOptions {
        words: Some(words("hints.txt")),
        round_secs: Some(round_secs),
        ..options()
    }
}

tokio::task_local! {
    /// Whether the suite running this case posts over HTTP (see [`posting_over_http`]).
    static POST_OVER_HTTP: bool;
}

/// Runs a case with every gateway it starts posting over HTTP (`true`) or in process.
pub async fn posting_over_http(over_http: bool, case: impl Future<Output = ()>) {
    POST_OVER_HTTP.scope(over_http, case).await;
}

/// A gateway under test and the store it runs on.
pub struct Gateway<S> {
    pub server: RunningServer,
    pub store: S,
}

impl<S: TestStore> Gateway<S> {
    /// Starts a gateway; it posts as the suite running the case says.
    pub async fn start(store: S, mut options: LocalOptions) -> Self {
        options.post_over_http = POST_OVER_HTTP
            .try_with(|over_http| *over_http)
            .expect("a case runs inside posting_over_http (see e2e_suite!)");
        let server = LocalServer::start(options, store.clone())
            .await
            .unwrap_or_else(|err| panic!("the local gateway did not start: {err}"));
        Gateway { server, store }
    }

    /// A client in `room`, with a name bound at connect time when `username` is given.
    pub async fn connect(&self, room: &str, username: Option<&str>) -> Client {
        let mut query = vec![("room", room)];
        query.extend(username.map(|name| ("username", name)));
        Client::connect(&self.server, &query)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to {}: {err}", self.server.url()))
    }

    /// The ids of the room's connections, as the store has them.
    pub async fn room_connections(&self, room: &str) -> Vec<ConnectionId> {
        self.store
            .room_connections(&Room(room.to_owned()))
            .await
            .expect("the store answers")
    }

    /// Waits until the room has `count` connections in the store.
    pub async fn wait_for_connections(&self, room: &str, count: usize) -> Vec<ConnectionId> {
        let done = eventually(Duration::from_secs(10), || async {
            self.room_connections(room).await.len() == count
        })
        .await;
        let ids = self.room_connections(room).await;
        assert!(
            done,
            "room {room} has {} connections, not {count}: {ids:?}",
            ids.len()
        );
        ids
    }
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Milliseconds since the Unix epoch (the clock the gateway stamps events with).
pub fn now_millis() -> u64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(elapsed.as_millis()).expect("milliseconds fit in u64")
}

/// Percent-encodes a query value (the URL must be ASCII; the gateway decodes it).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// A WebSocket client, as the app or a newer client would be.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects with the given query parameters; the handshake's failure is returned as is.
    pub async fn connect(
        server: &RunningServer,
        query: &[(&str, &str)],
    ) -> Result<Client, tungstenite::Error> {
        let query: Vec<String> = query
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect();
        let url = format!("{}?{}", server.url(), query.join("&"));
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Client { ws })
    }

    pub async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("the frame was sent");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// The app's chat frame, which is also how answers are given.
    pub async fn chat(&mut self, username: &str, content: &str) {
        self.send_json(json!({ "username": username, "content": content }))
            .await;
    }

    /// The next data frame, skipping pings and pongs; panics on a close or a timeout.
    pub async fn next_text(&mut self) -> String {
        match tokio::time::timeout(FRAME_TIMEOUT, self.next_data()).await {
            Ok(Some(Message::Text(text))) => text.as_str().to_owned(),
            Ok(other) => panic!("expected a text frame, got {other:?}"),
            Err(_) => panic!("no frame within {FRAME_TIMEOUT:?}"),
        }
    }

    /// The next frame as JSON.
    pub async fn next_frame(&mut self) -> Value {
        let text = self.next_text().await;
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
    }

    async fn next_data(&mut self) -> Option<Message> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(err)) => panic!("the connection failed: {err}"),
                None => return None,
            }
        }
    }

    /// The next frame, which must be game state the Android app accepts.
    pub async fn expect_state(&mut self) -> Value {
        let frame = self.next_frame().await;
        assert_app_state(&frame);
        frame
    }

    /// The next frame, which must be exactly this chat line.
    pub async fn expect_chat(&mut self, username: &str, content: &str) {
        let frame = self.next_frame().await;
        assert_eq!(frame, json!({ "username": username, "content": content }));
    }

    /// The next frame, which must be a notice with this code.
    pub async fn expect_notice(&mut self, code: &str) -> Value {
        let frame = self.next_frame().await;
        assert_typed(&frame, "notice", code);
        frame
    }

    /// Sends a text frame; `false` when the connection is closed.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text)).await.is_ok()
    }

    /// The next message of any kind (a close too) within `limit`; `None` if nothing came.
    /// After the connection ends, every call is `Some(Message::Close(None))`.
    pub async fn next_message_within(&mut self, limit: Duration) -> Option<Message> {
        match tokio::time::timeout(limit, self.ws.next()).await {
            Err(_) => None,
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(_)) | None) => Some(Message::Close(None)),
        }
    }

    /// Asserts that nothing arrives for a while.
    pub async fn expect_silence(&mut self) {
        self.expect_silence_for(QUIET).await;
    }

    /// Asserts that nothing arrives for `duration`.
    pub async fn expect_silence_for(&mut self, duration: Duration) {
        if let Ok(message) = tokio::time::timeout(duration, self.next_data()).await {
            panic!("expected nothing for {duration:?}, got {message:?}");
        }
    }

    /// Waits for the gateway to close the connection; returns the close code.
    pub async fn expect_close(&mut self) -> u16 {
        let message = tokio::time::timeout(FRAME_TIMEOUT, self.next_data())
            .await
            .unwrap_or_else(|_| panic!("no close within {FRAME_TIMEOUT:?}"));
        match message {
            Some(Message::Close(Some(frame))) => u16::from(frame.code),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Closes cleanly, as a well-behaved client does.
    pub async fn close(mut self) {
        self.ws
            .close(Some(tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await
            .expect("the close frame was sent");
        // Read the gateway's half of the handshake.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next()).await {}
    }

    /// Disappears without a close frame, as the Android app does: the TCP connection is shut.
    pub fn vanish(self) {
        drop(self.ws);
    }
}

/// An error or notice frame: `{"type": kind, "code": code, "message": …}`, which the Android
/// app ignores (neither a chat line nor state).
pub fn assert_typed(frame: &Value, kind: &str, code: &str) {
    assert_eq!(frame["type"], kind, "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert!(frame["message"].is_string(), "{frame}");
    assert!(
        frame.get("username").is_none() && frame.get("nowConsonant").is_none(),
        "an error must not look like a chat line or state to the app: {frame}"
    );
}

/// What the Android app checks before it treats a frame as game state: `id` an integer,
/// `nowConsonant` a string, `nowWordIdx` an integer, `answeredWords` a string; and since any
/// frame with both `username` and `content` is a chat line to it, a state frame has not both.
pub fn assert_app_state(frame: &Value) {
    assert!(frame["id"].is_u64(), "id must be an integer: {frame}");
    assert!(frame["nowConsonant"].is_string(), "{frame}");
    assert!(frame["nowWordIdx"].is_u64(), "{frame}");
    assert!(frame["answeredWords"].is_string(), "{frame}");
    assert!(
        frame.get("username").is_none() || frame.get("content").is_none(),
        "{frame}"
    );
}
