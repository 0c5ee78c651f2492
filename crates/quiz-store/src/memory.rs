//! [`MemoryStore`]: the four tables as maps in this process, for local play with no AWS and no
//! Java.
//!
//! It keeps DynamoDB's semantics where callers can observe them: a game save is conditional on
//! the version (so [`crate::update_game`] races the same way), binding a username is
//! compare-and-set, chat keys are built by [`crate::chat_sort_key`] exactly as in DynamoDB, and
//! removing a missing row is not an error.
//!
//! One mutex guards all four tables. Each method takes it once, does all its work under it and
//! releases it before returning, never across an `.await`: so a method is as atomic as one
//! DynamoDB request, and safe under many tokio tasks, but every call waits for every other. The
//! work under the lock is what the call reads or writes, not the size of the store: a room's
//! connections come from a per-room index (no walk over every connection), history reads only
//! the lines it returns, and a write first forgets the rooms whose idle time has run out (each
//! room once, oldest first; usually none).
//!
//! # What it keeps
//!
//! The store is meant to run for months in one process, so it holds a bounded amount per room
//! and forgets rooms nobody is in:
//!
//! - **Chat**: the newest [`MEMORY_CHAT_LINES_PER_ROOM`] lines of each room, by sort key; an
//!   older line is dropped when a newer one arrives. That is at least what a `history` request
//!   can ask for. Correcting the verdict of a line already dropped is
//!   [`StoreError::NotFound`], as DynamoDB answers for a deleted item.
//! - **Rooms with no connections** are forgotten once they have had none for the idle time
//!   ([`MemoryStore::with_idle_room_ttl`], [`DEFAULT_IDLE_ROOM_TTL`] by default): their chat
//!   lines *and their game, scores included*, go. A player who comes back later starts a new
//!   game. A room with at least one connection is never forgotten. A room that holds nothing
//!   (its last connection left, no chat line, no game) is dropped at once.
//! - **Reports** are kept apart from the rooms, so an idle room does not take them along
//!   (operators review them later): the newest [`MEMORY_REPORTS_PER_ROOM`] of each room, by
//!   sort key, for the [`MEMORY_REPORT_ROOMS`] rooms reported in most recently; a report in
//!   one more room forgets the room reported in longest ago. At most 1,000,000 reports.
//!
//! Unlike DynamoDB, rows do not expire by their `expiresAt` attribute (it is only recorded): a
//! local server sees every disconnect, so stale connections do not pile up. And a room's
//! connections are listed exactly, where DynamoDB's `room-index` is eventually consistent;
//! callers must not rely on a new connection being listed at once (the handler adds the sender
//! itself).
//!
//! Items as DynamoDB stores them can be imported ([`MemoryStore::import_item`]), read with the
//! DynamoDB store's own codec, so tests hand both stores the same items.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use quiz_core::game::{Game, Millis};

use crate::{
    chat_key_suffix, chat_sort_key, Admission, Binding, ChatLine, Connection, ConnectionId,
    MessageAdmission, MessageRate, Micros, NewChatLine, RateDecision, Report, Room, RoomMember,
    Salvaged, Store, StoreError, TableNames,
};

mod import;

/// How many chat lines [`MemoryStore`] keeps per room: the newest ones, by sort key. At least the
/// most a `history` request serves (the handler's `MAX_HISTORY`, 50).
pub const MEMORY_CHAT_LINES_PER_ROOM: usize = 50;

/// How many reports [`MemoryStore`] keeps per room: the newest ones, by sort key.
pub const MEMORY_REPORTS_PER_ROOM: usize = 1_000;

/// How many rooms' reports [`MemoryStore`] keeps: those reported in most recently. With
/// [`MEMORY_REPORTS_PER_ROOM`], the bound on every report kept.
pub const MEMORY_REPORT_ROOMS: usize = 1_000;

/// How long [`MemoryStore`] keeps a room that has no connections before forgetting it (its chat
/// lines and its game, scores included), unless [`MemoryStore::with_idle_room_ttl`] says
/// otherwise: one hour.
pub const DEFAULT_IDLE_ROOM_TTL: Duration = Duration::from_secs(60 * 60);

/// The store in memory. Clones share the same tables.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    names: Arc<TableNames>,
}

/// What a [`MemoryStore`] holds at one instant (see [`MemoryStore::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Connection rows.
    pub connections: usize,
    /// Rooms with anything in them: connections, chat lines or a game.
    pub rooms: usize,
    /// Of those, rooms with no connection, waiting to be forgotten.
    pub idle_rooms: usize,
    /// Chat lines, in every room.
    pub chat_lines: usize,
    /// Games, in every room.
    pub games: usize,
    /// Word reports, in every room (kept apart from the rooms above).
    pub reports: usize,
}

#[derive(Debug)]
struct Tables {
    users: HashMap<ConnectionId, User>,
    rooms: HashMap<Room, RoomState>,
    /// The rooms with no connection, by the instant they last had one (or, for a room that
    /// never had one, the instant it was first written): the oldest first. Exactly the rooms
    /// whose `idle_since` is set, with that instant.
    idle: BTreeSet<(Instant, Room)>,
    idle_room_ttl: Duration,
    reports: Reports,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            users: HashMap::new(),
            rooms: HashMap::new(),
            idle: BTreeSet::new(),
            idle_room_ttl: DEFAULT_IDLE_ROOM_TTL,
            reports: Reports::default(),
        }
    }
}

/// The `Report` table: each room's newest reports, for the rooms reported in last.
#[derive(Debug, Default)]
struct Reports {
    rooms: HashMap<Room, RoomReports>,
    /// The rooms by when they were last reported in (a count of reports), longest ago first.
    /// Exactly the rooms of `rooms`, each under its `last`.
    recency: BTreeMap<u64, Room>,
    counter: u64,
}

#[derive(Debug)]
struct RoomReports {
    /// When the room was last reported in, as a key of [`Reports::recency`].
    last: u64,
    /// By sort key: a BTreeMap is the table's key order. At most [`MEMORY_REPORTS_PER_ROOM`].
    by_key: BTreeMap<String, Report>,
}

impl Reports {
    fn contains(&self, room: &Room, key: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|reports| reports.by_key.contains_key(key))
    }

    /// Stores a report under its key, dropping the room's oldest past the cap and the room
    /// reported in longest ago past the room cap.
    fn put(&mut self, key: String, report: Report) {
        self.counter = self.counter.wrapping_add(1);
        let now = self.counter;
        let room = report.room.clone();
        let reports = self
            .rooms
            .entry(room.clone())
            .or_insert_with(|| RoomReports {
                last: now,
                by_key: BTreeMap::new(),
            });
        self.recency.remove(&reports.last);
        reports.last = now;
        self.recency.insert(now, room);
        reports.by_key.insert(key, report);
        while reports.by_key.len() > MEMORY_REPORTS_PER_ROOM {
            reports.by_key.pop_first();
        }
        while self.rooms.len() > MEMORY_REPORT_ROOMS {
            let Some((_, forgotten)) = self.recency.pop_first() else {
                break;
            };
            self.rooms.remove(&forgotten);
        }
    }
}

/// A row of the `User` table.
#[derive(Debug)]
struct User {
    connection: Connection,
    /// What the row's flood-control attributes hold.
    allowance_at: Option<Micros>,
    refusals: Option<(u64, u32)>,
}

/// Everything one room holds.
#[derive(Debug, Default)]
struct RoomState {
    /// The room index: its connections, sorted as the `room-index` sort key sorts them.
    connections: BTreeSet<ConnectionId>,
    /// Lines by sort key: a BTreeMap is the Chat table's key order. At most
    /// [`MEMORY_CHAT_LINES_PER_ROOM`].
    chat: BTreeMap<String, ChatLine>,
    game: Option<Game>,
    /// A game item imported as DynamoDB stored it that does not parse (see `import`); then
    /// `game` is `None`.
    unreadable_game: Option<import::Unreadable>,
    /// Set exactly when `connections` is empty (and then in [`Tables::idle`]).
    idle_since: Option<Instant>,
}

impl RoomState {
    fn is_empty(&self) -> bool {
        self.connections.is_empty()
            && self.chat.is_empty()
            && self.game.is_none()
            && self.unreadable_game.is_none()
    }
}

impl Tables {
    /// The room's state, created (idle since `now`) if the room holds nothing yet.
    fn room_mut(&mut self, room: &Room, now: Instant) -> &mut RoomState {
        let idle = &mut self.idle;
        self.rooms.entry(room.clone()).or_insert_with(|| {
            idle.insert((now, room.clone()));
            RoomState {
                idle_since: Some(now),
                ..RoomState::default()
            }
        })
    }

    /// Adds a connection row (replacing any row with its id) and lists it in its room.
    fn put_user(&mut self, user: User, now: Instant) {
        let id = user.connection.id.clone();
        self.remove_user(&id, now);
        let room = self.room_mut(&user.connection.room, now);
        room.connections.insert(id.clone());
        if let Some(since) = room.idle_since.take() {
            self.idle.remove(&(since, user.connection.room.clone()));
        }
        self.users.insert(id, user);
    }

    /// Removes a connection row and its place in its room; its room becomes idle if that was
    /// its last connection.
    fn remove_user(&mut self, id: &ConnectionId, now: Instant) -> bool {
        let Some(user) = self.users.remove(id) else {
            return false;
        };
        let name = user.connection.room;
        if let Some(room) = self.rooms.get_mut(&name) {
            room.connections.remove(id);
            if room.connections.is_empty() && room.idle_since.is_none() {
                if room.is_empty() {
                    // Nothing to keep: the room goes at once.
                    self.rooms.remove(&name);
                } else {
                    room.idle_since = Some(now);
                    self.idle.insert((now, name));
                }
            }
        }
        true
    }

    /// Stores a chat line under its key, dropping the room's oldest line past the cap.
    fn put_chat_line(&mut self, line: ChatLine, now: Instant) {
        let room = self.room_mut(&line.room, now);
        room.chat.insert(line.sent_at.clone(), line);
        while room.chat.len() > MEMORY_CHAT_LINES_PER_ROOM {
            room.chat.pop_first();
        }
    }

    /// Stores the room's game, over an unreadable one too.
    fn put_game(&mut self, room: &Room, game: Game, now: Instant) {
        let state = self.room_mut(room, now);
        state.unreadable_game = None;
        state.game = Some(game);
    }

    /// Forgets every room that has had no connection for the idle time by `now`; returns how
    /// many. Looks only at the rooms it forgets and the next one.
    fn sweep(&mut self, now: Instant) -> usize {
        let mut forgotten = 0;
        while let Some((since, _)) = self.idle.first() {
            let idle_for = now.saturating_duration_since(*since);
            if idle_for < self.idle_room_ttl {
                break;
            }
            if let Some((_, room)) = self.idle.pop_first() {
                self.rooms.remove(&room);
                forgotten += 1;
            }
        }
        forgotten
    }
}

impl MemoryStore {
    /// An empty store; errors name the tables by their default names. Rooms with no
    /// connections are forgotten after [`DEFAULT_IDLE_ROOM_TTL`].
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// An empty store whose errors name the tables as `names` does.
    pub fn with_table_names(names: TableNames) -> Self {
        MemoryStore {
            tables: Arc::default(),
            names: Arc::new(names),
        }
    }

    /// Forgets a room once it has had no connection for `ttl`: its chat lines and its game,
    /// scores included. `Duration::MAX` keeps such rooms for good (rooms that hold nothing are
    /// still dropped). Applies to every clone, which share the tables; rooms already idle are
    /// judged by the new time at the next sweep.
    pub fn with_idle_room_ttl(self, ttl: Duration) -> Self {
        self.lock().idle_room_ttl = ttl;
        self
    }

    /// How long a room with no connection is kept (see [`MemoryStore::with_idle_room_ttl`]).
    pub fn idle_room_ttl(&self) -> Duration {
        self.lock().idle_room_ttl
    }

    /// Forgets every room that, at `now`, has had no connection for the idle time; returns how
    /// many it forgot. Every write does this with the current instant, so calling it is never
    /// needed; it lets a test (or a caller with a clock of its own) decide the instant.
    pub fn sweep_idle_rooms(&self, now: Instant) -> usize {
        self.lock().sweep(now)
    }

    /// What the store holds now. Counting the chat lines and reports visits every room.
    pub fn stats(&self) -> MemoryStats {
        let tables = self.lock();
        MemoryStats {
            connections: tables.users.len(),
            rooms: tables.rooms.len(),
            idle_rooms: tables.idle.len(),
            chat_lines: tables.rooms.values().map(|room| room.chat.len()).sum(),
            games: tables
                .rooms
                .values()
                .filter(|room| room.game.is_some())
                .count(),
            reports: tables
                .reports
                .rooms
                .values()
                .map(|reports| reports.by_key.len())
                .sum(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Nothing done under the lock panics (no unchecked arithmetic, no indexing), so a
        // poisoned lock would come from a bug; the tables are used as they are rather than
        // failing every later call.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lock for a write, after forgetting the rooms whose idle time ran out.
    fn lock_for_write(&self, now: Instant) -> MutexGuard<'_, Tables> {
        let mut tables = self.lock();
        tables.sweep(now);
        tables
    }

    fn user_not_found(&self, id: &ConnectionId) -> StoreError {
        StoreError::NotFound {
            table: self.names.user.clone(),
            key: id.to_string(),
        }
    }
}

impl Store for MemoryStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let now = Instant::now();
        // A new row, as DynamoDB's PutItem replaces the whole item.
        self.lock_for_write(now).put_user(
            User {
                connection: connection.clone(),
                allowance_at: None,
                refusals: None,
            },
            now,
        );
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        Ok(self
            .lock()
            .users
            .get(id)
            .map(|user| user.connection.clone()))
    }

    async fn bind_username(
        &self,
        id: &ConnectionId,
        username: &str,
    ) -> Result<Binding, StoreError> {
        let mut tables = self.lock_for_write(Instant::now());
        let Some(user) = tables.users.get_mut(id) else {
            return Err(self.user_not_found(id));
        };
        let connection = &mut user.connection;
        match &connection.username {
            Some(bound) if bound != username => Ok(Binding::Taken(bound.clone())),
            _ => {
                connection.username = Some(username.to_owned());
                Ok(Binding::Bound(connection.clone()))
            }
        }
    }

    async fn remove_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let now = Instant::now();
        self.lock_for_write(now).remove_user(id, now);
        Ok(())
    }

    async fn admit_message(
        &self,
        id: &ConnectionId,
        now: Micros,
        rate: MessageRate,
    ) -> Result<MessageAdmission, StoreError> {
        let mut tables = self.lock_for_write(Instant::now());
        let Some(user) = tables.users.get_mut(id) else {
            return Err(self.user_not_found(id));
        };
        let decision = match rate.decide(user.allowance_at, now) {
            RateDecision::Admit { allowance_at } => {
                user.allowance_at = Some(allowance_at);
                Admission::Admitted
            }
            RateDecision::Refuse { retry_after_us } => Admission::Refused { retry_after_us },
        };
        Ok(MessageAdmission {
            decision,
            connection: user.connection.clone(),
        })
    }

    async fn count_refusal(&self, id: &ConnectionId, window: u64) -> Result<u32, StoreError> {
        let mut tables = self.lock_for_write(Instant::now());
        let Some(user) = tables.users.get_mut(id) else {
            return Err(self.user_not_found(id));
        };
        let counted = user.refusals.get_or_insert((window, 0));
        // Only forward, as in DynamoDB: an older window counts in the current one.
        if counted.0 < window {
            *counted = (window, 0);
        }
        counted.1 += 1;
        Ok(counted.1)
    }

    async fn prune_connection(
        &self,
        id: &ConnectionId,
        connected_before: Millis,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut tables = self.lock_for_write(now);
        let stale = tables
            .users
            .get(id)
            .is_some_and(|user| user.connection.connected_at < connected_before);
        if stale {
            tables.remove_user(id, now);
        }
        Ok(stale)
    }

    async fn room_connections(&self, room: &Room) -> Result<Vec<ConnectionId>, StoreError> {
        // Already in the room index's order (its sort key is the connection id).
        Ok(self
            .lock()
            .rooms
            .get(room)
            .map(|state| state.connections.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn room_members(&self, room: &Room) -> Result<Vec<RoomMember>, StoreError> {
        let tables = self.lock();
        let Some(state) = tables.rooms.get(room) else {
            return Ok(Vec::new());
        };
        // The rows are here, so whether each has a name is exact (DynamoDB's index may lag).
        Ok(state
            .connections
            .iter()
            .map(|id| RoomMember {
                id: id.clone(),
                named: tables
                    .users
                    .get(id)
                    .is_some_and(|user| user.connection.username.is_some()),
            })
            .collect())
    }

    async fn append_chat(&self, line: &NewChatLine) -> Result<ChatLine, StoreError> {
        let now = Instant::now();
        let mut tables = self.lock_for_write(now);
        let taken = |key: &String| {
            tables
                .rooms
                .get(&line.room)
                .is_some_and(|room| room.chat.contains_key(key))
        };
        let sent_at = loop {
            let key = chat_sort_key(line.sent_at, &chat_key_suffix());
            if !taken(&key) {
                break key;
            }
        };
        let stored = ChatLine {
            room: line.room.clone(),
            sent_at,
            username: line.username.clone(),
            content: line.content.clone(),
            connection_id: line.connection_id.clone(),
            correct: line.correct,
            expires_at: line.expires_at,
        };
        tables.put_chat_line(stored.clone(), now);
        Ok(stored)
    }

    async fn set_chat_correct(&self, line: &ChatLine, correct: bool) -> Result<(), StoreError> {
        let mut tables = self.lock_for_write(Instant::now());
        let stored = tables
            .rooms
            .get_mut(&line.room)
            .and_then(|room| room.chat.get_mut(&line.sent_at));
        match stored {
            Some(stored) => {
                stored.correct = correct;
                Ok(())
            }
            // Never stored, dropped past the room's cap, or forgotten with its room.
            None => Err(StoreError::NotFound {
                table: self.names.chat.clone(),
                key: format!("{}/{}", line.room, line.sent_at),
            }),
        }
    }

    async fn recent_chat(&self, room: &Room, limit: usize) -> Result<Vec<ChatLine>, StoreError> {
        let tables = self.lock();
        let Some(state) = tables.rooms.get(room) else {
            return Ok(Vec::new());
        };
        let mut recent: Vec<ChatLine> = state.chat.values().rev().take(limit).cloned().collect();
        recent.reverse();
        Ok(recent)
    }

    async fn save_report(&self, report: &Report) -> Result<(), StoreError> {
        let mut tables = self.lock_for_write(Instant::now());
        let key = loop {
            let key = chat_sort_key(report.reported_at, &chat_key_suffix());
            if !tables.reports.contains(&report.room, &key) {
                break key;
            }
        };
        tables.reports.put(key, report.clone());
        Ok(())
    }

    async fn recent_reports(&self, room: &Room, limit: usize) -> Result<Vec<Report>, StoreError> {
        let tables = self.lock();
        let Some(reports) = tables.reports.rooms.get(room) else {
            return Ok(Vec::new());
        };
        let mut recent: Vec<Report> = reports.by_key.values().rev().take(limit).cloned().collect();
        recent.reverse();
        Ok(recent)
    }

    async fn load_game(&self, room: &Room) -> Result<Option<Game>, StoreError> {
        let tables = self.lock();
        if let Some(unreadable) = self.unreadable_game(&tables, room) {
            return Err(unreadable);
        }
        Ok(tables.rooms.get(room).and_then(|state| state.game.clone()))
    }

    async fn save_game(
        &self,
        room: &Room,
        game: &Game,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut tables = self.lock_for_write(now);
        if tables.game_version(room) != expected_version.map(Some) {
            return Err(StoreError::Conflict {
                room: room.to_string(),
                expected: expected_version,
            });
        }
        tables.put_game(room, game.clone(), now);
        Ok(())
    }

    async fn replace_unreadable_game(
        &self,
        room: &Room,
        game: &Game,
        salvaged: &Salvaged,
    ) -> Result<(), StoreError> {
        self.replace_unreadable(room, game, salvaged)
    }
}
