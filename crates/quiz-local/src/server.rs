//! Starting and stopping the local gateway, and what it is started with: the routes, the
//! [`App`] behind them, and the store `quiz-local --store dynamodb` plays on.

use std::future::IntoFuture as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_apigatewaymanagement::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use lambda_runtime::{Context, LambdaEvent};
use quiz_store::{DynamoStore, MemoryStore, StoreError, TableNames, DEFAULT_IDLE_ROOM_TTL};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use quiz_lambda::broadcast::ApiGatewayPoster;
use quiz_lambda::config::{parse_round_secs, Config, ConfigError};
use quiz_lambda::handler::App;

use crate::delivery::LocalPoster;
use crate::events::ApiInfo;
use crate::gateway::{
    AccountRate, Gateway, Integration, IDLE_TIMEOUT, MAX_CONNECTION_DURATION, MAX_OUTBOUND_BYTES,
};
use crate::registry::Registry;
use crate::timers::{run_in_process, run_sqs_pollers, sqs_timers, LocalTimers, TimerBackend};
use crate::{management, web, websocket};

/// The region every AWS client of the local gateway uses. Nothing leaves this machine, but the
/// SDK will not sign a request without a region, and DynamoDB Local keeps tables per region and
/// access key: these match `quiz_testkit::dynamodb_local`, so the tests and `quiz-local` see the
/// same tables.
pub const LOCAL_REGION: &str = "us-east-1";
/// The dummy access key of the local gateway's AWS clients (see [`LOCAL_REGION`]).
pub const LOCAL_ACCESS_KEY_ID: &str = "local";
/// The dummy secret key of the local gateway's AWS clients (see [`LOCAL_REGION`]).
pub const LOCAL_SECRET_ACCESS_KEY: &str = "local";

/// How long a shutdown waits for connections to close and requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the local gateway could not start or stopped; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot listen on {addr}: {source}; pick another address with --addr HOST:PORT (port 0 picks a free port)")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("stage {0:?} is not a valid stage name: use 1 to 128 letters, digits, '-' or '_'")]
    Stage(String),
    #[error("round length {0} s is not valid: use a whole number of seconds from 1 to 3600")]
    RoundSecs(u64),
    #[error("{0}; fix the word list or pass another with --words PATH")]
    Config(#[from] ConfigError),
    #[error("cannot create the tables at DynamoDB endpoint {endpoint}: {source}; is DynamoDB Local running there (e.g. `java -jar DynamoDBLocal.jar -inMemory -port 8000`)?")]
    Tables {
        endpoint: String,
        source: StoreError,
    },
    #[error("cannot use the SQS queue {queue:?} at {endpoint} for timers: {reason}; is an SQS API running there (e.g. `moto_server -p 5000`)?")]
    TimerQueue {
        endpoint: String,
        queue: String,
        reason: String,
    },
    #[error("the server failed: {0}")]
    Serve(io::Error),
}

/// How to run the local gateway. `Default` is what `quiz-local` runs with no flags.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalOptions {
    /// Where to listen; port 0 picks a free port (see [`RunningServer::addr`]).
    pub addr: SocketAddr,
    /// The stage: clients connect to `ws://{addr}/{stage}` (or `/`), and the management API
    /// lives under `/{stage}/@connections`.
    pub stage: String,
    /// A word-list file or directory instead of the shipped lists (see
    /// [`quiz_lambda::config::load_word_bank`]).
    pub words: Option<PathBuf>,
    /// Seconds per round, 1 to 3600; `None` keeps the game's default (60).
    pub round_secs: Option<u64>,
    /// Connections with no data frame either way for this long are closed (API Gateway: 10
    /// minutes). Tests shorten it.
    pub idle_timeout: Duration,
    /// Connections are closed after this long, active or not (API Gateway: 2 hours).
    pub max_connection_duration: Duration,
    /// Where the rounds' timers run: in this process, or on an SQS API.
    pub timers: TimerBackend,
    /// How many bytes posted to a connection and not yet sent (its client is not reading)
    /// quiz-local holds before posts to it answer 429 (API Gateway's `LimitExceededException`).
    pub max_outbound_bytes: usize,
    /// Messages a connection may send at once; `None` keeps the handler's default (10).
    pub rate_burst: Option<u32>,
    /// Messages per second a connection may keep sending; `None` keeps the default (3).
    pub rate_per_sec: Option<f64>,
    /// When the weekly ranking starts over; `None` keeps the default (Monday 00:00, UTC+9).
    pub week_start: Option<quiz_core::ranking::WeekStart>,
    /// The handler posts through its SDK client to this server's management API over HTTP,
    /// as the deployed function does, instead of straight into the connections (the default,
    /// with the same answers and several times the throughput).
    pub post_over_http: bool,
    /// Simulates the account's request rate for `@connections` (on AWS, 10,000 a second per
    /// account and region): past this many posts and closes a second (half as many at once),
    /// they answer 429 as a throttled account's do. `None` (the default) sets no limit.
    pub throttle_posts_per_sec: Option<f64>,
    /// How long the in-memory store built by [`LocalOptions::memory_store`] keeps a room with no
    /// connection before forgetting it, chat lines and game (scores included) with it.
    /// [`LocalServer::start`] plays on the store it is given, so this applies only through
    /// that method. Default [`quiz_store::DEFAULT_IDLE_ROOM_TTL`] (one hour).
    pub forget_idle_rooms_after: Duration,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            stage: "dev".to_owned(),
            words: None,
            round_secs: None,
            idle_timeout: IDLE_TIMEOUT,
            max_connection_duration: MAX_CONNECTION_DURATION,
            timers: TimerBackend::InProcess,
            max_outbound_bytes: MAX_OUTBOUND_BYTES,
            rate_burst: None,
            rate_per_sec: None,
            week_start: None,
            post_over_http: false,
            throttle_posts_per_sec: None,
            forget_idle_rooms_after: DEFAULT_IDLE_ROOM_TTL,
        }
    }
}

impl LocalOptions {
    /// An empty in-memory store that forgets rooms left with no connection after
    /// [`LocalOptions::forget_idle_rooms_after`]: what `quiz-local` plays on by default.
    pub fn memory_store(&self) -> MemoryStore {
        MemoryStore::new().with_idle_room_ttl(self.forget_idle_rooms_after)
    }
}

/// The local gateway. See [`LocalServer::start`].
#[derive(Debug)]
pub struct LocalServer;

impl LocalServer {
    /// Binds `options.addr`, builds the [`App`] on `store` with a poster that delivers in
    /// process (or, with [`LocalOptions::post_over_http`], the real `ApiGatewayPoster` pointed
    /// at this server's own management API), and serves in background tasks until
    /// [`RunningServer::shutdown`] (or until the returned value is dropped).
    ///
    /// The store is taken whole: pass a clone (both stores' clones share their data) to look
    /// at what the server stored.
    pub async fn start<S>(options: LocalOptions, store: S) -> Result<RunningServer, LocalError>
    where
        S: quiz_store::Store + 'static,
    {
        if !valid_stage(&options.stage) {
            return Err(LocalError::Stage(options.stage));
        }
        let round_secs = options
            .round_secs
            .map(|secs| parse_round_secs(&secs.to_string()).ok_or(LocalError::RoundSecs(secs)))
            .transpose()?;
        let mut config = Config {
            management_endpoint: None,
            round_secs,
            words_path: options.words.clone(),
            timer_queue_url: None,
            rate_burst: options.rate_burst,
            rate_per_sec: options.rate_per_sec,
            week_start: options.week_start,
        };
        // Reading the word lists first: a bad list is reported before anything listens.
        let rules = config.rules()?;

        let listener =
            TcpListener::bind(options.addr)
                .await
                .map_err(|source| LocalError::Bind {
                    addr: options.addr,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| LocalError::Bind {
            addr: options.addr,
            source,
        })?;
        let endpoint = management_endpoint(local_addr, &options.stage);
        config.management_endpoint = Some(endpoint.clone());

        let aws = local_aws_config();
        let shutdown = CancellationToken::new();
        let (timers, sqs) = match &options.timers {
            TimerBackend::InProcess => {
                let (sender, receiver) = mpsc::unbounded_channel();
                (LocalTimers::InProcess(sender), Err(receiver))
            }
            TimerBackend::Sqs { endpoint, queue } => {
                let timers = sqs_timers(&aws, endpoint, queue).await.map_err(|reason| {
                    LocalError::TimerQueue {
                        endpoint: endpoint.clone(),
                        queue: queue.clone(),
                        reason,
                    }
                })?;
                (LocalTimers::Sqs(timers.clone()), Ok(timers))
            }
        };
        let registry = Arc::new(Registry::default());
        let account_rate = Arc::new(AccountRate::new(options.throttle_posts_per_sec));
        let poster = if options.post_over_http {
            LocalPoster::OverHttp(Box::new(ApiGatewayPoster::new(aws)))
        } else {
            LocalPoster::InProcess {
                registry: Arc::clone(&registry),
                account: Arc::clone(&account_rate),
            }
        };
        let app = Arc::new(
            App::new(
                store,
                poster,
                timers,
                rules,
                config.management_endpoint.clone(),
            )
            .with_message_rate(config.message_rate()),
        );
        match sqs {
            Ok(queue) => tokio::spawn(run_sqs_pollers(Arc::clone(&app), queue, shutdown.clone())),
            Err(receiver) => {
                tokio::spawn(run_in_process(Arc::clone(&app), receiver, shutdown.clone()))
            }
        };
        let integration: Integration = Arc::new(move |event| {
            let app = Arc::clone(&app);
            Box::pin(async move {
                app.handle(LambdaEvent::new(event, Context::default()))
                    .await
            })
        });
        let gateway = Arc::new(Gateway {
            api: ApiInfo::new(&options.stage),
            local_addr,
            integration,
            registry,
            account_rate,
            idle_timeout: options.idle_timeout,
            max_connection_duration: options.max_connection_duration,
            max_outbound_bytes: options.max_outbound_bytes,
            shutdown,
            tracker: TaskTracker::new(),
        });

        let stage = &options.stage;
        let router = Router::new()
            .route("/", get(root))
            .route("/app.js", get(web::script))
            .route("/style.css", get(web::style))
            .route(&format!("/{stage}"), get(websocket::upgrade))
            .route(
                &format!("/{stage}/@connections/{{id}}"),
                post(management::post_to_connection)
                    .get(management::get_connection)
                    .delete(management::delete_connection),
            )
            .with_state(Arc::clone(&gateway));
        let http_stop = CancellationToken::new();
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(http_stop.clone().cancelled_owned())
        .into_future();
        let serve = tokio::spawn(serve);
        tracing::debug!(%local_addr, %endpoint, "local gateway listening");

        Ok(RunningServer {
            addr: local_addr,
            stage: options.stage,
            gateway,
            http_stop,
            serve: Some(serve),
        })
    }
}

/// `GET /`: a WebSocket upgrade connects as `/{stage}` does (clients written for earlier
/// releases connect here); anything else gets the web client.
async fn root(
    gateway: State<Arc<Gateway>>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if upgrade.is_ok() {
        websocket::upgrade(gateway, peer, headers, uri, upgrade).await
    } else {
        web::index(&gateway.api.stage)
    }
}

/// A started local gateway. [`RunningServer::shutdown`] stops it cleanly; dropping it stops it
/// without waiting (connections are told to close, the HTTP server stops at once).
pub struct RunningServer {
    addr: SocketAddr,
    stage: String,
    gateway: Arc<Gateway>,
    http_stop: CancellationToken,
    serve: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("stage", &self.stage)
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl RunningServer {
    /// The address the server listens on (with the port picked, when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The URL clients connect to: `ws://127.0.0.1:8080/dev`.
    pub fn url(&self) -> String {
        format!("ws://{}/{}", reachable(self.addr), self.stage)
    }

    /// The web client's page: `http://127.0.0.1:8080/`.
    pub fn page_url(&self) -> String {
        format!("http://{}/", reachable(self.addr))
    }

    /// The management API's endpoint, as the SDK wants it: `http://127.0.0.1:8080/dev`.
    pub fn management_endpoint(&self) -> String {
        management_endpoint(self.addr, &self.stage)
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.gateway.registry.len()
    }

    /// How many posts and closes were refused (429) for exceeding
    /// [`LocalOptions::throttle_posts_per_sec`].
    pub fn throttled_posts(&self) -> u64 {
        self.gateway.account_rate.refused()
    }

    /// Stops cleanly: every connection is closed with 1001 ("Going away") and gets its
    /// `$disconnect`, then the HTTP server stops once in-flight requests are answered. Waits at
    /// most 10 seconds for each step.
    pub async fn shutdown(mut self) -> Result<(), LocalError> {
        self.gateway.shutdown.cancel();
        self.gateway.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.gateway.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.gateway.registry.len(),
                "connections did not close within {SHUTDOWN_GRACE:?}; stopping anyway"
            );
        }
        // Only now: the connections' last invocations may still have posted through it.
        self.http_stop.cancel();
        let Some(serve) = self.serve.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, serve).await {
            Ok(Ok(result)) => result.map_err(LocalError::Serve),
            Ok(Err(join)) => Err(LocalError::Serve(io::Error::other(join))),
            Err(_) => {
                tracing::warn!(
                    "HTTP requests still running after {SHUTDOWN_GRACE:?}; stopping anyway"
                );
                Ok(())
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.gateway.shutdown.cancel();
        self.http_stop.cancel();
        if let Some(serve) = self.serve.take() {
            serve.abort();
        }
    }
}

/// The store `quiz-local --store dynamodb` uses.
///
/// With an `endpoint` (DynamoDB Local, say `http://localhost:8000`): a client with the dummy
/// [`LOCAL_ACCESS_KEY_ID`] credentials in [`LOCAL_REGION`], and the tables created if they are
/// missing. Without one: [`DynamoStore::from_env`], the store the Lambda function uses (the
/// AWS credential chain, `DYNAMODB_ENDPOINT`, existing tables). Table names come from
/// `USER_TABLE`, `CHAT_TABLE`, `GAME_TABLE` and `REPORT_TABLE` either way.
pub async fn dynamo_store(endpoint: Option<&str>) -> Result<DynamoStore, LocalError> {
    let Some(endpoint) = endpoint else {
        return Ok(DynamoStore::from_env().await);
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(LOCAL_REGION))
        .credentials_provider(local_credentials())
        .endpoint_url(endpoint)
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        TableNames::from_env(),
    );
    store
        .create_tables()
        .await
        .map_err(|source| LocalError::Tables {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok(store)
}

fn local_credentials() -> Credentials {
    Credentials::new(
        LOCAL_ACCESS_KEY_ID,
        LOCAL_SECRET_ACCESS_KEY,
        None,
        None,
        "quiz-local",
    )
}

/// The AWS configuration of the handler's management API client: dummy credentials and region,
/// since the requests only go to this server (which does not check signatures).
fn local_aws_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(LOCAL_REGION))
        .credentials_provider(SharedCredentialsProvider::new(local_credentials()))
        .build()
}

/// `http://{addr}/{stage}`, through loopback when the server listens on every interface.
fn management_endpoint(addr: SocketAddr, stage: &str) -> String {
    format!("http://{}/{stage}", reachable(addr))
}

/// An address a local client can connect to: `0.0.0.0` and `::` are not.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// API Gateway's rule for stage names, which also keeps them safe in a route path.
fn valid_stage(stage: &str) -> bool {
    (1..=128).contains(&stage.len())
        && stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_follow_api_gateway() {
        assert!(valid_stage("dev"));
        assert!(valid_stage("prod_2-a"));
        assert!(!valid_stage(""));
        assert!(!valid_stage("a/b"));
        assert!(!valid_stage("{id}"));
        assert!(!valid_stage(&"a".repeat(129)));
    }

    #[test]
    fn unspecified_addresses_are_reached_through_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(management_endpoint(any, "dev"), "http://127.0.0.1:8080/dev");
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(management_endpoint(v6, "dev"), "http://[::1]:9000/dev");
        let lan: SocketAddr = "192.0.2.4:8080".parse().unwrap();
        assert_eq!(
            management_endpoint(lan, "prod"),
            "http://192.0.2.4:8080/prod"
        );
    }

    #[test]
    fn the_memory_store_forgets_idle_rooms_after_the_option() {
        let default = LocalOptions::default();
        assert_eq!(default.forget_idle_rooms_after, DEFAULT_IDLE_ROOM_TTL);
        assert_eq!(
            default.memory_store().idle_room_ttl(),
            DEFAULT_IDLE_ROOM_TTL
        );
        let options = LocalOptions {
            forget_idle_rooms_after: Duration::from_secs(90),
            ..LocalOptions::default()
        };
        assert_eq!(
            options.memory_store().idle_room_ttl(),
            Duration::from_secs(90)
        );
    }

    #[tokio::test]
    async fn bad_options_are_refused_before_listening() {
        let options = LocalOptions {
            stage: "a/b".into(),
            ..LocalOptions::default()
        };
        let err = LocalServer::start(options, quiz_store::MemoryStore::new())
            .await
            .unwrap_err();
        assert!(matches!(err, LocalError::Stage(_)), "{err}");

        let options = LocalOptions {
            round_secs: Some(0),
            ..LocalOptions::default()
        };
        let err = LocalServer::start(options, quiz_store::MemoryStore::new())
            .await
            .unwrap_err();
        assert!(matches!(err, LocalError::RoundSecs(0)), "{err}");

        let options = LocalOptions {
            words: Some(PathBuf::from("/nonexistent/words")),
            ..LocalOptions::default()
        };
        let err = LocalServer::start(options, quiz_store::MemoryStore::new())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--words"), "{err}");
    }
}
