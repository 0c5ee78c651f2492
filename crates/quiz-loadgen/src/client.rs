//! One simulated client: a normal player that connects, listens, and sends chat lines and
//! answers at a steady rate; or one of the attackers, a flooder that sends chat lines far too
//! fast, or a stalled reader that never reads what it is sent; or an idle client that only
//! holds its connection open.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use quiz_core::builtin;
use quiz_core::hangul::chosung;
use quiz_core::words::parse_word_list;
use rand::Rng;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::report::Tracker;

/// Words by pattern, from the curated question lists, to send correct answers.
pub struct AnswerBook {
    by_pattern: HashMap<String, Vec<String>>,
}

impl AnswerBook {
    pub fn from_builtin_lists() -> Self {
        let mut by_pattern: HashMap<String, Vec<String>> = HashMap::new();
        // The questions' own words: whatever dictionary a server adds, they are answers.
        for (name, text) in builtin::QUESTION_LISTS {
            for listed in parse_word_list(name, text).unwrap_or_default() {
                by_pattern
                    .entry(chosung(&listed.word))
                    .or_default()
                    .push(listed.word);
            }
        }
        AnswerBook { by_pattern }
    }

    fn candidates(&self, pattern: &str) -> &[String] {
        self.by_pattern.get(pattern).map_or(&[], Vec::as_slice)
    }
}

/// How a client behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends chat lines and answers at its rate; its deliveries are accounted for.
    Player,
    /// Sends chat lines at its rate (meant to be far above the server's flood limit) and
    /// counts what the server tells it; outside the delivery accounting.
    Flooder,
    /// Sends `start!`, then never reads again until the run ends; outside the accounting.
    StalledReader,
    /// Sends nothing at all and reads whatever comes until the run ends: an idle connection,
    /// in a room of its own; outside the accounting.
    Idle,
}

/// Who a client is and how it behaves.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    pub index: usize,
    pub room: usize,
    pub room_name: String,
    pub username: String,
    pub rate: f64,
    pub answer_ratio: f64,
    pub role: Role,
}

/// What a client last saw of its room's game.
#[derive(Debug, Default)]
struct View {
    pattern: String,
    answered: HashSet<String>,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected client, ready to run.
pub struct Client {
    plan: ClientPlan,
    socket: Socket,
}

/// Opens the client's connection; a failure is counted, not fatal.
pub async fn connect(url: &str, plan: ClientPlan, tracker: &Tracker) -> Option<Client> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let full = format!(
        "{url}{separator}room={}&username={}",
        plan.room_name, plan.username
    );
    match tokio_tungstenite::connect_async(full.as_str()).await {
        Ok((socket, _)) => {
            match plan.role {
                Role::Player => tracker.joined(plan.room, plan.index),
                Role::Flooder | Role::StalledReader | Role::Idle => {
                    tracker.extra_joined(plan.index);
                }
            }
            Some(Client { plan, socket })
        }
        Err(err) => {
            match plan.role {
                Role::Player => tracker.connect_failed(&err.to_string()),
                Role::Flooder | Role::StalledReader | Role::Idle => {
                    tracker.extra_connect_failed(plan.index, &err.to_string());
                }
            }
            None
        }
    }
}

impl Client {
    pub fn role(&self) -> Role {
        self.plan.role
    }

    /// Sends until `send_until`, keeps reading until `read_until`, then closes.
    pub async fn run(
        self,
        tracker: Arc<Tracker>,
        answers: Arc<AnswerBook>,
        send_until: Instant,
        read_until: Instant,
    ) {
        match self.plan.role {
            Role::Player => self.play(tracker, answers, send_until, read_until).await,
            Role::Flooder => self.flood(tracker, send_until, read_until).await,
            Role::StalledReader => self.stall(read_until).await,
            Role::Idle => {
                self.hold(read_until).await;
            }
        }
    }

    /// Holds the connection open without sending a frame, reading (and dropping) whatever the
    /// server sends, until `read_until`; then closes. Returns whether the connection lasted
    /// that long.
    pub async fn hold(self, read_until: Instant) -> bool {
        let Client { mut socket, .. } = self;
        let lasted = loop {
            match tokio::time::timeout_at(read_until.into(), socket.next()).await {
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break false,
                Ok(Some(Ok(_))) => {}
                Err(_) => break true, // the run is over
            }
        };
        if lasted {
            let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(None)).await;
        }
        lasted
    }

    async fn play(
        self,
        tracker: Arc<Tracker>,
        answers: Arc<AnswerBook>,
        send_until: Instant,
        read_until: Instant,
    ) {
        let Client { plan, socket } = self;
        let (mut sink, mut stream) = socket.split();
        let view = Arc::new(Mutex::new(View::default()));

        let reader = {
            let tracker = tracker.clone();
            let view = view.clone();
            let plan = plan.clone();
            tokio::spawn(async move {
                loop {
                    let next = tokio::time::timeout_at(read_until.into(), stream.next()).await;
                    match next {
                        Ok(Some(Ok(Message::Text(text)))) => {
                            handle_frame(&plan, &tracker, &view, text.as_str());
                        }
                        Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {
                            tracker.dropped(plan.room, plan.index);
                            return;
                        }
                        Ok(Some(Ok(_))) => {}
                        Err(_) => return, // the run is over
                    }
                }
            })
        };

        if sink.send(Message::text("start!")).await.is_err() {
            tracker.dropped(plan.room, plan.index);
        }
        let period = Duration::from_secs_f64(1.0 / plan.rate);
        // A random phase spreads the clients' sends over the period.
        let phase = period.mul_f64(rand::rng().random::<f64>());
        tokio::time::sleep(phase).await;
        let mut interval = tokio::time::interval(period);
        let mut sent_words: HashSet<String> = HashSet::new();
        let mut seq = 0u64;
        loop {
            interval.tick().await;
            if Instant::now() >= send_until {
                break;
            }
            let answer = pick_answer(&plan, &answers, &view, &mut sent_words);
            let is_answer = answer.is_some();
            let content = answer.unwrap_or_else(|| {
                seq += 1;
                format!("부하 테스트 {}-{seq}", plan.index)
            });
            let frame = serde_json::json!({"username": plan.username, "content": content});
            tracker.sending(plan.room, plan.index, &plan.username, &content, is_answer);
            if sink.send(Message::text(frame.to_string())).await.is_err() {
                tracker.unsent(&plan.username, &content, is_answer);
                tracker.dropped(plan.room, plan.index);
                break;
            }
        }
        let _ = reader.await;
        let _ = sink.send(Message::Close(None)).await;
    }

    /// Sends a chat line every `1 / rate` seconds from the start of the sending phase until
    /// `send_until` or until the server closes the connection, reading its own echoes and
    /// `slow_down` errors meanwhile.
    async fn flood(self, tracker: Arc<Tracker>, send_until: Instant, read_until: Instant) {
        let Client { plan, socket } = self;
        let (mut sink, mut stream) = socket.split();
        let closed = Arc::new(AtomicBool::new(false));

        let reader = {
            let tracker = tracker.clone();
            let closed = closed.clone();
            let plan = plan.clone();
            tokio::spawn(async move {
                loop {
                    let next = tokio::time::timeout_at(read_until.into(), stream.next()).await;
                    let code = match next {
                        Ok(Some(Ok(Message::Text(text)))) => {
                            handle_flooder_frame(&plan, &tracker, text.as_str());
                            continue;
                        }
                        Ok(Some(Ok(Message::Close(frame)))) => frame.map(|f| u16::from(f.code)),
                        Ok(None) | Ok(Some(Err(_))) => None,
                        Ok(Some(Ok(_))) => continue,
                        Err(_) => return, // the run is over
                    };
                    tracker.flooder_closed(plan.index, code);
                    closed.store(true, Ordering::Relaxed);
                    return;
                }
            })
        };

        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.rate));
        let mut seq = 0u64;
        loop {
            interval.tick().await;
            if Instant::now() >= send_until || closed.load(Ordering::Relaxed) {
                break;
            }
            seq += 1;
            let content = format!("도배 {}-{seq}", plan.index);
            let frame = serde_json::json!({"username": plan.username, "content": content});
            let at = Instant::now();
            match tokio::time::timeout_at(
                read_until.into(),
                sink.send(Message::text(frame.to_string())),
            )
            .await
            {
                Ok(Ok(())) => tracker.flooder_sent(plan.index, at),
                // Closed under it (the reader records how), or stuck until the run ended.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let _ = reader.await;
        if !closed.load(Ordering::Relaxed) {
            let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(None))).await;
        }
    }

    /// Asks for the state once, then holds the connection without polling it, so whatever the
    /// server sends piles up in the kernel's buffers and then the server's, until the run ends.
    async fn stall(self, read_until: Instant) {
        let Client { mut socket, .. } = self;
        let _ = socket.send(Message::text("start!")).await;
        tokio::time::sleep_until(read_until.into()).await;
        // Closing writes a close frame without reading; give up quickly if even that is stuck.
        let _ = tokio::time::timeout(CLOSE_GRACE, socket.close(None)).await;
    }
}

/// How long a client that is done waits for its close frame to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a flooder reads: its own echoes (accepted lines) and `slow_down` errors; everything
/// else, such as the room's chat and state, is ignored.
fn handle_flooder_frame(plan: &ClientPlan, tracker: &Tracker, text: &str) {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if let (Some(Value::String(username)), Some(Value::String(_))) =
        (frame.get("username"), frame.get("content"))
    {
        if *username == plan.username {
            tracker.flooder_echo(plan.index);
        }
        return;
    }
    if is_slow_down(&frame) {
        tracker.flooder_refused(plan.index, frame.get("retryAfter").and_then(Value::as_f64));
    }
}

/// An error frame with the code `slow_down`: the frame it answers was refused.
fn is_slow_down(frame: &serde_json::Map<String, Value>) -> bool {
    frame.get("type").and_then(Value::as_str) == Some("error")
        && frame.get("code").and_then(Value::as_str) == Some("slow_down")
}

fn pick_answer(
    plan: &ClientPlan,
    answers: &AnswerBook,
    view: &Mutex<View>,
    sent_words: &mut HashSet<String>,
) -> Option<String> {
    if plan.answer_ratio <= 0.0 || rand::rng().random::<f64>() >= plan.answer_ratio {
        return None;
    }
    let view = view.lock().unwrap_or_else(|p| p.into_inner());
    let candidates: Vec<&String> = answers
        .candidates(&view.pattern)
        .iter()
        .filter(|w| !view.answered.contains(*w) && !sent_words.contains(*w))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let word = candidates[rand::rng().random_range(0..candidates.len())].clone();
    sent_words.insert(word.clone());
    Some(word)
}

fn handle_frame(plan: &ClientPlan, tracker: &Tracker, view: &Mutex<View>, text: &str) {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        tracker.junk_frame();
        return;
    };
    if let (Some(Value::String(username)), Some(Value::String(content))) =
        (frame.get("username"), frame.get("content"))
    {
        tracker.delivered(plan.index, username, content);
        return;
    }
    if let Some(Value::String(now)) = frame.get("nowConsonant") {
        let pattern = frame
            .get("pattern")
            .and_then(Value::as_str)
            .map_or_else(|| chosung(now), str::to_owned);
        let answered: HashSet<String> = frame
            .get("answeredWords")
            .and_then(Value::as_str)
            .map(|words| {
                words
                    .split(", ")
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        {
            let mut view = view.lock().unwrap_or_else(|p| p.into_inner());
            view.pattern = pattern;
            view.answered = answered;
        }
        if let Some(previous) = frame.get("previous").filter(|p| p["reason"] == "solved") {
            if let (Some(round), Some(winner), Some(word)) = (
                previous["round"].as_u64(),
                previous["winner"].as_str(),
                previous["word"].as_str(),
            ) {
                tracker.round_won(plan.room, round, winner, word);
            }
        }
        return;
    }
    if is_slow_down(&frame) {
        tracker.refused(plan.index);
        return;
    }
    match frame.get("type").and_then(Value::as_str) {
        Some("error") => tracker.error_frame(text),
        Some("notice") | Some("history") => {}
        _ => tracker.junk_frame(),
    }
}
