//! The events API Gateway hands a WebSocket API's Lambda proxy integration, built here the way
//! API Gateway builds them, so the handler cannot tell the local gateway from the real one.
//!
//! The shapes follow `fixtures/events/*.json` (captured from API Gateway): `$connect` carries the
//! upgrade request's headers and query string; a message carries its body and a fresh
//! `messageId`; `$disconnect` carries the fixed header set API Gateway sends and the close
//! status (`disconnectStatusCode`, `disconnectReason`). Every event has the connection's
//! `connectionId`, `connectedAt` and `identity`, the API's `apiId`, `stage` and `domainName`,
//! and its own `requestId` and `requestTimeEpoch` (the handler's clock: it applies hints and
//! timeouts at that time).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use rand::Rng as _;
use serde_json::Value;

/// The route every message takes when the route selection expression names no configured route.
pub const DEFAULT_ROUTE: &str = "$default";

/// Routes configured besides `$connect`, `$disconnect` and `$default`. `infra/template.yaml`
/// configures none, so every message takes `$default`; a route added there belongs here too.
pub const CUSTOM_ROUTES: &[&str] = &[];

/// What every event of one API stage shares.
#[derive(Debug, Clone)]
pub struct ApiInfo {
    /// A 10-character id like API Gateway's (`k3x9q2w7ab`), new for each server.
    pub api_id: String,
    pub stage: String,
}

impl ApiInfo {
    pub fn new(stage: &str) -> Self {
        ApiInfo {
            api_id: api_id(),
            stage: stage.to_owned(),
        }
    }
}

/// What every event of one connection shares, fixed when it connects.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub connected_at: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// The `Host` the client connected to (`127.0.0.1:8080`); API Gateway's would be
    /// `{api-id}.execute-api.{region}.amazonaws.com`.
    pub domain_name: String,
}

impl ConnectionInfo {
    /// A new connection, with a fresh id, connected now.
    pub fn new(source_ip: String, user_agent: Option<String>, domain_name: String) -> Self {
        ConnectionInfo {
            id: connection_id(),
            connected_at: now_millis(),
            source_ip,
            user_agent,
            domain_name,
        }
    }
}

/// A connection id shaped like API Gateway's: 11 random bytes in URL-safe base64, 16 characters
/// ending in `=` (`L0SM9cOFvHcCIhw=`, `JC1dgf9yoAMCK-g=`).
pub fn connection_id() -> String {
    let mut bytes = [0u8; 11];
    rand::rng().fill(&mut bytes);
    URL_SAFE.encode(bytes)
}

/// A request or message id; API Gateway uses the same shape as connection ids.
fn request_id() -> String {
    connection_id()
}

fn api_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Milliseconds since the Unix epoch, the unit of `requestTimeEpoch` and `connectedAt`.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The route key API Gateway picks with the route selection expression `$request.body.action`:
/// the body's `action` when the body is a JSON object whose `action` is a string naming one of
/// `routes`, else [`DEFAULT_ROUTE`] (non-JSON text such as the app's `start!` included).
pub fn route_key(body: &str, routes: &[&str]) -> String {
    let action = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(object)) => object
            .get("action")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    match action {
        Some(action) if routes.contains(&action.as_str()) => action,
        _ => DEFAULT_ROUTE.to_owned(),
    }
}

/// The `$connect` event for an upgrade request with these headers and raw query string.
///
/// API Gateway adds `X-Forwarded-For`, `X-Forwarded-Port` and `X-Forwarded-Proto` to the
/// client's headers; so does this, unless the client sent them.
pub fn connect_event(
    api: &ApiInfo,
    connection: &ConnectionInfo,
    headers: &HeaderMap,
    query: Option<&str>,
    local_port: u16,
) -> ApiGatewayWebsocketProxyRequest {
    let mut headers = headers.clone();
    let forwarded = [
        ("x-forwarded-for", connection.source_ip.clone()),
        ("x-forwarded-port", local_port.to_string()),
        ("x-forwarded-proto", "http".to_owned()),
    ];
    for (name, value) in forwarded {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers
                .entry(HeaderName::from_static(name))
                .or_insert(value);
        }
    }
    let mut event = base_event(api, connection, "$connect", "CONNECT");
    event.headers = headers.clone();
    event.multi_value_headers = headers;
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        // `QueryMap`'s parser percent-decodes (`%EB%AF%BC%EC%A7%80` → `민지`), as API Gateway
        // does, and cannot fail: a malformed pair is taken as it comes.
        let Ok(parameters) = query.parse();
        event.query_string_parameters = parameters;
        let Ok(parameters) = query.parse();
        event.multi_value_query_string_parameters = parameters;
    }
    event
}

/// A `MESSAGE` event for a text frame.
pub fn message_event(
    api: &ApiInfo,
    connection: &ConnectionInfo,
    body: String,
    route: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base_event(api, connection, route, "MESSAGE");
    event.request_context.message_id = Some(request_id());
    event.body = Some(body);
    event.is_base64_encoded = false;
    event
}

/// The `$disconnect` event, with the close status as API Gateway reports it.
pub fn disconnect_event(
    api: &ApiInfo,
    connection: &ConnectionInfo,
    status_code: u16,
    reason: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let mut event = base_event(api, connection, "$disconnect", "DISCONNECT");
    // API Gateway sends this fixed set, not the client's headers.
    let mut headers = HeaderMap::new();
    let fixed = [
        ("host", connection.domain_name.as_str()),
        ("x-api-key", ""),
        ("x-forwarded-for", ""),
        ("x-restapi", ""),
    ];
    for (name, value) in fixed {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    event.headers = headers.clone();
    event.multi_value_headers = headers;
    event.request_context.disconnect_status_code = Some(i64::from(status_code));
    event.request_context.disconnect_reason = Some(reason.to_owned());
    event
}

fn base_event(
    api: &ApiInfo,
    connection: &ConnectionInfo,
    route: &str,
    event_type: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let now = now_millis();
    let request_id = request_id();
    // The structs are non-exhaustive: start from `Default` and fill in what API Gateway sends.
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    let context = &mut event.request_context;
    context.route_key = Some(route.to_owned());
    context.event_type = Some(event_type.to_owned());
    context.extended_request_id = Some(request_id.clone());
    context.request_id = Some(request_id);
    context.request_time = Some(request_time(now));
    context.request_time_epoch = now;
    context.message_direction = Some("IN".to_owned());
    context.stage = Some(api.stage.clone());
    context.apiid = Some(api.api_id.clone());
    context.domain_name = Some(connection.domain_name.clone());
    context.connection_id = Some(connection.id.clone());
    context.connected_at = connection.connected_at;
    context.identity.source_ip = Some(connection.source_ip.clone());
    context.identity.user_agent = connection.user_agent.clone();
    event
}

/// `requestTime` as API Gateway writes it: `21/Nov/2026:23:38:37 +0000`.
pub fn request_time(millis: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, hour, minute, second, _) = civil(millis);
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    format!("{day:02}/{month}/{year}:{hour:02}:{minute:02}:{second:02} +0000")
}

/// An ISO 8601 UTC timestamp with milliseconds (`2026-11-21T23:38:37.000Z`), the format of
/// `connectedAt` and `lastActiveAt` in the management API's `GetConnection`.
pub fn iso8601(millis: i64) -> String {
    let (year, month, day, hour, minute, second, milli) = civil(millis);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// Splits milliseconds since the epoch into UTC calendar fields (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`), so no date crate is needed for two log-style formats.
fn civil(millis: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let secs = millis.div_euclid(1_000);
    let milli = millis.rem_euclid(1_000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60,
        milli,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> ConnectionInfo {
        ConnectionInfo::new(
            "127.0.0.1".into(),
            Some("okhttp/4.12.0".into()),
            "127.0.0.1:8080".into(),
        )
    }

    #[test]
    fn connection_ids_look_like_api_gateways() {
        for _ in 0..100 {
            let id = connection_id();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.ends_with('='), "{id}");
            assert!(id[..15]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
        assert_ne!(connection_id(), connection_id());
    }

    #[test]
    fn times_match_the_fixtures() {
        // fixtures/events/connect.json: requestTimeEpoch 1795304317000.
        assert_eq!(
            request_time(1_795_304_317_000),
            "21/Nov/2026:23:38:37 +0000"
        );
        assert_eq!(iso8601(1_795_304_317_123), "2026-11-21T23:38:37.123Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(request_time(951_782_400_000), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn routes_come_from_the_action_field() {
        let routes = ["join"];
        assert_eq!(route_key(r#"{"action":"join"}"#, &routes), "join");
        assert_eq!(route_key(r#"{"action":"dance"}"#, &routes), "$default");
        assert_eq!(route_key(r#"{"action":7}"#, &routes), "$default");
        assert_eq!(route_key("start!", &routes), "$default");
        assert_eq!(route_key("[1]", &routes), "$default");
        assert_eq!(route_key(r#"{"action":"join"}"#, CUSTOM_ROUTES), "$default");
    }

    #[test]
    fn connect_events_carry_headers_query_and_context() {
        let api = ApiInfo::new("dev");
        let connection = connection();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        let event = connect_event(
            &api,
            &connection,
            &headers,
            Some("room=general&username=%EB%AF%BC%EC%A7%80"),
            8080,
        );
        assert_eq!(
            event.query_string_parameters.first("username"),
            Some("민지")
        );
        assert_eq!(event.query_string_parameters.first("room"), Some("general"));
        assert_eq!(event.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(event.headers["x-forwarded-port"], "8080");
        let context = &event.request_context;
        assert_eq!(context.route_key.as_deref(), Some("$connect"));
        assert_eq!(context.event_type.as_deref(), Some("CONNECT"));
        assert_eq!(
            context.connection_id.as_deref(),
            Some(connection.id.as_str())
        );
        assert_eq!(context.stage.as_deref(), Some("dev"));
        assert_eq!(context.identity.source_ip.as_deref(), Some("127.0.0.1"));
        assert!(context.request_time_epoch >= connection.connected_at);
        assert_eq!(context.apiid.as_deref().map(str::len), Some(10));
    }

    #[test]
    fn events_serialize_like_the_fixtures() {
        let api = ApiInfo::new("dev");
        let connection = connection();
        let message = message_event(&api, &connection, "start!".into(), "$default");
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["body"], "start!");
        assert_eq!(json["isBase64Encoded"], false);
        assert_eq!(json["requestContext"]["eventType"], "MESSAGE");
        assert!(json["requestContext"]["messageId"].is_string());

        let disconnect = disconnect_event(
            &api,
            &connection,
            1005,
            "Client-side close frame status not set",
        );
        let json = serde_json::to_value(&disconnect).unwrap();
        assert_eq!(json["requestContext"]["disconnectStatusCode"], 1005);
        assert_eq!(json["requestContext"]["routeKey"], "$disconnect");
        assert_eq!(json["headers"]["x-api-key"], "");
        // And back: what the handler deserializes in Lambda.
        let back: ApiGatewayWebsocketProxyRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.request_context.disconnect_status_code, Some(1005));
    }
}
