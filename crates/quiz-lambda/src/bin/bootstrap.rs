//! The Lambda entry point: builds the long-lived clients once, then serves events: API
//! Gateway's WebSocket events and the timer queue's SQS batches.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use quiz_lambda::broadcast::ApiGatewayPoster;
use quiz_lambda::config::Config;
use quiz_lambda::handler::App;
use quiz_lambda::timers::SqsTimers;
use quiz_store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    quiz_lambda::logging::init_json();
    let config = Config::from_env()?;
    let rules = config.rules()?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoStore::from_shared_config(&aws);
    let timers = match config.timer_queue_url.clone() {
        Some(url) => Some(SqsTimers::new(aws_sdk_sqs::Client::new(&aws), url)),
        None => {
            tracing::warn!(
                "TIMER_QUEUE_URL is not set: hints and timeouts reach players only when \
                 somebody sends a message"
            );
            None
        }
    };
    let app = App::new(
        store,
        ApiGatewayPoster::new(aws),
        timers,
        rules,
        config.management_endpoint.clone(),
    )
    .with_message_rate(config.message_rate());
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| app.invoke(event))).await
}
