//! The WebSocket side of the gateway: the upgrade (`$connect`), each connection's frames
//! (messages in, posts and route responses out), and how it ends (`$disconnect`).
//!
//! How a connection ends, and what its `$disconnect` reports:
//!
//! | what happened | close frame sent | `disconnectStatusCode`, `disconnectReason` |
//! | --- | --- | --- |
//! | the client closed with a code | (the handshake reply) | its code and reason |
//! | the client closed without a code | (the handshake reply) | 1005, `Client-side close frame status not set` |
//! | the connection vanished (no close frame) | none | 1006, `Client-side close frame status not set` |
//! | `DeleteConnection` | 1000 | 1000, `Connection Closed Normally` |
//! | a binary frame | 1003 | 1003 |
//! | a frame over 32 KB or a message over 128 KB | 1009 | 1009 |
//! | text that is not UTF-8 | 1007 | 1007 |
//! | a WebSocket protocol error | 1002 | 1002 |
//! | idle for [`LocalOptions::idle_timeout`](crate::LocalOptions), too old, or a shutdown | 1001 | 1001, `Going away` |
//!
//! API Gateway documents the 1003 and 1009 closes; the 1000, 1001 and 1005 reasons are the ones
//! it puts in `$disconnect` events. It documents no reason for a vanished client; this uses the
//! one of `fixtures/events/disconnect.json`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::{sleep_until, Instant};

use crate::events::{
    connect_event, message_event, now_millis, route_key, ConnectionInfo, CUSTOM_ROUTES,
};
use crate::gateway::{Gateway, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use crate::registry::{Entry, OutFrame, Outbound, OutboundBuffer};

/// How long a closing connection waits for the client's half of the close handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What the WebSocket library reads into per connection, and at most per read. Its default,
/// 128 KiB allocated and zeroed for every connection, was most of what an idle connection cost;
/// a frame larger than this (up to API Gateway's 32 KB) grows the buffer as far as it needs.
/// The write side needs no setting: every send flushes, so its buffer is empty between sends
/// (it keeps the capacity of the largest frame sent through it).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Close codes (RFC 6455, section 7.4.1).
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const PROTOCOL_ERROR: u16 = 1002;
const UNSUPPORTED_DATA: u16 = 1003;
const NO_STATUS: u16 = 1005;
const ABNORMAL: u16 = 1006;
const INVALID_PAYLOAD: u16 = 1007;
const TOO_BIG: u16 = 1009;

/// The reason API Gateway reports when the client sent no close status.
const NO_STATUS_REASON: &str = "Client-side close frame status not set";

/// `GET /` and `GET /{stage}`: runs `$connect`, then upgrades, or refuses with 403.
pub async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let hint = format!(
                "{}\nThis is quiz-local, a local API Gateway WebSocket API: connect with a \
                 WebSocket client, e.g. `npx wscat -c ws://{addr}/{}`, or open \
                 http://{addr}/ in a browser to play\n",
                rejection.body_text(),
                gateway.api.stage,
                addr = gateway.local_addr,
            );
            return (rejection.status(), hint).into_response();
        }
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let domain = text(header::HOST).unwrap_or_else(|| gateway.local_addr.to_string());
    let connection = Arc::new(ConnectionInfo::new(
        peer.ip().to_string(),
        text(header::USER_AGENT),
        domain,
    ));
    let event = connect_event(
        &gateway.api,
        &connection,
        &headers,
        uri.query(),
        gateway.local_addr.port(),
    );
    // API Gateway holds the upgrade until `$connect` answers; posts to the connection fail
    // (410) until then.
    match gateway.invoke(event).await {
        Ok(response) if (200..300).contains(&response.status_code) => {}
        Ok(response) => {
            let body = match &response.body {
                Some(Body::Text(text)) => text.as_str(),
                _ => "",
            };
            tracing::info!(
                connection_id = %connection.id,
                status = response.status_code,
                body,
                "$connect refused the connection"
            );
            return refusal(StatusCode::FORBIDDEN, "Forbidden");
        }
        Err(err) => {
            tracing::error!(connection_id = %connection.id, error = %err, "$connect failed");
            return refusal(StatusCode::BAD_GATEWAY, "Internal server error");
        }
    }

    // Registered before the 101 goes out, so a broadcast racing the handshake is delivered
    // once the socket is up rather than answered 410 (which would prune the new row).
    let (outbox, inbox) = mpsc::unbounded_channel();
    let last_active = Arc::new(AtomicI64::new(connection.connected_at));
    let buffer = Arc::new(OutboundBuffer::new(gateway.max_outbound_bytes));
    gateway.registry.insert(
        connection.id.clone(),
        Entry {
            outbox,
            connected_at: connection.connected_at,
            source_ip: connection.source_ip.clone(),
            user_agent: connection.user_agent.clone(),
            last_active: Arc::clone(&last_active),
            buffer: Arc::clone(&buffer),
        },
    );
    let tracked = gateway.tracker.token();
    let on_failure = {
        let gateway = Arc::clone(&gateway);
        let connection = Arc::clone(&connection);
        move |err: axum::Error| {
            tracing::warn!(connection_id = %connection.id, error = %err, "the WebSocket upgrade failed");
            gateway.registry.remove(&connection.id);
            let tracker = gateway.tracker.clone();
            tracker.spawn(async move {
                gateway
                    .disconnect(&connection, ABNORMAL, NO_STATUS_REASON)
                    .await;
            });
        }
    };
    tracing::info!(connection_id = %connection.id, peer = %peer, "connected");
    upgrade
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_failed_upgrade(on_failure)
        .on_upgrade(move |socket| async move {
            let _tracked = tracked;
            Session {
                gateway,
                connection,
                socket,
                inbox,
                buffer,
                last_active,
                idle_since: Instant::now(),
            }
            .run()
            .await;
        })
}

/// The response refusing an upgrade, in API Gateway's `{"message": …}` shape.
fn refusal(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// How a connection ended.
#[derive(Debug)]
struct Ending {
    /// The close frame the gateway sends, when the gateway is the one closing.
    close_frame: Option<(u16, &'static str)>,
    /// `disconnectStatusCode` and `disconnectReason` of the `$disconnect` event.
    status: u16,
    reason: String,
}

impl Ending {
    fn by_gateway(code: u16, reason: &'static str) -> Self {
        Ending {
            close_frame: Some((code, reason)),
            status: code,
            reason: reason.to_owned(),
        }
    }

    fn by_client(frame: Option<CloseFrame>) -> Self {
        match frame {
            Some(frame) => Ending {
                close_frame: None,
                status: frame.code,
                reason: frame.reason.as_str().to_owned(),
            },
            None => Ending {
                close_frame: None,
                status: NO_STATUS,
                reason: NO_STATUS_REASON.to_owned(),
            },
        }
    }

    fn vanished() -> Self {
        Ending {
            close_frame: None,
            status: ABNORMAL,
            reason: NO_STATUS_REASON.to_owned(),
        }
    }

    fn deleted() -> Self {
        Ending::by_gateway(NORMAL, "Connection Closed Normally")
    }

    fn going_away() -> Self {
        Ending::by_gateway(GOING_AWAY, "Going away")
    }

    /// What a failed read means. The WebSocket library reports API Gateway's limits (set on
    /// the upgrade) as capacity errors: those close with 1009, before the handler sees a byte.
    fn read_error(err: &axum::Error) -> Self {
        match tungstenite_error(err) {
            Some(tungstenite::Error::Capacity(_)) => Ending::by_gateway(TOO_BIG, "Message too big"),
            Some(tungstenite::Error::Utf8(_)) => {
                Ending::by_gateway(INVALID_PAYLOAD, "Text frames must be UTF-8")
            }
            Some(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => Ending::vanished(),
            Some(tungstenite::Error::Protocol(_)) => {
                Ending::by_gateway(PROTOCOL_ERROR, "Protocol error")
            }
            // I/O errors and the rest: the connection is gone.
            _ => Ending::vanished(),
        }
    }
}

/// The WebSocket library's error under axum's.
fn tungstenite_error(err: &axum::Error) -> Option<&tungstenite::Error> {
    std::error::Error::source(err)?.downcast_ref::<tungstenite::Error>()
}

/// What an incoming frame asks for.
enum Incoming {
    /// A text message: invoke the integration.
    Text(String),
    /// A control frame the WebSocket library already answered.
    Nothing,
    End(Ending),
}

impl Incoming {
    fn from(next: Option<Result<Message, axum::Error>>) -> Self {
        match next {
            None => Incoming::End(Ending::vanished()),
            Some(Ok(Message::Text(text))) => Incoming::Text(text.as_str().to_owned()),
            Some(Ok(Message::Binary(_))) => Incoming::End(Ending::by_gateway(
                UNSUPPORTED_DATA,
                "Binary frames are not supported",
            )),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Nothing,
            Some(Ok(Message::Close(frame))) => Incoming::End(Ending::by_client(frame)),
            Some(Err(err)) => Incoming::End(Ending::read_error(&err)),
        }
    }
}

/// A message being handled: resolves to the route response to send back, if any.
type Handling = BoxFuture<'static, Option<OutFrame>>;

/// One open connection.
struct Session {
    gateway: Arc<Gateway>,
    connection: Arc<ConnectionInfo>,
    socket: WebSocket,
    inbox: UnboundedReceiver<Outbound>,
    /// What the management API reserved for the posts in `inbox`.
    buffer: Arc<OutboundBuffer>,
    last_active: Arc<AtomicI64>,
    idle_since: Instant,
}

impl Session {
    async fn run(mut self) {
        let expires_at = Instant::now() + self.gateway.max_connection_duration;
        let mut handling: Option<Handling> = None;
        let ending = loop {
            let idle_at = self.idle_since + self.gateway.idle_timeout;
            tokio::select! {
                biased;
                () = self.gateway.shutdown.cancelled() => break Ending::going_away(),
                outbound = self.inbox.recv() => match outbound {
                    Some(Outbound::Frame(frame)) => {
                        if let Err(ending) = self.send_posted(frame).await {
                            break ending;
                        }
                    }
                    Some(Outbound::Close) | None => break Ending::deleted(),
                },
                reply = async { handling.as_mut()?.await }, if handling.is_some() => {
                    handling = None;
                    // Whatever the invocation posted to this connection was queued before it
                    // returned; it goes out before the route response, as in API Gateway.
                    if let Err(ending) = self.send_queued().await {
                        break ending;
                    }
                    if let Some(frame) = reply {
                        if let Err(ending) = self.send(frame).await {
                            break ending;
                        }
                    }
                }
                // One message at a time per connection: the next frame is read once the
                // current one is handled.
                next = self.socket.recv(), if handling.is_none() => match Incoming::from(next) {
                    Incoming::Text(body) => {
                        self.touch();
                        handling = Some(self.handle(body));
                    }
                    Incoming::Nothing => {}
                    Incoming::End(ending) => break ending,
                },
                () = sleep_until(idle_at) => break Ending::going_away(),
                () = sleep_until(expires_at) => break Ending::going_away(),
            }
        };
        self.finish(ending, handling).await;
    }

    /// Invokes the integration for a text message on the route its body selects.
    fn handle(&self, body: String) -> Handling {
        let route = route_key(&body, CUSTOM_ROUTES);
        let event = message_event(&self.gateway.api, &self.connection, body, &route);
        let request_id = event.request_context.request_id.clone().unwrap_or_default();
        let invocation = self.gateway.invoke(event);
        let connection_id = self.connection.id.clone();
        Box::pin(async move {
            match invocation.await {
                Ok(response) => match response.body {
                    Some(Body::Text(text)) => Some(OutFrame::Text(text)),
                    Some(Body::Binary(bytes)) => Some(OutFrame::Binary(bytes.into())),
                    _ => None,
                },
                Err(err) => {
                    tracing::error!(%connection_id, error = %err, "the integration failed");
                    // What API Gateway sends the client when the integration fails.
                    let body = serde_json::json!({
                        "message": "Internal server error",
                        "connectionId": connection_id,
                        "requestId": request_id,
                    });
                    Some(OutFrame::Text(body.to_string()))
                }
            }
        })
    }

    async fn send(&mut self, frame: OutFrame) -> Result<(), Ending> {
        let message = match frame {
            OutFrame::Text(text) => Message::Text(Utf8Bytes::from(text)),
            OutFrame::Binary(bytes) => Message::Binary(bytes),
        };
        self.socket
            .send(message)
            .await
            .map_err(|_| Ending::vanished())?;
        self.touch();
        Ok(())
    }

    /// Sends a posted frame, then frees its room in the outbound buffer.
    async fn send_posted(&mut self, frame: OutFrame) -> Result<(), Ending> {
        let size = frame.len();
        let sent = self.send(frame).await;
        self.buffer.release(size);
        sent
    }

    /// Sends every frame already queued for this connection.
    async fn send_queued(&mut self) -> Result<(), Ending> {
        while let Ok(outbound) = self.inbox.try_recv() {
            match outbound {
                Outbound::Frame(frame) => self.send_posted(frame).await?,
                Outbound::Close => return Err(Ending::deleted()),
            }
        }
        Ok(())
    }

    /// A data frame went either way: the idle timer starts over.
    fn touch(&mut self) {
        self.idle_since = Instant::now();
        self.last_active.store(now_millis(), Ordering::Relaxed);
    }

    /// Closes the socket, lets a message still being handled finish (a Lambda invocation runs
    /// to its end whatever the client does), then sends `$disconnect`.
    async fn finish(mut self, ending: Ending, handling: Option<Handling>) {
        // From here on, posts to this connection answer 410.
        self.gateway.registry.remove(&self.connection.id);
        let socket = &mut self.socket;
        let close = async {
            if let Some((code, reason)) = ending.close_frame {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                };
                if socket.send(Message::Close(Some(frame))).await.is_err() {
                    return;
                }
            }
            // Read (and drop) until the client answers the close or the socket ends: the
            // handshake completes, and no unread data is left for the kernel to answer with a
            // reset that could reach the client before it has read the close frame. After a
            // capacity error the oversized frame is still unread: keep reading past it.
            while let Some(next) = socket.recv().await {
                match next {
                    Ok(_) => {}
                    Err(err)
                        if matches!(
                            tungstenite_error(&err),
                            Some(tungstenite::Error::Capacity(_))
                        ) => {}
                    Err(_) => break,
                }
            }
        };
        if tokio::time::timeout(CLOSE_GRACE, close).await.is_err() {
            tracing::debug!(connection_id = %self.connection.id, "no close handshake from the client");
        }
        drop(self.socket);
        if let Some(handling) = handling {
            // The route response has nowhere to go any more.
            let _ = handling.await;
        }
        self.gateway
            .disconnect(&self.connection, ending.status, &ending.reason)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{CapacityError, ProtocolError};

    fn ending(next: Option<Result<Message, axum::Error>>) -> Ending {
        match Incoming::from(next) {
            Incoming::End(ending) => ending,
            Incoming::Text(_) | Incoming::Nothing => panic!("the connection should end"),
        }
    }

    #[test]
    fn closes_are_reported_like_api_gateway() {
        let closed = ending(Some(Ok(Message::Close(Some(CloseFrame {
            code: 4000,
            reason: Utf8Bytes::from_static("bye"),
        })))));
        assert_eq!(
            (closed.status, closed.reason.as_str(), closed.close_frame),
            (4000, "bye", None)
        );

        let no_status = ending(Some(Ok(Message::Close(None))));
        assert_eq!(no_status.status, 1005);
        assert_eq!(no_status.reason, NO_STATUS_REASON);

        let vanished = ending(None);
        assert_eq!((vanished.status, vanished.close_frame), (1006, None));
        let reset = ending(Some(Err(axum::Error::new(tungstenite::Error::Protocol(
            ProtocolError::ResetWithoutClosingHandshake,
        )))));
        assert_eq!((reset.status, reset.close_frame), (1006, None));
    }

    #[test]
    fn what_api_gateway_refuses_closes_the_connection() {
        let binary = ending(Some(Ok(Message::Binary(vec![1, 2, 3].into()))));
        assert_eq!(binary.close_frame.map(|(code, _)| code), Some(1003));
        assert_eq!(binary.status, 1003);

        let too_big = ending(Some(Err(axum::Error::new(tungstenite::Error::Capacity(
            CapacityError::MessageTooLong {
                size: 200 * 1024,
                max_size: MAX_FRAME_BYTES,
            },
        )))));
        assert_eq!(too_big.close_frame.map(|(code, _)| code), Some(1009));

        let not_utf8 = ending(Some(Err(axum::Error::new(tungstenite::Error::Utf8(
            "invalid".into(),
        )))));
        assert_eq!(not_utf8.close_frame.map(|(code, _)| code), Some(1007));

        let protocol = ending(Some(Err(axum::Error::new(tungstenite::Error::Protocol(
            ProtocolError::UnmaskedFrameFromClient,
        )))));
        assert_eq!(protocol.close_frame.map(|(code, _)| code), Some(1002));
    }

    #[test]
    fn control_frames_and_text_do_not_end_the_connection() {
        assert!(matches!(
            Incoming::from(Some(Ok(Message::Ping(vec![1].into())))),
            Incoming::Nothing
        ));
        assert!(matches!(
            Incoming::from(Some(Ok(Message::Text(Utf8Bytes::from_static("start!"))))),
            Incoming::Text(text) if text == "start!"
        ));
    }
}
