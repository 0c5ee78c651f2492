//! What API Gateway is, as far as the handler or a client can tell: its quotas, and the
//! state the WebSocket side and the management API share (the integration to invoke and the
//! registry of open connections).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
