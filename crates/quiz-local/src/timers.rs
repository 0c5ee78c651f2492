//! The rounds' timers, run locally: in process (the default), or through a real SQS API the
//! way Lambda's event source mapping runs them on AWS (`--sqs-endpoint`).
//!
//! Either way a timer that fires goes to the same [`App::fire_timer`] the Lambda function
//! calls for each SQS message: one implementation of "a timer fired". In process, a tokio
//! timer sleeps until the timer's instant; with SQS, the message is sent with `DelaySeconds`
//! and a poller long-polls the queue, hands each batch to [`App::handle_timers`] and deletes
//! what it did not report as failed, as the event source mapping does.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use quiz_core::game::Millis;
use quiz_lambda::broadcast::ConnectionPoster;
use quiz_lambda::handler::{now_millis, App};
use quiz_lambda::timers::{ScheduleError, SqsTimers, Timer, TimerQueue};
use quiz_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long one receive waits for a message (SQS's longest long poll).
const LONG_POLL_SECS: i32 = 20;
/// Long polls in flight at once. Lambda's event source mapping starts with five; here they
/// also spread out when a delayed message is noticed (moto, for one, rechecks a waiting long
/// poll once a second), so they start [`POLLER_STAGGER`] apart.
const POLLERS: u32 = 5;
const POLLER_STAGGER: Duration = Duration::from_millis(200);
/// Pause after a failed receive before the next.
const RECEIVE_RETRY: Duration = Duration::from_secs(1);

/// Where quiz-local's timers run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TimerBackend {
    /// tokio timers in this process.
    #[default]
    InProcess,
    /// An SQS API at `endpoint` (such as moto's), queue `queue` (created if missing), with
    /// quiz-local's dummy credentials.
    Sqs { endpoint: String, queue: String },
}

/// The queue the local `App` schedules its timers on.
pub enum LocalTimers {
    /// To the task that sleeps until each timer's instant.
    InProcess(mpsc::UnboundedSender<Timer>),
    Sqs(SqsTimers),
}

impl TimerQueue for LocalTimers {
    async fn schedule(&self, timer: &Timer, now: Millis) -> Result<(), ScheduleError> {
        match self {
            LocalTimers::InProcess(timers) => timers
                .send(timer.clone())
                .map_err(|_| ScheduleError("quiz-local is shutting down".into())),
            LocalTimers::Sqs(queue) => queue.schedule(timer, now).await,
        }
    }
}

/// Runs each timer sent on `timers` at its instant, until `shutdown`.
pub async fn run_in_process<S, P, T>(
    app: Arc<App<S, P, T>>,
    mut timers: mpsc::UnboundedReceiver<Timer>,
    shutdown: CancellationToken,
) where
    S: Store + 'static,
    P: ConnectionPoster + 'static,
    T: TimerQueue + 'static,
{
    loop {
        let timer = tokio::select! {
            () = shutdown.cancelled() => return,
            timer = timers.recv() => match timer {
                Some(timer) => timer,
                None => return,
            },
        };
        let app = Arc::clone(&app);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let wait = Duration::from_millis(timer.at.saturating_sub(now_millis()));
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(wait) => {
                    // A failure is logged by fire_timer; the room's next message applies the
                    // clock.
                    let _ = app.fire_timer(&timer, now_millis(), false).await;
                }
            }
        });
    }
}

/// Finds or creates the queue `queue` at `endpoint`; returns it as a timer queue.
pub async fn sqs_timers(
    config: &aws_config::SdkConfig,
    endpoint: &str,
    queue: &str,
) -> Result<SqsTimers, String> {
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build(),
    );
    let created = client
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .map_err(|err| DisplayErrorContext(&err).to_string())?;
    let url = created
        .queue_url()
        .ok_or("CreateQueue answered without a queue URL")?
        .to_owned();
    Ok(SqsTimers::new(client, url))
}

/// Long-polls the queue and hands each batch to the App, as Lambda's event source mapping
/// with `ReportBatchItemFailures` does, with [`POLLERS`] polls at once, until `shutdown`.
pub async fn run_sqs_pollers<S, P, T>(
    app: Arc<App<S, P, T>>,
    queue: SqsTimers,
    shutdown: CancellationToken,
) where
    S: Store + 'static,
    P: ConnectionPoster + 'static,
    T: TimerQueue + 'static,
{
    for poller in 0..POLLERS {
        let (app, queue, shutdown) = (Arc::clone(&app), queue.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(POLLER_STAGGER * poller) => {}
            }
            poll(app, queue, shutdown).await;
        });
    }
}

async fn poll<S, P, T>(app: Arc<App<S, P, T>>, queue: SqsTimers, shutdown: CancellationToken)
where
    S: Store + 'static,
    P: ConnectionPoster + 'static,
    T: TimerQueue + 'static,
{
    let (client, url) = (queue.client(), queue.queue_url());
    loop {
        let receive = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(LONG_POLL_SECS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send();
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = receive => received,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                tracing::error!(error = %DisplayErrorContext(&err), "cannot receive timers from SQS");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RECEIVE_RETRY) => continue,
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        let mut batch = SqsEvent::default();
        batch.records = messages.iter().map(sqs_record).collect();
        let failures = app.handle_timers(batch).await.batch_item_failures;
        for message in &messages {
            let failed = failures
                .iter()
                .any(|failure| Some(failure.item_identifier.as_str()) == message.message_id());
            // A failed message becomes visible again after the visibility timeout.
            let Some(receipt) = message.receipt_handle().filter(|_| !failed) else {
                continue;
            };
            if let Err(err) = client
                .delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await
            {
                tracing::error!(error = %DisplayErrorContext(&err), "cannot delete a timer from SQS");
            }
        }
    }
}

/// A received message as the event source mapping puts it in the function's event.
fn sqs_record(message: &aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.md5_of_body = message.md5_of_body().map(str::to_owned);
    record.event_source = Some("aws:sqs".to_owned());
    record.attributes = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record
}
