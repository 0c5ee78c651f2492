//! `quiz-local`: a local API Gateway WebSocket API that runs the same
//! [`App`](quiz_lambda::handler::App) as Lambda, unchanged, so the whole game can be played and tested without an AWS account.
//!
//! AWS's own local tools do not emulate WebSocket APIs (SAM CLI has no WebSocket support), so
//! this module does what API Gateway does, as far as the handler or a client can tell:
//!
//! - **`$connect`**: every upgrade at `/` or `/{stage}` gets a connection id shaped like API
//!   Gateway's and a `$connect` event with the request's headers and query string. The handler
//!   runs before the upgrade completes; a non-2xx response refuses it with `403 Forbidden`, a
//!   failed invocation with `502`.
//! - **Messages**: a text frame becomes a `MESSAGE` event on the route the route selection
//!   expression `$request.body.action` picks ([`events::route_key`]). The route response's body
//!   goes back to the sender as a text frame; a failed invocation sends API Gateway's
//!   `{"message": "Internal server error", …}`. Messages of one connection are handled one at a
//!   time, in order.
//! - **Limits**, from API Gateway's quotas for WebSocket APIs
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html>):
//!   a frame over 32 KB ([`MAX_FRAME_BYTES`]) or a message over 128 KB ([`MAX_MESSAGE_BYTES`])
//!   closes the connection with code 1009, and the handler never sees it. A binary frame closes
//!   it with 1003: "API Gateway WebSocket APIs don't currently support binary frames in incoming
//!   message payloads. If a client app sends a binary frame, API Gateway rejects it and
//!   disconnects the client with code 1003"
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-binary-media-types.html>).
//!   A connection with no data frame either way for 10 minutes ([`LocalOptions::idle_timeout`])
//!   is closed (1001), as is any connection after 2 hours
//!   ([`LocalOptions::max_connection_duration`]). Ping and pong frames are answered but do not
//!   count as activity: API Gateway's idle timeout counts messages. What is posted to a
//!   connection and not yet sent is capped ([`LocalOptions::max_outbound_bytes`], 1 MiB): past
//!   it a post answers 429 `LimitExceededException`, as API Gateway does for a client that does
//!   not read. Incoming frames are read one at a time, so a fast sender waits on TCP instead of
//!   filling a queue.
//! - **`$disconnect`**: a close, a connection that vanishes (TCP gone without a close frame), a
//!   gateway-side close and a shutdown all end in one `$disconnect` event, with
//!   `disconnectStatusCode` and `disconnectReason` as API Gateway reports them.
//! - **The management API** (`@connections`) answers on the same port under the stage path
//!   (`POST`, `GET` and `DELETE` `/{stage}/@connections/{id}`; 410 Gone for ids that are not
//!   connected), for any client that wants it.
//! - **The handler's posts** go straight into the connections by default, with the management
//!   API's answers (410 for a gone connection, which the broadcast prunes; 413 over 128 KB; 429
//!   for a full buffer) and none of its cost: no signing, HTTP or JSON per frame. With
//!   [`LocalOptions::post_over_http`] (`--post-over-http`) the handler's real
//!   [`ApiGatewayPoster`](quiz_lambda::broadcast::ApiGatewayPoster) is pointed at the
//!   management API instead, through the App's management-endpoint override (what
//!   `APIGW_MANAGEMENT_ENDPOINT` sets in Lambda), with dummy credentials, and talks HTTP to it
//!   exactly as it does in AWS.
//!
//! - **The web client** (`web/`): a browser pointed at `http://{addr}/` gets a page that plays
//!   the game over the same WebSocket API. It is quiz-local's own addition, not API Gateway's;
//!   a WebSocket upgrade at `/` still connects.
//!
//! [`LocalServer::start`] is the whole server as a library call: the `quiz-local` binary is a
//! thin wrapper around it, and the end-to-end tests start it in-process on port 0 (cargo gives
//! a package's tests the paths of that package's binaries only, so the top-level tests cannot
//! spawn `quiz-local`; starting the same function is the next best thing).
//!
//! ```no_run
//! # async fn example() -> Result<(), quiz_local::LocalError> {
//! use quiz_local::{LocalOptions, LocalServer};
//!
//! let options = LocalOptions { addr: "127.0.0.1:0".parse().unwrap(), ..LocalOptions::default() };
//! let server = LocalServer::start(options, quiz_store::MemoryStore::new()).await?;
//! println!("connect to {}", server.url()); // ws://127.0.0.1:PORT/dev
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

//!
//! Modules depend one way: `server` builds the routes from `websocket` (the upgrade and each
//! connection's task) and `management` (`@connections`); both of those share only `gateway`
//! (the quotas, the integration) and `registry` (the open connections), never each other.
//! `timers` runs the rounds' timers (in process, or on an SQS API with `--sqs-endpoint`) and
//! hands each that fires to the same `App`. `web` serves the web client's files and knows
//! nothing of the rest.

mod delivery;
pub mod events;
mod gateway;
mod management;
mod registry;
mod server;
mod timers;
mod web;
mod websocket;

pub use gateway::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, MAX_OUTBOUND_BYTES};
pub use server::{
    dynamo_store, LocalError, LocalOptions, LocalServer, RunningServer, LOCAL_ACCESS_KEY_ID,
    LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY,
};
pub use timers::TimerBackend;
