//! The handler: `$connect`, `$disconnect`, messages, and timers.
//!
//! Each message goes one way: parse ([`crate::protocol`]) → decide ([`quiz_core`]) → persist
//! ([`quiz_store`], the game with a conditional write) → broadcast ([`crate::broadcast`]), and
//! when the write set a new wake-up, schedule a timer ([`crate::timers`]). A timer takes the
//! same path with the clock as its only input ([`App::fire_timer`]).
//! The handler never fails an invocation because of what a client sent: a bad frame gets an
//! error frame back through the route response, and nothing else happens.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::LambdaEvent;
use quiz_core::bots::MAX_BOTS;
use quiz_core::game::{
    BotRefusal, Game, GameEvent, Millis, Rules, Transition, Verdict, VoteKind, VoteOutcome,
};
use quiz_core::ranking::{Period, Ranking};
use quiz_core::words::ALL_THEMES;
use quiz_store::{
    refusal_window, update_loaded_game, Admission, Binding, ChatLine, Connection, ConnectionId,
    LoadedGame, MessageRate, NewChatLine, Report, Room, RoomMember, Store, StoreError, Updated,
    MAX_REFUSALS_PER_WINDOW,
};

use crate::broadcast::{broadcast, BroadcastReport, ConnectionPoster, PostErrorKind, RetryBudget};
use crate::config::{DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SEC};
use crate::protocol::{
    self, chat_frame, error_frame, history_frame, notice_frame, ranking_frame, slow_down_frame,
    state_frame, themes_frame, ClientMessage, FrameError, HistoryLine, Presence, StateReason,
    WordReport, RANKING_SIZE,
};
use crate::tally::{self, TalliedStore, Tally};
use crate::timers::{ScheduleError, Timer, TimerQueue};

/// The room a connection joins when its URL names none.
pub const DEFAULT_ROOM: &str = "general";
/// Connections remembered per warm Lambda instance before the cache is cleared.
const CONNECTION_CACHE_LIMIT: usize = 10_000;
/// How long chat lines are kept before DynamoDB's TTL deletes them.
const CHAT_RETENTION_SECS: u64 = 7 * 24 * 60 * 60;

/// The handler with its long-lived parts: the store, the poster, the timer queue, the rules,
/// and a cache of named connections (a connection's room and name never change once set, so a
/// warm instance may remember them and skip a read).
pub struct App<S, P, T> {
    store: TalliedStore<S>,
    poster: P,
    timers: T,
    rules: Rules,
    message_rate: MessageRate,
    management_endpoint: Option<String>,
    connections: Mutex<HashMap<ConnectionId, Connection>>,
    /// Retries of throttled posts this instance may still make.
    retry_budget: RetryBudget,
}

/// What one event did, for the log line.
struct Handled {
    response: ApiGatewayProxyResponse,
    outcome: &'static str,
    room: Option<Room>,
}

impl Handled {
    fn new(status: i64, body: Option<String>, outcome: &'static str, room: Option<Room>) -> Self {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = status;
        response.body = body.map(Body::Text);
        Handled {
            response,
            outcome,
            room,
        }
    }

    fn reply(body: String, outcome: &'static str, room: &Room) -> Self {
        Handled::new(200, Some(body), outcome, Some(room.clone()))
    }

    fn silent(outcome: &'static str, room: &Room) -> Self {
        Handled::new(200, None, outcome, Some(room.clone()))
    }

    fn frame_error(err: &FrameError, room: Option<Room>) -> Self {
        Handled::new(
            200,
            Some(error_frame(err.code(), &err.to_string())),
            "bad_frame",
            room,
        )
    }

    fn store_error(err: &StoreError, room: Option<Room>) -> Self {
        let (code, message) = if err.is_retryable() {
            ("try_again", "the game is busy; send that again in a moment")
        } else {
            (
                "server_error",
                "something went wrong on the server; try again later",
            )
        };
        Handled::new(200, Some(error_frame(code, message)), "store_error", room)
    }
}

/// What a timer did, for the log line and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOutcome {
    /// The clock changed the game: saved, broadcast, next timer scheduled.
    Fired,
    /// Nothing is due (the round moved on, a duplicate delivery, another game, a paused
    /// game): nothing written or posted, and nothing scheduled unless redelivered.
    Stale,
    /// Delivered before its instant (a wake-up beyond SQS's longest delay): sent again.
    Early,
    /// The room has no connections: the timer chain ends here; the next player's message
    /// applies the clock.
    NobodyHere,
    /// Another write to the game won the race and left nothing due: its writer applied the
    /// clock and scheduled what it set.
    Overtaken,
}

impl TimerOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TimerOutcome::Fired => "fired",
            TimerOutcome::Stale => "stale",
            TimerOutcome::Early => "early",
            TimerOutcome::NobodyHere => "nobody_here",
            TimerOutcome::Overtaken => "overtaken",
        }
    }
}

/// Why a timer must be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// What a move in the game read before deciding: who is in the room (the sender always
/// among them) and the room's game, if it has one yet (or one that cannot be read, which the
/// move restarts).
struct RoomView {
    members: Members,
    game: LoadedGame,
}

/// A room's connections as one Query listed them, with the sender always among them (the
/// room index is eventually consistent, and a connection that just joined must still get its
/// own echo and state).
struct Members {
    list: Vec<RoomMember>,
}

impl Members {
    fn new(mut list: Vec<RoomMember>, sender: Option<&Connection>) -> Self {
        if let Some(sender) = sender {
            if !list.iter().any(|member| member.id == sender.id) {
                list.push(RoomMember {
                    id: sender.id.clone(),
                    named: sender.username.is_some(),
                });
            }
        }
        Members { list }
    }

    fn ids(&self) -> Vec<ConnectionId> {
        self.list.iter().map(|member| member.id.clone()).collect()
    }

    /// Players and spectators, with `named` the sender's name as this message knows it (it
    /// may have bound one since the index was written).
    fn presence(&self, sender: Option<(&ConnectionId, bool)>) -> Presence {
        let online = self
            .list
            .iter()
            .filter(|member| match sender {
                Some((id, named)) if member.id == *id => named,
                _ => member.named,
            })
            .count();
        Presence {
            online,
            spectators: self.list.len() - online,
        }
    }
}

/// The frames a change shows the room, and the chat lines bots won with.
struct Shown {
    frames: Vec<String>,
    bot_lines: Vec<NewChatLine>,
}

/// The connection id a bot's chat lines are kept under (bots hold no connection).
const BOT_CONNECTION: &str = "bot";

/// A game write and the timer it calls for, if it set a new wake-up.
struct Change<T> {
    updated: Updated<T>,
    wake: Option<Timer>,
}

impl<S: Store, P: ConnectionPoster, T: TimerQueue> App<S, P, T> {
    /// `management_endpoint` overrides the `https://{domainName}/{stage}` of each event.
    pub fn new(
        store: S,
        poster: P,
        timers: T,
        rules: Rules,
        management_endpoint: Option<String>,
    ) -> Self {
        App {
            store: TalliedStore(store),
            poster,
            timers,
            rules,
            message_rate: MessageRate::new(DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SEC),
            management_endpoint,
            connections: Mutex::new(HashMap::new()),
            retry_budget: RetryBudget::new(),
        }
    }

    /// Limits each connection to `rate` (default: a burst of 10, then 3 messages a second).
    pub fn with_message_rate(mut self, rate: MessageRate) -> Self {
        self.message_rate = rate;
        self
    }

    pub fn store(&self) -> &S {
        &self.store.0
    }

    pub fn poster(&self) -> &P {
        &self.poster
    }

    pub fn timers(&self) -> &T {
        &self.timers
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Handles one API Gateway WebSocket event. Never returns an error for client input.
    pub async fn handle(
        &self,
        event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    ) -> Result<ApiGatewayProxyResponse, lambda_runtime::Error> {
        let started = Instant::now();
        let request = event.payload;
        let context = &request.request_context;
        let route = context
            .route_key
            .clone()
            .or_else(|| context.event_type.clone())
            .unwrap_or_default();
        let Some(connection_id) = context.connection_id.clone().map(ConnectionId) else {
            tracing::error!(route, "event without a connection id");
            return Ok(Handled::new(400, None, "no_connection_id", None).response);
        };
        let now = event_time(context.request_time_epoch);

        let (handled, tally) = tally::scope(async {
            match (route.as_str(), context.event_type.as_deref()) {
                ("$connect", _) | (_, Some("CONNECT")) => {
                    self.connect(&connection_id, &request, now).await
                }
                ("$disconnect", _) | (_, Some("DISCONNECT")) => {
                    self.disconnect(&connection_id).await
                }
                _ => self.message(&connection_id, &request, now).await,
            }
        })
        .await;
        let Tally {
            store_ok,
            store_failed,
            posts_delivered,
            posts_gone,
            posts_throttled,
            posts_failed,
            posts_retried,
        } = tally;
        tracing::info!(
            connection_id = %connection_id,
            room = handled.room.as_ref().map(|r| r.0.as_str()).unwrap_or(""),
            route,
            outcome = handled.outcome,
            store_ok,
            store_failed,
            posts_delivered,
            posts_gone,
            posts_throttled,
            posts_failed,
            posts_retried,
            latency_ms = started.elapsed().as_secs_f64() * 1_000.0,
            "handled"
        );
        Ok(handled.response)
    }

    async fn connect(
        &self,
        id: &ConnectionId,
        request: &ApiGatewayWebsocketProxyRequest,
        now: Millis,
    ) -> Handled {
        let query = &request.query_string_parameters;
        let room = match query.first("room") {
            None => Ok(DEFAULT_ROOM.to_owned()),
            Some(raw) => protocol::room(raw),
        };
        let username = query.first("username").map(protocol::username).transpose();
        let theme = query
            .first("theme")
            .map(|raw| protocol::theme(raw, &self.rules))
            .transpose();
        let (room, username, theme) = match (room, username, theme) {
            (Ok(room), Ok(username), Ok(theme)) => (Room(room), username, theme),
            (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => {
                return Handled::new(400, Some(err.to_string()), "refused", None)
            }
        };
        let connection = Connection::new(id.clone(), room.clone(), username, now).with_theme(theme);
        // A failed store request is logged where it fails (`tally`), with its kind.
        if self.store.put_connection(&connection).await.is_err() {
            return Handled::new(500, None, "store_error", Some(room));
        }
        self.remember(connection);
        Handled::silent("connected", &room)
    }

    async fn disconnect(&self, id: &ConnectionId) -> Handled {
        let room = self.forget(id).map(|c| c.room);
        match self.store.remove_connection(id).await {
            Ok(()) => Handled::new(200, None, "disconnected", room),
            Err(_) => Handled::new(200, None, "store_error", room),
        }
    }

    async fn message(
        &self,
        id: &ConnectionId,
        request: &ApiGatewayWebsocketProxyRequest,
        now: Millis,
    ) -> Handled {
        if request.is_base64_encoded {
            return Handled::frame_error(&FrameError::Binary, None);
        }
        let body = request.body.as_deref().unwrap_or_default();
        let message = match protocol::parse_frame(body) {
            Ok(message) => message,
            Err(err) => return Handled::frame_error(&err, None),
        };
        // A connection this instance knows takes its allowance with the message's own reads;
        // for any other, the allowance's write reads its row (room and name) too.
        let (connection, decided) = match self.cached(id) {
            Some(connection) => (connection, None),
            None => match self
                .store
                .admit_message(id, now.saturating_mul(1_000), self.message_rate)
                .await
            {
                Ok(admitted) => {
                    self.remember(admitted.connection.clone());
                    (admitted.connection, Some(admitted.decision))
                }
                Err(StoreError::NotFound { .. }) => return not_connected(None),
                Err(err) => return Handled::store_error(&err, None),
            },
        };
        let endpoint = self.endpoint(request);
        let room = connection.room.clone();
        let result = match message {
            ClientMessage::Chat { username, content } => {
                self.chat(&connection, decided, username, content, &endpoint, now)
                    .await
            }
            ClientMessage::Hint => {
                self.vote(&connection, decided, VoteKind::Hint, &endpoint, now)
                    .await
            }
            ClientMessage::GiveUp => {
                self.vote(&connection, decided, VoteKind::GiveUp, &endpoint, now)
                    .await
            }
            ClientMessage::State => {
                let reply = self.send_state(&connection, &endpoint, now);
                self.admitted_then(&connection, decided, &endpoint, now, reply)
                    .await
            }
            ClientMessage::Join {
                username,
                room: wanted,
            } => {
                let reply = self.join(connection.clone(), username, wanted, &endpoint, now);
                self.admitted_then(&connection, decided, &endpoint, now, reply)
                    .await
            }
            ClientMessage::History { limit } => {
                let reply = self.history(&connection, limit);
                self.admitted_then(&connection, decided, &endpoint, now, reply)
                    .await
            }
            ClientMessage::Themes => {
                let reply =
                    async { Ok(Handled::reply(themes_frame(&self.rules), "themes", &room)) };
                self.admitted_then(&connection, decided, &endpoint, now, reply)
                    .await
            }
            ClientMessage::Ranking { period } => {
                self.ranking(&connection, decided, period, &endpoint, now)
                    .await
            }
            ClientMessage::Report(report) => {
                self.report(&connection, decided, report, &endpoint, now)
                    .await
            }
            ClientMessage::AddBot { level } => {
                self.seat(&connection, decided, Some(level), &endpoint, now)
                    .await
            }
            ClientMessage::RemoveBot => self.seat(&connection, decided, None, &endpoint, now).await,
        };
        result.unwrap_or_else(|err| Handled::store_error(&err, Some(room)))
    }

    /// Runs `reply` (not started until then) once the message is within the allowance.
    async fn admitted_then(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        endpoint: &Option<String>,
        now: Millis,
        reply: impl Future<Output = Result<Handled, StoreError>>,
    ) -> Result<Handled, StoreError> {
        match self.admit(connection, decided, endpoint, now).await? {
            Some(refused) => Ok(refused),
            None => reply.await,
        }
    }

    /// What a move in the game reads, all in one round trip: the sender's allowance (unless
    /// already taken), the room's connections and the room's game. `Err` is the reply when
    /// the message is refused.
    async fn admit_and_read(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Result<RoomView, Handled>, StoreError> {
        let room = &connection.room;
        let (admission, members, game) = tokio::join!(
            self.admit(connection, decided, endpoint, now),
            self.store.room_members(room),
            self.store.load_game(room)
        );
        if let Some(refused) = admission? {
            return Ok(Err(refused));
        }
        Ok(Ok(RoomView {
            members: Members::new(members?, Some(connection)),
            game: LoadedGame::from_load(game)?,
        }))
    }

    /// Replies with the state, or broadcasts it to the room when time changed it.
    async fn send_state(
        &self,
        connection: &Connection,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        let Change { updated, wake } = self
            .update(room, connection, endpoint, now, |game, rules| {
                game.player_seen(rules, now)
            })
            .await?;
        if shown(&updated, &wake, &updated.outcome) {
            // Who is here is read only for a broadcast, which needs the list anyway.
            let members = Members::new(self.store.room_members(room).await?, Some(connection));
            let presence = members.presence(Some((&connection.id, connection.username.is_some())));
            let shown = self.shown_change(room, &updated.game, &updated.outcome, presence, now);
            self.announce(endpoint, &members.ids(), shown, wake, now)
                .await;
            return Ok(Handled::silent("state_broadcast", room));
        }
        let frame = state_frame(
            &room.0,
            &updated.game,
            &self.rules,
            StateReason::Reply,
            None,
        );
        Ok(Handled::reply(frame, "state", room))
    }

    /// A chat line: one round trip of reads, then the echo goes out while the line and any
    /// change to the game are written; the state follows once the game's write succeeded.
    async fn chat(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        username: Option<String>,
        content: String,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        let RoomView { members, game } = match self
            .admit_and_read(connection, decided, endpoint, now)
            .await?
        {
            Ok(view) => view,
            Err(refused) => return Ok(refused),
        };
        let player = match self.player_name(connection, username).await? {
            Ok(name) => name,
            Err(reply) => return Ok(reply),
        };
        let ids = members.ids();
        let presence = members.presence(Some((&connection.id, true)));
        let online = presence.online;
        // The line is written before the game's write settles, with the verdict the game as
        // read gives; a lost race that changes it corrects the line afterwards.
        let expected_correct = game.game().is_some_and(|game| {
            let mut probe = game.clone();
            let submitted = probe.submit(&self.rules, &player, &content, online, now);
            matches!(submitted.verdict, Verdict::Correct { .. })
        });
        let line = NewChatLine {
            room: room.clone(),
            username: player.clone(),
            content: content.clone(),
            connection_id: connection.id.clone(),
            correct: expected_correct,
            sent_at: now,
            expires_at: Some(quiz_store::epoch_seconds(now) + CHAT_RETENTION_SECS),
        };
        let echo = [chat_frame(&player, &content)];
        let (echoed, decided, saved) = tokio::join!(
            self.broadcast(endpoint, &ids, &echo, now),
            self.update_loaded(
                room,
                Some(connection),
                game,
                endpoint,
                now,
                |game, rules| { game.submit(rules, &player, &content, online, now) }
            ),
            self.store.append_chat(&line)
        );
        let Change { updated, wake } = match decided {
            Ok(change) => change,
            Err(err) => {
                // Shown and stored as a chat line, but not judged: the player may send it again.
                if let Ok(stored) = &saved {
                    self.correct_chat_line(stored, false).await;
                }
                return Err(err);
            }
        };
        let verdict = &updated.outcome.verdict;
        if shown(&updated, &wake, &updated.outcome.events) {
            // After the echo, so each connection sees the chat line before the state it caused.
            let still_here: Vec<ConnectionId> = ids
                .iter()
                .filter(|id| !echoed.gone.contains(id))
                .cloned()
                .collect();
            let shown =
                self.shown_change(room, &updated.game, &updated.outcome.events, presence, now);
            self.announce(endpoint, &still_here, shown, wake, now).await;
        }
        // A failed write was logged as it failed; the line was shown, only history misses it.
        if let Ok(stored) = saved {
            self.correct_chat_line(&stored, matches!(verdict, Verdict::Correct { .. }))
                .await;
        }
        let (outcome, reply) = verdict_reply(verdict);
        Ok(Handled::new(200, reply, outcome, Some(room.clone())))
    }

    /// Makes a stored line's verdict `correct` if it is not already.
    async fn correct_chat_line(&self, stored: &ChatLine, correct: bool) {
        if stored.correct == correct {
            return;
        }
        // A failure is logged as it happens; history keeps the first verdict.
        let _ = self.store.set_chat_correct(stored, correct).await;
    }

    async fn join(
        &self,
        connection: Connection,
        username: String,
        room: Option<String>,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        if let Some(wanted) = room.filter(|r| *r != connection.room.0) {
            let message = format!(
                "this connection is in room {:?}; reconnect with ?room={wanted} to play there",
                connection.room.0
            );
            return Ok(Handled::reply(
                error_frame("room_mismatch", &message),
                "room_mismatch",
                &connection.room,
            ));
        }
        let joined = match self.player_name(&connection, Some(username)).await? {
            Ok(name) => Connection {
                username: Some(name),
                ..connection
            },
            Err(reply) => return Ok(reply),
        };
        self.send_state(&joined, endpoint, now).await
    }

    async fn vote(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        kind: VoteKind,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        let Some(player) = connection.username.clone() else {
            return Ok(join_first(room, "or a chat line before voting"));
        };
        let voted = match self
            .player_move(connection, decided, endpoint, now, |game, rules, online| {
                game.vote(rules, kind, &player, online, now)
            })
            .await?
        {
            Ok(voted) => voted,
            Err(refused) => return Ok(refused),
        };
        let (outcome, reply) = vote_reply(&voted);
        Ok(Handled::new(200, Some(reply), outcome, Some(room.clone())))
    }

    /// A named player's move on the game (a vote, seating a bot): the allowance, the room and
    /// the game in one round trip, then `apply` (given the players online) with a conditional
    /// save, and the room shown what changed. `Err` is the reply when the message is refused.
    async fn player_move<O>(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        endpoint: &Option<String>,
        now: Millis,
        mut apply: impl FnMut(&mut Game, &Rules, usize) -> Transition<O>,
    ) -> Result<Result<O, Handled>, StoreError> {
        let room = &connection.room;
        let RoomView { members, game } = match self
            .admit_and_read(connection, decided, endpoint, now)
            .await?
        {
            Ok(view) => view,
            Err(refused) => return Ok(Err(refused)),
        };
        let presence = members.presence(Some((&connection.id, true)));
        let Change { updated, wake } = self
            .update_loaded(
                room,
                Some(connection),
                game,
                endpoint,
                now,
                |game, rules| apply(game, rules, presence.online),
            )
            .await?;
        if shown(&updated, &wake, &updated.outcome.events) {
            let shown =
                self.shown_change(room, &updated.game, &updated.outcome.events, presence, now);
            self.announce(endpoint, &members.ids(), shown, wake, now)
                .await;
        }
        Ok(Ok(updated.outcome.outcome))
    }

    /// Seats a bot of `level`, or with `None` removes the newest; read and written like a vote.
    async fn seat(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        level: Option<u8>,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        if connection.username.is_none() {
            return Ok(join_first(room, "before adding or removing a bot"));
        }
        let seated = match self
            .player_move(
                connection,
                decided,
                endpoint,
                now,
                |game, rules, _| match level {
                    Some(level) => game.add_bot(rules, level, now),
                    None => game.remove_bot(rules, now),
                },
            )
            .await?
        {
            Ok(seated) => seated,
            Err(refused) => return Ok(refused),
        };
        let (code, frame) = match &seated {
            Ok(name) if level.is_some() => (
                "bot_added",
                notice_frame("bot_added", &format!("{name} joined the room")),
            ),
            Ok(name) => (
                "bot_removed",
                notice_frame("bot_removed", &format!("{name} left the room")),
            ),
            Err(BotRefusal::TooMany) => (
                "too_many_bots",
                error_frame(
                    "too_many_bots",
                    &format!("a room holds at most {MAX_BOTS} bots"),
                ),
            ),
            // The level was checked when the frame was read.
            Err(BotRefusal::NoSuchLevel) => (
                "invalid_level",
                error_frame("invalid_level", &BotRefusal::NoSuchLevel.to_string()),
            ),
            Err(BotRefusal::NoBots) => (
                "no_bots",
                error_frame("no_bots", "the room has no bot to remove"),
            ),
        };
        Ok(Handled::new(200, Some(frame), code, Some(room.clone())))
    }

    /// The room's ranking: the allowance and one read of the game, at once.
    async fn ranking(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        period: Period,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        let game = match self
            .admit_and_load(connection, decided, endpoint, now)
            .await?
        {
            Ok(game) => game,
            Err(refused) => return Ok(refused),
        };
        let week = self.rules.config.week;
        let top = game
            .game()
            .map(|game| game.ranking().top(period, now, week, RANKING_SIZE))
            .unwrap_or_default();
        let frame = ranking_frame(
            &room.0,
            period,
            Ranking::since(period, now, week),
            week.utc_offset_minutes,
            &top,
        );
        Ok(Handled::reply(frame, "ranking", room))
    }

    /// A word report: stored with the room, the name, the time and the round's pattern.
    async fn report(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        WordReport { word, kind, reason }: WordReport,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Handled, StoreError> {
        let room = &connection.room;
        let Some(username) = connection.username.clone() else {
            return Ok(join_first(room, "before reporting a word"));
        };
        let pattern = match self
            .admit_and_load(connection, decided, endpoint, now)
            .await?
        {
            Ok(game) => game,
            Err(refused) => return Ok(refused),
        };
        let pattern = pattern
            .game()
            .map(|game| game.pattern().to_owned())
            .unwrap_or_default();
        let report = Report {
            room: room.clone(),
            username,
            connection_id: connection.id.clone(),
            word,
            kind,
            reason,
            pattern,
            reported_at: now,
        };
        self.store.save_report(&report).await?;
        tracing::info!(
            room = %report.room,
            username = report.username,
            word = report.word,
            kind = ?report.kind,
            reason = report.reason.as_deref().unwrap_or(""),
            pattern = report.pattern,
            "word reported"
        );
        Ok(Handled::reply(
            notice_frame("report_received", "thanks: the report is kept for review"),
            "report_received",
            room,
        ))
    }

    /// The sender's allowance and the room's game, read at once. `Err` is the reply when the
    /// message is refused.
    async fn admit_and_load(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Result<LoadedGame, Handled>, StoreError> {
        let (admission, game) = tokio::join!(
            self.admit(connection, decided, endpoint, now),
            self.store.load_game(&connection.room)
        );
        if let Some(refused) = admission? {
            return Ok(Err(refused));
        }
        Ok(Ok(LoadedGame::from_load(game)?))
    }

    async fn history(&self, connection: &Connection, limit: usize) -> Result<Handled, StoreError> {
        let lines = self.store.recent_chat(&connection.room, limit).await?;
        let lines: Vec<HistoryLine<'_>> = lines
            .iter()
            .map(|line| HistoryLine {
                username: &line.username,
                content: &line.content,
                sent_at: &line.sent_at,
                correct: line.correct,
            })
            .collect();
        Ok(Handled::reply(
            history_frame(&connection.room.0, &lines),
            "history",
            &connection.room,
        ))
    }

    /// Takes one message from the connection's allowance. `Some` is the reply when the
    /// message is over the limit (`slow_down`; a connection that keeps going is closed) or the
    /// connection is gone: then nothing else happens.
    /// `decided` is the decision when it was already taken (with the connection's read).
    async fn admit(
        &self,
        connection: &Connection,
        decided: Option<Admission>,
        endpoint: &Option<String>,
        now: Millis,
    ) -> Result<Option<Handled>, StoreError> {
        let id = &connection.id;
        let room = &connection.room;
        let decision = match decided {
            Some(decision) => decision,
            None => match self
                .store
                .admit_message(id, now.saturating_mul(1_000), self.message_rate)
                .await
            {
                Ok(admitted) => admitted.decision,
                Err(StoreError::NotFound { .. }) => {
                    self.forget(id);
                    return Ok(Some(not_connected(Some(room.clone()))));
                }
                Err(err) => return Err(err),
            },
        };
        let retry_after_us = match decision {
            Admission::Admitted => return Ok(None),
            Admission::Refused { retry_after_us } => retry_after_us,
        };
        // A failure is logged as it happens; the refusal still stands.
        let refusals = self
            .store
            .count_refusal(id, refusal_window(now))
            .await
            .unwrap_or_default();
        if refusals < MAX_REFUSALS_PER_WINDOW {
            return Ok(Some(Handled::reply(
                slow_down_frame(retry_after_us),
                "slow_down",
                room,
            )));
        }
        tracing::warn!(connection_id = %id, refusals, "closing a connection that keeps flooding");
        let Some(endpoint) = endpoint else {
            return Ok(Some(Handled::reply(
                slow_down_frame(retry_after_us),
                "slow_down",
                room,
            )));
        };
        // The last word goes out before the close: a route response would come too late.
        let last_word = error_frame(
            "flooding",
            "too many messages over the limit: this connection is closed",
        );
        let said = self.poster.post(endpoint, id, &last_word).await;
        tally::post("flooding", &said);
        let closed = self.poster.disconnect(endpoint, id).await;
        tally::post("close", &closed);
        match closed {
            Ok(()) => {}
            Err(err) if err.kind() == PostErrorKind::Gone => {}
            // The row stays, so the next frames are refused and counted again.
            Err(_) => return Ok(Some(Handled::silent("flooding", room))),
        }
        self.forget(id);
        // A failure is logged as it happens; the row expires with its TTL.
        let _ = self.store.remove_connection(id).await;
        Ok(Some(Handled::silent("disconnected_flooding", room)))
    }

    /// The name this connection plays under: its bound name, binding `claimed` on first use.
    /// `Err` carries the error reply when the claim conflicts or no name is known.
    async fn player_name(
        &self,
        connection: &Connection,
        claimed: Option<String>,
    ) -> Result<Result<String, Handled>, StoreError> {
        let room = &connection.room;
        match (&connection.username, claimed) {
            (Some(bound), None) => Ok(Ok(bound.clone())),
            (Some(bound), Some(claimed)) if *bound == claimed => Ok(Ok(claimed)),
            (Some(bound), Some(_)) => Ok(Err(name_taken(bound, room))),
            (None, None) => Ok(Err(Handled::reply(
                error_frame(
                    "join_first",
                    "this connection has no username yet; send one",
                ),
                "join_first",
                room,
            ))),
            (None, Some(claimed)) => match self.store.bind_username(&connection.id, &claimed).await
            {
                Ok(Binding::Bound(bound)) => {
                    self.remember(bound);
                    Ok(Ok(claimed))
                }
                Ok(Binding::Taken(bound)) => Ok(Err(name_taken(&bound, room))),
                Err(StoreError::NotFound { .. }) => Ok(Err(Handled::reply(
                    error_frame("not_connected", "this connection expired; reconnect"),
                    "not_connected",
                    room,
                ))),
                Err(err) => Err(err),
            },
        }
    }

    /// Loads the room's game and applies `apply` (see [`App::update_loaded`]).
    async fn update<O>(
        &self,
        room: &Room,
        by: &Connection,
        endpoint: &Option<String>,
        now: Millis,
        apply: impl FnMut(&mut Game, &Rules) -> O,
    ) -> Result<Change<O>, StoreError> {
        let loaded = LoadedGame::from_load(self.store.load_game(room).await)?;
        self.update_loaded(room, Some(by), loaded, endpoint, now, apply)
            .await
    }

    /// Applies `apply` to the room's game as already read (a lost race reads it again), and
    /// saves it if it changed; the change calls for a timer when it set a wake-up the game did
    /// not have before. A room with no game yet gets one in the theme `by` (the connection whose
    /// message this is) asked for; a game that cannot be read is restarted with its scores (see
    /// [`quiz_store::update_game`]).
    async fn update_loaded<O>(
        &self,
        room: &Room,
        by: Option<&Connection>,
        loaded: LoadedGame,
        endpoint: &Option<String>,
        now: Millis,
        mut apply: impl FnMut(&mut Game, &Rules) -> O,
    ) -> Result<Change<O>, StoreError> {
        let theme = by
            .and_then(|connection| connection.theme.as_deref())
            .unwrap_or(ALL_THEMES);
        let (id, seed) = (u64::from(rand::random::<u32>()), rand::random::<u64>());
        let rules = &self.rules;
        // Whether this attempt's game was just created: its wake-up is new too.
        let created = AtomicBool::new(false);
        let updated = update_loaded_game(
            &self.store,
            room,
            loaded,
            || {
                created.store(true, Ordering::Relaxed);
                Game::new_in_theme(rules, theme, id, seed, now)
            },
            |game| {
                let before = if created.swap(false, Ordering::Relaxed) {
                    None
                } else {
                    game.next_wake(rules)
                };
                (apply(game, rules), before)
            },
        )
        .await?;
        let (outcome, wake_before) = updated.outcome;
        let updated = Updated {
            outcome,
            game: updated.game,
            changed: updated.changed,
        };
        let wake = match updated.game.next_wake(rules) {
            Some(at) if updated.changed && Some(at) != wake_before => {
                Some(self.timer_for(room, &updated.game, at, endpoint.clone()))
            }
            _ => None,
        };
        Ok(Change { updated, wake })
    }

    fn timer_for(&self, room: &Room, game: &Game, at: Millis, endpoint: Option<String>) -> Timer {
        Timer {
            room: room.0.clone(),
            game_id: game.id(),
            at,
            endpoint,
        }
    }

    /// A timer fired: applies the clock to the room's game if it is due, then broadcasts the
    /// change and schedules the next wake-up, like any other change (see [`TimerOutcome`]).
    ///
    /// A timer acts when its game (same room, same id) has a wake-up at or before `now`,
    /// whichever timer was meant for it: late, repeated and stale deliveries find the game
    /// already up to date and write and post nothing. A timer that is early for its game's
    /// wake-up is sent again. `redelivered` (SQS's receive count above one) means a previous
    /// attempt failed, possibly after its write but before scheduling the next timer: such a
    /// delivery that finds nothing due schedules the game's next wake-up again, so a chain
    /// never ends on an error (duplicates are harmless: all but one find nothing due).
    ///
    /// The same function serves SQS events on AWS and quiz-local's timers.
    pub async fn fire_timer(
        &self,
        timer: &Timer,
        now: Millis,
        redelivered: bool,
    ) -> Result<TimerOutcome, TimerError> {
        let started = Instant::now();
        let (outcome, tally) = tally::scope(self.apply_timer(timer, now, redelivered)).await;
        let Tally {
            store_ok,
            store_failed,
            posts_delivered,
            posts_gone,
            posts_throttled,
            posts_failed,
            posts_retried,
        } = tally;
        tracing::info!(
            room = timer.room,
            route = "timer",
            at = timer.at,
            late_ms = i128::from(now) - i128::from(timer.at),
            outcome = outcome.as_ref().map_or("error", |o| o.as_str()),
            store_ok,
            store_failed,
            posts_delivered,
            posts_gone,
            posts_throttled,
            posts_failed,
            posts_retried,
            latency_ms = started.elapsed().as_secs_f64() * 1_000.0,
            "handled"
        );
        outcome
    }

    async fn apply_timer(
        &self,
        timer: &Timer,
        now: Millis,
        redelivered: bool,
    ) -> Result<TimerOutcome, TimerError> {
        let room = Room(timer.room.clone());
        let endpoint = self
            .management_endpoint
            .clone()
            .or_else(|| timer.endpoint.clone());
        // Both reads at once: one round trip before deciding.
        let (members, game) =
            tokio::join!(self.store.room_members(&room), self.store.load_game(&room));
        let (members, game) = (Members::new(members?, None), LoadedGame::from_load(game)?);
        let presence = members.presence(None);
        let ids = members.ids();
        let mut game = match game {
            LoadedGame::Unreadable { .. } if ids.is_empty() => return Ok(TimerOutcome::NobodyHere),
            // Restarted with its scores, as a player's message would, and announced.
            unreadable @ LoadedGame::Unreadable { .. } => {
                let Change { updated, wake } = self
                    .update_loaded(&room, None, unreadable, &endpoint, now, |game, rules| {
                        game.tick(rules, now)
                    })
                    .await?;
                let shown =
                    self.shown_change(&room, &updated.game, &updated.outcome, presence, now);
                self.announce(&endpoint, &ids, shown, wake, now).await;
                return Ok(TimerOutcome::Fired);
            }
            LoadedGame::Game(game) => Some(game),
            LoadedGame::Absent => None,
        };
        let mut overtaken = false;
        let (game, events) = loop {
            let Some(mut current) = game.filter(|game| game.id() == timer.game_id) else {
                return Ok(TimerOutcome::Stale);
            };
            match current.next_wake(&self.rules) {
                // Paused: nothing until a player speaks.
                None => return Ok(TimerOutcome::Stale),
                Some(at) if at > now => {
                    if overtaken {
                        return Ok(TimerOutcome::Overtaken);
                    }
                    if at == timer.at {
                        self.timers.schedule(timer, now).await?;
                        return Ok(TimerOutcome::Early);
                    }
                    if redelivered && !ids.is_empty() {
                        let again = self.timer_for(&room, &current, at, endpoint.clone());
                        self.timers.schedule(&again, now).await?;
                    }
                    return Ok(TimerOutcome::Stale);
                }
                Some(_) => {}
            }
            let expected = current.version();
            // Bots play only beside a player: with none left in the room, they leave, and
            // nothing more is scheduled.
            if presence.online == 0 && !current.bots().is_empty() {
                let events = current.dismiss_bots();
                match self.store.save_game(&room, &current, Some(expected)).await {
                    Ok(()) => {
                        let shown = self.shown_change(&room, &current, &events, presence, now);
                        self.announce(&endpoint, &ids, shown, None, now).await;
                        return Ok(TimerOutcome::NobodyHere);
                    }
                    Err(StoreError::Conflict { .. }) => {
                        overtaken = true;
                        game = self.store.load_game(&room).await?;
                        continue;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if ids.is_empty() {
                return Ok(TimerOutcome::NobodyHere);
            }
            // Due, so the tick changes the game.
            let events = current.tick(&self.rules, now);
            match self.store.save_game(&room, &current, Some(expected)).await {
                Ok(()) => break (current, events),
                // Another write got there first (a chat, a vote, another timer): it may not
                // have applied the clock, so look again.
                Err(StoreError::Conflict { .. }) => {
                    overtaken = true;
                    game = self.store.load_game(&room).await?;
                }
                Err(err) => return Err(err.into()),
            }
        };
        let wake = game
            .next_wake(&self.rules)
            .map(|at| self.timer_for(&room, &game, at, endpoint.clone()));
        let shown = self.shown_change(&room, &game, &events, presence, now);
        let (_, scheduled, _) = tokio::join!(
            self.broadcast(&endpoint, &ids, &shown.frames, now),
            async {
                match &wake {
                    Some(timer) => self.timers.schedule(timer, now).await,
                    None => Ok(()),
                }
            },
            self.keep_bot_lines(&shown.bot_lines)
        );
        // Delivered again, this timer will find nothing due and schedule the next wake-up.
        scheduled?;
        Ok(TimerOutcome::Fired)
    }

    /// What a change shows the room, in order: the line each bot won with (a chat line, as a
    /// player's would be), then the state; and those lines, for the history.
    fn shown_change(
        &self,
        room: &Room,
        game: &Game,
        events: &[GameEvent],
        presence: Presence,
        now: Millis,
    ) -> Shown {
        let bot_lines: Vec<NewChatLine> = events
            .iter()
            .filter_map(|event| match event {
                GameEvent::Solved { player, word, .. } if game.is_bot(player) => {
                    Some(NewChatLine {
                        room: room.clone(),
                        username: player.clone(),
                        content: word.clone(),
                        connection_id: ConnectionId(BOT_CONNECTION.to_owned()),
                        correct: true,
                        sent_at: now,
                        expires_at: Some(quiz_store::epoch_seconds(now) + CHAT_RETENTION_SECS),
                    })
                }
                _ => None,
            })
            .collect();
        let frames = bot_lines
            .iter()
            .map(|line| chat_frame(&line.username, &line.content))
            .chain(std::iter::once(state_frame(
                &room.0,
                game,
                &self.rules,
                StateReason::Changed,
                Some(presence),
            )))
            .collect();
        Shown { frames, bot_lines }
    }

    /// Writes the bots' winning lines into the history; a failure is logged as it happens.
    async fn keep_bot_lines(&self, lines: &[NewChatLine]) {
        for line in lines {
            let _ = self.store.append_chat(line).await;
        }
    }

    /// Broadcasts what a change shows, keeps its bot lines and schedules `wake`, at once.
    async fn announce(
        &self,
        endpoint: &Option<String>,
        ids: &[ConnectionId],
        shown: Shown,
        wake: Option<Timer>,
        now: Millis,
    ) {
        tokio::join!(
            self.broadcast(endpoint, ids, &shown.frames, now),
            self.schedule(wake, now),
            self.keep_bot_lines(&shown.bot_lines)
        );
    }

    async fn schedule(&self, timer: Option<Timer>, now: Millis) {
        let Some(timer) = timer else {
            return;
        };
        if let Err(err) = self.timers.schedule(&timer, now).await {
            // The lazy clock still applies on the room's next message.
            tracing::error!(room = timer.room, at = timer.at, error = %err, "timer not scheduled");
        }
    }

    async fn broadcast(
        &self,
        endpoint: &Option<String>,
        ids: &[ConnectionId],
        frames: &[String],
        now: Millis,
    ) -> BroadcastReport {
        let Some(endpoint) = endpoint else {
            tracing::error!("no management endpoint: the event has no domainName and APIGW_MANAGEMENT_ENDPOINT is not set");
            return BroadcastReport::default();
        };
        let report = broadcast(
            &self.poster,
            &self.store,
            &self.retry_budget,
            endpoint,
            ids,
            frames,
            now,
        )
        .await;
        tracing::debug!(?report, "broadcast");
        report
    }

    fn endpoint(&self, request: &ApiGatewayWebsocketProxyRequest) -> Option<String> {
        if let Some(endpoint) = &self.management_endpoint {
            return Some(endpoint.clone());
        }
        let context = &request.request_context;
        let domain = context.domain_name.as_deref()?;
        let stage = context.stage.as_deref().unwrap_or_default();
        Some(format!("https://{domain}/{stage}"))
    }

    fn cached(&self, id: &ConnectionId) -> Option<Connection> {
        self.lock_cache().get(id).cloned()
    }

    /// Remembers a connection once it has a name: until then another instance may bind one,
    /// which this instance would not see.
    fn remember(&self, connection: Connection) {
        if connection.username.is_none() {
            return;
        }
        let mut cache = self.lock_cache();
        if cache.len() >= CONNECTION_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(connection.id.clone(), connection);
    }

    fn forget(&self, id: &ConnectionId) -> Option<Connection> {
        self.lock_cache().remove(id)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Connection>> {
        self.connections
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Whether a write changed what players see, so the room gets the state: one that set a new
/// wake-up (a new game, a new round, a hint, a resume) always did; one whose only event is the
/// game's bookkeeping (the round heard from a player) is saved and not broadcast.
fn shown<O>(updated: &Updated<O>, wake: &Option<Timer>, events: &[GameEvent]) -> bool {
    updated.changed && (wake.is_some() || events.iter().any(GameEvent::is_seen_by_players))
}

fn not_connected(room: Option<Room>) -> Handled {
    Handled::new(
        200,
        Some(error_frame(
            "not_connected",
            "this connection is not registered (it may have expired); reconnect",
        )),
        "not_connected",
        room,
    )
}

/// The error for a spectator's move that needs a name; `when` ends the message.
fn join_first(room: &Room, when: &str) -> Handled {
    let message = format!("send {{\"action\":\"join\",\"username\":…}} {when}");
    Handled::reply(error_frame("join_first", &message), "join_first", room)
}

fn name_taken(bound: &str, room: &Room) -> Handled {
    let message =
        format!("this connection plays as {bound:?}; open a new connection to use another name");
    Handled::reply(error_frame("name_taken", &message), "name_taken", room)
}

/// How an answer was judged: the log outcome and an optional notice for the sender.
fn verdict_reply(verdict: &Verdict) -> (&'static str, Option<String>) {
    match verdict {
        Verdict::Correct { .. } => ("correct", None),
        Verdict::NotSyllables | Verdict::WrongPattern => ("chat", None),
        Verdict::NotAWord => (
            "not_a_word",
            Some(notice_frame(
                "not_a_word",
                "that fits the pattern but is not in the dictionary",
            )),
        ),
        Verdict::AlreadyAnswered => (
            "already_answered",
            Some(notice_frame(
                "already_answered",
                "that word was already answered",
            )),
        ),
        Verdict::Vote(outcome) => {
            let (outcome, reply) = vote_reply(outcome);
            (outcome, Some(reply))
        }
    }
}

fn vote_reply(outcome: &VoteOutcome) -> (&'static str, String) {
    match outcome {
        VoteOutcome::Counted { votes, needed } => (
            "vote_counted",
            notice_frame(
                "vote_counted",
                &format!("vote counted: {votes} of {needed} needed"),
            ),
        ),
        VoteOutcome::Passed => (
            "vote_passed",
            notice_frame("vote_passed", "the vote passed"),
        ),
        VoteOutcome::AlreadyVoted => (
            "already_voted",
            notice_frame("already_voted", "you already voted this round"),
        ),
        VoteOutcome::NothingToReveal => (
            "nothing_to_reveal",
            notice_frame(
                "nothing_to_reveal",
                "every syllable a hint can show is shown",
            ),
        ),
    }
}

/// The event's request time, or the system clock if the event has none.
fn event_time(request_time_epoch: i64) -> Millis {
    match u64::try_from(request_time_epoch) {
        Ok(ms) if ms > 0 => ms,
        _ => now_millis(),
    }
}

/// The system clock, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
