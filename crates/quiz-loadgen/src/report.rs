//! Bookkeeping shared by all clients, and the final report.
//!
//! A chat is *lost* when some client that was connected in its room when it was sent, and
//! stayed connected, never received it. Latency is send-to-echo: from just before the sender
//! writes the frame to when the sender receives its own line back.
//!
//! Only the normal players take part in that accounting. Flooders and stalled readers are not
//! room members for it: nobody waits for them to receive anything, and a flooder's lines are
//! counted on their own ([`FloodReport`]), never as lost or unexpected.
//!
//! **Refused lines.** A normal player that sends too fast may get `slow_down` error frames. A
//! refused line is neither stored nor broadcast, so nobody receives it, not even its sender.
//! At report time each `slow_down` a player received is matched to one of that player's lines
//! that *nobody* received and that was sent before the error arrived: the most recent such
//! line not matched yet (see [`match_refusals`]). A matched line counts as refused: it is
//! expected by nobody and is not lost. Lines that reached anyone are never matched, so a line
//! delivered to some members but not to others stays lost, and undelivered lines beyond the
//! number of `slow_down` errors stay lost. A `slow_down` that finds no such line (for example
//! one that answered `start!`) is reported as unmatched and changes nothing else.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

struct Sent {
    at: Instant,
    sender: usize,
    room: usize,
    expected: HashSet<usize>,
    received: HashSet<usize>,
}

/// One flooding connection, seen from its own socket.
struct Flooder {
    username: String,
    room: usize,
    rate: f64,
    connected: bool,
    connect_error: Option<String>,
    frames_sent: u64,
    first_send: Option<Instant>,
    last_send: Option<Instant>,
    /// Its own lines that came back to it: the ones the server accepted.
    echoes: u64,
    slow_down: u64,
    retry_after_max: Option<f64>,
    retry_after_missing: u64,
    /// When the connection ended before the run did, and the close code if there was one.
    closed: Option<(Instant, Option<u16>)>,
}

/// One connection that stops reading after its first frame.
struct Stalled {
    room: usize,
    connected: bool,
    connect_error: Option<String>,
}

#[derive(Default)]
struct Inner {
    /// Normal clients connected per room.
    rooms: Vec<HashSet<usize>>,
    /// The room of every normal client that connected, even if it dropped later.
    member_room: HashMap<usize, usize>,
    /// Clients whose connection closed before the end of the run.
    dropped: HashSet<usize>,
    sent: HashMap<(String, String), Sent>,
    chats_sent: u64,
    answers_sent: u64,
    echoes_received: u64,
    unexpected_deliveries: u64,
    /// Send-to-echo latencies, with the sender's room.
    latencies_ms: Vec<(usize, f64)>,
    error_frames: u64,
    first_error: Option<String>,
    junk_frames: u64,
    connect_errors: Vec<String>,
    /// Winning (player, word) pairs seen per (room, round).
    rounds: HashMap<(usize, u64), HashSet<(String, String)>>,
    /// When each normal client received a `slow_down` error.
    refusals: HashMap<usize, Vec<Instant>>,
    /// When the sending phase began.
    started: Option<Instant>,
    flooders: BTreeMap<usize, Flooder>,
    flooder_names: HashMap<String, usize>,
    /// Flooder lines received by normal clients, per (flooder, normal client).
    flood_lines: HashMap<(usize, usize), u64>,
    stalled: BTreeMap<usize, Stalled>,
}

/// What the server's flood control is expected to let through, for the report's allowance.
#[derive(Debug, Clone, Copy)]
pub struct FloodExpectation {
    /// Lines accepted at once from a full bucket.
    pub burst: u32,
    /// Lines accepted per second after that.
    pub rate: f64,
}

impl FloodExpectation {
    /// The most lines one connection can get through in `seconds` of sending: the burst, plus
    /// what the bucket refills meanwhile.
    pub fn allowance(&self, seconds: f64) -> f64 {
        f64::from(self.burst) + self.rate * seconds.max(0.0)
    }

    /// Above how many received lines the run fails: the allowance plus one more burst of
    /// slack. The slack absorbs what the client's clock cannot see: `t` is measured between
    /// the flooder's first and last write, while the server's bucket refills on the server's
    /// clock as the frames arrive (network and scheduling delays stretch that span), and a
    /// server may round its bucket or keep its refill time coarsely (a store's timestamps).
    /// Missing flood control exceeds it by far: at 100 lines/s the allowance over 5 s is 25.
    pub fn limit(&self, seconds: f64) -> f64 {
        self.allowance(seconds) + self.slack()
    }

    pub fn slack(&self) -> f64 {
        f64::from(self.burst)
    }
}

/// Pairs each refusal with a refused send. `sends` are the send times of one client's lines
/// that nobody received, `refusals` the arrival times of that client's `slow_down` errors,
/// both ascending. Each refusal takes the most recent send before it that is not taken yet.
/// Returns the indices (into `sends`) of the sends taken; their count is the largest number
/// of refusals that can be explained by undelivered sends.
pub fn match_refusals(sends: &[Instant], refusals: &[Instant]) -> Vec<usize> {
    let mut available = Vec::new();
    let mut next = 0;
    let mut taken = Vec::new();
    for refusal in refusals {
        while next < sends.len() && sends[next] <= *refusal {
            available.push(next);
            next += 1;
        }
        if let Some(index) = available.pop() {
            taken.push(index);
        }
    }
    taken.sort_unstable();
    taken
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
        let mut inner = self.lock();
        if let Some(members) = inner.rooms.get_mut(room) {
            members.insert(client);
            inner.member_room.insert(client, room);
        }
    }

    pub fn connect_failed(&self, reason: &str) {
        self.lock().connect_errors.push(reason.to_owned());
    }

    /// Announces a flooder before anyone connects, so its lines are known when they arrive.
    pub fn add_flooder(&self, client: usize, room: usize, username: &str, rate: f64) {
        let mut inner = self.lock();
        inner.flooder_names.insert(username.to_owned(), client);
        inner.flooders.insert(
            client,
            Flooder {
                username: username.to_owned(),
                room,
                rate,
                connected: false,
                connect_error: None,
                frames_sent: 0,
                first_send: None,
                last_send: None,
                echoes: 0,
                slow_down: 0,
                retry_after_max: None,
                retry_after_missing: 0,
                closed: None,
            },
        );
    }

    pub fn add_stalled_reader(&self, client: usize, room: usize) {
        self.lock().stalled.insert(
            client,
            Stalled {
                room,
                connected: false,
                connect_error: None,
            },
        );
    }

    /// A flooder or stalled reader connected.
    pub fn extra_joined(&self, client: usize) {
        let mut inner = self.lock();
        if let Some(flooder) = inner.flooders.get_mut(&client) {
            flooder.connected = true;
        }
        if let Some(stalled) = inner.stalled.get_mut(&client) {
            stalled.connected = true;
        }
    }

    /// A flooder or stalled reader could not connect; it does not fail the run by itself.
    pub fn extra_connect_failed(&self, client: usize, reason: &str) {
        let mut inner = self.lock();
        if let Some(flooder) = inner.flooders.get_mut(&client) {
            flooder.connect_error = Some(reason.to_owned());
        }
        if let Some(stalled) = inner.stalled.get_mut(&client) {
            stalled.connect_error = Some(reason.to_owned());
        }
    }

    /// The sending phase begins: disconnection times are reported from here.
    pub fn start_sending(&self, at: Instant) {
        self.lock().started = Some(at);
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
                room,
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

    /// A normal client received a chat line.
    pub fn delivered(&self, client: usize, username: &str, content: &str) {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(&flooder) = inner.flooder_names.get(username) {
            *inner.flood_lines.entry((flooder, client)).or_default() += 1;
            return;
        }
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
        let room = sent.room;
        inner.echoes_received += 1;
        if let Some(ms) = latency {
            inner.latencies_ms.push((room, ms));
        }
    }

    /// A normal client received a `slow_down` error: one of its frames was refused.
    pub fn refused(&self, client: usize) {
        self.lock()
            .refusals
            .entry(client)
            .or_default()
            .push(Instant::now());
    }

    /// A flooder wrote a line (`at` is just before the write).
    pub fn flooder_sent(&self, client: usize, at: Instant) {
        if let Some(flooder) = self.lock().flooders.get_mut(&client) {
            flooder.frames_sent += 1;
            flooder.first_send.get_or_insert(at);
            flooder.last_send = Some(at);
        }
    }

    /// A flooder received one of its own lines back: the server accepted it.
    pub fn flooder_echo(&self, client: usize) {
        if let Some(flooder) = self.lock().flooders.get_mut(&client) {
            flooder.echoes += 1;
        }
    }

    /// A flooder received `slow_down`, with its `retryAfter` if that was a number.
    pub fn flooder_refused(&self, client: usize, retry_after: Option<f64>) {
        if let Some(flooder) = self.lock().flooders.get_mut(&client) {
            flooder.slow_down += 1;
            match retry_after {
                Some(seconds) => {
                    flooder.retry_after_max = Some(
                        flooder
                            .retry_after_max
                            .map_or(seconds, |max| max.max(seconds)),
                    );
                }
                None => flooder.retry_after_missing += 1,
            }
        }
    }

    /// A flooder's connection ended before the run did.
    pub fn flooder_closed(&self, client: usize, code: Option<u16>) {
        if let Some(flooder) = self.lock().flooders.get_mut(&client) {
            flooder.closed.get_or_insert((Instant::now(), code));
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
        let mut line = format!(
            "sent {} · echoes {} · errors {}",
            inner.chats_sent + inner.answers_sent,
            inner.echoes_received,
            inner.error_frames
        );
        if !inner.flooders.is_empty() {
            let (sent, refused) = inner
                .flooders
                .values()
                .fold((0, 0), |(s, r), f| (s + f.frames_sent, r + f.slow_down));
            line.push_str(&format!(" · flood {sent} sent, {refused} refused"));
        }
        line
    }

    pub fn report(
        &self,
        clients: usize,
        opened: usize,
        elapsed: Duration,
        sending: Duration,
        expect: FloodExpectation,
    ) -> Report {
        let inner = self.lock();

        // Which undelivered lines the `slow_down` errors refused.
        let mut refused_keys: HashSet<&(String, String)> = HashSet::new();
        let mut refusals_received = 0u64;
        for (client, arrivals) in &inner.refusals {
            refusals_received += arrivals.len() as u64;
            let mut undelivered: Vec<(&(String, String), Instant)> = inner
                .sent
                .iter()
                .filter(|(_, sent)| sent.sender == *client && sent.received.is_empty())
                .map(|(key, sent)| (key, sent.at))
                .collect();
            undelivered.sort_by_key(|(_, at)| *at);
            let mut arrivals = arrivals.clone();
            arrivals.sort();
            let times: Vec<Instant> = undelivered.iter().map(|(_, at)| *at).collect();
            for index in match_refusals(&times, &arrivals) {
                refused_keys.insert(undelivered[index].0);
            }
        }

        let mut expected = 0u64;
        let mut lost = 0u64;
        let mut lost_by_room: HashMap<usize, u64> = HashMap::new();
        let mut sent_by_room: HashMap<usize, u64> = HashMap::new();
        for (key, sent) in &inner.sent {
            *sent_by_room.entry(sent.room).or_default() += 1;
            if refused_keys.contains(key) {
                continue;
            }
            let wanted: HashSet<usize> =
                sent.expected.difference(&inner.dropped).copied().collect();
            expected += wanted.len() as u64;
            if !wanted.is_subset(&sent.received) {
                lost += 1;
                *lost_by_room.entry(sent.room).or_default() += 1;
            }
        }
        let mut latencies: Vec<f64> = inner.latencies_ms.iter().map(|(_, ms)| *ms).collect();
        latencies.sort_by(f64::total_cmp);
        let double_winner_rounds = inner.rounds.values().filter(|w| w.len() > 1).count() as u64;

        // The normal players' view, split into the rooms a mode touched and the others.
        let split = |rooms: &HashSet<usize>| -> (RoomSlice, RoomSlice) {
            let slice = |inside: bool| {
                let pick = |room: &usize| rooms.contains(room) == inside;
                let mut ms: Vec<f64> = inner
                    .latencies_ms
                    .iter()
                    .filter(|(room, _)| pick(room))
                    .map(|(_, ms)| *ms)
                    .collect();
                ms.sort_by(f64::total_cmp);
                RoomSlice {
                    rooms: (0..inner.rooms.len()).filter(pick).count(),
                    messages_sent: sent_by_room
                        .iter()
                        .filter(|(room, _)| pick(room))
                        .map(|(_, n)| n)
                        .sum(),
                    lost: lost_by_room
                        .iter()
                        .filter(|(room, _)| pick(room))
                        .map(|(_, n)| n)
                        .sum(),
                    p50_ms: percentile(&ms, 0.50),
                    p95_ms: percentile(&ms, 0.95),
                }
            };
            (slice(true), slice(false))
        };

        let flood = (!inner.flooders.is_empty()).then(|| {
            let started = inner.started;
            let flooders: Vec<FlooderReport> = inner
                .flooders
                .iter()
                .map(|(&client, f)| {
                    let members: Vec<usize> = inner
                        .member_room
                        .iter()
                        .filter(|(_, room)| **room == f.room)
                        .map(|(member, _)| *member)
                        .collect();
                    let counts: Vec<u64> = members
                        .iter()
                        .map(|member| {
                            inner
                                .flood_lines
                                .get(&(client, *member))
                                .copied()
                                .unwrap_or(0)
                        })
                        .collect();
                    let outside_room = inner
                        .flood_lines
                        .iter()
                        .filter(|((flooder, member), _)| {
                            *flooder == client && inner.member_room.get(member) != Some(&f.room)
                        })
                        .map(|(_, n)| n)
                        .sum();
                    let sending_s = match (f.first_send, f.last_send) {
                        (Some(first), Some(last)) => (last - first).as_secs_f64(),
                        _ => 0.0,
                    };
                    let since_start = |at: Instant| {
                        started.map_or(0.0, |s| at.saturating_duration_since(s).as_secs_f64())
                    };
                    FlooderReport {
                        username: f.username.clone(),
                        room: f.room,
                        rate: f.rate,
                        connected: f.connected,
                        connect_error: f.connect_error.clone(),
                        frames_sent: f.frames_sent,
                        echoes: f.echoes,
                        slow_down: f.slow_down,
                        retry_after_max: f.retry_after_max,
                        retry_after_missing: f.retry_after_missing,
                        disconnected_at_s: f.closed.map(|(at, _)| since_start(at)),
                        close_code: f.closed.and_then(|(_, code)| code),
                        sending_s,
                        allowance: expect.allowance(sending_s),
                        limit: expect.limit(sending_s),
                        members: members.len(),
                        max_received: counts.iter().copied().max().unwrap_or(0),
                        mean_received: if counts.is_empty() {
                            0.0
                        } else {
                            counts.iter().sum::<u64>() as f64 / counts.len() as f64
                        },
                        outside_room,
                    }
                })
                .collect();
            let rooms: HashSet<usize> = inner.flooders.values().map(|f| f.room).collect();
            let (in_rooms, other_rooms) = split(&rooms);
            FloodReport {
                expect,
                flooders,
                in_rooms,
                other_rooms,
            }
        });

        let stall = (!inner.stalled.is_empty()).then(|| {
            let rooms: HashSet<usize> = inner.stalled.values().map(|s| s.room).collect();
            let (in_rooms, other_rooms) = split(&rooms);
            let mut room_list: Vec<usize> = rooms.into_iter().collect();
            room_list.sort_unstable();
            StallReport {
                requested: inner.stalled.len(),
                connected: inner.stalled.values().filter(|s| s.connected).count(),
                first_connect_error: inner.stalled.values().find_map(|s| s.connect_error.clone()),
                rooms: room_list,
                in_rooms,
                other_rooms,
            }
        });

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
            refusals_received,
            refused_lines: refused_keys.len() as u64,
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
            flood,
            stall,
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

/// The normal players of some rooms: what they sent, lost, and how fast their echoes came.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RoomSlice {
    rooms: usize,
    messages_sent: u64,
    lost: u64,
    p50_ms: f64,
    p95_ms: f64,
}

impl RoomSlice {
    fn human(&self) -> String {
        format!(
            "{} room(s): {} messages sent, {} lost, echo p50 {:.1} ms, p95 {:.1} ms",
            self.rooms, self.messages_sent, self.lost, self.p50_ms, self.p95_ms
        )
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "rooms": self.rooms,
            "messages_sent": self.messages_sent,
            "lost": self.lost,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
        })
    }
}

/// One flooder: what it sent and was told, and what the normal members of its room received.
#[derive(Debug, Clone)]
pub struct FlooderReport {
    username: String,
    room: usize,
    rate: f64,
    connected: bool,
    connect_error: Option<String>,
    frames_sent: u64,
    /// Its own lines echoed back to it: what the server accepted.
    echoes: u64,
    slow_down: u64,
    retry_after_max: Option<f64>,
    /// `slow_down` frames without a numeric `retryAfter`.
    retry_after_missing: u64,
    /// Seconds after sending began, when the connection ended before the run did.
    disconnected_at_s: Option<f64>,
    close_code: Option<u16>,
    /// `t`: seconds from its first write to its last.
    sending_s: f64,
    allowance: f64,
    limit: f64,
    /// Normal clients that connected to its room.
    members: usize,
    max_received: u64,
    mean_received: f64,
    /// Its lines received by normal clients of other rooms.
    outside_room: u64,
}

impl FlooderReport {
    /// No normal member of its room received more of its lines than the limit.
    fn within_limit(&self) -> bool {
        self.max_received as f64 <= self.limit
    }

    fn human(&self, expect: FloodExpectation) -> Vec<String> {
        if !self.connected {
            return vec![format!(
                "  {} (room {}): could not connect ({}); nothing was tested with it",
                self.username,
                self.room,
                self.connect_error.as_deref().unwrap_or("unknown error")
            )];
        }
        let retry = match (self.retry_after_max, self.retry_after_missing) {
            (_, missing) if missing > 0 => {
                format!(" ({missing} without a numeric retryAfter)")
            }
            (Some(max), _) => format!(" (retryAfter up to {max} s)"),
            (None, _) => String::new(),
        };
        let ending = match (self.disconnected_at_s, self.close_code) {
            (Some(at), Some(code)) => {
                format!("disconnected by the server at {at:.2} s (close code {code})")
            }
            (Some(at), None) => format!("connection ended at {at:.2} s (no close frame)"),
            (None, _) => "stayed connected".to_owned(),
        };
        let mut lines = vec![
            format!(
                "  {} (room {}): {} frames sent in {:.2} s, {} accepted (echoed back), {} slow_down{retry}; {ending}",
                self.username,
                self.room,
                self.frames_sent,
                self.sending_s,
                self.echoes,
                self.slow_down
            ),
            format!(
                "    each of {} normal member(s) received max {}, mean {:.1} of its lines; allowance {} + {} × {:.2} s = {:.1}, limit with slack {:.1}: {}",
                self.members,
                self.max_received,
                self.mean_received,
                expect.burst,
                expect.rate,
                self.sending_s,
                self.allowance,
                self.limit,
                if self.within_limit() { "ok" } else { "OVER" }
            ),
        ];
        if self.outside_room > 0 {
            lines.push(format!(
                "    {} of its lines reached normal clients of other rooms",
                self.outside_room
            ));
        }
        lines
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "username": self.username,
            "room": self.room,
            "rate": self.rate,
            "connected": self.connected,
            "frames_sent": self.frames_sent,
            "accepted": self.echoes,
            "slow_down": self.slow_down,
            "retry_after_max_s": self.retry_after_max,
            "retry_after_missing": self.retry_after_missing,
            "disconnected": self.disconnected_at_s.is_some(),
            "disconnected_at_s": self.disconnected_at_s,
            "close_code": self.close_code,
            "sending_s": self.sending_s,
            "allowance": self.allowance,
            "limit": self.limit,
            "normal_members": self.members,
            "max_received": self.max_received,
            "mean_received": self.mean_received,
            "received_outside_room": self.outside_room,
            "within_limit": self.within_limit(),
        })
    }
}

/// The `--flooders` section.
#[derive(Debug, Clone)]
pub struct FloodReport {
    expect: FloodExpectation,
    flooders: Vec<FlooderReport>,
    in_rooms: RoomSlice,
    other_rooms: RoomSlice,
}

impl FloodReport {
    /// No normal member received more of a flooder's lines than the limit.
    fn passed(&self) -> bool {
        self.flooders.iter().all(FlooderReport::within_limit)
    }

    fn human(&self) -> Vec<String> {
        let connected = self.flooders.iter().filter(|f| f.connected).count();
        let rate = self.flooders.first().map_or(0.0, |f| f.rate);
        let mut lines = vec![format!(
            "flooders: {connected} of {} connected, each sending {rate} lines/s; allowed per flooder: {} + {}/s × t (t = its seconds of sending), failing above that plus a slack of one burst ({})",
            self.flooders.len(),
            self.expect.burst,
            self.expect.rate,
            self.expect.slack()
        )];
        for flooder in &self.flooders {
            lines.extend(flooder.human(self.expect));
        }
        lines.push(format!(
            "  normal players in rooms with a flooder, {}",
            self.in_rooms.human()
        ));
        lines.push(format!(
            "  normal players elsewhere, {}",
            self.other_rooms.human()
        ));
        if connected == 0 {
            lines.push(
                "flood control: NOT TESTED, no flooder could connect (this alone does not fail the run)"
                    .to_owned(),
            );
        } else if self.passed() {
            lines.push("flood control: ok, no normal member received more than the limit".into());
        } else {
            let unlimited = self
                .flooders
                .iter()
                .filter(|f| !f.within_limit() && f.slow_down == 0)
                .count();
            let mut line = "flood control: FAIL, normal members received more flooder lines than the allowance plus slack".to_owned();
            if unlimited > 0 {
                line.push_str(&format!(
                    "; {unlimited} over-limit flooder(s) never got a slow_down error, so the server refused none of their lines: it has no flood control, or it is off"
                ));
            }
            lines.push(line);
        }
        lines
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "flooders": self.flooders.len(),
            "connected": self.flooders.iter().filter(|f| f.connected).count(),
            "expect_burst": self.expect.burst,
            "expect_rate": self.expect.rate,
            "slack": self.expect.slack(),
            "per_flooder": self.flooders.iter().map(FlooderReport::to_json).collect::<Vec<_>>(),
            "normal_in_flooded_rooms": self.in_rooms.to_json(),
            "normal_in_other_rooms": self.other_rooms.to_json(),
            "passed": self.passed(),
        })
    }
}

/// The `--stalled-readers` section.
#[derive(Debug, Clone)]
pub struct StallReport {
    requested: usize,
    connected: usize,
    first_connect_error: Option<String>,
    rooms: Vec<usize>,
    in_rooms: RoomSlice,
    other_rooms: RoomSlice,
}

impl StallReport {
    fn human(&self) -> Vec<String> {
        let rooms: Vec<String> = self.rooms.iter().map(usize::to_string).collect();
        let mut lines = vec![
            format!(
                "stalled readers: {} of {} connected (room(s) {}); each sent start! and then never read",
                self.connected,
                self.requested,
                rooms.join(", ")
            ),
            format!(
                "  normal players in rooms with a stalled reader, {}",
                self.in_rooms.human()
            ),
            format!("  normal players elsewhere, {}", self.other_rooms.human()),
        ];
        if let Some(err) = &self.first_connect_error {
            lines.push(format!("  first stalled reader connection error: {err}"));
        }
        lines
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "requested": self.requested,
            "connected": self.connected,
            "rooms": self.rooms,
            "normal_in_stalled_rooms": self.in_rooms.to_json(),
            "normal_in_other_rooms": self.other_rooms.to_json(),
        })
    }
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
    /// `slow_down` errors received by normal clients.
    refusals_received: u64,
    /// Normal lines matched to those errors: refused, so expected by nobody.
    refused_lines: u64,
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
    flood: Option<FloodReport>,
    stall: Option<StallReport>,
}

impl Report {
    /// Why the run failed; empty when every normal client connected and stayed connected,
    /// every normal chat that was not refused reached everyone in its room exactly once, no
    /// round had two winners, and (with flooders) no normal member received more of a
    /// flooder's lines than the limit. Refused lines, flooders' refusals and disconnections,
    /// and stalled readers do not fail a run by themselves.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.lost > 0 {
            failures.push(format!("{} chat(s) lost", self.lost));
        }
        if self.unexpected_deliveries > 0 {
            failures.push(format!(
                "{} unexpected deliveries (duplicates or unknown lines)",
                self.unexpected_deliveries
            ));
        }
        if self.double_winner_rounds > 0 {
            failures.push(format!(
                "{} round(s) with more than one winner",
                self.double_winner_rounds
            ));
        }
        if self.connections_failed > 0 {
            failures.push(format!(
                "{} client(s) could not connect",
                self.connections_failed
            ));
        }
        if self.dropped > 0 {
            failures.push(format!("{} client(s) dropped", self.dropped));
        }
        if let Some(flood) = &self.flood {
            let over = flood.flooders.iter().filter(|f| !f.within_limit()).count();
            if over > 0 {
                failures.push(format!(
                    "{over} flooder(s) got more lines to normal members than the allowance plus slack"
                ));
            }
        }
        failures
    }

    pub fn passed(&self) -> bool {
        self.failures().is_empty()
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
        if self.refusals_received > 0 || self.flood.is_some() {
            lines.push(format!(
                "normal clients refused: {} slow_down error(s), {} undelivered line(s) counted as refused (not expected, not lost), {} error(s) matched no undelivered line",
                self.refusals_received,
                self.refused_lines,
                self.refusals_received - self.refused_lines
            ));
        }
        if let Some(err) = &self.first_connect_error {
            lines.push(format!("first connection error: {err}"));
        }
        if let Some(err) = &self.first_error {
            lines.push(format!("first error frame: {err}"));
        }
        if let Some(flood) = &self.flood {
            lines.extend(flood.human());
        }
        if let Some(stall) = &self.stall {
            lines.extend(stall.human());
        }
        let failures = self.failures();
        lines.push(if failures.is_empty() {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", failures.join("; "))
        });
        lines.join("\n")
    }

    pub fn to_json(&self, config: &RunConfig) -> serde_json::Value {
        let mut report = json!({
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
            "normal_refused": self.refusals_received,
            "normal_refused_lines": self.refused_lines,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "rounds_won": self.rounds_won,
            "double_winner_rounds": self.double_winner_rounds,
            "error_frames": self.error_frames,
            "junk_frames": self.junk_frames,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "failures": self.failures(),
            "passed": self.passed(),
        });
        if let Some(flood) = &self.flood {
            report["flood"] = flood.to_json();
        }
        if let Some(stall) = &self.stall {
            report["stalled_readers"] = stall.to_json();
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECT: FloodExpectation = FloodExpectation {
        burst: 10,
        rate: 3.0,
    };

    /// The report of a run where all `clients` normal clients connected.
    fn report_of(tracker: &Tracker, clients: usize) -> Report {
        tracker.report(
            clients,
            clients,
            Duration::from_secs(1),
            Duration::from_secs(1),
            EXPECT,
        )
    }

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
        let report = report_of(&tracker, 3);
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
        let report = report_of(&tracker, 2);
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
        let report = report_of(&tracker, 2);
        assert_eq!((report.messages_sent, report.lost), (1, 0));
        assert!(report.passed());
        tracker.delivered(1, "a", "hello");
        let report = report_of(&tracker, 2);
        assert_eq!(report.unexpected_deliveries, 1);
        assert!(!report.passed());
    }

    #[test]
    fn two_winners_of_one_round_fail_the_run() {
        let tracker = Tracker::new(1);
        tracker.round_won(0, 3, "a", "사랑");
        tracker.round_won(0, 3, "a", "사랑");
        let report = report_of(&tracker, 1);
        assert_eq!((report.rounds_won, report.double_winner_rounds), (1, 0));
        tracker.round_won(0, 3, "b", "서랍");
        let report = report_of(&tracker, 1);
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

    #[test]
    fn the_allowance_is_a_burst_plus_the_refill_and_the_limit_adds_a_burst() {
        assert_eq!(EXPECT.allowance(0.0), 10.0);
        assert_eq!(EXPECT.allowance(5.0), 25.0);
        assert_eq!(EXPECT.limit(5.0), 35.0);
        assert_eq!(EXPECT.allowance(-1.0), 10.0);
        let other = FloodExpectation {
            burst: 4,
            rate: 0.5,
        };
        assert_eq!((other.allowance(10.0), other.slack()), (9.0, 4.0));
    }

    #[test]
    fn each_refusal_takes_the_latest_undelivered_send_before_it() {
        let base = Instant::now();
        let at = |ms: u64| base + Duration::from_millis(ms);
        let sends = [at(0), at(10), at(20), at(30)];
        // The first refusal arrives after the first two sends, the second after all four.
        assert_eq!(match_refusals(&sends, &[at(15), at(35)]), vec![1, 3]);
        // More refusals than sends before them: the extra one matches nothing.
        assert_eq!(match_refusals(&sends, &[at(5), at(6)]), vec![0]);
        assert_eq!(match_refusals(&sends, &[]), Vec::<usize>::new());
        assert_eq!(match_refusals(&[], &[at(1)]), Vec::<usize>::new());
        // A refusal cannot refer to a line sent after it arrived.
        assert_eq!(match_refusals(&[at(10)], &[at(5)]), Vec::<usize>::new());
    }

    #[test]
    fn a_refused_line_is_neither_expected_nor_lost_but_an_extra_undelivered_one_is() {
        let tracker = Tracker::new(1);
        tracker.joined(0, 0);
        tracker.joined(0, 1);
        tracker.sending(0, 0, "a", "delivered", false);
        tracker.delivered(0, "a", "delivered");
        tracker.delivered(1, "a", "delivered");
        tracker.sending(0, 0, "a", "refused", false);
        tracker.refused(0);
        let report = report_of(&tracker, 2);
        assert_eq!((report.refusals_received, report.refused_lines), (1, 1));
        assert_eq!((report.echoes_expected, report.lost), (2, 0));
        assert!(report.passed(), "{}", report.human());
        assert!(report.human().contains("normal clients refused: 1"));

        // A second undelivered line with no refusal for it is lost.
        tracker.sending(0, 0, "a", "gone", false);
        let report = report_of(&tracker, 2);
        assert_eq!((report.refused_lines, report.lost), (1, 1));
        assert!(!report.passed());
    }

    #[test]
    fn a_refusal_never_excuses_a_line_that_reached_someone() {
        let tracker = Tracker::new(1);
        tracker.joined(0, 0);
        tracker.joined(0, 1);
        tracker.sending(0, 0, "a", "half", false);
        tracker.delivered(1, "a", "half");
        tracker.refused(0);
        let report = report_of(&tracker, 2);
        assert_eq!((report.refused_lines, report.lost), (0, 1));
        assert!(report
            .human()
            .contains("1 error(s) matched no undelivered line"));
    }

    /// Room 0: normal clients 0 and 1 and flooder 10; room 1: normal client 2.
    fn flooded_tracker() -> (Tracker, Instant) {
        let tracker = Tracker::new(2);
        tracker.joined(0, 0);
        tracker.joined(0, 1);
        tracker.joined(1, 2);
        tracker.add_flooder(10, 0, "f", 100.0);
        tracker.extra_joined(10);
        let start = Instant::now();
        tracker.start_sending(start);
        // Five seconds of sending: allowance 25, limit 35.
        tracker.flooder_sent(10, start);
        tracker.flooder_sent(10, start + Duration::from_secs(5));
        (tracker, start)
    }

    #[test]
    fn flooder_lines_are_counted_apart_and_judged_against_the_limit() {
        let (tracker, _) = flooded_tracker();
        tracker.flooder_refused(10, Some(1.0));
        tracker.flooder_refused(10, None);
        tracker.flooder_closed(10, Some(1000));
        for n in 0..35 {
            tracker.delivered(0, "f", &format!("x{n}"));
        }
        for n in 0..20 {
            tracker.delivered(1, "f", &format!("x{n}"));
        }
        let report = report_of(&tracker, 3);
        assert_eq!((report.unexpected_deliveries, report.lost), (0, 0));
        let flood = report.flood.as_ref().expect("a flood section");
        let f = &flood.flooders[0];
        assert_eq!((f.members, f.max_received, f.mean_received), (2, 35, 27.5));
        assert_eq!((f.allowance, f.limit), (25.0, 35.0));
        assert_eq!(
            (f.slow_down, f.retry_after_max, f.retry_after_missing),
            (2, Some(1.0), 1)
        );
        assert_eq!(f.close_code, Some(1000));
        assert!(f.disconnected_at_s.is_some());
        assert!(report.passed(), "{}", report.human());

        // One line more than the limit fails the run, whatever else went well.
        tracker.delivered(0, "f", "x35");
        let report = report_of(&tracker, 3);
        assert!(!report.passed());
        assert!(report.human().contains("flood control: FAIL"));
        assert!(
            !report.human().contains("no flood control"),
            "it was refused"
        );
    }

    #[test]
    fn an_unrefused_flood_over_the_limit_says_the_server_did_not_limit_it() {
        let (tracker, _) = flooded_tracker();
        for n in 0..100 {
            tracker.delivered(0, "f", &format!("x{n}"));
        }
        let report = report_of(&tracker, 3);
        assert!(!report.passed());
        let human = report.human();
        assert!(human.contains("never got a slow_down error"), "{human}");
        assert!(human.contains("OVER"), "{human}");
        assert!(human.ends_with("allowance plus slack"), "{human}");
    }

    #[test]
    fn the_json_report_has_the_mode_sections_only_when_they_are_used() {
        let config = RunConfig {
            url: "ws://example/dev".into(),
            clients: 3,
            seconds: 5.0,
            rate: 1.0,
            room_size: 2,
            answer_ratio: 0.0,
        };
        let plain = Tracker::new(2);
        plain.joined(0, 0);
        let json = report_of(&plain, 1).to_json(&config);
        assert!(json.get("flood").is_none() && json.get("stalled_readers").is_none());
        assert!(!report_of(&plain, 1).human().contains("flooders"));

        let (tracker, _) = flooded_tracker();
        tracker.add_stalled_reader(11, 0);
        tracker.extra_joined(11);
        tracker.sending(1, 2, "c", "hello", false);
        let json = report_of(&tracker, 3).to_json(&config);
        assert_eq!(json["flood"]["flooders"], 1);
        assert_eq!(json["flood"]["per_flooder"][0]["limit"], 35.0);
        assert_eq!(json["flood"]["per_flooder"][0]["disconnected"], false);
        assert_eq!(json["flood"]["passed"], true);
        assert_eq!(json["stalled_readers"]["requested"], 1);
        assert_eq!(json["stalled_readers"]["connected"], 1);
        assert_eq!(json["stalled_readers"]["rooms"], json!([0]));
        // The one chat was sent in room 1, which has neither attacker, and was lost there.
        assert_eq!(json["stalled_readers"]["normal_in_other_rooms"]["lost"], 1);
        assert_eq!(
            json["stalled_readers"]["normal_in_stalled_rooms"]["lost"],
            0
        );
        assert_eq!(json["passed"], false);
        assert_eq!(json["failures"], json!(["1 chat(s) lost"]));
    }

    #[test]
    fn attackers_are_not_room_members_for_the_delivery_accounting() {
        let (tracker, _) = flooded_tracker();
        tracker.add_stalled_reader(11, 0);
        tracker.extra_joined(11);
        tracker.sending(0, 0, "a", "hello", false);
        tracker.delivered(0, "a", "hello");
        tracker.delivered(1, "a", "hello");
        let report = report_of(&tracker, 3);
        assert_eq!((report.echoes_expected, report.lost), (2, 0));
        assert!(report.passed(), "{}", report.human());
    }
}
