//! Posting to and closing connections with API Gateway's answers, shared by both ways the
//! handler reaches them: the management API over HTTP ([`crate::management`], which the
//! deployed function's SDK client talks to) and [`LocalPoster`]'s in-process path, which
//! writes straight into the registry and skips signing, HTTP and JSON errors.
//!
//! Either way a request past the account's rate ([`AccountRate`], when simulated) is refused
//! (429), a post to an id that is not connected is Gone (410), one over [`MAX_MESSAGE_BYTES`]
//! is too large (413), and one to a connection that has its cap of posted-but-unsent bytes is
//! refused (429), so the handler sees the same answers.

use std::sync::Arc;
use std::time::Instant;

use quiz_lambda::broadcast::{ApiGatewayPoster, ConnectionPoster, PostError, PostErrorKind};
use quiz_store::ConnectionId;

use crate::gateway::{AccountRate, MAX_MESSAGE_BYTES};
use crate::registry::{OutFrame, Outbound, Registry};

/// Why a post or a close was not done, as API Gateway's management API answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// 410 `GoneException`: the id is not connected.
    Gone,
    /// 413 `PayloadTooLargeException`: over [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// 429 `LimitExceededException`: the connection's client is not reading.
    Full,
    /// 429 `LimitExceededException`: the account's request rate is exceeded.
    Throttled,
}

/// Queues `frame` for connection `id`'s socket.
pub fn post(
    registry: &Registry,
    account: &AccountRate,
    id: &str,
    frame: OutFrame,
) -> Result<(), Undelivered> {
    if !account.admit(Instant::now()) {
        return Err(Undelivered::Throttled);
    }
    let size = frame.len();
    if size > MAX_MESSAGE_BYTES {
        return Err(Undelivered::TooLarge);
    }
    let Some(entry) = registry.get(id) else {
        return Err(Undelivered::Gone);
    };
    if !entry.buffer.reserve(size) {
        return Err(Undelivered::Full);
    }
    match entry.outbox.send(Outbound::Frame(frame)) {
        Ok(()) => Ok(()),
        // The connection's task ended between the lookup and the send.
        Err(_) => {
            entry.buffer.release(size);
            Err(Undelivered::Gone)
        }
    }
}

/// Closes connection `id` normally (1000); its task then sends `$disconnect`.
pub fn close(registry: &Registry, account: &AccountRate, id: &str) -> Result<(), Undelivered> {
    if !account.admit(Instant::now()) {
        return Err(Undelivered::Throttled);
    }
    let entry = registry.get(id).ok_or(Undelivered::Gone)?;
    entry
        .outbox
        .send(Outbound::Close)
        .map_err(|_| Undelivered::Gone)
}

/// The handler's poster in quiz-local: in process by default, or the deployed function's
/// SDK client over HTTP to the management API (`--post-over-http`).
pub enum LocalPoster {
    InProcess {
        registry: Arc<Registry>,
        account: Arc<AccountRate>,
    },
    OverHttp(Box<ApiGatewayPoster>),
}

impl ConnectionPoster for LocalPoster {
    async fn post(&self, endpoint: &str, id: &ConnectionId, frame: &str) -> Result<(), PostError> {
        match self {
            LocalPoster::InProcess { registry, account } => {
                post(registry, account, &id.0, OutFrame::Text(frame.to_owned())).map_err(post_error)
            }
            LocalPoster::OverHttp(poster) => poster.post(endpoint, id, frame).await,
        }
    }

    async fn disconnect(&self, endpoint: &str, id: &ConnectionId) -> Result<(), PostError> {
        match self {
            LocalPoster::InProcess { registry, account } => {
                close(registry, account, &id.0).map_err(post_error)
            }
            LocalPoster::OverHttp(poster) => poster.disconnect(endpoint, id).await,
        }
    }
}

/// The kind the SDK client would have reported for the same answer.
fn post_error(undelivered: Undelivered) -> PostError {
    PostError::new(match undelivered {
        Undelivered::Gone => PostErrorKind::Gone,
        Undelivered::Full | Undelivered::Throttled => PostErrorKind::Throttled,
        Undelivered::TooLarge => PostErrorKind::TooLarge,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use tokio::sync::mpsc;

    use super::*;
    use crate::registry::{Entry, OutboundBuffer};

    fn registry_with(id: &str, capacity: usize) -> (Registry, mpsc::UnboundedReceiver<Outbound>) {
        let (outbox, received) = mpsc::unbounded_channel();
        let registry = Registry::default();
        registry.insert(
            id.to_owned(),
            Entry {
                outbox,
                connected_at: 0,
                source_ip: "127.0.0.1".to_owned(),
                user_agent: None,
                last_active: Arc::new(AtomicI64::new(0)),
                buffer: Arc::new(OutboundBuffer::new(capacity)),
            },
        );
        (registry, received)
    }

    fn kind(result: Result<(), PostError>) -> Result<(), PostErrorKind> {
        result.map_err(|err| err.kind())
    }

    #[tokio::test]
    async fn in_process_posts_answer_as_the_management_api_does() {
        let (registry, mut received) = registry_with("a", MAX_MESSAGE_BYTES + 10);
        let poster = LocalPoster::InProcess {
            registry: Arc::new(registry),
            account: Arc::new(AccountRate::new(None)),
        };
        let a = ConnectionId("a".to_owned());
        poster.post("unused", &a, "안녕").await.unwrap();
        assert!(matches!(
            received.recv().await,
            Some(Outbound::Frame(OutFrame::Text(text))) if text == "안녕"
        ));
        let too_large = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            kind(poster.post("unused", &a, &too_large).await),
            Err(PostErrorKind::TooLarge)
        );
        // Unsent frames fill the buffer: past its cap a post is refused, as a 429 is.
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        poster.post("unused", &a, &big).await.unwrap();
        assert_eq!(
            kind(poster.post("unused", &a, "one more").await),
            Err(PostErrorKind::Throttled)
        );
        let nobody = ConnectionId("b".to_owned());
        assert_eq!(
            kind(poster.post("unused", &nobody, "hi").await),
            Err(PostErrorKind::Gone)
        );
        assert_eq!(
            kind(poster.disconnect("unused", &nobody).await),
            Err(PostErrorKind::Gone)
        );
        poster.disconnect("unused", &a).await.unwrap();
        drop(received);
        assert_eq!(
            kind(poster.post("unused", &a, "hi").await),
            Err(PostErrorKind::Gone)
        );
    }

    #[tokio::test]
    async fn past_the_account_rate_posts_and_closes_answer_429() {
        let (registry, _received) = registry_with("a", MAX_MESSAGE_BYTES);
        let poster = LocalPoster::InProcess {
            registry: Arc::new(registry),
            account: Arc::new(AccountRate::new(Some(4.0))),
        };
        let a = ConnectionId("a".to_owned());
        poster.post("unused", &a, "1").await.unwrap();
        poster.post("unused", &a, "2").await.unwrap();
        assert_eq!(
            kind(poster.post("unused", &a, "3").await),
            Err(PostErrorKind::Throttled)
        );
        assert_eq!(
            kind(poster.disconnect("unused", &a).await),
            Err(PostErrorKind::Throttled)
        );
    }
}
