//! `quiz-local`: the whole game on this machine, behind a local API Gateway WebSocket API that
//! runs the same handler as Lambda. Parses flags, starts [`quiz_local::LocalServer`],
//! and stops it cleanly on Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use quiz_core::ranking::WeekStart;
use quiz_lambda::config::{
    parse_rate_burst, parse_rate_per_sec, parse_round_secs, parse_week_start,
};
use quiz_local::{
    dynamo_store, LocalError, LocalOptions, LocalServer, RunningServer, TimerBackend,
};
use quiz_store::MemoryStore;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Play the chosung quiz locally: a WebSocket server that behaves like the production API
/// Gateway WebSocket API and runs the same handler code as the Lambda function.
///
/// Connect with `npx wscat -c 'ws://127.0.0.1:8080/dev?room=general&username=민지'`, send
/// `start!` for the question, then chat or answer with {"username":"민지","content":"사랑"}.
/// The Android emulator reaches this machine as ws://10.0.2.2:8080/dev. Logs go to stderr;
/// RUST_LOG sets their level (default info).
#[derive(Debug, Parser)]
#[command(name = "quiz-local", version)]
struct Args {
    /// Address to listen on. Port 0 picks a free port; 0.0.0.0:8080 also accepts other devices
    /// on your network.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Where connections, chat and games are kept: `memory` (inside this process, gone when it
    /// stops) or `dynamodb` (the tables of `--dynamodb-endpoint`, or without it the AWS account
    /// of your credentials, with table names from USER_TABLE, CHAT_TABLE, GAME_TABLE and REPORT_TABLE).
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,

    /// DynamoDB endpoint to use, such as DynamoDB Local's http://localhost:8000. Implies
    /// `--store dynamodb`; the tables are created if missing. Dummy credentials and region
    /// us-east-1 are used (AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local to look at the
    /// same tables with the AWS CLI).
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,

    /// Word lists to play with instead of the shipped ones (the curated questions and the
    /// hunspell nouns): a file (one question word per line) or a directory like fixtures/words
    /// (its *.txt files are the questions, the *.txt files of an optional dictionary/ folder
    /// extra accepted answers).
    #[arg(long, value_name = "PATH")]
    words: Option<PathBuf>,

    /// Seconds per round, 1 to 3600 [default: 60]. Hints appear at 1/3 and 2/3 of a round.
    #[arg(long, value_name = "N", value_parser = round_secs)]
    round_secs: Option<u64>,

    /// Run the rounds' timers (hints, timeouts) through the SQS API at this endpoint, as on
    /// AWS, instead of in this process: each timer is a message with DelaySeconds, and
    /// quiz-local long-polls the queue like Lambda's event source mapping. For a local SQS
    /// such as moto (`python3 -m venv moto && moto/bin/pip install 'moto[server]' &&
    /// moto/bin/moto_server -p 5000`, then --sqs-endpoint http://127.0.0.1:5000). Dummy
    /// credentials, region us-east-1.
    #[arg(long, value_name = "URL")]
    sqs_endpoint: Option<String>,

    /// Messages a connection may send at once before the limit applies [default: 10]. Over
    /// the limit a frame gets an error `slow_down` and is neither stored nor broadcast; about 50
    /// refused frames within a minute close the connection.
    #[arg(long, value_name = "N", value_parser = rate_burst)]
    rate_burst: Option<u32>,

    /// Messages per second a connection may keep sending [default: 3].
    #[arg(long, value_name = "R", value_parser = rate_per_sec)]
    rate_per_sec: Option<f64>,

    /// When the weekly ranking starts over: a weekday, a time and a UTC offset
    /// [default: "monday 00:00 +09:00"].
    #[arg(long, value_name = "WHEN", value_parser = week_starts)]
    week_starts: Option<WeekStart>,

    /// Bytes posted to a connection and not yet sent (its client is not reading) that
    /// quiz-local holds before further posts to it answer 429, as API Gateway's do when a
    /// client's buffer is full [default: 1048576].
    #[arg(long, value_name = "BYTES", value_parser = outbound_bytes)]
    max_outbound_bytes: Option<usize>,

    /// Deliver the handler's posts through its AWS SDK client to this server's management API
    /// over HTTP (signed PostToConnection requests), as the deployed function does, instead of
    /// straight into the connections. Same answers (410, 413, 429), several times slower.
    #[arg(long)]
    post_over_http: bool,

    /// Simulate the AWS account's request rate for @connections (10,000 a second per account
    /// and region, shared by all its APIs): past R posts and closes a second (and R/2 at once),
    /// they answer 429 LimitExceededException, as a throttled account's do. The handler
    /// retries a throttled post twice with backoff, while its retry budget lasts, before giving
    /// its frame up [default: no limit].
    #[arg(long, value_name = "R", value_parser = posts_per_sec)]
    throttle_posts_per_sec: Option<f64>,
    /// Seconds a room with no connection is kept in memory before it is forgotten, with its
    /// chat lines and its game (the scores go too; players who come back start a new game)
    /// [default: 3600]. Each room keeps its newest 50 chat lines, what `history` can serve.
    /// Only for the in-memory store; DynamoDB keeps rooms.
    #[arg(long, value_name = "SECS", value_parser = idle_secs)]
    forget_idle_rooms_after: Option<u64>,

    /// The queue for --sqs-endpoint, created if missing.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "quiz-timers",
        requires = "sqs_endpoint"
    )]
    sqs_queue: String,

    /// The stage in the URL (ws://HOST:PORT/STAGE) and in the management API's path
    /// (/STAGE/@connections/ID), as in API Gateway.
    #[arg(long, value_name = "NAME", default_value = "dev")]
    stage: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// In this process (quiz_store::MemoryStore).
    Memory,
    /// On DynamoDB (quiz_store::DynamoStore).
    Dynamodb,
}

fn outbound_bytes(value: &str) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|bytes| *bytes >= quiz_local::MAX_MESSAGE_BYTES)
        .ok_or_else(|| {
            format!(
                "expected a number of bytes, at least one message ({})",
                quiz_local::MAX_MESSAGE_BYTES
            )
        })
}

fn posts_per_sec(value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate >= 1.0)
        .ok_or_else(|| "expected posts per second, at least 1".into())
}

fn idle_secs(value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|secs| *secs >= 1)
        .ok_or_else(|| "expected a whole number of seconds, at least 1".into())
}

fn rate_burst(value: &str) -> Result<u32, String> {
    parse_rate_burst(value)
        .ok_or_else(|| "expected a whole number of messages from 1 to 1000".into())
}

fn rate_per_sec(value: &str) -> Result<f64, String> {
    parse_rate_per_sec(value)
        .ok_or_else(|| "expected messages per second, more than 0 and at most 1000".into())
}

fn week_starts(value: &str) -> Result<WeekStart, String> {
    parse_week_start(value).ok_or_else(|| {
        "expected a weekday, a time and a UTC offset, e.g. \"monday 00:00 +09:00\"".into()
    })
}

fn round_secs(value: &str) -> Result<u64, String> {
    parse_round_secs(value)
        .ok_or_else(|| "expected a whole number of seconds from 1 to 3600".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quiz-local: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), LocalError> {
    let throttling = args.throttle_posts_per_sec.is_some();
    let options = LocalOptions {
        addr: args.addr,
        stage: args.stage,
        words: args.words,
        round_secs: args.round_secs,
        max_outbound_bytes: args
            .max_outbound_bytes
            .unwrap_or(quiz_local::MAX_OUTBOUND_BYTES),
        rate_burst: args.rate_burst,
        rate_per_sec: args.rate_per_sec,
        week_start: args.week_starts,
        post_over_http: args.post_over_http,
        throttle_posts_per_sec: args.throttle_posts_per_sec,
        timers: match args.sqs_endpoint {
            Some(endpoint) => TimerBackend::Sqs {
                endpoint,
                queue: args.sqs_queue,
            },
            None => TimerBackend::InProcess,
        },
        forget_idle_rooms_after: args
            .forget_idle_rooms_after
            .map_or(quiz_store::DEFAULT_IDLE_ROOM_TTL, Duration::from_secs),
        ..LocalOptions::default()
    };
    let timers = match &options.timers {
        TimerBackend::InProcess => "in this process".to_owned(),
        TimerBackend::Sqs { endpoint, queue } => format!("SQS at {endpoint}, queue {queue}"),
    };
    let (server, store) = match (args.store, args.dynamodb_endpoint) {
        (StoreKind::Memory, None) => {
            let store = options.memory_store();
            tokio::spawn(sweep_idle_rooms(store.clone()));
            let kept = options.forget_idle_rooms_after.as_secs();
            let server = LocalServer::start(options, store).await?;
            let shown = format!(
                "in memory (gone when quiz-local stops; a room with no connection for {kept} s \
                 is forgotten, game included)"
            );
            (server, shown)
        }
        (_, endpoint) => {
            if args.forget_idle_rooms_after.is_some() {
                tracing::warn!("--forget-idle-rooms-after applies to the in-memory store only");
            }
            let store = dynamo_store(endpoint.as_deref()).await?;
            let names = store.table_names().clone();
            let server = LocalServer::start(options, store).await?;
            let place = match endpoint {
                Some(endpoint) => format!("DynamoDB at {endpoint}"),
                None => "DynamoDB of your AWS credentials".to_owned(),
            };
            let shown = format!(
                "{place} (tables {}, {}, {}, {})",
                names.user, names.chat, names.game, names.report
            );
            (server, shown)
        }
    };
    print_banner(&server, &store, &timers);

    if let Err(err) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %err, "cannot listen for Ctrl-C; stopping");
    }
    eprintln!("quiz-local: shutting down (Ctrl-C again to quit at once)");
    if throttling {
        eprintln!(
            "quiz-local: {} posts and closes were refused (429) past --throttle-posts-per-sec",
            server.throttled_posts()
        );
    }
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    server.shutdown().await
}

/// How often quiz-local forgets the rooms whose idle time ran out, besides at every write.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Forgets the rooms whose idle time ran out even while nothing is written (a write does it
/// too), so a server that falls quiet lets go of its last rooms.
async fn sweep_idle_rooms(store: MemoryStore) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        let forgotten = store.sweep_idle_rooms(std::time::Instant::now());
        if forgotten > 0 {
            tracing::info!(forgotten, "forgot rooms idle for --forget-idle-rooms-after");
        }
    }
}

fn print_banner(server: &RunningServer, store: &str, timers: &str) {
    let url = server.url();
    let port = server.addr().port();
    let stage = server.stage();
    println!("quiz-local: the chosung quiz on a local API Gateway WebSocket API");
    println!(
        "  play:      {}   (open it in a browser)",
        server.page_url()
    );
    println!("  connect:   {url}");
    println!("  try:       wscat -c '{url}?room=general&username=민지'");
    println!("             (`npx wscat` works too), then send: start!");
    println!(
        "  android:   ws://10.0.2.2:{port}/{stage}   (the emulator's address for this machine)"
    );
    println!(
        "  manage:    {}/@connections/{{id}}",
        server.management_endpoint()
    );
    println!("  store:     {store}");
    println!("  timers:    {timers}");
    println!("Ctrl-C stops it.");
}
