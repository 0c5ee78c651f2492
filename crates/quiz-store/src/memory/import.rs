//! Items as DynamoDB stores them, read into a [`MemoryStore`] with the same codec
//! ([`crate::items`]) the DynamoDB store reads them with, so both stores can be handed the same
//! items (captured from a real table, or unreadable on purpose) and must behave the same.
//!
//! A game item that does not parse is kept as unreadable, as a DynamoDB table would keep it:
//! [`Store::load_game`] reports it as [`StoreError::Corrupt`] with what was salvaged, and only
//! [`Store::replace_unreadable_game`] (or a save expecting its version) writes over it.

use quiz_core::game::Game;

use super::{MemoryStore, Tables};
use crate::items::{
    chat_from_item, connection_from_item, flood_from_item, game_from_item, Item, ItemTable,
};
use crate::{Room, Salvaged, StoreError};

/// A game item that does not parse: why, and what could still be read from it.
#[derive(Debug)]
pub(super) struct Unreadable {
    reason: String,
    salvaged: Salvaged,
}

impl Tables {
    /// The `version` attribute of the room's game item: `None` when there is no item,
    /// `Some(None)` for an unreadable item without a version number.
    pub(super) fn game_version(&self, room: &Room) -> Option<Option<u64>> {
        match self.unreadable_games.get(room) {
            Some(unreadable) => Some(unreadable.salvaged.version),
            None => self.games.get(room).map(|game| Some(game.version())),
        }
    }
}

impl MemoryStore {
    /// Stores `item`, an item of `table` as DynamoDB stores it (see [`crate::items`]), as a
    /// PutItem would: replacing the item with the same key. Items are read exactly as the
    /// DynamoDB store reads them; a `User` or `Chat` item that does not parse is refused with
    /// [`StoreError::Corrupt`], and a `Game` item that does not parse is kept as unreadable.
    pub fn import_item(&self, table: ItemTable, item: &Item) -> Result<(), StoreError> {
        match table {
            ItemTable::User => {
                let connection = connection_from_item(&self.names.user, item)?;
                let (allowance, refusals) = flood_from_item(&self.names.user, item)?;
                let mut tables = self.lock();
                tables.forget(&connection.id);
                if let Some(allowance) = allowance {
                    tables.allowances.insert(connection.id.clone(), allowance);
                }
                if let Some(refusals) = refusals {
                    tables.refusals.insert(connection.id.clone(), refusals);
                }
                tables.users.insert(connection.id.clone(), connection);
            }
            ItemTable::Chat => {
                let line = chat_from_item(&self.names.chat, item)?;
                let mut tables = self.lock();
                let lines = tables.chat.entry(line.room.clone()).or_default();
                lines.insert(line.sent_at.clone(), line);
            }
            ItemTable::Game => match game_from_item(&self.names.game, item) {
                Ok((room, game)) => {
                    let mut tables = self.lock();
                    tables.unreadable_games.remove(&room);
                    tables.games.insert(room, game);
                }
                Err(StoreError::Corrupt {
                    key,
                    reason,
                    salvaged: Some(salvaged),
                    ..
                }) => {
                    let room = Room(key);
                    let mut tables = self.lock();
                    tables.games.remove(&room);
                    let salvaged = *salvaged;
                    tables
                        .unreadable_games
                        .insert(room, Unreadable { reason, salvaged });
                }
                Err(err) => return Err(err),
            },
        }
        Ok(())
    }

    /// [`StoreError::Corrupt`] for the room's game, if its item is unreadable.
    pub(super) fn unreadable_game(&self, tables: &Tables, room: &Room) -> Option<StoreError> {
        tables
            .unreadable_games
            .get(room)
            .map(|unreadable| StoreError::Corrupt {
                table: self.names.game.clone(),
                key: room.to_string(),
                reason: unreadable.reason.clone(),
                salvaged: Some(Box::new(unreadable.salvaged.clone())),
            })
    }

    /// [`Store::replace_unreadable_game`]: as DynamoDB's condition on the item's `version`.
    pub(super) fn replace_unreadable(
        &self,
        room: &Room,
        game: &Game,
        salvaged: &Salvaged,
    ) -> Result<(), StoreError> {
        let mut tables = self.lock();
        if tables.game_version(room) != Some(salvaged.version) {
            return Err(StoreError::Conflict {
                room: room.to_string(),
                expected: salvaged.version,
            });
        }
        tables.unreadable_games.remove(room);
        tables.games.insert(room.clone(), game.clone());
        Ok(())
    }
}
