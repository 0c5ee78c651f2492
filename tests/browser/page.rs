//! Driving the web client in headless Chromium: a browser per player, what its page shows,
//! and a screenshot of every browser after every case, passed or failed.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use quiz_testkit::chromium::Window;
use serde_json::Value;

/// How long a page gets to show what a case waits for. Generous: every browser of the
/// process may be starting at once on two cores.
pub const SHOW_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a page is watched to make sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(700);

/// Where the screenshots go: `target/tmp/browser/{case}-{player}.png`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser")
}

/// What one page shows, read in one script so that every field is of the same moment.
#[derive(Debug, Clone)]
pub struct Shown {
    pub status: String,
    pub consonant: String,
    pub pattern: String,
    pub round: u64,
    pub deadline: String,
    pub paused: bool,
    /// The scoreboard's rows, top first.
    pub scores: Vec<(String, u64)>,
    /// The scoreboard's rows marked as bots, top first: name and badge (`봇 Lv.5`).
    pub bots: Vec<(String, String)>,
    /// The chat log's lines: their classes (`chat`, `bot` for a bot's chat, `correct`, `round`,
    /// `notice`, `error`, `separator`) and their text.
    pub log: Vec<(String, String)>,
    pub chat_input: String,
    /// The room's theme as the game view names it (`주제: 음식`).
    pub theme: String,
    /// Players and spectators in the room, once a broadcast has said.
    pub online: Option<u64>,
    pub spectators: Option<u64>,
    /// The note that this page only watches is showing.
    pub spectating: bool,
    pub chat_disabled: bool,
    /// Both vote buttons are shown and enabled.
    pub can_vote: bool,
    /// The report button is shown.
    pub can_report: bool,
    /// The bot controls are shown, and which of their buttons are enabled.
    pub bot_controls: bool,
    pub can_add_bot: bool,
    pub can_remove_bot: bool,
    /// The last round's line beside the question, and its other answers ("" when hidden).
    pub last_round: String,
    pub others: String,
    pub report_status: String,
    /// The ranking's period once its answer is shown (`week`, `all`, "" while loading), and
    /// its rows: name and score, and each row's text (`1. 민지 12`).
    pub ranking_period: String,
    pub ranking: Vec<(String, u64)>,
    pub ranking_lines: Vec<String>,
}

impl Shown {
    pub fn score_of(&self, name: &str) -> Option<u64> {
        self.scores
            .iter()
            .find(|(row, _)| row == name)
            .map(|(_, score)| *score)
    }

    /// Lines whose classes include `class`.
    pub fn lines(&self, class: &str) -> Vec<&str> {
        self.log
            .iter()
            .filter(|(classes, _)| classes.split(' ').any(|c| c == class))
            .map(|(_, text)| text.as_str())
            .collect()
    }

    /// Seconds left as the countdown shows them (`12.3초`).
    pub fn seconds_left(&self) -> Option<f64> {
        self.deadline.strip_suffix('초')?.parse().ok()
    }
}

const SHOWN_SCRIPT: &str = r#"
const q = (id) => document.querySelector(`[data-testid="${id}"]`);
const visible = (element) => element.getClientRects().length > 0;
const consonant = q("consonant");
const presence = q("presence");
return {
  status: q("connection-status").dataset.state,
  consonant: consonant.textContent,
  pattern: consonant.dataset.pattern,
  round: Number(consonant.dataset.round),
  deadline: q("deadline").textContent,
  paused: q("deadline").dataset.paused === "true",
  scores: [...q("scores").querySelectorAll("li[data-name]")].map((row) =>
    [row.querySelector(".name").textContent, Number(row.querySelector(".score").textContent)]),
  bots: [...q("scores").querySelectorAll("li.bot[data-name]")].map((row) =>
    [row.querySelector(".name").textContent, row.querySelector(".badge").textContent]),
  log: [...q("chat-log").children].map((line) => [line.className, line.textContent]),
  chatInput: q("chat-input").value,
  theme: q("theme-name").textContent,
  online: presence.hidden ? null : Number(presence.dataset.online),
  spectators: presence.hidden ? null : Number(presence.dataset.spectators),
  spectating: visible(q("spectating")),
  chatDisabled: q("chat-input").disabled,
  canVote: ["hint-vote", "give-up-vote"].every((id) => visible(q(id)) && !q(id).disabled),
  canReport: visible(q("report")),
  botControls: visible(q("bot-controls")),
  canAddBot: visible(q("add-bot")) && !q("add-bot").disabled,
  canRemoveBot: visible(q("remove-bot")) && !q("remove-bot").disabled,
  lastRound: visible(q("last-round")) ? q("last-round").textContent : "",
  others: visible(q("others")) ? q("others").textContent : "",
  reportStatus: q("report-status").textContent,
  rankingPeriod: q("ranking-list").dataset.period,
  ranking: [...q("ranking-list").querySelectorAll("li[data-name]")].map((row) =>
    [row.dataset.name, Number(row.dataset.score)]),
  rankingLines: [...q("ranking-list").querySelectorAll("li[data-name]")].map((row) => row.textContent),
};
"#;

/// A select's value and its options (value and text), read in one script.
const SELECT_SCRIPT: &str = r#"
const select = document.querySelector(`[data-testid="${arguments[0]}"]`);
return { value: select.value, options: [...select.options].map((o) => [o.value, o.textContent]) };
"#;

/// A `<select>` as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    pub value: String,
    pub options: Vec<(String, String)>,
}

/// Rows of `[name, score]`, as the shown script lists a scoreboard.
fn name_scores(rows: &Value) -> Vec<(String, u64)> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            (
                row[0].as_str().unwrap_or_default().to_owned(),
                row[1].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Rows of two strings (`[classes, text]`, `[value, label]`, …), as the scripts list them.
fn text_pairs(rows: &Value) -> Vec<(String, String)> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            (
                row[0].as_str().unwrap_or_default().to_owned(),
                row[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// One player's browser.
#[derive(Clone)]
pub struct Page {
    pub label: String,
    client: Client,
}

impl Page {
    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("{}: cannot open {url}: {err}", self.label));
    }

    /// Fills the join form and presses its button.
    pub async fn join(&self, name: &str, room: &str) {
        self.fill("nickname", name).await;
        self.fill("room", room).await;
        self.click("join").await;
    }

    pub async fn fill(&self, testid: &str, text: &str) {
        let field = self.element(testid).await;
        field
            .clear()
            .await
            .unwrap_or_else(|err| panic!("{}: cannot clear {testid}: {err}", self.label));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|err| panic!("{}: cannot type into {testid}: {err}", self.label));
    }

    pub async fn click(&self, testid: &str) {
        self.element(testid)
            .await
            .click()
            .await
            .unwrap_or_else(|err| panic!("{}: cannot click {testid}: {err}", self.label));
    }

    /// Types `text` into the chat box and presses Enter, as a player does.
    pub async fn type_and_enter(&self, text: &str) {
        self.fill("chat-input", text).await;
        self.element("chat-input")
            .await
            .send_keys(&Key::Enter)
            .await
            .unwrap_or_else(|err| panic!("{}: cannot press Enter: {err}", self.label));
    }

    /// Picks the option whose value is `value` in the `<select>` `testid`, as a click would.
    pub async fn choose(&self, testid: &str, value: &str) {
        self.element(testid)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|err| {
                panic!("{}: cannot choose {value} in {testid}: {err}", self.label)
            });
    }

    /// The value of the input `testid`.
    pub async fn value(&self, testid: &str) -> String {
        self.element(testid)
            .await
            .prop("value")
            .await
            .unwrap_or_else(|err| panic!("{}: cannot read {testid}: {err}", self.label))
            .unwrap_or_default()
    }

    /// Waits until the `<select>` `testid` is as `check` wants it.
    pub async fn wait_for_select(
        &self,
        testid: &str,
        what: &str,
        mut check: impl FnMut(&Select) -> bool,
    ) -> Select {
        let start = Instant::now();
        loop {
            let value = self
                .client
                .execute(SELECT_SCRIPT, vec![Value::from(testid)])
                .await
                .unwrap_or_else(|err| panic!("{}: cannot read {testid}: {err}", self.label));
            let select = Select {
                value: value["value"].as_str().unwrap_or_default().to_owned(),
                options: text_pairs(&value["options"]),
            };
            if check(&select) {
                return select;
            }
            if start.elapsed() > SHOW_TIMEOUT {
                panic!(
                    "{}: {testid} did not show {what} within {SHOW_TIMEOUT:?}; it shows {select:#?}",
                    self.label
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|err| panic!("{}: script failed: {err}\n{script}", self.label))
    }

    pub async fn shown(&self) -> Shown {
        let value = self.run(SHOWN_SCRIPT).await;
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        Shown {
            status: text("status"),
            consonant: text("consonant"),
            pattern: text("pattern"),
            round: value["round"].as_u64().unwrap_or(0),
            deadline: text("deadline"),
            paused: value["paused"].as_bool().unwrap_or(false),
            scores: name_scores(&value["scores"]),
            bots: text_pairs(&value["bots"]),
            log: text_pairs(&value["log"]),
            chat_input: text("chatInput"),
            theme: text("theme"),
            online: value["online"].as_u64(),
            spectators: value["spectators"].as_u64(),
            spectating: value["spectating"].as_bool().unwrap_or(false),
            chat_disabled: value["chatDisabled"].as_bool().unwrap_or(false),
            can_vote: value["canVote"].as_bool().unwrap_or(false),
            can_report: value["canReport"].as_bool().unwrap_or(false),
            bot_controls: value["botControls"].as_bool().unwrap_or(false),
            can_add_bot: value["canAddBot"].as_bool().unwrap_or(false),
            can_remove_bot: value["canRemoveBot"].as_bool().unwrap_or(false),
            last_round: text("lastRound"),
            others: text("others"),
            report_status: text("reportStatus"),
            ranking_period: text("rankingPeriod"),
            ranking: name_scores(&value["ranking"]),
            ranking_lines: value["rankingLines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|line| line.as_str().unwrap_or_default().to_owned())
                .collect(),
        }
    }

    /// Waits until the page shows what `check` looks for; fails with `what` and the last
    /// thing shown otherwise.
    pub async fn wait_until(&self, what: &str, mut check: impl FnMut(&Shown) -> bool) -> Shown {
        let start = Instant::now();
        loop {
            let shown = self.shown().await;
            if check(&shown) {
                return shown;
            }
            if start.elapsed() > SHOW_TIMEOUT {
                panic!(
                    "{}: the page did not show {what} within {SHOW_TIMEOUT:?}; it shows {shown:#?}",
                    self.label
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page is connected and shows a question.
    pub async fn wait_playing(&self) -> Shown {
        self.wait_until("a question, connected", |shown| {
            shown.status == "open" && !shown.pattern.is_empty() && shown.round > 0
        })
        .await
    }

    async fn element(&self, testid: &str) -> fantoccini::elements::Element {
        let locator = format!(r#"[data-testid="{testid}"]"#);
        self.client
            .wait()
            .at_most(SHOW_TIMEOUT)
            .for_element(Locator::Css(&locator))
            .await
            .unwrap_or_else(|err| panic!("{}: no element {testid}: {err}", self.label))
    }

    /// Saves what the page shows as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|err| err.to_string())?;
        std::fs::write(path, png).map_err(|err| format!("{}: {err}", path.display()))
    }
}

/// The browsers of one case.
pub struct Browsers {
    case: String,
    pages: Mutex<Vec<Page>>,
}

impl Browsers {
    /// A new browser showing pages in `window`, for the player `label`. No browser is a
    /// failure, never a skip.
    pub async fn open(&self, label: &str, window: Window) -> Page {
        let driver = quiz_testkit::chromium::webdriver()
            .await
            .unwrap_or_else(|err| panic!("no browser for the web client's tests: {err}"));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(driver.capabilities(window))
            .connect(driver.url())
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "ChromeDriver at {} could not start a headless Chromium: {err}",
                    driver.url()
                )
            });
        let page = Page {
            label: label.to_owned(),
            client,
        };
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(page.clone());
        page
    }

    fn pages(&self) -> Vec<Page> {
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Runs a case with the browsers it opens, then screenshots each of them (named after the
/// case and the player, `-failed` when the case failed) and closes them, whatever happened.
pub async fn with_browsers<F, Fut>(case: &str, run: F)
where
    F: FnOnce(Arc<Browsers>) -> Fut,
    Fut: Future<Output = ()>,
{
    let browsers = Arc::new(Browsers {
        case: case.to_owned(),
        pages: Mutex::new(Vec::new()),
    });
    let outcome = AssertUnwindSafe(run(Arc::clone(&browsers)))
        .catch_unwind()
        .await;
    let dir = screenshot_dir();
    let _ = std::fs::create_dir_all(&dir);
    let suffix = if outcome.is_err() { "-failed" } else { "" };
    for page in browsers.pages() {
        let path = dir.join(format!("{}-{}{suffix}.png", browsers.case, page.label));
        match page.screenshot(&path).await {
            Ok(()) => eprintln!("screenshot: {}", path.display()),
            Err(err) => eprintln!("no screenshot of {}: {err}", page.label),
        }
        let _ = page.client.close().await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
