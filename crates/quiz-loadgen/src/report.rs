//! Bookkeeping shared by all clients, and the final report.
//!
//! A chat is *lost* when some client that was connected in its room when it was sent, and
//! stayed connected, never received it. Latency is send-to-echo: from just before the sender
//! writes the frame to when the sender receives its own line back.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

struct Sent {
    at: Instant,
    sender: usize,
    expected: HashSet<usize>,
    received: HashSet<usize>,
}

#[derive(Default)]
struct Inner {
    /// Clients connected per room.
    rooms: Vec<HashSet<usize>>,
    /// Clients whose connection closed before the end of the run.
    dropped: HashSet<usize>,
    sent: HashMap<(String, String), Sent>,
    chats_sent: u64,
    answers_sent: u64,
    echoes_received: u64,
    unexpected_deliveries: u64,
    latencies_ms: Vec<f64>,
    error_frames: u64,
    first_error: Option<String>,
    junk_frames: u64,
    connect_errors: Vec<String>,
    /// Winning (player, word) pairs seen per (room, round).
    rounds: HashMap<(usize, u64), HashSet<(String, String)>>,
}

/// Shared by every client task; a plain mutex is enough at these rates.
pub struct Tracker {
    inner: Mutex<Inner>,
}

impl Tracker {
    pub fn new(rooms: usize) -> Self {
        Tracker {
            inner: Mutex::new(Inner {
                rooms: vec![HashSet::new(); rooms],
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn joined(&self, room: usize, client: usize) {
        if let Some(members) = self.lock().rooms.get_mut(room) {
            members.insert(client);
        }
    }

    pub fn connect_failed(&self, reason: &str) {
        self.lock().connect_errors.push(reason.to_owned());
    }

    pub fn dropped(&self, room: usize, client: usize) {
        let mut inner = self.lock();
        inner.dropped.insert(client);
        if let Some(members) = inner.rooms.get_mut(room) {
            members.remove(&client);
        }
    }

    /// Records a chat about to be sent, and who in the room should receive it.
    pub fn sending(&self, room: usize, client: usize, username: &str, content: &str, answer: bool) {
        let mut inner = self.lock();
        let expected = inner.rooms.get(room).cloned().unwrap_or_default();
        if answer {
            inner.answers_sent += 1;
        } else {
            inner.chats_sent += 1;
        }
        inner.sent.insert(
            (username.to_owned(), content.to_owned()),
            Sent {
                at: Instant::now(),
                sender: client,
                expected,
                received: HashSet::new(),
            },
        );
    }

    /// Forgets a chat whose send failed: it never left, so it cannot be lost.
    pub fn unsent(&self, username: &str, content: &str, answer: bool) {
        let mut inner = self.lock();
        if inner
            .sent
            .remove(&(username.to_owned(), content.to_owned()))
            .is_some()
        {
            if answer {
                inner.answers_sent -= 1;
            } else {
                inner.chats_sent -= 1;
            }
        }
    }

    pub fn delivered(&self, client: usize, username: &str, content: &str) {
        let now = Instant::now();
        let mut inner = self.lock();
        let key = (username.to_owned(), content.to_owned());
        let Some(sent) = inner.sent.get_mut(&key) else {
            inner.unexpected_deliveries += 1;
            return;
        };
        if !sent.received.insert(client) {
            inner.unexpected_deliveries += 1;
            return;
        }
        let latency = (client == sent.sender).then(|| (now - sent.at).as_secs_f64() * 1_000.0);
        inner.echoes_received += 1;
        if let Some(ms) = latency {
            inner.latencies_ms.push(ms);
        }
    }

    pub fn round_won(&self, room: usize, round: u64, winner: &str, word: &str) {
        self.lock()
            .rounds
            .entry((room, round))
            .or_default()
            .insert((winner.to_owned(), word.to_owned()));
    }

    pub fn error_frame(&self, text: &str) {
        let mut inner = self.lock();
        inner.error_frames += 1;
        inner.first_error.get_or_insert_with(|| text.to_owned());
    }

    pub fn junk_frame(&self) {
        self.lock().junk_frames += 1;
    }

    /// A short live summary for the progress bar.
    pub fn progress_line(&self) -> String {
        let inner = self.lock();
        format!(
            "sent {} · echoes {} · errors {}",
            inner.chats_sent + inner.answers_sent,
            inner.echoes_received,
            inner.error_frames
        )
    }

    pub fn report(
        &self,
        clients: usize,
        opened: usize,
        elapsed: Duration,
        sending: Duration,
    ) -> Report {
        let inner = self.lock();
        let mut expected = 0u64;
        let mut lost = 0u64;
        for sent in inner.sent.values() {
            let wanted: HashSet<usize> =
                sent.expected.difference(&inner.dropped).copied().collect();
            expected += wanted.len() as u64;
            if !wanted.is_subset(&sent.received) {
                lost += 1;
            }
        }
        let mut latencies = inner.latencies_ms.clone();
        latencies.sort_by(f64::total_cmp);
        let double_winner_rounds = inner.rounds.values().filter(|w| w.len() > 1).count() as u64;
        Report {
            connections_opened: opened,
            connections_failed: clients - opened,
            first_connect_error: inner.connect_errors.first().cloned(),
            dropped: inner.dropped.len(),
            messages_sent: inner.chats_sent + inner.answers_sent,
            answers_sent: inner.answers_sent,
            echoes_expected: expected,
            echoes_received: inner.echoes_received,
            unexpected_deliveries: inner.unexpected_deliveries,
            lost,
            p50_ms: percentile(&latencies, 0.50),
            p95_ms: percentile(&latencies, 0.95),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().copied().unwrap_or(0.0),
            rounds_won: inner.rounds.len() as u64,
            double_winner_rounds,
            error_frames: inner.error_frames,
            first_error: inner.first_error.clone(),
            junk_frames: inner.junk_frames,
            elapsed,
            sending,
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * q).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The run's settings, echoed in the JSON report.
pub struct RunConfig {
    pub url: String,
    pub clients: usize,
    pub seconds: f64,
    pub rate: f64,
    pub room_size: usize,
    pub answer_ratio: f64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    connections_opened: usize,
    connections_failed: usize,
    first_connect_error: Option<String>,
    dropped: usize,
    messages_sent: u64,
    answers_sent: u64,
    echoes_expected: u64,
    echoes_received: u64,
    unexpected_deliveries: u64,
    lost: u64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rounds_won: u64,
    double_winner_rounds: u64,
    error_frames: u64,
    first_error: Option<String>,
    junk_frames: u64,
    elapsed: Duration,
    sending: Duration,
}

impl Report {
    /// Every client connected and stayed connected, every chat reached everyone in its room
    /// exactly once, and no round had two winners.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.double_winner_rounds == 0
            && self.connections_failed == 0
            && self.dropped == 0
            && self.unexpected_deliveries == 0
    }

    fn throughput(&self) -> f64 {
        self.messages_sent as f64 / self.sending.as_secs_f64().max(f64::EPSILON)
    }

    pub fn human(&self) -> String {
        let mut lines = vec![
            format!(
                "connections: {} opened, {} failed, {} dropped during the run",
                self.connections_opened, self.connections_failed, self.dropped
            ),
            format!(
                "messages sent: {} ({} answers), {:.0}/s",
                self.messages_sent,
                self.answers_sent,
                self.throughput()
            ),
            format!(
                "chat echoes: {} expected, {} received, {} lost",
                self.echoes_expected, self.echoes_received, self.lost
            ),
            format!(
                "send-to-echo latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
            ),
            format!(
                "rounds won: {}, rounds with more than one winner: {}",
                self.rounds_won, self.double_winner_rounds
            ),
            format!(
                "error frames: {}, unrecognized frames: {}, unexpected deliveries: {}",
                self.error_frames, self.junk_frames, self.unexpected_deliveries
            ),
        ];
        if let Some(err) = &self.first_connect_error {
            lines.push(format!("first connection error: {err}"));
        }
        if let Some(err) = &self.first_error {
            lines.push(format!("first error frame: {err}"));
        }
        lines.push(if self.passed() { "PASS" } else { "FAIL" }.to_owned());
        lines.join("\n")
    }

    pub fn to_json(&self, config: &RunConfig) -> serde_json::Value {
        json!({
            "url": config.url,
            "clients": config.clients,
            "seconds": config.seconds,
            "rate": config.rate,
            "room_size": config.room_size,
            "answer_ratio": config.answer_ratio,
            "connections_opened": self.connections_opened,
            "connections_failed": self.connections_failed,
            "dropped": self.dropped,
            "messages_sent": self.messages_sent,
            "answers_sent": self.answers_sent,
            "messages_per_second": self.throughput(),
            "echoes_expected": self.echoes_expected,
            "echoes_received": self.echoes_received,
            "unexpected_deliveries": self.unexpected_deliveries,
            "lost": self.lost,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "rounds_won": self.rounds_won,
            "double_winner_rounds": self.double_winner_rounds,
            "error_frames": self.error_frames,
            "junk_frames": self.junk_frames,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "passed": self.passed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_missing_one_receiver_is_lost() {
        let tracker = Tracker::new(1);
        for client in 0..3 {
            tracker.joined(0, client);
        }
        tracker.sending(0, 0, "a", "hello", false);
        tracker.sending(0, 1, "b", "hi", false);
        for client in 0..3 {
            tracker.delivered(client, "a", "hello");
        }
        tracker.delivered(0, "b", "hi");
        tracker.delivered(1, "b", "hi");
        let report = tracker.report(3, 3, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(report.lost, 1);
        assert_eq!(report.echoes_expected, 6);
        assert_eq!(report.echoes_received, 5);
        assert!(!report.passed());
    }

    #[test]
    fn a_receiver_that_dropped_is_not_waited_for() {
        let tracker = Tracker::new(1);
        tracker.joined(0, 0);
        tracker.joined(0, 1);
        tracker.sending(0, 0, "a", "hello", false);
        tracker.delivered(0, "a", "hello");
        tracker.dropped(0, 1);
        let report = tracker.report(2, 2, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(report.lost, 0);
        assert_eq!(report.dropped, 1);
        assert!(
            !report.passed(),
            "a dropped client fails the run on its own"
        );
    }

    #[test]
    fn a_chat_that_never_left_is_not_lost_and_a_duplicate_fails() {
        let tracker = Tracker::new(1);
        tracker.joined(0, 0);
        tracker.joined(0, 1);
        tracker.sending(0, 0, "a", "never sent", false);
        tracker.unsent("a", "never sent", false);
        tracker.sending(0, 0, "a", "hello", false);
        tracker.delivered(0, "a", "hello");
        tracker.delivered(1, "a", "hello");
        let report = tracker.report(2, 2, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!((report.messages_sent, report.lost), (1, 0));
        assert!(report.passed());
        tracker.delivered(1, "a", "hello");
        let report = tracker.report(2, 2, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(report.unexpected_deliveries, 1);
        assert!(!report.passed());
    }

    #[test]
    fn two_winners_of_one_round_fail_the_run() {
        let tracker = Tracker::new(1);
        tracker.round_won(0, 3, "a", "사랑");
        tracker.round_won(0, 3, "a", "사랑");
        let report = tracker.report(1, 1, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!((report.rounds_won, report.double_winner_rounds), (1, 0));
        tracker.round_won(0, 3, "b", "서랍");
        let report = tracker.report(1, 1, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(report.double_winner_rounds, 1);
        assert!(!report.passed());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
