//! The records the store keeps, their ids, and its error type.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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
    /// The question theme the client asked for on connect (`?theme=`), `None` when it asked
    /// for none. Kept in the row because a later message may reach another handler instance.
    pub theme: Option<String>,
    pub connected_at: Millis,
    /// Epoch seconds after which DynamoDB's TTL may delete the row.
    pub expires_at: u64,
}

impl Connection {
    /// A connection opened at `now`, expiring after [`CONNECTION_TTL_SECS`], with no theme
    /// (see [`Connection::with_theme`]).
    pub fn new(id: ConnectionId, room: Room, username: Option<String>, now: Millis) -> Self {
        Connection {
            id,
            room,
            username,
            theme: None,
            connected_at: now,
            expires_at: crate::epoch_seconds(now) + CONNECTION_TTL_SECS,
        }
    }

    /// The same connection with the theme it asked for.
    pub fn with_theme(mut self, theme: Option<String>) -> Self {
        self.theme = theme;
        self
    }
}

/// One connection of a room as [`crate::Store::room_members`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomMember {
    pub id: ConnectionId,
    /// Whether the connection has a username (a player); one without is a spectator.
    pub named: bool,
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

/// What a [`Report`] asks for: a word added to the dictionary, or removed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    Add,
    Remove,
}

impl ReportKind {
    /// `add` or `remove`, as items store it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Add => "add",
            ReportKind::Remove => "remove",
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A report kind that is neither `add` nor `remove`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a report kind is add or remove, found {0:?}")]
pub struct UnknownReportKind(pub String);

impl std::str::FromStr for ReportKind {
    type Err = UnknownReportKind;

    /// `add` or `remove`, exactly as [`ReportKind::as_str`] writes them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "add" => Ok(ReportKind::Add),
            "remove" => Ok(ReportKind::Remove),
            other => Err(UnknownReportKind(other.to_owned())),
        }
    }
}

/// A player's report of a word to add to or remove from the dictionary, kept in the `Report`
/// table for operators to review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub room: Room,
    pub username: String,
    pub connection_id: ConnectionId,
    pub word: String,
    pub kind: ReportKind,
    pub reason: Option<String>,
    /// The round's pattern when the word was reported, e.g. `ㄱㅇㅈ`.
    pub pattern: String,
    pub reported_at: Millis,
}

/// An error from the backend (the AWS SDK's), kept as a [`StoreError`]'s source.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync>;

/// What can go wrong in the store; each variant says what the caller can do.
///
/// The backend's failures are sorted by what they call for ([`StoreError::kind`]): wait and
/// retry ([`StoreError::Throttled`], [`StoreError::Unavailable`]), or have someone fix the
/// deployment ([`StoreError::Forbidden`], [`StoreError::Gone`], [`StoreError::Other`]). Each
/// keeps the backend's error as its [`source`](std::error::Error::source), and its message
/// ends with that error's whole chain, so one log line of `{err}` says what happened.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// No item with this key (a connection gone, a chat line deleted).
    NotFound { table: String, key: String },
    /// The game changed since it was read: reload it and apply the event again.
    Conflict { room: String, expected: Option<u64> },
    /// An item that does not parse. For a game item, `salvaged` holds what could still be read
    /// from it (see [`crate::update_game`], which restarts such a room).
    Corrupt {
        table: String,
        key: String,
        reason: String,
        salvaged: Option<Box<Salvaged>>,
    },
    /// The backend refused for load (throttling, capacity exceeded): retry after a pause.
    Throttled {
        operation: String,
        source: Option<ErrorSource>,
    },
    /// The backend refused the credentials or their permissions (access denied, an unknown
    /// or expired key, a bad signature): retrying will not help until someone fixes them.
    Forbidden {
        operation: String,
        source: Option<ErrorSource>,
    },
    /// What the request names does not exist at the backend (a missing table).
    Gone {
        operation: String,
        source: Option<ErrorSource>,
    },
    /// The backend could not be reached or failed (no connection, a timeout, a 5xx), or the
    /// request kept losing to other writers: the same request may work later.
    Unavailable {
        operation: String,
        source: Option<ErrorSource>,
    },
    /// Anything else the backend said no to (a malformed request, a validation error).
    Other {
        operation: String,
        source: Option<ErrorSource>,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (operation, what, source) = match self {
            StoreError::NotFound { table, key } => {
                return write!(f, "no item in table {table} with key {key}")
            }
            StoreError::Conflict { room, expected } => {
                return write!(
                    f,
                    "the game of room {room} changed since version {expected:?} was read; \
                     reload it and apply the event again"
                )
            }
            StoreError::Corrupt {
                table, key, reason, ..
            } => {
                return write!(
                    f,
                    "item in table {table} with key {key} cannot be read: {reason}"
                )
            }
            StoreError::Throttled { operation, source } => {
                (operation, "throttled; retry later", source)
            }
            StoreError::Forbidden { operation, source } => (
                operation,
                "forbidden; check the credentials and their permissions",
                source,
            ),
            StoreError::Gone { operation, source } => {
                (operation, "the table or resource is gone", source)
            }
            StoreError::Unavailable { operation, source } => {
                (operation, "the store is unavailable; retry later", source)
            }
            StoreError::Other { operation, source } => (operation, "storage backend error", source),
        };
        write!(f, "{operation}: {what}")?;
        // The source's whole chain, so one log line says what happened ("connection refused",
        // the service's own message); the SDK's outer errors repeat their inner one's message,
        // so each message once.
        let mut written = String::new();
        let mut next = source
            .as_deref()
            .map(|err| err as &(dyn std::error::Error + 'static));
        while let Some(err) = next {
            let message = err.to_string();
            if !written.ends_with(&message) {
                write!(f, ": {message}")?;
                written = message;
            }
            next = err.source();
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {
    /// The backend's own error (for the DynamoDB store, the SDK's `SdkError`), when there is
    /// one.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Throttled { source, .. }
            | StoreError::Forbidden { source, .. }
            | StoreError::Gone { source, .. }
            | StoreError::Unavailable { source, .. }
            | StoreError::Other { source, .. } => source
                .as_deref()
                .map(|err| err as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

/// What a [`StoreError`] is, without its details: for a log line's level and a metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Corrupt,
    Throttled,
    Forbidden,
    Gone,
    Unavailable,
    Other,
}

impl ErrorKind {
    /// `not_found`, `conflict`, `corrupt`, `throttled`, `forbidden`, `gone`, `unavailable` or
    /// `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Gone => "gone",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Other => "other",
        }
    }

    /// Whether someone has to change something (credentials, permissions, a table, an item)
    /// before this can work: worth an error-level log line. The others are part of normal
    /// operation (a missing row, a lost race) or pass by themselves (throttling, an outage).
    pub fn needs_attention(self) -> bool {
        matches!(
            self,
            ErrorKind::Corrupt | ErrorKind::Forbidden | ErrorKind::Gone | ErrorKind::Other
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StoreError {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::Conflict { .. } => ErrorKind::Conflict,
            StoreError::Corrupt { .. } => ErrorKind::Corrupt,
            StoreError::Throttled { .. } => ErrorKind::Throttled,
            StoreError::Forbidden { .. } => ErrorKind::Forbidden,
            StoreError::Gone { .. } => ErrorKind::Gone,
            StoreError::Unavailable { .. } => ErrorKind::Unavailable,
            StoreError::Other { .. } => ErrorKind::Other,
        }
    }

    /// Whether the same request may succeed if tried again later: throttled, unavailable,
    /// or a lost race.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Throttled { .. }
                | StoreError::Unavailable { .. }
                | StoreError::Conflict { .. }
        )
    }

    /// For an unreadable game item, what could still be read from it.
    pub fn salvaged(&self) -> Option<&Salvaged> {
        match self {
            StoreError::Corrupt {
                salvaged: Some(salvaged),
                ..
            } => Some(salvaged),
            _ => None,
        }
    }
}

/// What could still be read from a game item that does not parse as a game, read leniently
/// from the raw item: enough to restart the room without losing its scores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The item's `version` attribute, or `None` when it is missing or not a number. A restart
    /// replaces the item only while it still has this version.
    pub version: Option<u64>,
    /// Every score the item's state still holds as a player name and a whole number.
    pub scores: BTreeMap<String, u32>,
}

/// The four table names, from `USER_TABLE`, `CHAT_TABLE`, `GAME_TABLE` and `REPORT_TABLE`
/// (defaults `User`, `Chat`, `Game`, `Report`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub user: String,
    pub chat: String,
    pub game: String,
    pub report: String,
}

impl Default for TableNames {
    fn default() -> Self {
        TableNames {
            user: "User".into(),
            chat: "Chat".into(),
            game: "Game".into(),
            report: "Report".into(),
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
            report: get("REPORT_TABLE", defaults.report),
        }
    }

    /// The defaults with `prefix` in front of each, so tests and runs do not collide.
    pub fn with_prefix(prefix: &str) -> Self {
        let defaults = TableNames::default();
        TableNames {
            user: format!("{prefix}{}", defaults.user),
            chat: format!("{prefix}{}", defaults.chat),
            game: format!("{prefix}{}", defaults.game),
            report: format!("{prefix}{}", defaults.report),
        }
    }
}

/// The `User` table's first index of connections by room (keys only). No longer queried
/// except as [`ROOM_MEMBERS_INDEX`]'s fallback while that one is being built; see
/// `schema.rs` for why it stays declared.
pub const ROOM_INDEX: &str = "room-index";

/// The `User` table's index of connections by room that also carries each one's `username`,
/// so one Query tells players from spectators.
pub const ROOM_MEMBERS_INDEX: &str = "room-members";
