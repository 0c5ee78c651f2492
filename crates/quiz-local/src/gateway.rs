//! What API Gateway is, as far as the handler or a client can tell: its quotas, and the
//! state the WebSocket side and the management API share (the integration to invoke and the
//! registry of open connections).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::{disconnect_event, ApiInfo, ConnectionInfo};
use crate::registry::Registry;

/// API Gateway's limit on one WebSocket frame: 32 KB. Larger messages must be split into frames.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// API Gateway's limit on one message, incoming or posted: 128 KB.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// How much quiz-local holds for a connection that does not read before posts to it answer 429
/// (`LimitExceededException`), as API Gateway does when a client's buffer is full.
pub const MAX_OUTBOUND_BYTES: usize = 1024 * 1024;

/// API Gateway's idle connection timeout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// API Gateway's maximum connection duration.
pub const MAX_CONNECTION_DURATION: Duration = Duration::from_secs(2 * 60 * 60);

/// One invocation of the integration: the event in, the proxy response (or a failure) out.
pub type Invocation = BoxFuture<'static, Result<ApiGatewayProxyResponse, lambda_runtime::Error>>;

/// The integration behind every route: in AWS, the Lambda function; here,
/// [`App::handle`](quiz_lambda::handler::App::handle).
pub type Integration = Arc<dyn Fn(ApiGatewayWebsocketProxyRequest) -> Invocation + Send + Sync>;

/// What the HTTP handlers and connection tasks share.
pub struct Gateway {
    pub api: ApiInfo,
    pub local_addr: SocketAddr,
    pub integration: Integration,
    /// Shared with the in-process poster, which is built before the gateway.
    pub registry: Arc<Registry>,
    /// The account's request rate for `@connections`, shared with the in-process poster.
    pub account_rate: Arc<AccountRate>,
    pub idle_timeout: Duration,
    pub max_connection_duration: Duration,
    /// Each connection's cap on posted bytes not yet sent.
    pub max_outbound_bytes: usize,
    /// Cancelled when the server shuts down: every connection closes (1001), timers stop.
    pub shutdown: CancellationToken,
    /// Every connection's task, so a shutdown can wait for their `$disconnect`s.
    pub tracker: TaskTracker,
}

impl Gateway {
    /// Invokes the integration, as API Gateway invokes the Lambda function.
    pub fn invoke(&self, event: ApiGatewayWebsocketProxyRequest) -> Invocation {
        (self.integration)(event)
    }

    /// Sends `$disconnect` for a connection. Like API Gateway's, it is best-effort: its response
    /// is ignored and a failure is only logged.
    pub async fn disconnect(&self, connection: &ConnectionInfo, status_code: u16, reason: &str) {
        let event = disconnect_event(&self.api, connection, status_code, reason);
        tracing::info!(
            connection_id = %connection.id,
            status_code,
            reason,
            "connection closed"
        );
        if let Err(err) = self.invoke(event).await {
            tracing::error!(connection_id = %connection.id, error = %err, "$disconnect failed");
        }
    }
}

/// The account's request rate for the management API, simulated when a limit is set (it is
/// not by default). On AWS every `@connections` call and every WebSocket message counts
/// against one rate per account and region (10,000 a second, with bursts of 5,000); past it,
/// a post answers 429 `LimitExceededException`, exactly as a client's full buffer does. A
/// token bucket refilled at the limit and holding half a second's worth, as AWS's, decides
/// here.
#[derive(Debug)]
pub struct AccountRate {
    per_sec: Option<f64>,
    bucket: Mutex<Bucket>,
    refused: AtomicU64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl AccountRate {
    /// `per_sec` requests a second at most (and half that many at once), or no limit with
    /// `None`.
    pub fn new(per_sec: Option<f64>) -> Self {
        let per_sec = per_sec.filter(|rate| rate.is_finite() && *rate > 0.0);
        AccountRate {
            per_sec,
            bucket: Mutex::new(Bucket {
                tokens: per_sec.map_or(0.0, capacity),
                at: Instant::now(),
            }),
            refused: AtomicU64::new(0),
        }
    }

    /// Takes one request from the rate at `now`; `false` when the rate is exceeded.
    pub fn admit(&self, now: Instant) -> bool {
        let Some(per_sec) = self.per_sec else {
            return true;
        };
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity(per_sec));
        bucket.at = now.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Requests refused so far for exceeding the rate.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Half a second's worth of requests, and at least one.
fn capacity(per_sec: f64) -> f64 {
    (per_sec / 2.0).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_rate_allows_half_a_second_at_once_then_refills_at_its_rate() {
        let rate = AccountRate::new(Some(10.0));
        let start = Instant::now();
        assert!((0..5).all(|_| rate.admit(start)));
        assert!(!rate.admit(start));
        assert_eq!(rate.refused(), 1);
        // A tenth of a second gives back one request.
        let later = start + Duration::from_millis(100);
        assert!(rate.admit(later));
        assert!(!rate.admit(later));
        // However long it stays quiet, a burst stays half a second's worth.
        let much_later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| rate.admit(much_later)).count(), 5);
    }

    #[test]
    fn no_limit_refuses_nothing() {
        let rate = AccountRate::new(None);
        let now = Instant::now();
        assert!((0..100_000).all(|_| rate.admit(now)));
        assert_eq!(rate.refused(), 0);
    }
}
