//! The items of the four tables as DynamoDB stores them, and the one codec both stores use.
//!
//! [`crate::DynamoStore`] writes and reads these items. [`crate::MemoryStore::import_item`]
//! reads them too, so items captured from a real table (the fixtures in `fixtures/items/`) load
//! into either store, and both read an old item the same way.
//!
//! Every item this release writes carries [`SCHEMA_VERSION_ATTRIBUTE`], the shape it was
//! written in ([`SCHEMA_VERSION`]); an item without it was written before schema versions
//! existed and is version 0. Reading accepts every version: an attribute or game field that
//! an older release did not write reads as its default (see [`quiz_core::game::Game`]'s serde
//! form), or is filled in here (a game state without its own `version` takes the item's), and
//! what a newer release added is ignored.
//!
//! A game item that still cannot be read is [`StoreError::Corrupt`] with what could be
//! salvaged from it ([`Salvaged`]: its version and scores), so the room can restart with its
//! scores instead of staying stuck.
//!
//! [`item_from_json`] and [`item_to_json`] translate items to and from DynamoDB JSON, the form
//! `aws dynamodb scan` prints (`{"room": {"S": "general"}, "version": {"N": "6"}}`).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use quiz_core::game::{Game, Millis};

use crate::{
    ChatLine, Connection, ConnectionId, Micros, Report, ReportKind, Room, RoomMember, Salvaged,
    StoreError,
};

/// An item: attribute names and values, as the DynamoDB SDK has them.
pub type Item = HashMap<String, AttributeValue>;

/// The shape of the items this release writes. A release that changes what an item holds
/// raises it, reads every older version, and adds its items to `fixtures/items/`.
///
/// - 0: an item without [`SCHEMA_VERSION_ATTRIBUTE`], written before schema versions existed.
/// - 1: every item carries [`SCHEMA_VERSION_ATTRIBUTE`].
/// - 2: a `User` row may carry `theme` (the question theme its client asked for; absent when
///   none); the `Report` table's items appear; a game's `state` may hold quiz-core's `theme`
///   and `ranking`. Older items read as before: no `theme` is `None`, and the game's serde
///   form fills in what it lacks.
pub const SCHEMA_VERSION: u64 = 2;

/// The attribute of every item that holds its [`SCHEMA_VERSION`] (a number).
pub const SCHEMA_VERSION_ATTRIBUTE: &str = "schemaVersion";

/// The `User` row's attribute holding the connection's message allowance (see
/// [`crate::MessageRate`]), in microseconds since the Unix epoch.
pub(crate) const ALLOWANCE_AT: &str = "allowanceAt";
/// The `User` row's refusal window and the refused messages counted in it.
pub(crate) const REFUSED_WINDOW: &str = "refusedWindow";
pub(crate) const REFUSED_COUNT: &str = "refusedCount";
/// The Game item's attribute naming the save that wrote it (a random id per save).
pub(crate) const WRITE_ID: &str = "writeId";

/// Which of the four tables an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemTable {
    User,
    Chat,
    Game,
    Report,
}

/// The schema version an item was written in: its [`SCHEMA_VERSION_ATTRIBUTE`], or 0 when it
/// has none (or one that is not a number).
pub fn schema_version(item: &Item) -> u64 {
    match item.get(SCHEMA_VERSION_ATTRIBUTE) {
        Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
        _ => 0,
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn schema_attribute() -> (String, AttributeValue) {
    (SCHEMA_VERSION_ATTRIBUTE.to_owned(), n(SCHEMA_VERSION))
}

/// Reads typed attributes out of an item, turning every surprise into [`StoreError::Corrupt`]
/// for this table and key.
pub(crate) struct Reader<'a> {
    item: &'a Item,
    table: &'a str,
    key: String,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(item: &'a Item, table: &'a str, key: impl Into<String>) -> Self {
        Reader {
            item,
            table,
            key: key.into(),
        }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table.to_owned(),
            key: self.key.clone(),
            reason: reason.into(),
            salvaged: None,
        }
    }

    pub(crate) fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
            Some(other) => Err(self.corrupt(format!(
                "attribute {name} should be a string (S), found {other:?}"
            ))),
        }
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, StoreError> {
        self.optional_string(name)?
            .ok_or_else(|| self.corrupt(format!("attribute {name} is missing")))
    }

    pub(crate) fn optional_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(text)) => text.parse().map(Some).map_err(|_| {
                self.corrupt(format!(
                    "attribute {name} should be a whole number in range, found {text}"
                ))
            }),
            Some(other) => Err(self.corrupt(format!(
                "attribute {name} should be a number (N), found {other:?}"
            ))),
        }
    }

    pub(crate) fn number<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.optional_number(name)?
            .ok_or_else(|| self.corrupt(format!("attribute {name} is missing")))
    }

    fn boolean(&self, name: &str) -> Result<bool, StoreError> {
        match self.item.get(name) {
            None => Ok(false),
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(other) => Err(self.corrupt(format!(
                "attribute {name} should be a boolean (BOOL), found {other:?}"
            ))),
        }
    }
}

/// A key attribute's text for an error message, or `?` when it is not a string.
fn key_part(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => "?".to_owned(),
    }
}

/// A `User` row for a new connection (without the message limit's attributes, which only
/// its updates write).
pub fn connection_item(connection: &Connection) -> Item {
    let mut item = Item::from([
        ("connectionId".to_owned(), s(&connection.id.0)),
        ("room".to_owned(), s(&connection.room.0)),
        ("connectedAt".to_owned(), n(connection.connected_at)),
        ("expiresAt".to_owned(), n(connection.expires_at)),
        schema_attribute(),
    ]);
    if let Some(username) = &connection.username {
        item.insert("username".to_owned(), s(username));
    }
    if let Some(theme) = &connection.theme {
        item.insert("theme".to_owned(), s(theme));
    }
    item
}

/// The connection a `User` row holds; `table` names the table in errors. A row written before
/// themes (schema version 2) has no theme.
pub fn connection_from_item(table: &str, item: &Item) -> Result<Connection, StoreError> {
    let read = Reader::new(item, table, key_part(item, "connectionId"));
    Ok(Connection {
        id: ConnectionId(read.string("connectionId")?),
        room: Room(read.string("room")?),
        username: read.optional_string("username")?,
        theme: read.optional_string("theme")?,
        connected_at: read.number("connectedAt")?,
        expires_at: read.number("expiresAt")?,
    })
}

/// A room member from an entry of a `User` index by room: its id, and whether the entry
/// carries a `username` (an index that does not project it has none). `table` names the
/// table and index in errors.
pub fn room_member_from_item(table: &str, item: &Item) -> Result<RoomMember, StoreError> {
    let read = Reader::new(item, table, key_part(item, "connectionId"));
    Ok(RoomMember {
        id: ConnectionId(read.string("connectionId")?),
        named: read.optional_string("username")?.is_some(),
    })
}

/// The message limit's state in a `User` row: the allowance, and the refusal window with its
/// count, when the connection has them.
pub(crate) type FloodState = (Option<Micros>, Option<(u64, u32)>);

pub(crate) fn flood_from_item(table: &str, item: &Item) -> Result<FloodState, StoreError> {
    let read = Reader::new(item, table, key_part(item, "connectionId"));
    let allowance = read.optional_number(ALLOWANCE_AT)?;
    let window: Option<u64> = read.optional_number(REFUSED_WINDOW)?;
    let count: Option<u32> = read.optional_number(REFUSED_COUNT)?;
    Ok((allowance, window.zip(count)))
}

/// A `Chat` item for a stored line.
pub fn chat_item(line: &ChatLine) -> Item {
    let mut item = Item::from([
        ("room".to_owned(), s(&line.room.0)),
        ("sentAt".to_owned(), s(&line.sent_at)),
        ("username".to_owned(), s(&line.username)),
        ("content".to_owned(), s(&line.content)),
        ("connectionId".to_owned(), s(&line.connection_id.0)),
        ("correct".to_owned(), AttributeValue::Bool(line.correct)),
        schema_attribute(),
    ]);
    if let Some(expires_at) = line.expires_at {
        item.insert("expiresAt".to_owned(), n(expires_at));
    }
    item
}

/// The chat line a `Chat` item holds; `table` names the table in errors.
pub fn chat_from_item(table: &str, item: &Item) -> Result<ChatLine, StoreError> {
    let key = format!("{}/{}", key_part(item, "room"), key_part(item, "sentAt"));
    let read = Reader::new(item, table, key);
    Ok(ChatLine {
        room: Room(read.string("room")?),
        sent_at: read.string("sentAt")?,
        username: read.string("username")?,
        content: read.string("content")?,
        connection_id: ConnectionId(read.string("connectionId")?),
        correct: read.boolean("correct")?,
        expires_at: read.optional_number("expiresAt")?,
    })
}

/// A `Report` item for `report` under the sort key `reported_at_key` (see
/// [`crate::chat_sort_key`]: its instant, `#`, a unique suffix). `reportedAtMs` repeats the
/// instant as a number, so a reader needs not parse the key.
pub fn report_item(report: &Report, reported_at_key: &str) -> Item {
    let mut item = Item::from([
        ("room".to_owned(), s(&report.room.0)),
        ("reportedAt".to_owned(), s(reported_at_key)),
        ("username".to_owned(), s(&report.username)),
        ("connectionId".to_owned(), s(&report.connection_id.0)),
        ("word".to_owned(), s(&report.word)),
        ("kind".to_owned(), s(report.kind.as_str())),
        ("pattern".to_owned(), s(&report.pattern)),
        ("reportedAtMs".to_owned(), n(report.reported_at)),
        schema_attribute(),
    ]);
    if let Some(reason) = &report.reason {
        item.insert("reason".to_owned(), s(reason));
    }
    item
}

/// The sort key and the report a `Report` item holds; `table` names the table in errors.
pub fn report_from_item(table: &str, item: &Item) -> Result<(String, Report), StoreError> {
    let key = format!(
        "{}/{}",
        key_part(item, "room"),
        key_part(item, "reportedAt")
    );
    let read = Reader::new(item, table, key);
    let kind = read.string("kind")?;
    let report = Report {
        room: Room(read.string("room")?),
        username: read.string("username")?,
        connection_id: ConnectionId(read.string("connectionId")?),
        word: read.string("word")?,
        kind: kind
            .parse::<ReportKind>()
            .map_err(|err| read.corrupt(format!("attribute kind: {err}")))?,
        reason: read.optional_string("reason")?,
        pattern: read.string("pattern")?,
        reported_at: read.number("reportedAtMs")?,
    };
    Ok((read.string("reportedAt")?, report))
}

/// A `Game` item: the room, its game's version (what saves are conditional on), the game as
/// one map (`state`, quiz-core's serde form), when and by which save (`writeId`) it was
/// written.
pub fn game_item(
    room: &Room,
    game: &Game,
    write_id: &str,
    updated_at: Millis,
) -> Result<Item, StoreError> {
    let state: Item = serde_dynamo::to_item(game).map_err(|err| StoreError::Other {
        operation: format!("cannot serialize the game of room {room}"),
        source: Some(std::sync::Arc::new(err)),
    })?;
    Ok(Item::from([
        ("room".to_owned(), s(&room.0)),
        ("version".to_owned(), n(game.version())),
        ("state".to_owned(), AttributeValue::M(state)),
        ("updatedAt".to_owned(), n(updated_at)),
        (WRITE_ID.to_owned(), s(write_id)),
        schema_attribute(),
    ]))
}

/// The room and game a `Game` item holds; `table` names the table in errors.
///
/// An item whose game cannot be read is [`StoreError::Corrupt`] with
/// [`Salvaged`] (its version and scores, read leniently), never a panic.
pub fn game_from_item(table: &str, item: &Item) -> Result<(Room, Game), StoreError> {
    let read = Reader::new(item, table, key_part(item, "room"));
    let room = Room(read.string("room")?);
    let game = read_game(&read, item).map_err(|reason| StoreError::Corrupt {
        table: table.to_owned(),
        key: room.to_string(),
        reason,
        salvaged: Some(Box::new(salvage_game(item))),
    })?;
    Ok((room, game))
}

fn read_game(read: &Reader<'_>, item: &Item) -> Result<Game, String> {
    let reason = |err: StoreError| match err {
        StoreError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    };
    let version: u64 = read.number("version").map_err(reason)?;
    let mut state = match item.get("state") {
        Some(AttributeValue::M(state)) => state.clone(),
        Some(other) => {
            return Err(format!(
                "attribute state should be a map (M), found {other:?}"
            ))
        }
        None => return Err("attribute state is missing".to_owned()),
    };
    // The item's version is the one saves are conditional on; a state without its own copy
    // takes it.
    state
        .entry("version".to_owned())
        .or_insert_with(|| n(version));
    let game: Game = serde_dynamo::from_item(state)
        .map_err(|err| format!("attribute state is not a game: {err}"))?;
    // The condition of the next save compares `version` with the state's own version; if they
    // disagreed, every save would conflict forever, so say so now.
    if game.version() != version {
        return Err(format!(
            "attribute version is {version} but the state is at version {}",
            game.version()
        ));
    }
    Ok(game)
}

/// What can still be read from a game item: its version attribute, and each score in its
/// state that is a whole number.
fn salvage_game(item: &Item) -> Salvaged {
    let version = match item.get("version") {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    };
    let scores = match item.get("state") {
        Some(AttributeValue::M(state)) => match state.get("scores") {
            Some(AttributeValue::M(scores)) => scores
                .iter()
                .filter_map(|(name, score)| match score {
                    AttributeValue::N(text) => text.parse().ok().map(|s| (name.clone(), s)),
                    _ => None,
                })
                .collect(),
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    };
    Salvaged { version, scores }
}

/// An item in DynamoDB JSON that cannot be turned into an [`Item`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an item in DynamoDB JSON: {0}")]
pub struct ItemJsonError(String);

/// An item from DynamoDB JSON, as `aws dynamodb scan` prints each of its `Items`:
/// `{"room": {"S": "general"}, "version": {"N": "6"}, "state": {"M": {…}}}`. Binary
/// attributes (`B`, `BS`) are refused: no table of this store has any.
pub fn item_from_json(json: &serde_json::Value) -> Result<Item, ItemJsonError> {
    let object = json
        .as_object()
        .ok_or_else(|| ItemJsonError(format!("an item is an object, found {json}")))?;
    object
        .iter()
        .map(|(name, value)| {
            value_from_json(value)
                .map(|value| (name.clone(), value))
                .map_err(|err| ItemJsonError(format!("attribute {name}: {}", err.0)))
        })
        .collect()
}

fn value_from_json(json: &serde_json::Value) -> Result<AttributeValue, ItemJsonError> {
    use serde_json::Value;
    let wrong = || {
        ItemJsonError(format!(
            "a value is an object with one type key (S, N, BOOL, NULL, M, L, SS, NS), found {json}"
        ))
    };
    let strings = |values: &Vec<Value>| {
        values
            .iter()
            .map(|value| value.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
    };
    let object = json
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(wrong)?;
    let (kind, value) = object.iter().next().ok_or_else(wrong)?;
    Ok(match (kind.as_str(), value) {
        ("S", Value::String(text)) => AttributeValue::S(text.clone()),
        ("N", Value::String(text)) => AttributeValue::N(text.clone()),
        ("BOOL", Value::Bool(value)) => AttributeValue::Bool(*value),
        ("NULL", Value::Bool(value)) => AttributeValue::Null(*value),
        ("M", Value::Object(_)) => AttributeValue::M(item_from_json(value)?),
        ("L", Value::Array(values)) => AttributeValue::L(
            values
                .iter()
                .map(value_from_json)
                .collect::<Result<_, _>>()?,
        ),
        ("SS", Value::Array(values)) => AttributeValue::Ss(strings(values)?),
        ("NS", Value::Array(values)) => AttributeValue::Ns(strings(values)?),
        _ => return Err(wrong()),
    })
}

/// An item as DynamoDB JSON (see [`item_from_json`]). Binary values, which no table of this
/// store has, come out as `null`.
pub fn item_to_json(item: &Item) -> serde_json::Value {
    let object = item
        .iter()
        .map(|(name, value)| (name.clone(), value_to_json(value)))
        .collect();
    serde_json::Value::Object(object)
}

fn value_to_json(value: &AttributeValue) -> serde_json::Value {
    use serde_json::{json, Value};
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(text) => json!({ "N": text }),
        AttributeValue::Bool(value) => json!({ "BOOL": value }),
        AttributeValue::Null(value) => json!({ "NULL": value }),
        AttributeValue::M(item) => json!({ "M": item_to_json(item) }),
        AttributeValue::L(values) => {
            json!({ "L": values.iter().map(value_to_json).collect::<Vec<_>>() })
        }
        AttributeValue::Ss(values) => json!({ "SS": values }),
        AttributeValue::Ns(values) => json!({ "NS": values }),
        _ => Value::Null,
    }
}

/// The size DynamoDB counts for an item against its 400 KB limit: each attribute's name and
/// value in UTF-8 bytes, a number as about one byte per two significant digits plus one, 3
/// bytes of overhead per map or list and 1 per element in it.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(text) => {
            let digits = text.trim_start_matches('-').replace('.', "");
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
            significant.div_ceil(2) + 1
        }
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(item) => {
            3 + item
                .iter()
                .map(|(name, value)| name.len() + value_size(value) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(values) => 3 + values.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(values) | AttributeValue::Ns(values) => {
            values.iter().map(String::len).sum()
        }
        AttributeValue::Bs(values) => values.iter().map(|blob| blob.as_ref().len()).sum(),
        _ => 0,
    }
}
