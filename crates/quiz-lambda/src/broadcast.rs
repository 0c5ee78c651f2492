//! Sending frames to connections through API Gateway's management API (`@connections`).
//!
//! A broadcast posts to every connection of a room concurrently, with a bound on requests in
//! flight. A connection that answers 410 Gone has vanished without a `$disconnect` (the app
//! never closes its socket cleanly), so its row is deleted: that connection's, not the sender's,
//! and only if it connected more than [`HANDSHAKE_GRACE_MS`] ago, since API Gateway also answers
//! 410 while a new connection's handshake is still finishing. A 429 (the client's buffer is full
//! or the account's rate is exceeded) drops the frames for that connection only and keeps it.
//! Any other failure is logged and the broadcast goes on to the rest.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::config::StalledStreamProtectionConfig;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::stream::{self, StreamExt};
use quiz_core::game::Millis;
use quiz_store::{ConnectionId, Store};

/// Posts in flight at once during one broadcast.
pub const MAX_POSTS_IN_FLIGHT: usize = 32;
/// A connection younger than this is not pruned on a 410: its handshake may not be done.
pub const HANDSHAKE_GRACE_MS: u64 = 5_000;

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("connection is gone (410)")]
    Gone,
    /// `LimitExceededException` (429): the client's outbound buffer is full (it is not
    /// reading), or the account's request rate was exceeded. The frame is lost for this
    /// connection only; the connection stays.
    #[error("connection is not keeping up, or the request rate was exceeded (429)")]
    Throttled,
    #[error("post failed: {0}")]
    Failed(String),
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
        let result = self
            .client(endpoint)
            .post_to_connection()
            .connection_id(&id.0)
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_gone(&err) => Err(PostError::Gone),
            Err(err) if is_throttled(&err) => Err(PostError::Throttled),
            Err(err) => Err(PostError::Failed(DisplayErrorContext(&err).to_string())),
        }
    }

    async fn disconnect(&self, endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        let result = self
            .client(endpoint)
            .delete_connection()
            .connection_id(&id.0)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if answered(&err, 410) => Err(PostError::Gone),
            Err(err) => Err(PostError::Failed(DisplayErrorContext(&err).to_string())),
        }
    }
}

/// A 429 from PostToConnection (`LimitExceededException`).
fn is_throttled(err: &SdkError<PostToConnectionError, HttpResponse>) -> bool {
    matches!(
        err.as_service_error(),
        Some(PostToConnectionError::LimitExceededException(_))
    ) || answered(err, 429)
}

/// Whether the management API answered with HTTP `status`, whatever exception the SDK named.
fn answered<E>(err: &SdkError<E, HttpResponse>, status: u16) -> bool {
    err.raw_response()
        .is_some_and(|raw| raw.status().as_u16() == status)
}

/// A 410 is Gone whether or not the SDK could name the exception: it only reports
/// `GoneException` when the error-type header is present.
fn is_gone(err: &SdkError<PostToConnectionError, HttpResponse>) -> bool {
    matches!(
        err.as_service_error(),
        Some(PostToConnectionError::GoneException(_))
    ) || answered(err, 410)
}

/// What a broadcast did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    pub delivered: usize,
    pub gone: Vec<ConnectionId>,
    /// Connections that answered 429: their frames were dropped, they stay.
    pub throttled: usize,
    pub failed: usize,
}

/// Sends each frame, in order, to every connection in `ids`, with at most
/// [`MAX_POSTS_IN_FLIGHT`] posts at once; connections that are gone (as of `now`) are removed
/// from the store.
///
/// Frames to one connection keep their order (a chat line before the state it caused).
pub async fn broadcast<P, S>(
    poster: &P,
    store: &S,
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
    let results: Vec<(ConnectionId, Result<usize, PostError>)> = stream::iter(ids.to_vec())
        .map(|id| async move {
            let mut delivered = 0;
            for frame in frames {
                match poster.post(endpoint, &id, frame).await {
                    Ok(()) => delivered += 1,
                    Err(err) => return (id, Err(err)),
                }
            }
            (id, Ok(delivered))
        })
        .buffer_unordered(MAX_POSTS_IN_FLIGHT)
        .collect()
        .await;

    let mut report = BroadcastReport::default();
    for (id, result) in results {
        match result {
            Ok(delivered) => report.delivered += delivered,
            Err(PostError::Gone) => report.gone.push(id),
            Err(PostError::Throttled) => {
                tracing::warn!(connection_id = %id, "post throttled (429); frame dropped for this connection");
                report.throttled += 1;
            }
            Err(PostError::Failed(reason)) => {
                tracing::warn!(connection_id = %id, %reason, "post to connection failed");
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
    report
}
