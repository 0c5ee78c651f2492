//! Items as DynamoDB stores them, read into a [`MemoryStore`] with the same codec
//! ([`crate::items`]) the DynamoDB store reads them with, so both stores can be handed the same
//! items (captured from a real table, or unreadable on purpose) and must behave the same.
//!
//! A game item that does not parse is kept as unreadable, as a DynamoDB table would keep it:
//! [`Store::load_game`] reports it as [`StoreError::Corrupt`] with what was salvaged, and only
//! [`Store::replace_unreadable_game`] (or a save expecting its version) writes over it.

use std::time::Instant;

use quiz_core::game::Game;

use super::{MemoryStore, Tables, User};
use crate::items::{
    chat_from_item, connection_from_item, flood_from_item, game_from_item, report_from_item, Item,
    ItemTable,
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
        let state = self.rooms.get(room)?;
        match &state.unreadable_game {
            Some(unreadable) => Some(unreadable.salvaged.version),
            None => state.game.as_ref().map(|game| Some(game.version())),
        }
    }
}

impl MemoryStore {
    /// Stores `item`, an item of `table` as DynamoDB stores it (see [`crate::items`]), as a
    /// PutItem would: replacing the item with the same key. Items are read exactly as the
    /// DynamoDB store reads them; a `User`, `Chat` or `Report` item that does not parse is
    /// refused with [`StoreError::Corrupt`], and a `Game` item that does not parse is kept as
    /// unreadable.
    pub fn import_item(&self, table: ItemTable, item: &Item) -> Result<(), StoreError> {
        let now = Instant::now();
        match table {
            ItemTable::User => {
                let connection = connection_from_item(&self.names.user, item)?;
                let (allowance_at, refusals) = flood_from_item(&self.names.user, item)?;
                let user = User {
                    connection,
                    allowance_at,
                    refusals,
                };
                self.lock_for_write(now).put_user(user, now);
            }
            ItemTable::Chat => {
                let line = chat_from_item(&self.names.chat, item)?;
                self.lock_for_write(now).put_chat_line(line, now);
            }
            ItemTable::Report => {
                let (key, report) = report_from_item(&self.names.report, item)?;
                self.lock_for_write(now).reports.put(key, report);
            }
            ItemTable::Game => match game_from_item(&self.names.game, item) {
                Ok((room, game)) => self.lock_for_write(now).put_game(&room, game, now),
                Err(StoreError::Corrupt {
                    key,
                    reason,
                    salvaged: Some(salvaged),
                    ..
                }) => {
                    let room = Room(key);
                    let mut tables = self.lock_for_write(now);
                    let state = tables.room_mut(&room, now);
                    state.game = None;
                    state.unreadable_game = Some(Unreadable {
                        reason,
                        salvaged: *salvaged,
                    });
                }
                Err(err) => return Err(err),
            },
        }
        Ok(())
    }

    /// [`StoreError::Corrupt`] for the room's game, if its item is unreadable.
    pub(super) fn unreadable_game(&self, tables: &Tables, room: &Room) -> Option<StoreError> {
        let state = tables.rooms.get(room)?;
        state
            .unreadable_game
            .as_ref()
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
        let now = Instant::now();
        let mut tables = self.lock_for_write(now);
        if tables.game_version(room) != Some(salvaged.version) {
            return Err(StoreError::Conflict {
                room: room.to_string(),
                expected: salvaged.version,
            });
        }
        tables.put_game(room, game.clone(), now);
        Ok(())
    }
}
