//! A real browser for tests: headless Chromium driven over WebDriver by ChromeDriver, both
//! from Debian's packages (`chromium`, `chromium-driver`; `scripts/test` installs them).
//!
//! [`webdriver`] returns the WebDriver server this test process uses:
//!
//! - If `WEBDRIVER_URL` is set, that server (its browser must be a Chromium).
//! - Otherwise one ChromeDriver is started for the whole test process, on a free port, the
//!   first time a test asks: `CHROMEDRIVER` names it, else `chromedriver` on the `PATH` or
//!   `/usr/bin/chromedriver`. `CHROMIUM` names the browser, else `chromium` (or
//!   `chromium-browser`, `google-chrome`) on the `PATH`.
//!
//! Each WebDriver session starts a browser of its own ([`WebDriver::capabilities`] says
//! how: headless, a fresh profile, none of the background requests that this machine's closed
//! network would refuse). When anything is missing the error says what and how to install it;
//! tests fail, never skip.
//!
//! ```no_run
//! # async fn example() -> Result<(), quiz_testkit::HarnessError> {
//! let driver = quiz_testkit::chromium::webdriver().await?;
//! let window = quiz_testkit::chromium::Window::Desktop { width: 1000, height: 800 };
//! let capabilities = driver.capabilities(window);
//! // Hand `driver.url()` and `capabilities` to a WebDriver client such as fantoccini.
//! # let _ = capabilities;
//! # Ok(())
//! # }
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use crate::process::{
    endpoint_from_env, free_port, start_with_retries, wait_until_ready, Supervised,
};
use crate::HarnessError;

/// Names a running WebDriver server to use instead of starting ChromeDriver.
pub const WEBDRIVER_ENV: &str = "WEBDRIVER_URL";
/// Names the ChromeDriver to start.
pub const DRIVER_ENV: &str = "CHROMEDRIVER";
/// Names the Chromium binary each session runs.
pub const BROWSER_ENV: &str = "CHROMIUM";

/// How long ChromeDriver gets to answer its first request.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

const INSTALL: &str = "install Debian's Chromium and its driver (`apt-get install chromium \
     chromium-driver`; `scripts/test` does), or set CHROMEDRIVER and CHROMIUM to their paths, \
     or WEBDRIVER_URL to a running WebDriver server";

/// The WebDriver server this test process uses.
#[derive(Debug)]
pub struct WebDriver {
    url: String,
    browser: Option<PathBuf>,
    _server: Option<Supervised>,
}

impl WebDriver {
    /// `http://127.0.0.1:<port>`, or the value of `WEBDRIVER_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The capabilities of a new session: headless Chromium showing pages in `window`, Korean
    /// as its language, and no requests of its own to the network (updates, sync, safe
    /// browsing), so a test machine without internet access neither waits on them nor logs
    /// their failures.
    pub fn capabilities(&self, window: Window) -> Map<String, Value> {
        let (width, height) = window.size();
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--lang=ko-KR",
                format!("--window-size={width},{height}"),
            ],
        });
        if let Window::Phone { .. } = window {
            // A headless window is at least 500 pixels wide; a phone's viewport is narrower
            // and honours `<meta name="viewport">`.
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "mobile": true, "touch": true },
            });
        }
        if let Some(browser) = &self.browser {
            options["binary"] = json!(browser.to_string_lossy());
        }
        let mut capabilities = Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        capabilities
    }
}

/// What a session's pages are shown in, in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A desktop browser's window.
    Desktop { width: u32, height: u32 },
    /// A phone's screen: a mobile viewport of that size, with touch.
    Phone { width: u32, height: u32 },
}

impl Window {
    fn size(self) -> (u32, u32) {
        match self {
            Window::Desktop { width, height } | Window::Phone { width, height } => (width, height),
        }
    }
}

/// The server for this test process: `WEBDRIVER_URL`'s, or a ChromeDriver started on first
/// use. A failure is remembered, so the other tests fail at once with the same message.
pub async fn webdriver() -> Result<&'static WebDriver, HarnessError> {
    static SERVER: OnceCell<Result<WebDriver, HarnessError>> = OnceCell::const_new();
    SERVER
        .get_or_init(connect_or_start)
        .await
        .as_ref()
        .map_err(Clone::clone)
}

async fn connect_or_start() -> Result<WebDriver, HarnessError> {
    if let Some(url) = endpoint_from_env(WEBDRIVER_ENV) {
        wait_for_driver(&url, || Ok(())).await.map_err(|err| {
            HarnessError(format!(
                "{WEBDRIVER_ENV}={url} does not answer as a WebDriver server ({err}); start \
                 one there, or unset {WEBDRIVER_ENV} to let the tests start ChromeDriver"
            ))
        })?;
        return Ok(WebDriver {
            url,
            browser: None,
            _server: None,
        });
    }
    let driver = find(
        DRIVER_ENV,
        &["chromedriver"],
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    )
    .ok_or_else(|| {
        HarnessError(format!(
            "no ChromeDriver found for the browser tests: {INSTALL}"
        ))
    })?;
    let browser = find(
        BROWSER_ENV,
        &["chromium", "chromium-browser", "google-chrome"],
        &["/usr/bin/chromium"],
    )
    .ok_or_else(|| {
        HarnessError(format!(
            "no Chromium found for the browser tests: {INSTALL}"
        ))
    })?;
    start_with_retries(|| start(&driver, &browser)).await
}

/// The file `env_var` names, else the first of `names` on the `PATH`, else the first of
/// `paths` that exists.
fn find(env_var: &str, names: &[&str], paths: &[&str]) -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(env_var).filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .chain(paths.iter().map(PathBuf::from))
        .find(|candidate| candidate.is_file())
}

async fn start(driver: &Path, browser: &Path) -> Result<WebDriver, HarnessError> {
    let port = free_port()?;
    let dir = std::env::temp_dir();
    let log = dir.join(format!("chromedriver-{}-{port}.log", std::process::id()));
    let port_arg = format!("--port={port}");
    let args: [&OsStr; 1] = [port_arg.as_ref()];
    let server = Supervised::start(driver.as_os_str(), &args, &dir, log)?;
    let url = format!("http://127.0.0.1:{port}");
    match wait_for_driver(&url, || server.alive()).await {
        Ok(()) => Ok(WebDriver {
            url,
            browser: Some(browser.to_path_buf()),
            _server: Some(server.started()),
        }),
        Err(reason) => Err(server.failed(
            &format!("ChromeDriver did not start: {reason}"),
            &format!(
                "Check that `{} --version` runs; {INSTALL}",
                driver.display()
            ),
        )),
    }
}

/// Asks `GET /status` until the server says it is ready, is gone, or [`START_TIMEOUT`] passes.
async fn wait_for_driver(url: &str, alive: impl Fn() -> Result<(), String>) -> Result<(), String> {
    let probe = || async {
        let status = get_status(url).await?;
        if status.contains("\"ready\":true") {
            Ok(())
        } else {
            Err(format!("not ready yet: {status}"))
        }
    };
    wait_until_ready(url, START_TIMEOUT, probe, alive).await
}

/// The body of `GET {url}/status`, over a plain HTTP/1.1 request (the server is local;
/// ChromeDriver refuses HTTP/1.0 and keeps the connection open, so the answer is read up to
/// its `Content-Length`).
async fn get_status(url: &str) -> Result<String, String> {
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not an http:// URL"))?
        .trim_end_matches('/');
    let (host, base) = authority.split_once('/').unwrap_or((authority, ""));
    let base = if base.is_empty() {
        String::new()
    } else {
        format!("/{base}")
    };
    let mut stream = TcpStream::connect(host)
        .await
        .map_err(|err| format!("cannot connect to {host}: {err}"))?;
    let request =
        format!("GET {base}/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| err.to_string())?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|err| err.to_string())?;
        response.extend_from_slice(&chunk[..read]);
        if read == 0 || complete(&response) {
            break;
        }
    }
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {response:?}"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(head.lines().next().unwrap_or(head).to_owned());
    }
    Ok(body.replace([' ', '\n', '\r'], ""))
}

/// Whether `response` holds a whole HTTP answer: its head and `Content-Length` bytes of body.
fn complete(response: &[u8]) -> bool {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok());
    length.is_some_and(|length| response.len() >= end + 4 + length)
}
