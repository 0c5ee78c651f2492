//! [`MemoryStore`]: the three tables as maps in this process, for local play with no AWS and no
//! Java.
//!
//! It keeps DynamoDB's semantics where callers can observe them: a game save is conditional on
//! the version (so [`crate::update_game`] races the same way), binding a username is
//! compare-and-set, chat keys are built by [`crate::chat_sort_key`] exactly as in DynamoDB, and
//! removing a missing row is not an error. Each method takes one short lock and never holds it
//! across an `.await`, so it is as atomic as one DynamoDB request and safe under many tokio
//! tasks.
//!
//! Unlike DynamoDB, rows do not expire: a local server sees every disconnect, so stale
//! connections do not pile up, and `expiresAt` is only recorded. And a room's connections are
//! listed exactly, where DynamoDB's `room-index` is eventually consistent; callers must not
//! rely on a new connection being listed at once (the handler adds the sender itself).
//!
//! Items as DynamoDB stores them can be imported ([`MemoryStore::import_item`]), read with the
//! DynamoDB store's own codec, so tests hand both stores the same items.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use quiz_core::game::{Game, Millis};

use crate::{
    chat_key_suffix, chat_sort_key, Admission, Binding, ChatLine, Connection, ConnectionId,
    MessageAdmission, MessageRate, Micros, NewChatLine, RateDecision, Room, Salvaged, Store,
    StoreError, TableNames,
};

mod import;

/// The store in memory. Clones share the same tables.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    names: Arc<TableNames>,
}

#[derive(Debug, Default)]
struct Tables {
    users: HashMap<ConnectionId, Connection>,
    /// Per room, lines by sort key: a BTreeMap is the Chat table's key order.
    chat: HashMap<Room, BTreeMap<String, ChatLine>>,
    games: HashMap<Room, Game>,
    /// Game items imported as DynamoDB stored them that do not parse (see `import`).
    unreadable_games: HashMap<Room, import::Unreadable>,
    /// Per connection, what the `User` row's flood-control attributes hold.
    allowances: HashMap<ConnectionId, Micros>,
    refusals: HashMap<ConnectionId, (u64, u32)>,
}

impl Tables {
    fn forget(&mut self, id: &ConnectionId) {
        self.users.remove(id);
        self.allowances.remove(id);
        self.refusals.remove(id);
    }
}

impl MemoryStore {
    /// An empty store; errors name the tables by their default names.
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

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while the lock is held cannot leave a half-written row (every method
        // writes with a single map operation), so a poisoned lock is still consistent.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for MemoryStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut tables = self.lock();
        // A new row, as DynamoDB's PutItem replaces the whole item.
        tables.forget(&connection.id);
        tables
            .users
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn bind_username(
        &self,
        id: &ConnectionId,
        username: &str,
    ) -> Result<Binding, StoreError> {
        let mut tables = self.lock();
        let Some(connection) = tables.users.get_mut(id) else {
            return Err(StoreError::NotFound {
                table: self.names.user.clone(),
                key: id.to_string(),
            });
        };
        match &connection.username {
            Some(bound) if bound != username => Ok(Binding::Taken(bound.clone())),
            _ => {
                connection.username = Some(username.to_owned());
                Ok(Binding::Bound(connection.clone()))
            }
        }
    }

    async fn remove_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        self.lock().forget(id);
        Ok(())
    }

    async fn admit_message(
        &self,
        id: &ConnectionId,
        now: Micros,
        rate: MessageRate,
    ) -> Result<MessageAdmission, StoreError> {
        let mut tables = self.lock();
        let Some(connection) = tables.users.get(id).cloned() else {
            return Err(StoreError::NotFound {
                table: self.names.user.clone(),
                key: id.to_string(),
            });
        };
        let decision = match rate.decide(tables.allowances.get(id).copied(), now) {
            RateDecision::Admit { allowance_at } => {
                tables.allowances.insert(id.clone(), allowance_at);
                Admission::Admitted
            }
            RateDecision::Refuse { retry_after_us } => Admission::Refused { retry_after_us },
        };
        Ok(MessageAdmission {
            decision,
            connection,
        })
    }

    async fn count_refusal(&self, id: &ConnectionId, window: u64) -> Result<u32, StoreError> {
        let mut tables = self.lock();
        if !tables.users.contains_key(id) {
            return Err(StoreError::NotFound {
                table: self.names.user.clone(),
                key: id.to_string(),
            });
        }
        let counted = tables.refusals.entry(id.clone()).or_insert((window, 0));
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
        let mut inner = self.lock();
        let stale = inner
            .users
            .get(id)
            .is_some_and(|connection| connection.connected_at < connected_before);
        if stale {
            inner.forget(id);
        }
        Ok(stale)
    }

    async fn room_connections(&self, room: &Room) -> Result<Vec<ConnectionId>, StoreError> {
        let mut ids: Vec<ConnectionId> = self
            .lock()
            .users
            .values()
            .filter(|connection| connection.room == *room)
            .map(|connection| connection.id.clone())
            .collect();
        // The room index's sort key is the connection id; keep the same order.
        ids.sort();
        Ok(ids)
    }

    async fn append_chat(&self, line: &NewChatLine) -> Result<ChatLine, StoreError> {
        let mut tables = self.lock();
        let lines = tables.chat.entry(line.room.clone()).or_default();
        let sent_at = loop {
            let key = chat_sort_key(line.sent_at, &chat_key_suffix());
            if !lines.contains_key(&key) {
                break key;
            }
        };
        let stored = ChatLine {
            room: line.room.clone(),
            sent_at: sent_at.clone(),
            username: line.username.clone(),
            content: line.content.clone(),
            connection_id: line.connection_id.clone(),
            correct: line.correct,
            expires_at: line.expires_at,
        };
        lines.insert(sent_at, stored.clone());
        Ok(stored)
    }

    async fn set_chat_correct(&self, line: &ChatLine, correct: bool) -> Result<(), StoreError> {
        let mut tables = self.lock();
        let stored = tables
            .chat
            .get_mut(&line.room)
            .and_then(|lines| lines.get_mut(&line.sent_at));
        match stored {
            Some(stored) => {
                stored.correct = correct;
                Ok(())
            }
            None => Err(StoreError::NotFound {
                table: self.names.chat.clone(),
                key: format!("{}/{}", line.room, line.sent_at),
            }),
        }
    }

    async fn recent_chat(&self, room: &Room, limit: usize) -> Result<Vec<ChatLine>, StoreError> {
        let tables = self.lock();
        let Some(lines) = tables.chat.get(room) else {
            return Ok(Vec::new());
        };
        let mut recent: Vec<ChatLine> = lines.values().rev().take(limit).cloned().collect();
        recent.reverse();
        Ok(recent)
    }

    async fn load_game(&self, room: &Room) -> Result<Option<Game>, StoreError> {
        let tables = self.lock();
        if let Some(unreadable) = self.unreadable_game(&tables, room) {
            return Err(unreadable);
        }
        Ok(tables.games.get(room).cloned())
    }

    async fn save_game(
        &self,
        room: &Room,
        game: &Game,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        if tables.game_version(room) != expected_version.map(Some) {
            return Err(StoreError::Conflict {
                room: room.to_string(),
                expected: expected_version,
            });
        }
        tables.unreadable_games.remove(room);
        tables.games.insert(room.clone(), game.clone());
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
