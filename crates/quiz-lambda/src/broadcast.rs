//! Sending frames to connections through API Gateway's management API (`@connections`).
//!
//! A broadcast posts to every connection of a room concurrently, with a bound on requests in
//! flight. A connection that answers 410 Gone has vanished without a `$disconnect` (the app
//! never closes its socket cleanly), so its row is deleted, the sender's included, but only if
//! it connected more than [`HANDSHAKE_GRACE_MS`] ago, since API Gateway also answers 410 while
//! a new connection's handshake is still finishing. Only a 410 prunes.
//!
//! A 429 (`LimitExceededException`) means either that the account's request rate was exceeded
//! (10,000 a second per account and region, shared by WebSocket messages and `@connections`
//! calls) or that the client's buffer is full. The two look the same on the wire, and the
//! first must not cost a player the frame, so a throttled post is tried again after a jittered
//! backoff, [`THROTTLE_RETRIES`] times (well under a second in all, within the function's
//! timeout), before the frame is given up for that connection. Retries draw on a
//! [`RetryBudget`], as the AWS SDKs' retry quota does: when many posts are refused for long
//! (the account's rate is below what the rooms need, not a passing burst), retrying cannot
//! help and only adds requests, so it stops until posts get through again. Any other failure
//! is logged with its kind and the broadcast goes on to the rest.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::config::StalledStreamProtectionConfig;
use aws_sdk_apigatewaymanagement::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::stream::{self, StreamExt};
use quiz_core::game::Millis;
use quiz_store::{ConnectionId, Store};

use crate::tally;

/// Posts in flight at once during one broadcast.
pub const MAX_POSTS_IN_FLIGHT: usize = 32;
/// A connection younger than this is not pruned on a 410: its handshake may not be done.
pub const HANDSHAKE_GRACE_MS: u64 = 5_000;
/// How many times a throttled post is tried again before its frame is given up.
pub const THROTTLE_RETRIES: u32 = 2;
/// The backoff before the first retry of a throttled post; each retry waits between one and
/// two times this, doubled per retry (100–200 ms, then 200–400 ms).
pub const THROTTLE_BACKOFF: Duration = Duration::from_millis(100);

/// How many retries of throttled posts a warm instance may make, kept as the AWS SDKs' retry
/// quota is: it starts full ([`RetryBudget::CAPACITY`]), a retry costs
/// [`RetryBudget::RETRY_COST`], and a delivered post gives one back, so in the long run one
/// retry is allowed per five posts that get through.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: AtomicU32,
}

impl RetryBudget {
    pub const CAPACITY: u32 = 500;
    pub const RETRY_COST: u32 = 5;

    /// A full budget.
    pub fn new() -> Self {
        RetryBudget {
            tokens: AtomicU32::new(Self::CAPACITY),
        }
    }

    /// Takes one retry's cost; `false` (and nothing taken) when the budget is spent.
    fn take_retry(&self) -> bool {
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                tokens.checked_sub(Self::RETRY_COST)
            })
            .is_ok()
    }

    /// Gives back one token per delivered post (every post goes by here: no lock).
    fn delivered(&self, posts: u32) {
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                (tokens < Self::CAPACITY).then(|| tokens.saturating_add(posts).min(Self::CAPACITY))
            });
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new()
    }
}

/// What kind of failure a post (or a close) met: what the adapter can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PostErrorKind {
    /// 410 `GoneException`: the connection is gone; its row can be pruned.
    #[error("the connection is gone (410)")]
    Gone,
    /// 429 `LimitExceededException`: the account's request rate was exceeded, or the client
    /// is not reading and its buffer is full. Worth retrying.
    #[error("the request rate was exceeded or the client is not keeping up (429)")]
    Throttled,
    /// 403 (`AccessDeniedException`, `ForbiddenException`, a bad signature): the function may
    /// not call the management API. Nothing gets through until its permissions are fixed.
    #[error("not allowed to call the management API (403): check the function's execute-api:ManageConnections permission and the endpoint")]
    Forbidden,
    /// 413 `PayloadTooLargeException`: the frame is over API Gateway's 128 KB.
    #[error("the frame is larger than the management API accepts (413)")]
    TooLarge,
    /// A 5xx answer, a timeout, or no answer at all.
    #[error("the management API is unavailable (5xx, timeout or no connection)")]
    Unavailable,
    /// Anything else.
    #[error("the management API refused the request")]
    Other,
}

/// Why a post (or a close) failed: its [`PostErrorKind`], and the SDK's error as its source
/// when there was one.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct PostError {
    kind: PostErrorKind,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl PostError {
    /// A failure with no underlying error (an in-process post, a test's poster).
    pub fn new(kind: PostErrorKind) -> Self {
        PostError { kind, source: None }
    }

    /// A failure caused by `source`, typically the SDK's error.
    pub fn with_source(kind: PostErrorKind, source: impl StdError + Send + Sync + 'static) -> Self {
        PostError {
            kind,
            source: Some(Box::new(source)),
        }
    }

    pub fn kind(&self) -> PostErrorKind {
        self.kind
    }
}

impl From<PostErrorKind> for PostError {
    fn from(kind: PostErrorKind) -> Self {
        PostError::new(kind)
    }
}

/// Something that can send a text frame to one connection.
pub trait ConnectionPoster: Send + Sync {
    /// Sends `frame` to connection `id` through the management API at `endpoint`
    /// (`https://{domain}/{stage}`).
    fn post(
        &self,
        endpoint: &str,
        id: &ConnectionId,
        frame: &str,
    ) -> impl Future<Output = Result<(), PostError>> + Send;

    /// Closes connection `id` (`DeleteConnection`); API Gateway then sends its `$disconnect`.
    fn disconnect(
        &self,
        endpoint: &str,
        id: &ConnectionId,
    ) -> impl Future<Output = Result<(), PostError>> + Send;
}

/// Posts through aws-sdk-apigatewaymanagement, one client per endpoint, built once and reused
/// across invocations.
pub struct ApiGatewayPoster {
    config: aws_config::SdkConfig,
    clients: Mutex<HashMap<String, aws_sdk_apigatewaymanagement::Client>>,
}

impl ApiGatewayPoster {
    pub fn new(config: aws_config::SdkConfig) -> Self {
        ApiGatewayPoster {
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.config)
                    .endpoint_url(endpoint)
                    // Frames are a few hundred bytes; watching their upload for stalls costs
                    // timers on every post and protects nothing.
                    .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
                    // The SDK would retry a 429 (a client not reading) with backoff, holding
                    // up the whole broadcast for seconds; a frame to one connection is not
                    // worth that, and a 410 or a 429 is an answer, not a failure.
                    .retry_config(RetryConfig::disabled())
                    .build();
                aws_sdk_apigatewaymanagement::Client::from_conf(config)
            })
            .clone()
    }
}

impl ConnectionPoster for ApiGatewayPoster {
    async fn post(&self, endpoint: &str, id: &ConnectionId, frame: &str) -> Result<(), PostError> {
        self.client(endpoint)
            .post_to_connection()
            .connection_id(&id.0)
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_post_error)
    }

    async fn disconnect(&self, endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        self.client(endpoint)
            .delete_connection()
            .connection_id(&id.0)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_post_error)
    }
}

/// The kind of an SDK error from the management API, keeping the error as the source.
fn sdk_post_error<E>(err: SdkError<E, HttpResponse>) -> PostError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let kind = post_error_kind(&err);
    PostError::with_source(kind, err)
}

/// Judged by the HTTP status when there is an answer (the SDK names an exception only when
/// the error-type header is present), by the error code otherwise.
fn post_error_kind<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> PostErrorKind {
    if let Some(raw) = err.raw_response() {
        return match raw.status().as_u16() {
            410 => PostErrorKind::Gone,
            429 => PostErrorKind::Throttled,
            401 | 403 => PostErrorKind::Forbidden,
            413 => PostErrorKind::TooLarge,
            500..=599 => PostErrorKind::Unavailable,
            _ => match err.code() {
                Some("GoneException") => PostErrorKind::Gone,
                Some("LimitExceededException" | "ThrottlingException") => PostErrorKind::Throttled,
                Some("ForbiddenException" | "AccessDeniedException") => PostErrorKind::Forbidden,
                _ => PostErrorKind::Other,
            },
        };
    }
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => PostErrorKind::Unavailable,
        _ => PostErrorKind::Other,
    }
}

/// What a broadcast did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Frames delivered (a connection that got two frames counts two).
    pub delivered: usize,
    /// Connections that answered 410; their rows are pruned.
    pub gone: Vec<ConnectionId>,
    /// Connections still answering 429 after [`THROTTLE_RETRIES`] retries: their remaining
    /// frames were given up, they stay.
    pub throttled: usize,
    /// Connections whose post failed otherwise (forbidden, unavailable, too large, other).
    pub failed: usize,
    /// Posts that were tried again after a 429 (whether or not a retry got through).
    pub retried: usize,
}

/// How one connection's frames went.
struct Delivery {
    delivered: usize,
    retried: usize,
    failure: Option<PostError>,
}

/// Sends each frame, in order, to every connection in `ids`, with at most
/// [`MAX_POSTS_IN_FLIGHT`] connections at once; a throttled post is retried while `budget`
/// allows (see the module docs); connections that are gone (as of `now`) are removed from
/// the store.
///
/// Frames to one connection keep their order (a chat line before the state it caused).
pub async fn broadcast<P, S>(
    poster: &P,
    store: &S,
    budget: &RetryBudget,
    endpoint: &str,
    ids: &[ConnectionId],
    frames: &[String],
    now: Millis,
) -> BroadcastReport
where
    P: ConnectionPoster,
    S: Store,
{
    // Owned ids keep the futures free of higher-ranked borrows, so they stay `Send` in any
    // generic caller.
    let results: Vec<(ConnectionId, Delivery)> = stream::iter(ids.to_vec())
        .map(|id| async move {
            let delivery = deliver(poster, budget, endpoint, &id, frames).await;
            (id, delivery)
        })
        .buffer_unordered(MAX_POSTS_IN_FLIGHT)
        .collect()
        .await;

    let mut report = BroadcastReport::default();
    for (id, delivery) in results {
        report.delivered += delivery.delivered;
        report.retried += delivery.retried;
        let Some(err) = delivery.failure else {
            continue;
        };
        match err.kind() {
            PostErrorKind::Gone => report.gone.push(id),
            PostErrorKind::Throttled => {
                tracing::warn!(connection_id = %id, kind = ?err.kind(), retries = THROTTLE_RETRIES, "post still throttled after retries; frame dropped for this connection");
                report.throttled += 1;
            }
            PostErrorKind::Forbidden => {
                tracing::error!(connection_id = %id, kind = ?err.kind(), error = %error_chain(&err), "post to connection forbidden");
                report.failed += 1;
            }
            kind => {
                tracing::warn!(connection_id = %id, ?kind, error = %error_chain(&err), "post to connection failed");
                report.failed += 1;
            }
        }
    }
    let cutoff = now.saturating_sub(HANDSHAKE_GRACE_MS);
    for id in &report.gone {
        match store.prune_connection(id, cutoff).await {
            Ok(true) => tracing::info!(connection_id = %id, "connection gone; removed it"),
            Ok(false) => {
                tracing::info!(connection_id = %id, "connection gone or still connecting; kept")
            }
            Err(err) => {
                tracing::warn!(connection_id = %id, error = %err, "could not remove a gone connection")
            }
        }
    }
    tally::posts(&report);
    report
}

/// Posts `frames` to one connection in order, retrying a throttled post while the budget
/// allows; stops at the first post that fails for good.
async fn deliver<P: ConnectionPoster>(
    poster: &P,
    budget: &RetryBudget,
    endpoint: &str,
    id: &ConnectionId,
    frames: &[String],
) -> Delivery {
    let mut delivery = Delivery {
        delivered: 0,
        retried: 0,
        failure: None,
    };
    for frame in frames {
        let mut retries = 0;
        loop {
            match poster.post(endpoint, id, frame).await {
                Ok(()) => {
                    delivery.delivered += 1;
                    budget.delivered(1);
                    break;
                }
                Err(err)
                    if err.kind() == PostErrorKind::Throttled
                        && retries < THROTTLE_RETRIES
                        && budget.take_retry() =>
                {
                    tokio::time::sleep(throttle_backoff(retries)).await;
                    retries += 1;
                    delivery.retried += 1;
                }
                Err(err) => {
                    delivery.failure = Some(err);
                    return delivery;
                }
            }
        }
    }
    delivery
}

/// The wait before retry `retry` (0-based) of a throttled post: [`THROTTLE_BACKOFF`] doubled
/// per retry, times a random factor between 1 and 2, so the posts that were refused together
/// do not all come back together.
fn throttle_backoff(retry: u32) -> Duration {
    let base = THROTTLE_BACKOFF * 2u32.saturating_pow(retry);
    base.mul_f64(1.0 + rand::random::<f64>())
}

/// `err` and its sources, `: `-separated, for a log line.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use quiz_store::{Connection, MemoryStore, Room};

    use super::*;

    /// Answers 429 to the first `throttled` posts, then delivers; records what it delivered.
    #[derive(Default)]
    struct ThrottledAtFirst {
        throttled: usize,
        attempts: AtomicUsize,
        delivered: Mutex<Vec<(String, String)>>,
    }

    impl ConnectionPoster for ThrottledAtFirst {
        async fn post(&self, _: &str, id: &ConnectionId, frame: &str) -> Result<(), PostError> {
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.throttled {
                return Err(PostErrorKind::Throttled.into());
            }
            self.delivered
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .push((id.0.clone(), frame.to_owned()));
            Ok(())
        }

        async fn disconnect(&self, _: &str, _: &ConnectionId) -> Result<(), PostError> {
            Ok(())
        }
    }

    fn frames() -> Vec<String> {
        vec!["echo".to_owned(), "state".to_owned()]
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_post_is_retried_and_keeps_the_order() {
        let poster = ThrottledAtFirst {
            throttled: 2,
            ..ThrottledAtFirst::default()
        };
        let a = ConnectionId("a".to_owned());
        let budget = RetryBudget::new();
        let report = broadcast(
            &poster,
            &MemoryStore::new(),
            &budget,
            "e",
            &[a],
            &frames(),
            0,
        )
        .await;
        assert_eq!(report.delivered, 2);
        assert_eq!(report.retried, 2);
        assert_eq!(report.throttled, 0);
        let delivered = poster.delivered.lock().unwrap().clone();
        let order: Vec<&str> = delivered.iter().map(|(_, frame)| frame.as_str()).collect();
        assert_eq!(order, ["echo", "state"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_throttled_past_the_retries_is_given_up_and_the_connection_kept() {
        let poster = ThrottledAtFirst {
            throttled: usize::MAX,
            ..ThrottledAtFirst::default()
        };
        let store = MemoryStore::new();
        let a = ConnectionId("a".to_owned());
        store
            .put_connection(&Connection::new(a.clone(), Room("r".to_owned()), None, 0))
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let report = broadcast(
            &poster,
            &store,
            &RetryBudget::new(),
            "e",
            std::slice::from_ref(&a),
            &frames(),
            60_000,
        )
        .await;
        assert_eq!(report.delivered, 0);
        assert_eq!(report.throttled, 1);
        assert_eq!(report.retried, THROTTLE_RETRIES as usize);
        assert!(report.gone.is_empty());
        // One try and two retries, then the rest of the connection's frames are not tried.
        assert_eq!(
            poster.attempts.load(Ordering::SeqCst),
            1 + THROTTLE_RETRIES as usize
        );
        let waited = started.elapsed();
        assert!(
            waited >= THROTTLE_BACKOFF * 3 && waited <= THROTTLE_BACKOFF * 6,
            "{waited:?}"
        );
        assert!(store.get_connection(&a).await.unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_stops_retrying_until_posts_get_through() {
        let always = ThrottledAtFirst {
            throttled: usize::MAX,
            ..ThrottledAtFirst::default()
        };
        let budget = RetryBudget::new();
        let store = MemoryStore::new();
        let ids: Vec<ConnectionId> = (0..200).map(|i| ConnectionId(format!("c{i}"))).collect();
        let report = broadcast(&always, &store, &budget, "e", &ids, &frames(), 0).await;
        // A full budget pays for CAPACITY / RETRY_COST retries, then none.
        let affordable = (RetryBudget::CAPACITY / RetryBudget::RETRY_COST) as usize;
        assert_eq!(report.retried, affordable);
        assert_eq!(report.throttled, ids.len());
        let one = &ids[..1];
        let report = broadcast(&always, &store, &budget, "e", one, &frames(), 0).await;
        assert_eq!(report.retried, 0, "a spent budget still retried");
        // Delivered posts refill it: five pay for one retry.
        let fine = ThrottledAtFirst::default();
        broadcast(&fine, &store, &budget, "e", &ids[..5], &["x".to_owned()], 0).await;
        let report = broadcast(&always, &store, &budget, "e", one, &frames(), 0).await;
        assert_eq!(report.retried, 1);
    }

    #[test]
    fn backoffs_are_jittered_within_their_range() {
        for retry in 0..THROTTLE_RETRIES {
            let base = THROTTLE_BACKOFF * 2u32.pow(retry);
            let waits: Vec<Duration> = (0..50).map(|_| throttle_backoff(retry)).collect();
            assert!(waits.iter().all(|wait| *wait >= base && *wait <= base * 2));
            assert!(waits.iter().any(|wait| *wait != waits[0]), "no jitter");
        }
    }

    #[test]
    fn an_error_chain_names_the_kind_and_its_source() {
        let err = PostError::with_source(
            PostErrorKind::Unavailable,
            std::io::Error::other("connection refused"),
        );
        assert_eq!(
            error_chain(&err),
            "the management API is unavailable (5xx, timeout or no connection): connection refused"
        );
    }
}
