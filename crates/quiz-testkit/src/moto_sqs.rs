//! A real SQS API for tests: moto's server (`moto[server]` from PyPI), which speaks SQS's JSON
//! protocol with `DelaySeconds`, long polling, visibility timeouts and dead-letter queues.
//!
//! [`local_sqs`] returns the server this test process uses:
//!
//! - If `SQS_ENDPOINT` is set, that server.
//! - Otherwise one moto server is started for the whole test process, on a free port, the
//!   first time a test asks. moto is installed once with `pip` into a virtualenv in a cache
//!   folder (`MOTO_DIR`, by default `target/moto/` of the workspace); it needs Python 3 with
//!   its `venv` module.
//!
//! The server is a [`Supervised`] process: it stops when the test process ends. When anything
//! is missing the error says what and how to install it; tests fail, never skip.
//!
//! ```no_run
//! # async fn example() -> Result<(), quiz_testkit::HarnessError> {
//! let sqs = quiz_testkit::moto_sqs::local_sqs().await?;
//! let queue = quiz_testkit::moto_sqs::unique_queue_name();
//! sqs.client().create_queue().queue_name(&queue).send().await.unwrap();
//! # Ok(())
//! # }
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;
use tokio::sync::OnceCell;

use crate::process::{
    aws_config_for, cache_dir, endpoint_from_env, free_port, install_once, run_tool,
    start_with_retries, wait_until_ready, Supervised,
};
use crate::HarnessError;

/// The package pip installs.
pub const PIP_PACKAGE: &str = "moto[server]==5.2.5";

/// Names a running SQS API to use instead of starting one.
pub const ENDPOINT_ENV: &str = "SQS_ENDPOINT";

/// Overrides the folder moto is installed into.
pub const DIR_ENV: &str = "MOTO_DIR";

/// How long a server gets to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The virtualenv's folder name inside the cache folder.
const VENV: &str = "moto-5.2.5";

/// The SQS API this test process uses.
#[derive(Debug)]
pub struct LocalSqs {
    endpoint: String,
    _server: Option<Supervised>,
}

impl LocalSqs {
    /// `http://127.0.0.1:<port>`, or the value of `SQS_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client with the fixed test region and credentials (build one per test runtime).
    pub fn client(&self) -> Client {
        client_for(&self.endpoint)
    }
}

/// The server for this test process: `SQS_ENDPOINT`'s, or one started on first use. A failure
/// is remembered, so the other tests fail at once with the same message.
pub async fn local_sqs() -> Result<&'static LocalSqs, HarnessError> {
    static SERVER: OnceCell<Result<LocalSqs, HarnessError>> = OnceCell::const_new();
    SERVER
        .get_or_init(connect_or_start)
        .await
        .as_ref()
        .map_err(Clone::clone)
}

/// A queue name no other test, process or run uses.
pub fn unique_queue_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        quiz_store::chat_key_suffix()
    )
}

/// A client for the SQS API at `endpoint`.
pub fn client_for(endpoint: &str) -> Client {
    Client::from_conf(config_for(endpoint).build())
}

fn config_for(endpoint: &str) -> aws_sdk_sqs::config::Builder {
    aws_sdk_sqs::config::Builder::from(&aws_config_for(endpoint))
}

async fn connect_or_start() -> Result<LocalSqs, HarnessError> {
    if let Some(endpoint) = endpoint_from_env(ENDPOINT_ENV) {
        wait_for_sqs(&endpoint, || Ok(())).await.map_err(|err| {
            HarnessError(format!(
                "{ENDPOINT_ENV}={endpoint} does not answer as SQS ({err}); start one there, or \
                 unset {ENDPOINT_ENV} to let the tests start moto themselves"
            ))
        })?;
        return Ok(LocalSqs {
            endpoint,
            _server: None,
        });
    }
    let python = install()?;
    start_with_retries(|| start(&python)).await
}

/// The virtualenv's Python, with moto installed; installs it on first use. The server runs as
/// `python -m moto.server`, which still works after the staging folder's rename (a
/// virtualenv's scripts would not: they name their folder in their shebang).
fn install() -> Result<PathBuf, HarnessError> {
    let cache = cache_dir(DIR_ENV, "moto");
    let venv = cache.join(VENV);
    install_once(
        &cache,
        &venv,
        "moto",
        |dir| dir.join(".installed").is_file(),
        build_venv,
    )?;
    Ok(venv.join("bin").join("python"))
}

fn build_venv(staging: &Path) -> Result<(), HarnessError> {
    run_tool(
        Command::new("python3").arg("-m").arg("venv").arg(staging),
        "moto (an SQS server)",
        "install Python 3 with venv (Debian/Ubuntu: `apt-get install python3-venv`), or set \
         SQS_ENDPOINT to a running SQS API",
    )?;
    run_tool(
        Command::new(staging.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(PIP_PACKAGE),
        "moto (an SQS server)",
        "install Python 3 with venv and pip (Debian/Ubuntu: `apt-get install python3-venv \
         python3-pip`)",
    )?;
    std::fs::write(staging.join(".installed"), PIP_PACKAGE)
        .map_err(|err| HarnessError(format!("cannot write {}: {err}", staging.display())))
}

async fn start(python: &Path) -> Result<LocalSqs, HarnessError> {
    let port = free_port()?;
    let dir = python
        .parent()
        .and_then(Path::parent)
        .unwrap_or(python)
        .to_path_buf();
    let log = dir.join(format!("server-{}-{port}.log", std::process::id()));
    let port_arg = port.to_string();
    let args: [&OsStr; 6] = [
        "-m".as_ref(),
        "moto.server".as_ref(),
        "-H".as_ref(),
        "127.0.0.1".as_ref(),
        "-p".as_ref(),
        port_arg.as_ref(),
    ];
    let server = Supervised::start(python.as_os_str(), &args, &dir, log)?;
    let endpoint = format!("http://127.0.0.1:{port}");
    match wait_for_sqs(&endpoint, || server.alive()).await {
        Ok(()) => Ok(LocalSqs {
            endpoint,
            _server: Some(server.started()),
        }),
        Err(reason) => Err(server.failed(
            &format!("moto's SQS server did not start: {reason}"),
            &format!(
                "Delete {} to install it again, or set {ENDPOINT_ENV} to a running SQS API",
                dir.display()
            ),
        )),
    }
}

/// Polls `ListQueues` until it succeeds, the server is gone, or [`START_TIMEOUT`] passes.
async fn wait_for_sqs(
    endpoint: &str,
    alive: impl Fn() -> Result<(), String>,
) -> Result<(), String> {
    let client = Client::from_conf(
        config_for(endpoint)
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .build(),
    );
    let probe = || async {
        client
            .list_queues()
            .send()
            .await
            .map(drop)
            .map_err(|err| DisplayErrorContext(&err).to_string())
    };
    wait_until_ready(endpoint, START_TIMEOUT, probe, alive).await
}
