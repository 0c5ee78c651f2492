//! The management API (`@connections`) on the gateway's own port.
//!
//! The handler's `ApiGatewayPoster` talks to these routes with aws-sdk-apigatewaymanagement,
//! exactly as it talks to `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` in AWS:
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /{stage}/@connections/{id}` | 200; the body goes to the connection as one frame |
//! | `GET /{stage}/@connections/{id}` | 200 `{"connectedAt":…,"identity":{"sourceIp":…,"userAgent":…},"lastActiveAt":…}` |
//! | `DELETE /{stage}/@connections/{id}` | 204; the connection is closed (1000) and gets `$disconnect` |
//!
//! An id that is not connected answers `410 Gone` with `{"message":"Gone"}` and
//! `x-amzn-errortype: GoneException`, which is what makes the SDK report `GoneException` and
//! the broadcast delete the row. A post over [`crate::gateway::MAX_MESSAGE_BYTES`] answers
//! `413 PayloadTooLargeException`, as API Gateway does, and a post to a connection that has
//! more than its cap ([`crate::gateway::MAX_OUTBOUND_BYTES`] by default) posted and not yet
//! sent, because its client is not reading, answers `429 LimitExceededException`: the frame is
//! dropped for that connection only. Requests are not checked for SigV4
//! signatures: locally any credentials will do.
//!
//! The SDK percent-encodes the id in the path (`L0SM9cOFvHcCIhw%3D`); axum's `Path` decodes it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::delivery::{self, Undelivered};
use crate::events::iso8601;
use crate::gateway::Gateway;
use crate::registry::OutFrame;

/// `PostToConnection`.
pub async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let frame = match String::from_utf8(body.to_vec()) {
        Ok(text) => OutFrame::Text(text),
        Err(_) => OutFrame::Binary(body),
    };
    match delivery::post(&gateway.registry, &gateway.account_rate, &id, frame) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(undelivered) => refused(undelivered),
    }
}

/// `GetConnection`.
pub async fn get_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    let Some(entry) = gateway.registry.get(&id) else {
        return gone();
    };
    // The wire names are the model's JSON names (camelCase), which is what the SDK reads; the
    // API reference shows the shape names (`ConnectedAt`, `Identity.SourceIp`).
    let body = serde_json::json!({
        "connectedAt": iso8601(entry.connected_at),
        "identity": {
            "sourceIp": entry.source_ip,
            "userAgent": entry.user_agent,
        },
        "lastActiveAt": iso8601(entry.last_active.load(Ordering::Relaxed)),
    });
    json(StatusCode::OK, body.to_string())
}

/// `DeleteConnection`.
pub async fn delete_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Response {
    match delivery::close(&gateway.registry, &gateway.account_rate, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(undelivered) => refused(undelivered),
    }
}

fn refused(undelivered: Undelivered) -> Response {
    match undelivered {
        Undelivered::Gone => gone(),
        Undelivered::TooLarge => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Message too long",
        ),
        Undelivered::Full | Undelivered::Throttled => error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Limit Exceeded",
        ),
    }
}

fn gone() -> Response {
    error(StatusCode::GONE, "GoneException", "Gone")
}

/// An error as API Gateway's management API sends it: the exception name in
/// `x-amzn-errortype` (which the SDK maps to its error type) and `{"message": …}`.
fn error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    let mut response = json(
        status,
        serde_json::json!({ "message": message }).to_string(),
    );
    response.headers_mut().insert(
        header::HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(error_type),
    );
    response
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
