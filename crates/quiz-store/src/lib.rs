//! Where the chosung quiz keeps its facts: connections (`User`), chat lines (`Chat`), each
//! room's game (`Game`) and players' word reports (`Report`).
//!
//! On AWS Lambda nothing survives between invocations, so every fact lives in a table, and
//! concurrency is decided here: two players answering in the same millisecond are two
//! invocations racing on one game. [`Store::save_game`] writes only if the stored version is the
//! one the new state was computed from, and [`update_game`] turns a lost race into a reload and
//! a retry, so exactly one of them wins.
//!
//! Each connection's row also carries its message allowance ([`MessageRate`], the flood limit),
//! so every handler instance sees the same one.
//!
//! Two implementations share one conformance suite: [`DynamoStore`] (DynamoDB) and
//! [`MemoryStore`] (in-process, for local play with no AWS; it keeps the newest
//! [`MEMORY_CHAT_LINES_PER_ROOM`] lines of each room and forgets rooms left with no connection,
//! game included, and keeps the newest [`MEMORY_REPORTS_PER_ROOM`] reports of the
//! [`MEMORY_REPORT_ROOMS`] rooms reported in last).
//!
//! [`table_specs`] describes the tables once; [`create_tables`] builds them from it (for
//! DynamoDB Local and tests) and a test holds `infra/template.yaml` to the same description.
//! Tests start a DynamoDB Local through the dev-only `quiz-testkit` crate.
//!
//! Stored items outlive releases: [`items`] is their codec, every item carries a schema
//! version, every release reads the items of the ones before it, and a room whose game item
//! still cannot be read is restarted with its scores by [`update_game`] instead of failing
//! every message.

use std::future::Future;

use quiz_core::game::{Game, Millis};

mod dynamo;
mod flood;
pub mod items;
mod keys;
mod memory;
mod schema;
mod types;

pub use dynamo::{create_tables, DynamoStore, ENDPOINT_ENV};
pub use flood::{
    refusal_window, Admission, MessageAdmission, MessageRate, Micros, RateDecision,
    MAX_REFUSALS_PER_WINDOW, REFUSAL_WINDOW_MS,
};
pub use keys::{chat_key_suffix, chat_sort_key, iso8601_millis};
pub use memory::{
    MemoryStats, MemoryStore, DEFAULT_IDLE_ROOM_TTL, MEMORY_CHAT_LINES_PER_ROOM,
    MEMORY_REPORTS_PER_ROOM, MEMORY_REPORT_ROOMS,
};
pub use schema::{table_specs, IndexSpec, KeyAttribute, TableSpec};
pub use types::*;

/// The storage interface, shaped by what a WebSocket handler needs.
///
/// Every method is one round trip to the backend, except that listing a room's connections and
/// reading chat history or reports may take one more per page of results (and listing a room
/// one more while its new index is being built, see [`Store::room_members`]).
pub trait Store: Send + Sync {
    /// Records a new connection (overwriting a stale row with the same id).
    fn put_connection(
        &self,
        connection: &Connection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The connection's row, or `None` when it is gone (disconnected or expired).
    fn get_connection(
        &self,
        id: &ConnectionId,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;

    /// Binds a username to a connection that has none; binding the same name again is a no-op.
    ///
    /// Returns [`Binding::Taken`] with the bound name when the connection already has another
    /// one, and [`StoreError::NotFound`] when the connection row does not exist.
    fn bind_username(
        &self,
        id: &ConnectionId,
        username: &str,
    ) -> impl Future<Output = Result<Binding, StoreError>> + Send;

    /// Removes a connection's row; removing a row that is not there is not an error.
    fn remove_connection(
        &self,
        id: &ConnectionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a connection that API Gateway answered 410 Gone, unless it connected at or
    /// after `connected_before`: API Gateway also answers 410 to a connection whose handshake
    /// has not finished yet, and that one must stay. Returns whether a row was removed.
    fn prune_connection(
        &self,
        id: &ConnectionId,
        connected_before: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes one message from the connection's allowance (see [`MessageRate`]) if it has one
    /// at `now`. One conditional write on the connection's row decides it, so every handler
    /// instance sees the same allowance; a burst can take two. The same request reads the
    /// connection's row. [`StoreError::NotFound`] when the row is gone.
    fn admit_message(
        &self,
        id: &ConnectionId,
        now: Micros,
        rate: MessageRate,
    ) -> impl Future<Output = Result<MessageAdmission, StoreError>> + Send;

    /// Counts a refused message against the connection in refusal window `window` (see
    /// [`refusal_window`]); returns how many it has had in that window, this one included.
    fn count_refusal(
        &self,
        id: &ConnectionId,
        window: u64,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// The ids of every connection in a room: those of [`Store::room_members`], with the same
    /// one Query.
    fn room_connections(
        &self,
        room: &Room,
    ) -> impl Future<Output = Result<Vec<ConnectionId>, StoreError>> + Send;

    /// Every connection in a room and whether it has a username (a player) or not (a
    /// spectator), from one Query on the room's index (never a scan).
    ///
    /// On DynamoDB, while the `room-members` index does not exist yet or is still being built
    /// (a stack update adds it and does not wait for it), the older `room-index` answers, and
    /// every connection counts as named, as the release before this one assumed.
    fn room_members(
        &self,
        room: &Room,
    ) -> impl Future<Output = Result<Vec<RoomMember>, StoreError>> + Send;

    /// Appends a chat line; lines sent in the same millisecond never overwrite each other.
    fn append_chat(
        &self,
        line: &NewChatLine,
    ) -> impl Future<Output = Result<ChatLine, StoreError>> + Send;

    /// Sets whether a stored chat line was a correct answer: a line written while the game
    /// was still deciding keeps the verdict its first attempt expected, and this corrects it
    /// when a lost race changed that. [`StoreError::NotFound`] when the line is gone.
    fn set_chat_correct(
        &self,
        line: &ChatLine,
        correct: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The room's `limit` most recent chat lines, oldest first.
    fn recent_chat(
        &self,
        room: &Room,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ChatLine>, StoreError>> + Send;

    /// Keeps a player's word report; two reports in the same millisecond never overwrite each
    /// other.
    fn save_report(&self, report: &Report) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The room's `limit` most recent reports, oldest first (the newest last). For tests and
    /// operators' tools: the deployed function only writes reports.
    fn recent_reports(
        &self,
        room: &Room,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Report>, StoreError>> + Send;

    /// The room's game, or `None` when the room has none yet.
    ///
    /// A game item that does not parse (written by a newer release, or damaged) is
    /// [`StoreError::Corrupt`] with [`Salvaged`]; [`LoadedGame::from_load`] turns that into a
    /// game [`update_loaded_game`] restarts.
    fn load_game(
        &self,
        room: &Room,
    ) -> impl Future<Output = Result<Option<Game>, StoreError>> + Send;

    /// Saves `game` if the stored game's version is still `expected_version`, or, with
    /// `expected_version == None`, if the room has no game yet.
    ///
    /// A lost race is [`StoreError::Conflict`]: reload, re-apply the event, and save again.
    fn save_game(
        &self,
        room: &Room,
        game: &Game,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Saves `game` over a game item that cannot be read ([`StoreError::Corrupt`] from
    /// [`Store::load_game`], with `salvaged`), if the item is still that one: its `version`
    /// attribute is still `salvaged.version`, or, when that is `None`, it still has no version
    /// number. [`StoreError::Conflict`] when another writer replaced it first: reload and play
    /// on the game it wrote. [`update_game`] restarts a room this way.
    fn replace_unreadable_game(
        &self,
        room: &Room,
        game: &Game,
        salvaged: &Salvaged,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A room's game as [`Store::load_game`] read it, for [`update_loaded_game`]: there, absent,
/// or there but unreadable (to be restarted).
// One lives for one event, and it is almost always a game: boxing it would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LoadedGame {
    /// The room has no game yet.
    Absent,
    Game(Game),
    /// The room's game item does not parse; [`update_loaded_game`] restarts the room with
    /// what `salvaged` holds.
    Unreadable {
        table: String,
        key: String,
        reason: String,
        salvaged: Salvaged,
    },
}

impl LoadedGame {
    /// Sorts what [`Store::load_game`] returned: an unreadable game item (a
    /// [`StoreError::Corrupt`] with [`Salvaged`]) becomes [`LoadedGame::Unreadable`]; every
    /// other error is passed on.
    pub fn from_load(loaded: Result<Option<Game>, StoreError>) -> Result<LoadedGame, StoreError> {
        match loaded {
            Ok(game) => Ok(game.into()),
            Err(StoreError::Corrupt {
                table,
                key,
                reason,
                salvaged: Some(salvaged),
            }) => Ok(LoadedGame::Unreadable {
                table,
                key,
                reason,
                salvaged: *salvaged,
            }),
            Err(err) => Err(err),
        }
    }

    /// The game, when it was there and readable.
    pub fn game(&self) -> Option<&Game> {
        match self {
            LoadedGame::Game(game) => Some(game),
            _ => None,
        }
    }
}

impl From<Option<Game>> for LoadedGame {
    fn from(game: Option<Game>) -> Self {
        game.map_or(LoadedGame::Absent, LoadedGame::Game)
    }
}

/// How many times [`update_game`] reloads after losing a race before it gives up.
pub const MAX_GAME_ATTEMPTS: usize = 8;

/// The result of [`update_game`]: what `apply` returned, and the game as saved (or as loaded,
/// when `apply` changed nothing).
#[derive(Debug, Clone)]
pub struct Updated<T> {
    pub outcome: T,
    pub game: Game,
    /// Whether `apply` changed the game (and it was saved).
    pub changed: bool,
}

/// Loads a room's game (creating it with `new_game` when absent), applies an event, and saves
/// the result conditionally, reloading and re-applying when another writer got there first.
///
/// `apply` must be a pure function of the game it is given: on a conflict it runs again on the
/// fresh state. An unchanged game (same version) is not written. After
/// [`MAX_GAME_ATTEMPTS`] lost races the last [`StoreError::Conflict`] is returned.
///
/// A room whose game item cannot be read is never stuck: it is logged as an error (table, key,
/// why) and restarted with a game from `new_game` that keeps the salvaged scores and continues
/// the stored version ([`Game::take_over`]), saved only over that same unreadable item
/// ([`Store::replace_unreadable_game`]), so two instances restarting it at once still leave
/// one game: the loser reloads and applies its event to the winner's.
pub async fn update_game<S, T>(
    store: &S,
    room: &Room,
    new_game: impl Fn() -> Game,
    apply: impl FnMut(&mut Game) -> T,
) -> Result<Updated<T>, StoreError>
where
    S: Store + ?Sized,
{
    let loaded = LoadedGame::from_load(store.load_game(room).await)?;
    update_loaded_game(store, room, loaded, new_game, apply).await
}

/// [`update_game`] on a game the caller already loaded (read at once with something else, to
/// save a round trip): the first attempt applies `apply` to `loaded`, and every retry after a
/// lost race loads the game again. `loaded` is an `Option<Game>`, or a [`LoadedGame`] (see
/// [`LoadedGame::from_load`]) so that an unreadable game is restarted rather than an error.
pub async fn update_loaded_game<S, T>(
    store: &S,
    room: &Room,
    loaded: impl Into<LoadedGame>,
    new_game: impl Fn() -> Game,
    mut apply: impl FnMut(&mut Game) -> T,
) -> Result<Updated<T>, StoreError>
where
    S: Store + ?Sized,
{
    let mut last_conflict = None;
    let mut loaded = Some(loaded.into());
    for _ in 0..MAX_GAME_ATTEMPTS {
        let current = match loaded.take() {
            Some(game) => game,
            None => LoadedGame::from_load(store.load_game(room).await)?,
        };
        let (mut game, write) = match current {
            LoadedGame::Game(game) => {
                let version = game.version();
                (game, GameWrite::Update(version))
            }
            LoadedGame::Absent => (new_game(), GameWrite::Create),
            LoadedGame::Unreadable {
                table,
                key,
                reason,
                salvaged,
            } => {
                tracing::error!(
                    table,
                    key,
                    reason,
                    version = ?salvaged.version,
                    scores_kept = salvaged.scores.len(),
                    "a room's game cannot be read: restarting the room with its scores"
                );
                let mut game = new_game();
                game.take_over(salvaged.version.unwrap_or(0), salvaged.scores.clone());
                (game, GameWrite::Restart(salvaged))
            }
        };
        let before = game.version();
        let outcome = apply(&mut game);
        let changed = game.version() != before;
        if !changed && matches!(write, GameWrite::Update(_)) {
            return Ok(Updated {
                outcome,
                game,
                changed,
            });
        }
        let saved = match &write {
            GameWrite::Update(version) => store.save_game(room, &game, Some(*version)).await,
            GameWrite::Create => store.save_game(room, &game, None).await,
            GameWrite::Restart(salvaged) => {
                store.replace_unreadable_game(room, &game, salvaged).await
            }
        };
        match saved {
            Ok(()) => {
                return Ok(Updated {
                    outcome,
                    game,
                    changed: true,
                })
            }
            Err(err @ StoreError::Conflict { .. }) => last_conflict = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_conflict.unwrap_or_else(|| StoreError::Conflict {
        room: room.to_string(),
        expected: None,
    }))
}

/// How [`update_loaded_game`] writes the game it computed.
enum GameWrite {
    /// Over the stored game at this version.
    Update(u64),
    /// As the room's first game.
    Create,
    /// Over the unreadable item this was salvaged from.
    Restart(Salvaged),
}

/// Seconds since the Unix epoch for a [`Millis`] timestamp (DynamoDB TTL attributes).
pub fn epoch_seconds(now: Millis) -> u64 {
    now / 1_000
}
