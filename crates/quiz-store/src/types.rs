//! The records the store keeps, their ids, and its error type.

use std::fmt;

use quiz_core::game::Millis;

/// API Gateway's id for one WebSocket connection (e.g. `L0SM9cOFvHcCIhw=`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ConnectionId(pub String);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A chat room; each room plays its own game.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Room(pub String);

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long a connection row lives without a `$disconnect`: API Gateway closes every
/// connection after 2 hours, so a row older than that is certainly stale.
pub const CONNECTION_TTL_SECS: u64 = 2 * 60 * 60 + 10 * 60;

/// A row of the `User` table: one open WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub room: Room,
    /// Bound by the first message that names a player; never changes afterwards.
    pub username: Option<String>,
    pub connected_at: Millis,
    /// Epoch seconds after which DynamoDB's TTL may delete the row.
    pub expires_at: u64,
}

impl Connection {
    /// A connection opened at `now`, expiring after [`CONNECTION_TTL_SECS`].
    pub fn new(id: ConnectionId, room: Room, username: Option<String>, now: Millis) -> Self {
        Connection {
            id,
            room,
            username,
            connected_at: now,
            expires_at: crate::epoch_seconds(now) + CONNECTION_TTL_SECS,
        }
    }
}

/// The result of [`crate::Store::bind_username`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The connection now carries this name (it may have carried it already).
    Bound(Connection),
    /// The connection is bound to another name, given here.
    Taken(String),
}

/// A chat line to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChatLine {
    pub room: Room,
    pub username: String,
    pub content: String,
    pub connection_id: ConnectionId,
    /// Whether the line was the round's winning answer.
    pub correct: bool,
    pub sent_at: Millis,
    /// Epoch seconds after which the line may be deleted; `None` keeps it.
    pub expires_at: Option<u64>,
}

/// A row of the `Chat` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub room: Room,
    /// The sort key: an ISO-8601 UTC timestamp with milliseconds, `#`, and a unique suffix,
    /// e.g. `2026-11-21T23:38:37.123Z#3f2a9c1e`.
    pub sent_at: String,
    pub username: String,
    pub content: String,
    pub connection_id: ConnectionId,
    pub correct: bool,
    pub expires_at: Option<u64>,
}

/// What can go wrong in the store; each variant says what the caller can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no item in table {table} with key {key}")]
    NotFound { table: String, key: String },
    #[error("the game of room {room} changed since version {expected:?} was read; reload it and apply the event again")]
    Conflict { room: String, expected: Option<u64> },
    #[error("the store is throttled or unavailable, retry later: {0}")]
    Unavailable(String),
    #[error("item in table {table} with key {key} cannot be read: {reason}")]
    Corrupt {
        table: String,
        key: String,
        reason: String,
    },
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Conflict { .. }
        )
    }
}

/// The three table names, from `USER_TABLE`, `CHAT_TABLE` and `GAME_TABLE` (defaults `User`,
/// `Chat`, `Game`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub user: String,
    pub chat: String,
    pub game: String,
}

impl Default for TableNames {
    fn default() -> Self {
        TableNames {
            user: "User".into(),
            chat: "Chat".into(),
            game: "Game".into(),
        }
    }
}

impl TableNames {
    /// Names from the environment, falling back to the defaults.
    pub fn from_env() -> Self {
        let get = |key: &str, default: String| std::env::var(key).unwrap_or(default);
        let defaults = TableNames::default();
        TableNames {
            user: get("USER_TABLE", defaults.user),
            chat: get("CHAT_TABLE", defaults.chat),
            game: get("GAME_TABLE", defaults.game),
        }
    }

    /// The defaults with `prefix` in front of each, so tests and runs do not collide.
    pub fn with_prefix(prefix: &str) -> Self {
        let defaults = TableNames::default();
        TableNames {
            user: format!("{prefix}{}", defaults.user),
            chat: format!("{prefix}{}", defaults.chat),
            game: format!("{prefix}{}", defaults.game),
        }
    }
}

/// The name of the `User` table's index of connections by room.
pub const ROOM_INDEX: &str = "room-index";
