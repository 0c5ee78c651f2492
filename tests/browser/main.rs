//! The web client in real browsers: headless Chromium sessions (driven over WebDriver by
//! ChromeDriver, `quiz_testkit::chromium`) play against a quiz-local started in this process,
//! as players would: typing into the page, pressing Enter, clicking its buttons. Every case
//! leaves a screenshot of each browser under `target/tmp/browser/`, passed or failed.
//!
//! No browser is a failure, never a skip: `scripts/test` installs Chromium and ChromeDriver.

mod page;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quiz_local::{LocalOptions, LocalServer, RunningServer};
use quiz_store::{MemoryStore, ReportKind, Room, Store as _};
use quiz_testkit::chromium::Window;

use page::{with_browsers, Browsers, QUIET};

/// A laptop's window and a phone's.
const WIDE: Window = Window::Desktop {
    width: 1000,
    height: 900,
};
const PHONE: Window = Window::Phone {
    width: 390,
    height: 844,
};

/// Set to write the README's picture of a game, `docs/web-client.png`, from this run.
const DOCS_SCREENSHOT_ENV: &str = "UPDATE_DOCS_SCREENSHOT";

fn words(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/words")
        .join(name)
}

/// A free port, the word list `tests/words/{list}`, rounds of `round_secs`.
fn options(list: &str, round_secs: u64) -> LocalOptions {
    LocalOptions {
        addr: "127.0.0.1:0".parse().expect("a literal address"),
        words: Some(words(list)),
        round_secs: Some(round_secs),
        ..LocalOptions::default()
    }
}

async fn start(options: LocalOptions, store: MemoryStore) -> RunningServer {
    LocalServer::start(options, store)
        .await
        .unwrap_or_else(|err| panic!("quiz-local did not start: {err}"))
}

/// The question of each pattern of `tests/words/browser.txt` (the patterns are all different).
fn answer_for(pattern: &str) -> String {
    let text = std::fs::read_to_string(words("browser.txt")).expect("tests/words/browser.txt");
    let answers: HashMap<String, String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|word| (quiz_core::hangul::chosung(word), word.to_owned()))
        .collect();
    answers
        .get(pattern)
        .unwrap_or_else(|| panic!("no question of browser.txt has the pattern {pattern:?}"))
        .clone()
}

/// Waits (a while at most) until `server` has `count` connections open: a page closes its
/// look-up of the themes as soon as it is answered, and the server sees the close soon after.
async fn wait_for_connections(server: &RunningServer, count: usize) {
    let start = std::time::Instant::now();
    while server.connection_count() != count && start.elapsed() < page::SHOW_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_players_race_for_the_answer() {
    with_browsers("two-players", two_players).await;
}

async fn two_players(browsers: Arc<Browsers>) {
    let server = start(options("browser.txt", 120), MemoryStore::new()).await;
    let (minji, jun) = tokio::join!(
        browsers.open("minji", WIDE),
        browsers.open("jun-phone", PHONE)
    );
    for (page, name) in [(&minji, "민지"), (&jun, "준")] {
        page.goto(&server.page_url()).await;
        page.join(name, "race").await;
    }
    let first = minji.wait_playing().await;
    jun.wait_until("민지's question", |shown| {
        shown.status == "open" && shown.pattern == first.pattern
    })
    .await;
    assert_eq!(first.consonant, first.pattern, "no hint yet: {first:?}");
    assert!(!first.paused, "a new room is not paused: {first:?}");

    // The countdown moves by itself, from the state frame's deadline.
    let left = jun
        .wait_until("a countdown", |shown| shown.seconds_left().is_some())
        .await
        .seconds_left()
        .expect("checked");
    assert!(
        left > 100.0 && left <= 120.0,
        "{left} s left of a 120 s round"
    );
    jun.wait_until("the countdown a second lower", |shown| {
        shown.seconds_left().is_some_and(|now| now <= left - 1.0)
    })
    .await;

    // Enter while the IME is still composing a syllable only ends the composition.
    minji
        .run(
            r#"const input = document.querySelector('[data-testid="chat-input"]');
            input.value = "가";
            input.dispatchEvent(new KeyboardEvent("keydown",
              { key: "Enter", keyCode: 229, isComposing: true, bubbles: true, cancelable: true }));"#,
        )
        .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        minji.shown().await.chat_input,
        "가",
        "a half-typed word was sent"
    );
    assert!(
        jun.shown().await.lines("chat").is_empty(),
        "a chat went out"
    );

    jun.type_and_enter("안녕하세요").await;
    minji
        .wait_until("준's greeting", |shown| {
            shown
                .lines("chat")
                .iter()
                .any(|line| line.contains("안녕하세요"))
        })
        .await;

    let answer = answer_for(&first.pattern);
    minji.type_and_enter(&answer).await;
    for page in [&minji, &jun] {
        let shown = page
            .wait_until("the next question after 민지's answer", |shown| {
                shown.round == first.round + 1
            })
            .await;
        assert_ne!(shown.pattern, first.pattern, "{}", page.label);
        assert_eq!(shown.score_of("민지"), Some(1), "{}: {shown:?}", page.label);
        let correct = shown.lines("correct");
        assert_eq!(
            correct,
            [format!("민지{answer}").as_str()],
            "{}: {shown:?}",
            page.label
        );
        assert!(
            shown
                .lines("round")
                .iter()
                .any(|line| line.contains("민지") && line.contains(&answer)),
            "{}: no round end naming the winner and the word: {shown:?}",
            page.label
        );
        assert_eq!(shown.chat_input, "", "{}: the sent line stayed", page.label);
    }
    // A moment of play for the screenshots: 준 is typing.
    jun.fill("chat-input", "고").await;
    if std::env::var_os(DOCS_SCREENSHOT_ENV).is_some() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/web-client.png");
        minji.run("window.scrollTo(0, 0);").await;
        minji
            .screenshot(&path)
            .await
            .unwrap_or_else(|err| panic!("no picture for the README: {err}"));
        eprintln!("README picture: {}", path.display());
    }
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buttons_vote_and_a_flood_is_explained() {
    with_browsers("votes", votes).await;
}

async fn votes(browsers: Arc<Browsers>) {
    // One three-syllable question (강아지) and long rounds: only votes move this game.
    let server = start(options("hints.txt", 300), MemoryStore::new()).await;
    let page = browsers.open("alone", WIDE).await;
    page.goto(&server.page_url()).await;
    page.join("혼자", "votes").await;
    let first = page.wait_playing().await;
    assert_eq!(first.consonant, "ㄱㅇㅈ");

    // Alone in the room, one vote is a majority.
    page.click("hint-vote").await;
    page.wait_until("the first syllable revealed", |shown| {
        shown.consonant == "강ㅇㅈ"
    })
    .await;
    let shown = page
        .wait_until("the vote's notice", |shown| {
            !shown.lines("notice").is_empty()
        })
        .await;
    assert!(
        shown
            .lines("notice")
            .iter()
            .any(|line| line.contains("통과")),
        "{shown:?}"
    );

    page.click("give-up-vote").await;
    let shown = page
        .wait_until("the next round after giving up", |shown| {
            shown.round == first.round + 1
        })
        .await;
    assert_eq!(shown.consonant, "ㄱㅇㅈ", "the new round shows no hint yet");
    assert!(
        shown
            .lines("round")
            .iter()
            .any(|line| line.contains("포기") && line.contains("강아지")),
        "no round end revealing the word: {shown:?}"
    );
    assert!(shown.scores.is_empty(), "nobody scored: {shown:?}");

    // Twelve lines at once pass the message limit (10 at once, some spent on joining, voting
    // and the ranking the page asks for on joining and after the round it gave up):
    // the page says so in words and gives the first refused line back.
    page.run(
        r#"const input = document.querySelector('[data-testid="chat-input"]');
        const send = document.querySelector('[data-testid="chat-send"]');
        for (let i = 1; i <= 12; i += 1) { input.value = `말${i}`; send.click(); }"#,
    )
    .await;
    let shown = page
        .wait_until("the flood refused", |shown| {
            shown
                .lines("error")
                .iter()
                .any(|line| line.contains("너무 빨라요"))
                && !shown.chat_input.is_empty()
        })
        .await;
    let given_back = shown.chat_input.clone();
    assert!(given_back.starts_with('말'), "{shown:?}");
    tokio::time::sleep(QUIET).await;
    let shown = page.shown().await;
    let echoed: Vec<&str> = shown.lines("chat");
    assert!(
        !echoed.contains(&format!("혼자{given_back}").as_str()),
        "{given_back} was given back but also went out: {shown:?}"
    );
    assert!(
        echoed.len() < 12,
        "every line went out, none was refused: {shown:?}"
    );
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_comes_back_to_the_game() {
    with_browsers("reconnect", reconnect).await;
}

async fn reconnect(browsers: Arc<Browsers>) {
    let store = MemoryStore::new();
    let server = start(options("browser.txt", 120), store.clone()).await;
    let addr: SocketAddr = server.addr();
    let page = browsers.open("comeback", PHONE).await;
    page.goto(&server.page_url()).await;
    page.join("다시", "comeback").await;
    let first = page.wait_playing().await;
    let answer = answer_for(&first.pattern);
    page.type_and_enter(&answer).await;
    let before = page
        .wait_until("a point for the answer", |shown| {
            shown.score_of("다시") == Some(1)
        })
        .await;

    // quiz-local restarts on the same port, with the same rooms.
    server.shutdown().await.expect("a clean shutdown");
    page.wait_until("the connection lost", |shown| shown.status != "open")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server = start(
        LocalOptions {
            addr,
            ..options("browser.txt", 120)
        },
        store,
    )
    .await;

    let after = page
        .wait_until("the game again, reconnected", |shown| {
            shown.status == "open" && shown.round == before.round && shown.pattern == before.pattern
        })
        .await;
    assert_eq!(
        after.score_of("다시"),
        Some(1),
        "the score was lost: {after:?}"
    );
    // The page asked for the room's history: the winning line is there, marked.
    let after = page
        .wait_until("the room's history", |shown| {
            !shown.lines("separator").is_empty()
        })
        .await;
    assert!(
        after
            .lines("correct")
            .contains(&format!("다시{answer}").as_str()),
        "the winning line is not in the history shown: {after:?}"
    );
    assert!(
        after
            .lines("notice")
            .iter()
            .any(|line| line.contains("다시 연결")),
        "the page does not say it reconnected: {after:?}"
    );
    assert_eq!(server.connection_count(), 1);
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_plays_on_the_server_its_address_names() {
    with_browsers("server-param", server_param).await;
}

async fn server_param(browsers: Arc<Browsers>) {
    // The page comes from one server and plays on another, as it would from a static host
    // in front of a deployed stage.
    let host = start(options("themes", 120), MemoryStore::new()).await;
    let stage = start(options("browser.txt", 120), MemoryStore::new()).await;
    let page = browsers.open("elsewhere", WIDE).await;
    page.goto(&format!("{}?server={}", host.page_url(), stage.url()))
        .await;
    page.join("원격", "elsewhere").await;
    page.wait_playing().await;
    // The form asked ?server= (one question list), not the page's host (two), for its themes,
    // on a connection of its own, closed once answered.
    let picker = page
        .wait_for_select("theme", "the stage's themes", |select| {
            select.options.len() > 1
        })
        .await;
    let ids: Vec<&str> = picker.options.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["all", "browser"], "{picker:?}");
    wait_for_connections(&stage, 1).await;
    assert_eq!(stage.connection_count(), 1, "not connected to ?server=");
    assert_eq!(
        host.connection_count(),
        0,
        "connected to the page's own host"
    );
    host.shutdown().await.expect("a clean shutdown");
    stage.shutdown().await.expect("a clean shutdown");
}

/// The questions of each theme of `tests/words/themes/`, by pattern.
const FOOD: [(&str, &str); 3] = [("ㄱㅊ", "김치"), ("ㄹㅁ", "라면"), ("ㅂㄱㄱ", "불고기")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_theme_picked_on_the_form_asks_only_its_questions() {
    with_browsers("themes", themes).await;
}

async fn themes(browsers: Arc<Browsers>) {
    let server = start(options("themes", 120), MemoryStore::new()).await;
    let page = browsers.open("cook", PHONE).await;
    // ?theme= preselects; the choices come from the server before anyone joins.
    page.goto(&format!("{}?theme=animals", server.page_url()))
        .await;
    let picker = page
        .wait_for_select("theme", "the server's themes", |select| {
            select.options.len() == 3
        })
        .await;
    let options: Vec<(&str, &str)> = picker
        .options
        .iter()
        .map(|(id, text)| (id.as_str(), text.as_str()))
        .collect();
    assert_eq!(
        options,
        [
            ("all", "전체 (5문제)"),
            ("animals", "동물 (2문제)"),
            ("food", "음식 (3문제)")
        ]
    );
    assert_eq!(picker.value, "animals", "?theme= did not preselect");
    wait_for_connections(&server, 0).await;
    assert_eq!(
        server.connection_count(),
        0,
        "the look-up's connection stayed open"
    );

    page.choose("theme", "food").await;
    page.join("민지", "kitchen").await;
    let food: HashMap<&str, &str> = FOOD.into();
    let mut shown = page.wait_playing().await;
    assert_eq!(shown.theme, "주제: 음식", "{shown:?}");
    // Every question of the deck, typed as a player does: each one is food.
    for _ in 0..FOOD.len() {
        let round = shown.round;
        let Some(word) = food.get(shown.pattern.as_str()) else {
            panic!(
                "round {round} asks {}, which is no food question",
                shown.pattern
            );
        };
        page.type_and_enter(word).await;
        shown = page
            .wait_until("the next question after an answer", |shown| {
                shown.round == round + 1
            })
            .await;
        assert!(
            shown.last_round.contains(word),
            "the last round is not {word}: {shown:?}"
        );
    }
    assert!(food.contains_key(shown.pattern.as_str()), "{shown:?}");
    assert_eq!(shown.score_of("민지"), Some(3), "{shown:?}");
    assert_eq!(shown.theme, "주제: 음식");
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_watches_a_lone_players_give_up() {
    with_browsers("spectator", spectator).await;
}

async fn spectator(browsers: Arc<Browsers>) {
    // One question (강아지) and long rounds: only the give-up moves this game.
    let server = start(options("hints.txt", 300), MemoryStore::new()).await;
    let (player, watcher) = tokio::join!(
        browsers.open("player", WIDE),
        browsers.open("watcher-phone", PHONE)
    );
    player.goto(&server.page_url()).await;
    player.join("혼자", "stage").await;
    let first = player.wait_playing().await;

    watcher.goto(&server.page_url()).await;
    watcher.fill("room", "stage").await;
    watcher.click("spectate").await;
    let seen = watcher
        .wait_until("the room's question, watching", |shown| {
            shown.status == "open" && shown.pattern == first.pattern && shown.round == first.round
        })
        .await;
    assert!(
        seen.spectating,
        "no note that the page only watches: {seen:?}"
    );
    assert!(seen.chat_disabled, "a spectator can chat: {seen:?}");
    assert!(!seen.can_vote, "a spectator can vote: {seen:?}");
    assert!(!seen.can_report, "a spectator can report: {seen:?}");
    assert!(!seen.bot_controls, "a spectator can seat bots: {seen:?}");
    watcher
        .wait_until("a countdown", |shown| shown.seconds_left().is_some())
        .await;
    assert!(player.shown().await.can_vote && !player.shown().await.spectating);

    player.type_and_enter("보고 있어요?").await;
    watcher
        .wait_until("the player's chat", |shown| {
            shown.lines("chat").contains(&"혼자보고 있어요?")
        })
        .await;

    // Alone among the players, one give-up vote passes, whoever watches.
    player.click("give-up-vote").await;
    for page in [&player, &watcher] {
        let shown = page
            .wait_until(
                "the round given up, one player and one spectator",
                |shown| {
                    shown.round == first.round + 1
                        && shown.online == Some(1)
                        && shown.spectators == Some(1)
                },
            )
            .await;
        assert!(
            shown
                .lines("round")
                .iter()
                .any(|line| line.contains("포기") && line.contains("강아지")),
            "{}: no round end revealing the word: {shown:?}",
            page.label
        );
        assert!(
            shown.last_round.contains("강아지"),
            "{}: {shown:?}",
            page.label
        );
    }
    let shown = player.shown().await;
    assert!(
        shown
            .lines("notice")
            .iter()
            .any(|line| line.contains("통과")),
        "{shown:?}"
    );
    assert_eq!(server.connection_count(), 2);
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ranking_shows_the_winner_for_the_week_and_all_time() {
    with_browsers("ranking", ranking).await;
}

async fn ranking(browsers: Arc<Browsers>) {
    let server = start(options("browser.txt", 120), MemoryStore::new()).await;
    let page = browsers.open("winner", WIDE).await;
    page.goto(&server.page_url()).await;
    page.join("민지", "ranked").await;
    let first = page.wait_playing().await;
    page.wait_until("this week's ranking, empty", |shown| {
        shown.ranking_period == "week" && shown.ranking.is_empty()
    })
    .await;

    page.type_and_enter(&answer_for(&first.pattern)).await;
    // The round's end refreshes the ranking by itself.
    let shown = page
        .wait_until("the winner in this week's ranking", |shown| {
            shown.ranking_period == "week" && shown.ranking == [("민지".to_owned(), 1)]
        })
        .await;
    assert_eq!(shown.ranking_lines, ["1. 민지 1"]);

    page.click("ranking-all").await;
    let shown = page
        .wait_until("the winner in the all-time ranking", |shown| {
            shown.ranking_period == "all" && shown.ranking == [("민지".to_owned(), 1)]
        })
        .await;
    assert_eq!(shown.ranking_lines, ["1. 민지 1"]);
    assert!(
        shown.lines("error").is_empty(),
        "the ranking's requests were refused: {shown:?}"
    );
    server.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_answers_show_and_a_word_is_reported() {
    with_browsers("report", report).await;
}

async fn report(browsers: Arc<Browsers>) {
    // One pattern, ㅅㄹ: its questions 사람, 소리, 소라, 수레 and the extra answers 사랑, 서랍.
    let store = MemoryStore::new();
    let server = start(options("basic", 300), store.clone()).await;
    let page = browsers.open("reporter-phone", PHONE).await;
    page.goto(&server.page_url()).await;
    page.join("민지", "reports").await;
    let first = page.wait_playing().await;
    assert_eq!(first.pattern, "ㅅㄹ");

    page.type_and_enter("사랑").await;
    let shown = page
        .wait_until("the other answers of the round", |shown| {
            shown.round == first.round + 1 && !shown.others.is_empty()
        })
        .await;
    assert_eq!(
        shown.others,
        "다른 정답: 사람, 소라, 소리, 수레, 서랍 (총 6개)"
    );
    assert!(
        shown.last_round.contains("사랑") && shown.last_round.contains("민지"),
        "{shown:?}"
    );
    assert!(shown.can_report, "{shown:?}");

    // The form opens with the round's word; a word that is not Hangul is refused in Korean.
    page.click("report").await;
    assert_eq!(page.value("report-word").await, "사랑");
    page.fill("report-word", "crab").await;
    page.click("report-send").await;
    page.wait_until("the word refused", |shown| {
        shown.report_status.contains("한글")
    })
    .await;

    page.fill("report-word", "소라게").await;
    page.choose("report-kind", "add").await;
    page.fill("report-reason", "바다 생물").await;
    page.click("report-send").await;
    let shown = page
        .wait_until("the report acknowledged", |shown| {
            shown.report_status.contains("신고가 접수되었습니다")
        })
        .await;
    assert!(shown.lines("error").is_empty(), "{shown:?}");

    let reports = store
        .recent_reports(&Room("reports".into()), 10)
        .await
        .expect("the memory store answers");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let kept = &reports[0];
    assert_eq!(
        (
            kept.word.as_str(),
            kept.username.as_str(),
            kept.pattern.as_str(),
            kept.reason.as_deref(),
        ),
        ("소라게", "민지", "ㅅㄹ", Some("바다 생물"))
    );
    assert_eq!(kept.kind, ReportKind::Add);

    // A moment of play for the screenshot: another report being written.
    page.click("report").await;
    page.choose("report-kind", "remove").await;
    page.fill("report-reason", "너무 어려워요").await;
    server.shutdown().await.expect("a clean shutdown");
}

/// The strongest bot and the weakest, as the server names them.
const MASTER: &str = "🤖 달인";
const CHICK: &str = "🤖 병아리";

/// Clicks the button `testid` even while it is disabled, as an older page (or a quick double
/// click) would send its request: the server's refusal is what the page then shows.
async fn force_click(page: &page::Page, testid: &str) {
    page.run(&format!(
        r#"const button = document.querySelector('[data-testid="{testid}"]');
        button.disabled = false;
        button.click();"#
    ))
    .await;
}

/// The scoreboard's bots that are seated (their badge names a level).
fn seated(shown: &page::Shown) -> Vec<(&str, &str)> {
    shown
        .bots
        .iter()
        .filter(|(_, badge)| badge.contains("Lv."))
        .map(|(name, badge)| (name.as_str(), badge.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_seats_bots_that_answer_and_removes_them() {
    with_browsers("bots", bots).await;
}

async fn bots(browsers: Arc<Browsers>) {
    // Five-second rounds of food: a level-5 bot answers about a second into each, a level-1
    // bot hardly ever within one (a second and two per syllable, ±25%).
    let server = start(options("themes", 5), MemoryStore::new()).await;
    let page = browsers.open("host-phone", PHONE).await;
    page.goto(&format!("{}?theme=food", server.page_url()))
        .await;
    page.join("민지", "robots").await;
    let shown = page.wait_playing().await;
    assert!(
        shown.bot_controls && shown.can_add_bot && !shown.can_remove_bot,
        "a player with no bot can add one, not remove one: {shown:?}"
    );
    assert!(shown.bots.is_empty(), "{shown:?}");
    let levels = page
        .wait_for_select("bot-level", "the bots' levels", |select| {
            select.options.len() == 5
        })
        .await;
    let labels: Vec<&str> = levels
        .options
        .iter()
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(
        labels,
        ["1 · 병아리", "2 · 새싹", "3 · 보통", "4 · 고수", "5 · 달인"]
    );
    assert_eq!(levels.value, "3", "the middle level is the default");

    page.choose("bot-level", "5").await;
    let asked = Instant::now();
    page.click("add-bot").await;
    let shown = page
        .wait_until("the bot in the scoreboard", |shown| {
            seated(shown) == [(MASTER, "봇 Lv.5")]
        })
        .await;
    assert!(shown.can_add_bot && shown.can_remove_bot, "{shown:?}");
    let shown = page
        .wait_until("the bot's answer, and its win", |shown| {
            shown.score_of(MASTER).is_some_and(|score| score >= 1)
                && shown
                    .lines("round")
                    .iter()
                    .any(|line| line.contains(MASTER))
        })
        .await;
    let waited = asked.elapsed();
    assert!(
        waited < Duration::from_secs(12),
        "the bot took {waited:?} to win a round of 5 s"
    );
    // Its word came as a chat line from its name, marked as a bot's and as the answer.
    let answered = shown.lines("bot");
    let first = answered.first().expect("the bot's chat line");
    let word = first.strip_prefix(MASTER).expect("the bot's name first");
    assert!(shown.lines("correct").contains(first), "{shown:?}");
    assert!(
        shown
            .lines("round")
            .iter()
            .any(|line| line.contains(MASTER) && line.contains(&format!("\"{word}\""))),
        "the round's end does not name the bot and its word: {shown:?}"
    );
    assert_eq!(
        shown.lines("notice"),
        [format!("{MASTER} 님이 들어왔어요.").as_str()],
        "one line for the bot's arrival (the state's and the notice's): {shown:?}"
    );
    assert!(
        shown.ranking.iter().all(|(name, _)| name != MASTER),
        "a bot in the ranking: {shown:?}"
    );

    // A second bot takes the last seat: adding is off, and a third is refused in Korean.
    page.choose("bot-level", "1").await;
    page.click("add-bot").await;
    let shown = page
        .wait_until("two bots seated", |shown| {
            seated(shown).len() == 2 && !shown.can_add_bot && shown.can_remove_bot
        })
        .await;
    assert!(seated(&shown).contains(&(CHICK, "봇 Lv.1")), "{shown:?}");
    let fits = page
        .run("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, serde_json::Value::Bool(true), "wider than a phone");
    force_click(&page, "add-bot").await;
    let shown = page
        .wait_until("the third bot refused", |shown| {
            shown
                .lines("error")
                .iter()
                .any(|line| line.contains("봇은 방마다 두 명까지예요"))
        })
        .await;
    assert_eq!(seated(&shown).len(), 2, "{shown:?}");
    page.wait_until("adding off again", |shown| !shown.can_add_bot)
        .await;

    // Removing takes the newest bot first.
    page.click("remove-bot").await;
    let shown = page
        .wait_until("the newest bot gone", |shown| {
            seated(shown) == [(MASTER, "봇 Lv.5")] && shown.can_add_bot
        })
        .await;
    assert!(
        shown
            .lines("notice")
            .contains(&format!("{CHICK} 님이 나갔어요.").as_str()),
        "{shown:?}"
    );
    page.click("remove-bot").await;
    let shown = page
        .wait_until("no bot seated", |shown| {
            seated(shown).is_empty() && !shown.can_remove_bot
        })
        .await;
    // A bot that left keeps its points, still marked as a bot's.
    assert!(
        shown
            .bots
            .iter()
            .any(|(name, badge)| name == MASTER && badge == "봇"),
        "{shown:?}"
    );
    force_click(&page, "remove-bot").await;
    page.wait_until("no bot to remove", |shown| {
        shown
            .lines("error")
            .iter()
            .any(|line| line.contains("뺄 봇이 없어요"))
            && !shown.can_remove_bot
    })
    .await;
    eprintln!("the bot won within {waited:?}");
    server.shutdown().await.expect("a clean shutdown");
}
