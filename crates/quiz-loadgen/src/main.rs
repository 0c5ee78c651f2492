//! `quiz-loadgen`: drives many WebSocket clients against a chosung quiz server (quiz-local, or
//! a deployed `wss://` stage) and checks that nothing is lost and no round has two winners.
//!
//! Every client connects to its room with its own name, asks for the state, then sends chat
//! lines (and, with `--answer-ratio`, correct answers found from the word lists) at `--rate`
//! messages per second. Each sent chat must reach every client connected in its room; the
//! sender's own copy gives the send-to-echo latency.
//!
//! ```text
//! quiz-loadgen --url ws://127.0.0.1:8080/dev --clients 1000 --room-size 10 --seconds 30 --rate 1
//! ```
//!
//! Two modes add attackers to the normal players, to see what the players go through:
//!
//! - `--flooders N --flood-rate R`: N extra clients, one per room from the first room on
//!   (round-robin when N exceeds the rooms), each sending chat lines at R per second for the
//!   whole `--seconds`. The report shows, per flooder, the frames it sent, how many came back
//!   (accepted), its `slow_down` errors and whether and when the server disconnected it; and
//!   how many of its lines each normal member of its room received (max and mean), against the
//!   allowance `burst + rate × t` (`--expect-burst`, `--expect-rate`; t is the flooder's
//!   seconds of sending). The run fails when a normal member received more than the allowance
//!   plus one more burst of slack (`FloodExpectation::limit` in the `report` module says why):
//!   that is the check that flood control works. Against a server without it, this check fails.
//! - `--stalled-readers N`: N extra clients, placed like flooders, that send `start!` once and
//!   then never read their socket until the run ends. The report shows how the normal players
//!   of their rooms fared next to those of other rooms.
//!
//! And `--idle-clients N` adds N clients, each in a room of its own, that send nothing and only
//! read until the run ends: what an idle connection costs the server (its memory, say). With
//! `--clients 0` a run is only that: it opens the idle connections, holds them for `--seconds`
//! and closes them, and fails only if one could not connect or was dropped.
//!
//! ```text
//! quiz-loadgen --url ws://127.0.0.1:8080/dev --clients 0 --idle-clients 500 --seconds 30
//! ```
//!
//! Flooders, stalled readers and idle clients are left out of the delivery accounting: nobody waits for them
//! to receive anything, and flooder lines are never lost or unexpected. A normal player's own
//! line refused with `slow_down` (a high `--rate` against flood control) counts as refused, not
//! lost: see the `report` module for how refusals are matched to lines.
//!
//! ```text
//! quiz-loadgen --url ws://127.0.0.1:8080/dev --clients 20 --room-size 10 --seconds 5 \
//!     --flooders 1 --stalled-readers 1
//! ```
//!
//! Exits 1 when a normal player's chat was lost or delivered twice, a round had two winners, a
//! normal player failed to connect or was dropped, or (with flooders) a normal member received
//! more flooder lines than the allowance plus slack; 2 when it could not run at all. Refused
//! lines, flooders being refused or disconnected, and attackers failing to connect do not fail
//! a run by themselves.

mod client;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{AnswerBook, ClientPlan, Role};
use crate::report::{FloodExpectation, Tracker};

/// Load generator for the chosung quiz's WebSocket API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// WebSocket URL of the stage, e.g. ws://127.0.0.1:8080/dev or wss://…/dev.
    #[arg(long)]
    url: String,
    /// Number of normal clients (players); flooders and stalled readers come on top.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// How long to send, in seconds (after every client connected).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Messages per second per client.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Clients per room, spread over as many rooms as needed (default: all in one room).
    #[arg(long)]
    room_size: Option<usize>,
    /// Share of messages that are correct answers (0 to 1), found from the word lists.
    #[arg(long, default_value_t = 0.1)]
    answer_ratio: f64,
    /// Write a machine-readable report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seconds to wait for the last echoes after sending stops.
    #[arg(long, default_value_t = 3.0)]
    drain_seconds: f64,
    /// Connections opened at once while connecting.
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// Prefix of room names, so runs do not meet each other's games.
    #[arg(long, default_value = "load")]
    room_prefix: String,
    /// Extra clients that flood: one per room from the first room on (round-robin), each
    /// sending chat lines at --flood-rate for the whole --seconds. Outside the delivery
    /// accounting; the run fails if a normal member receives more of a flooder's lines than
    /// --expect-burst + --expect-rate × t, plus a slack of one burst.
    #[arg(long, default_value_t = 0)]
    flooders: usize,
    /// Chat lines per second per flooder.
    #[arg(long, default_value_t = 100.0)]
    flood_rate: f64,
    /// The server's flood burst, used only for the allowance in the report.
    #[arg(long, default_value_t = 10)]
    expect_burst: u32,
    /// The server's sustained flood rate per second, used only for the allowance in the
    /// report.
    #[arg(long, default_value_t = 3.0)]
    expect_rate: f64,
    /// Extra clients, placed like flooders, that send start! once and then never read their
    /// socket until the run ends. Outside the delivery accounting.
    #[arg(long, default_value_t = 0)]
    stalled_readers: usize,
    /// Extra clients, each in a room of its own, that send nothing and read whatever comes
    /// until the run ends. Outside the delivery accounting; the run fails if one cannot
    /// connect or is dropped. With --clients 0, the run only holds them for --seconds.
    #[arg(long, default_value_t = 0)]
    idle_clients: usize,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(err) => {
            eprintln!("quiz-loadgen: {err}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs the load; `Ok(true)` when it passed.
async fn run(args: Args) -> Result<bool, String> {
    if args.clients == 0 && args.idle_clients == 0 {
        return Err("--clients must be at least 1 (or 0 with --idle-clients)".into());
    }
    if args.clients == 0 && args.flooders + args.stalled_readers > 0 {
        return Err(
            "flooders and stalled readers join players' rooms: --clients must be at least 1".into(),
        );
    }
    if !(args.rate > 0.0 && args.seconds > 0.0) {
        return Err("--rate and --seconds must be positive".into());
    }
    if !(0.0..=1.0).contains(&args.answer_ratio) {
        return Err("--answer-ratio must be between 0 and 1".into());
    }
    if args.flooders > 0 && !(args.flood_rate > 0.0 && args.flood_rate.is_finite()) {
        return Err("--flood-rate must be positive".into());
    }
    if !(args.expect_rate >= 0.0 && args.expect_rate.is_finite()) {
        return Err("--expect-rate must be zero or positive".into());
    }
    let room_size = args.room_size.unwrap_or(args.clients).max(1);
    let rooms = args.clients.div_ceil(room_size);
    let tracker = Arc::new(Tracker::new(rooms));
    let answers = Arc::new(AnswerBook::from_builtin_lists());
    let run_id = std::process::id();

    let extras = args.flooders + args.stalled_readers + args.idle_clients;
    eprintln!(
        "connecting {} clients to {} in {rooms} room(s) of up to {room_size}{}",
        args.clients,
        args.url,
        if extras > 0 {
            format!(
                ", with {} flooder(s), {} stalled reader(s) and {} idle client(s)",
                args.flooders, args.stalled_readers, args.idle_clients
            )
        } else {
            String::new()
        }
    );
    let bar = ProgressBar::new((args.clients + extras) as u64).with_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("connecting");

    let room_name = |room: usize| format!("{}-{run_id}-{room}", args.room_prefix);
    let mut plans: Vec<ClientPlan> = (0..args.clients)
        .map(|index| ClientPlan {
            index,
            room: index / room_size,
            room_name: room_name(index / room_size),
            username: format!("lg{index}"),
            rate: args.rate,
            answer_ratio: args.answer_ratio,
            role: Role::Player,
        })
        .collect();
    // Attackers come after the players, one per room from the first room on.
    for n in 0..args.flooders {
        let (index, room) = (args.clients + n, n % rooms);
        let username = format!("lgf{n}");
        tracker.add_flooder(index, room, &username, args.flood_rate);
        plans.push(ClientPlan {
            index,
            room,
            room_name: room_name(room),
            username,
            rate: args.flood_rate,
            answer_ratio: 0.0,
            role: Role::Flooder,
        });
    }
    for n in 0..args.stalled_readers {
        let (index, room) = (args.clients + args.flooders + n, n % rooms);
        tracker.add_stalled_reader(index, room);
        plans.push(ClientPlan {
            index,
            room,
            room_name: room_name(room),
            username: format!("lgs{n}"),
            rate: args.rate,
            answer_ratio: 0.0,
            role: Role::StalledReader,
        });
    }

    for n in 0..args.idle_clients {
        plans.push(ClientPlan {
            index: args.clients + args.flooders + args.stalled_readers + n,
            room: rooms + n,
            room_name: format!("{}-{run_id}-idle-{n}", args.room_prefix),
            username: format!("lgi{n}"),
            rate: args.rate,
            answer_ratio: 0.0,
            role: Role::Idle,
        });
    }

    // Connect everyone first, a bounded number at a time, so the measured phase is steady.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.connect_concurrency.max(1)));
    let mut connecting = Vec::new();
    for plan in plans {
        let url = args.url.clone();
        let semaphore = semaphore.clone();
        let tracker = tracker.clone();
        let bar = bar.clone();
        connecting.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await.ok();
            let result = client::connect(&url, plan, &tracker).await;
            bar.inc(1);
            result
        }));
    }
    let mut connected = Vec::new();
    let mut idle = Vec::new();
    for task in connecting {
        match task.await {
            Ok(Some(client)) if client.role() == Role::Idle => idle.push(client),
            Ok(Some(client)) => connected.push(client),
            _ => {}
        }
    }
    bar.finish_and_clear();
    let opened = connected
        .iter()
        .filter(|c| c.role() == Role::Player)
        .count();
    let attackers = args.flooders + args.stalled_readers;
    if args.clients > 0 {
        eprintln!("{opened} connected, {} failed", args.clients - opened);
    }
    if attackers > 0 {
        eprintln!(
            "{} of {attackers} flooder(s) and stalled reader(s) connected",
            connected.len() - opened
        );
    }
    let idle_opened = idle.len();
    if args.idle_clients > 0 {
        eprintln!(
            "{idle_opened} idle clients connected, {} failed",
            args.idle_clients - idle_opened
        );
    }
    if args.clients == 0 {
        let until = Instant::now() + Duration::from_secs_f64(args.seconds);
        let held = hold_idle(idle, until).await;
        println!("{}", idle_summary(args.idle_clients, idle_opened, held));
        return Ok(idle_opened == args.idle_clients && held == idle_opened);
    }
    if opened == 0 {
        return Err(format!("no client could connect to {}", args.url));
    }

    let send_for = Duration::from_secs_f64(args.seconds);
    let drain_for = Duration::from_secs_f64(args.drain_seconds);
    let started = Instant::now();
    tracker.start_sending(started);
    let progress = ProgressBar::new((args.seconds * 10.0) as u64).with_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_prefix("sending");
    let ticker = {
        let progress = progress.clone();
        let tracker = tracker.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            loop {
                interval.tick().await;
                progress.set_position((started.elapsed().as_secs_f64() * 10.0) as u64);
                progress.set_message(tracker.progress_line());
            }
        })
    };

    let holding = tokio::spawn(hold_idle(idle, started + send_for + drain_for));
    let tasks: Vec<_> = connected
        .into_iter()
        .map(|client| {
            let tracker = tracker.clone();
            let answers = answers.clone();
            tokio::spawn(client.run(
                tracker,
                answers,
                started + send_for,
                started + send_for + drain_for,
            ))
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let held = holding.await.unwrap_or(0);
    ticker.abort();
    progress.finish_and_clear();

    let report = tracker.report(
        args.clients,
        opened,
        started.elapsed().min(send_for + drain_for),
        send_for,
        FloodExpectation {
            burst: args.expect_burst,
            rate: args.expect_rate,
        },
    );
    println!("{}", report.human());
    if args.idle_clients > 0 {
        println!("{}", idle_summary(args.idle_clients, idle_opened, held));
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report.to_json(&report::RunConfig {
            url: args.url.clone(),
            clients: args.clients,
            seconds: args.seconds,
            rate: args.rate,
            room_size,
            answer_ratio: args.answer_ratio,
        }))
        .map_err(|err| err.to_string())?;
        std::fs::write(path, json + "\n")
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    Ok(report.passed() && idle_opened == args.idle_clients && held == idle_opened)
}

/// Holds the idle clients' connections until `until`; returns how many lasted that long.
async fn hold_idle(idle: Vec<client::Client>, until: Instant) -> usize {
    let tasks: Vec<_> = idle
        .into_iter()
        .map(|client| tokio::spawn(client.hold(until)))
        .collect();
    let mut held = 0;
    for task in tasks {
        if matches!(task.await, Ok(true)) {
            held += 1;
        }
    }
    held
}

fn idle_summary(requested: usize, opened: usize, held: usize) -> String {
    format!(
        "idle clients: {opened} of {requested} connected, {held} held open to the end, {} dropped",
        opened - held
    )
}
