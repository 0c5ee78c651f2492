//! What every launcher shares: a server named by the environment, a cache folder under cargo's
//! `target/` filled once, running an install tool, a free port, a server process that cannot
//! outlive the tests, waiting until it answers, and the AWS settings every client uses.
//!
//! Rust never drops statics, so a server kept in one cannot be stopped by a destructor.
//! Instead [`Supervised::start`] runs it under `sh`, whose standard input is a pipe from the
//! test process: when the test process ends, in any way including a crash or `SIGKILL`, the
//! kernel closes the pipe, and the shell kills the server. Nothing outlives the tests.

use std::ffi::OsStr;
use std::future::Future;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::HarnessError;

/// The region and credentials every test client uses. The local servers accept any, but
/// DynamoDB Local keeps tables per access key and region, so all clients of a run must agree
/// (quiz-local uses the same).
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "local";
pub const SECRET_ACCESS_KEY: &str = "local";

/// The AWS settings for a client of the local server at `endpoint`: the fixed region and
/// credentials. Any SDK's config builder takes it (`aws_sdk_sqs::config::Builder::from`).
pub fn aws_config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "quiz-testkit",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// The endpoint `env_var` names, when it is set and not blank.
pub fn endpoint_from_env(env_var: &str) -> Option<String> {
    std::env::var(env_var)
        .ok()
        .map(|endpoint| endpoint.trim().to_owned())
        .filter(|endpoint| !endpoint.is_empty())
}

/// Runs `start` until it succeeds, three times at most: a free port can be taken between the
/// probe and the server's bind.
pub async fn start_with_retries<T, F, Fut>(mut start: F) -> Result<T, HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, HarnessError>>,
{
    let mut last_error = HarnessError("the server did not start".into());
    for _ in 0..3 {
        match start().await {
            Ok(server) => return Ok(server),
            Err(err) => last_error = err,
        }
    }
    Err(last_error)
}

/// Makes `target` (a folder in `cache`) once, with `build` filling a staging folder of this
/// process's own that is then renamed into place whole, so a test process running at the same
/// time never sees half of it. `ready` tells a finished `target`; `what` names it in errors.
pub fn install_once(
    cache: &Path,
    target: &Path,
    what: &str,
    ready: impl Fn(&Path) -> bool,
    build: impl FnOnce(&Path) -> Result<(), HarnessError>,
) -> Result<(), HarnessError> {
    if ready(target) {
        return Ok(());
    }
    std::fs::create_dir_all(cache).map_err(|err| {
        HarnessError(format!(
            "cannot create {} for {what} ({err}); point its folder variable at a writable folder",
            cache.display()
        ))
    })?;
    let staging = cache.join(format!(
        ".staging-{}-{}",
        std::process::id(),
        quiz_store::chat_key_suffix()
    ));
    let result = build(&staging).and_then(|()| match std::fs::rename(&staging, target) {
        Ok(()) => Ok(()),
        // Another process published it first; theirs is as good as ours.
        Err(_) if ready(target) => Ok(()),
        Err(err) => Err(HarnessError(format!(
            "cannot move {what} to {} ({err}); delete that folder and run the tests again",
            target.display()
        ))),
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// A folder for a component's downloads: the value of `env_var` if set, else `name` in cargo's
/// target folder (found from the test binary's path: cargo marks its target folder with
/// `CACHEDIR.TAG`), else in the system's temporary folder.
pub fn cache_dir(env_var: &str, name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(env_var).filter(|dir| !dir.is_empty()) {
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
        .join(name)
}

/// Runs an install tool (`npm`, `pip`, …) to completion for `component`; returns its stdout.
/// `install` says how to get the tool when it is missing.
///
/// It blocks the calling thread, which is fine here: it runs once per cache folder, while every
/// other test of the process waits for the server anyway.
pub fn run_tool(
    command: &mut Command,
    component: &str,
    install: &str,
) -> Result<String, HarnessError> {
    let shown = format!("{command:?}");
    let name = command.get_program().to_string_lossy().into_owned();
    let output = match command.stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(HarnessError(format!(
                "the tests install {component} with `{name}`, which is not installed: {install}"
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

/// A local port nobody listens on right now. Another process can take it before the server
/// binds it, so launchers try a few times.
pub fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| HarnessError(format!("cannot find a free local port: {err}")))
}

/// The shell that runs the server and stops it when the test process goes away.
///
/// `$1` is the log file, the rest the command. The server's stdin is /dev/null; the shell's own
/// stdin (saved as fd 3, since background jobs get /dev/null) is the pipe from the test
/// process. `cat` reads it until the test process exits, then the server is killed outright:
/// the servers keep their data in memory, so there is nothing to shut down cleanly, and a
/// `KILL` is gone at once. The shell exits when the server does, which is how an early crash is
/// noticed.
const SUPERVISOR: &str = r#"
exec 3<&0
log=$1
shift
"$@" </dev/null >"$log" 2>&1 3<&- &
server=$!
{ cat <&3 >/dev/null; kill -KILL "$server" 2>/dev/null; } </dev/null &
exec 3<&-
wait "$server"
"#;

/// A server process that lives exactly as long as the test process.
#[derive(Debug)]
pub struct Supervised {
    /// Held, never dropped while the server is in use: its stdin pipe stays open exactly as
    /// long as this process lives.
    child: Mutex<Child>,
    log: PathBuf,
    shown: String,
}

impl Supervised {
    /// Starts `program args…` in `dir`, its output going to `log`.
    pub fn start(
        program: &OsStr,
        args: &[&OsStr],
        dir: &Path,
        log: PathBuf,
    ) -> Result<Supervised, HarnessError> {
        let shown = std::iter::once(program)
            .chain(args.iter().copied())
            .map(|part| part.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("supervisor")
            .arg(&log)
            .arg(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| HarnessError(format!("cannot run sh to start `{shown}`: {err}")))?;
        Ok(Supervised {
            child: Mutex::new(child),
            log,
            shown,
        })
    }

    /// `Err` with why, once the server has exited.
    pub fn alive(&self) -> Result<(), String> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server exited ({status})")),
            Err(err) => Err(format!("cannot watch the server: {err}")),
        }
    }

    /// The server answered: its startup output is no longer interesting. It keeps writing to
    /// the unlinked file, which goes away with it.
    pub fn started(self) -> Supervised {
        let _ = std::fs::remove_file(&self.log);
        self
    }

    /// Stops a server that did not start and explains why: `reason`, the command, the last
    /// lines of its output, and `advice`.
    pub fn failed(self, reason: &str, advice: &str) -> HarnessError {
        let mut child = self
            .child
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Closing the pipe stops a server that is still starting; wait for the shell so no
        // process is left behind.
        drop(child.stdin.take());
        let _ = child.wait();
        let mut output = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut output);
        }
        let _ = std::fs::remove_file(&self.log);
        let lines: Vec<&str> = output.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        HarnessError(format!(
            "{reason}.\ncommand: {}\nits output:\n{tail}\n{advice}",
            self.shown
        ))
    }
}

/// Calls `probe` every 200 ms until it succeeds, `alive` reports the server gone, or `timeout`
/// passes; the error carries the probe's last error.
pub async fn wait_until_ready<F, Fut>(
    what: &str,
    timeout: Duration,
    mut probe: F,
    alive: impl Fn() -> Result<(), String>,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let err = match tokio::time::timeout(Duration::from_secs(5), probe()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => err,
            Err(_) => "no answer within 5 s".to_owned(),
        };
        alive()?;
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer from {what} within {timeout:?}; last error: {err}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
