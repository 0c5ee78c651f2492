//! The message limit holds across Lambda instances: API Gateway hands a connection's frames to
//! any warm instance, so the allowance lives in the connection's row on DynamoDB (Local, here),
//! not in an instance's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{Context, LambdaEvent};
use quiz_core::game::{GameConfig, Rules};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_lambda::broadcast::{ConnectionPoster, PostError};
use quiz_lambda::handler::App;
use quiz_store::{ConnectionId, DynamoStore};
use quiz_testkit::dynamodb_local;

const MINJI: &str = "L0SM9cOFvHcCIhw=";

/// Counts the chat lines posted (the room's first line also posts the new game's state).
#[derive(Default, Clone)]
struct CountingPoster(Arc<AtomicUsize>);

impl ConnectionPoster for CountingPoster {
    async fn post(
        &self,
        _endpoint: &str,
        _id: &ConnectionId,
        frame: &str,
    ) -> Result<(), PostError> {
        if frame.contains("\"content\"") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    async fn disconnect(&self, _endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        panic!("{id} was disconnected: nobody here floods that long");
    }
}

fn fixture(name: &str) -> ApiGatewayWebsocketProxyRequest {
    let path = format!(
        "{}/../../fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rules() -> Rules {
    let bank = WordBank::new(parse_word_list("q.txt", "사람\n소리\n").unwrap(), []).unwrap();
    Rules::new(bank, GameConfig::default())
}

/// DynamoDB Local deletes rows whose TTL has passed, so the connection lives in the future.
const T: i64 = 4_102_444_800_000;

fn at(name: &str, time: i64, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture(name);
    event.request_context.request_time_epoch = time;
    event.request_context.connected_at = time;
    if let Some(body) = body {
        event.body = Some(body.to_owned());
    }
    event
}

/// An admitted chat line gets no reply (its echo is a post); a refused one `slow_down`.
fn admitted(response: &ApiGatewayProxyResponse) -> bool {
    match &response.body {
        None => true,
        Some(Body::Text(text)) => {
            assert!(text.contains("\"slow_down\""), "{text}");
            false
        }
        Some(other) => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_instances_sharing_the_table() {
    let store: DynamoStore = dynamodb_local::fresh_store()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local: {err}"));
    let posted = CountingPoster::default();
    // Three warm instances, each with its own memory, one table.
    let instances: Vec<
        Arc<App<DynamoStore, CountingPoster, Option<quiz_lambda::timers::SqsTimers>>>,
    > = (0..3)
        .map(|_| Arc::new(App::new(store.clone(), posted.clone(), None, rules(), None)))
        .collect();
    let connect = instances[0]
        .handle(LambdaEvent::new(
            at("connect.json", T, None),
            Context::default(),
        ))
        .await
        .unwrap();
    assert_eq!(connect.status_code, 200);

    // 30 chat lines in the same second, spread over the instances and sent at once.
    let flood = |time: i64, count: usize| {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let app = Arc::clone(&instances[i % instances.len()]);
                let body = format!(r#"{{"username":"민지","content":"도배 {i}"}}"#);
                let event = at("message-chat.json", time, Some(&body));
                tokio::spawn(async move {
                    let mut event = event;
                    event.request_context.connection_id = Some(MINJI.to_owned());
                    // Resent while it lost the race for the allowance, as a client resends
                    // on `try_again`.
                    loop {
                        let response = app
                            .handle(LambdaEvent::new(event.clone(), Context::default()))
                            .await
                            .unwrap();
                        if !matches!(&response.body, Some(Body::Text(text)) if text.contains("\"try_again\""))
                        {
                            break response;
                        }
                    }
                })
            })
            .collect();
        async move {
            let mut count = 0;
            for task in tasks {
                if admitted(&task.await.unwrap()) {
                    count += 1;
                }
            }
            count
        }
    };
    assert_eq!(
        flood(T + 1_000, 30).await,
        10,
        "the burst, across all instances"
    );
    assert_eq!(
        posted.0.load(Ordering::SeqCst),
        10,
        "only admitted lines were broadcast"
    );
    // A second later the bucket holds three more, again wherever they land.
    assert_eq!(flood(T + 2_000, 30).await, 3);
}
