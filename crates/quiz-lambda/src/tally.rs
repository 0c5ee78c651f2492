//! What one event did to the store and to the room's connections, for the event's log line.
//!
//! A failed chat write or a throttled post must show at the default log level, next to the
//! event it belongs to, without threading a counter through every function of the handler.
//! [`scope`] runs an event's work with a fresh [`Tally`] in a task-local, and everything the
//! work does in that task adds to it: every store request through [`TalliedStore`] and every
//! post through [`crate::broadcast`]. The handler then logs the counts in its `handled` line.
//!
//! ```
//! use quiz_lambda::broadcast::BroadcastReport;
//! use quiz_lambda::tally;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let report = BroadcastReport { delivered: 3, ..BroadcastReport::default() };
//! let ((), counted) = tally::scope(async { tally::posts(&report) }).await;
//! assert_eq!(counted.posts_delivered, 3);
//! # });
//! ```

use std::cell::Cell;
use std::future::Future;

use quiz_core::game::{Game, Millis};
use quiz_store::{
    Binding, ChatLine, Connection, ConnectionId, ErrorKind, MessageAdmission, MessageRate, Micros,
    NewChatLine, Report, Room, RoomMember, Salvaged, Store, StoreError,
};

use crate::broadcast::{error_chain, BroadcastReport, PostError, PostErrorKind};

tokio::task_local! {
    static TALLY: Cell<Tally>;
}

/// Counts of what an event's requests did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Store reads and writes that succeeded (a lost race or a missing row counts here: it
    /// is an answer, not a failure).
    pub store_ok: u32,
    /// Store requests that failed (throttled, forbidden, unavailable, unreadable, other).
    pub store_failed: u32,
    pub posts_delivered: u32,
    pub posts_gone: u32,
    /// Posts given up after their retries still answered 429.
    pub posts_throttled: u32,
    pub posts_failed: u32,
    /// Retries of throttled posts.
    pub posts_retried: u32,
}

/// Runs `work` with a fresh tally, and returns its output and what it counted.
///
/// The work is boxed: an event's whole future inline would nest too deep for the compiler's
/// layout of the runtime's future.
pub async fn scope<F: Future>(work: F) -> (F::Output, Tally) {
    let work = Box::pin(work);
    TALLY
        .scope(Cell::new(Tally::default()), async {
            let output = work.await;
            (output, TALLY.with(Cell::get))
        })
        .await
}

fn add(change: impl FnOnce(&mut Tally)) {
    // Outside a scope (a test calling the broadcast directly) there is nothing to count.
    let _ = TALLY.try_with(|cell| {
        let mut tally = cell.get();
        change(&mut tally);
        cell.set(tally);
    });
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Adds a broadcast's outcome.
pub fn posts(report: &BroadcastReport) {
    add(|tally| {
        tally.posts_delivered += count(report.delivered);
        tally.posts_gone += count(report.gone.len());
        tally.posts_throttled += count(report.throttled);
        tally.posts_failed += count(report.failed);
        tally.posts_retried += count(report.retried);
    });
}

/// Adds one post made outside a broadcast (a last word before a close, a close), and logs it
/// when it failed for a reason other than the connection being gone.
pub fn post(what: &'static str, result: &Result<(), PostError>) {
    match result {
        Ok(()) => add(|tally| tally.posts_delivered += 1),
        Err(err) if err.kind() == PostErrorKind::Gone => add(|tally| tally.posts_gone += 1),
        Err(err) => {
            if err.kind() == PostErrorKind::Forbidden {
                tracing::error!(what, kind = ?err.kind(), error = %error_chain(err), "post failed");
            } else {
                tracing::warn!(what, kind = ?err.kind(), error = %error_chain(err), "post failed");
            }
            add(|tally| match err.kind() {
                PostErrorKind::Throttled => tally.posts_throttled += 1,
                _ => tally.posts_failed += 1,
            });
        }
    }
}

/// Adds one store request, and logs it when it failed: a `warn` with its kind, an `error`
/// when someone has to act (a permission, a missing table, an unreadable item).
fn request<T>(operation: &'static str, result: &Result<T, StoreError>) {
    let Err(err) = result else {
        add(|tally| tally.store_ok += 1);
        return;
    };
    let kind = err.kind();
    match kind {
        // Answers, not failures: a missing row, a lost race.
        ErrorKind::NotFound | ErrorKind::Conflict => add(|tally| tally.store_ok += 1),
        _ => {
            if kind.needs_attention() {
                tracing::error!(operation, kind = kind.as_str(), error = %error_chain(err), "store request failed");
            } else {
                tracing::warn!(operation, kind = kind.as_str(), error = %error_chain(err), "store request failed");
            }
            add(|tally| tally.store_failed += 1);
        }
    }
}

/// A store that counts each request in the current event's tally and logs the ones that fail.
#[derive(Debug, Clone)]
pub struct TalliedStore<S>(pub S);

impl<S: Store> Store for TalliedStore<S> {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let result = self.0.put_connection(connection).await;
        request("put_connection", &result);
        result
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let result = self.0.get_connection(id).await;
        request("get_connection", &result);
        result
    }

    async fn bind_username(
        &self,
        id: &ConnectionId,
        username: &str,
    ) -> Result<Binding, StoreError> {
        let result = self.0.bind_username(id, username).await;
        request("bind_username", &result);
        result
    }

    async fn remove_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let result = self.0.remove_connection(id).await;
        request("remove_connection", &result);
        result
    }

    async fn prune_connection(
        &self,
        id: &ConnectionId,
        connected_before: Millis,
    ) -> Result<bool, StoreError> {
        let result = self.0.prune_connection(id, connected_before).await;
        request("prune_connection", &result);
        result
    }

    async fn admit_message(
        &self,
        id: &ConnectionId,
        now: Micros,
        rate: MessageRate,
    ) -> Result<MessageAdmission, StoreError> {
        let result = self.0.admit_message(id, now, rate).await;
        request("admit_message", &result);
        result
    }

    async fn count_refusal(&self, id: &ConnectionId, window: u64) -> Result<u32, StoreError> {
        let result = self.0.count_refusal(id, window).await;
        request("count_refusal", &result);
        result
    }

    async fn room_connections(&self, room: &Room) -> Result<Vec<ConnectionId>, StoreError> {
        let result = self.0.room_connections(room).await;
        request("room_connections", &result);
        result
    }

    async fn room_members(&self, room: &Room) -> Result<Vec<RoomMember>, StoreError> {
        let result = self.0.room_members(room).await;
        request("room_members", &result);
        result
    }

    async fn append_chat(&self, line: &NewChatLine) -> Result<ChatLine, StoreError> {
        let result = self.0.append_chat(line).await;
        request("append_chat", &result);
        result
    }

    async fn set_chat_correct(&self, line: &ChatLine, correct: bool) -> Result<(), StoreError> {
        let result = self.0.set_chat_correct(line, correct).await;
        request("set_chat_correct", &result);
        result
    }

    async fn recent_chat(&self, room: &Room, limit: usize) -> Result<Vec<ChatLine>, StoreError> {
        let result = self.0.recent_chat(room, limit).await;
        request("recent_chat", &result);
        result
    }

    async fn save_report(&self, report: &Report) -> Result<(), StoreError> {
        let result = self.0.save_report(report).await;
        request("save_report", &result);
        result
    }

    async fn recent_reports(&self, room: &Room, limit: usize) -> Result<Vec<Report>, StoreError> {
        let result = self.0.recent_reports(room, limit).await;
        request("recent_reports", &result);
        result
    }

    async fn load_game(&self, room: &Room) -> Result<Option<Game>, StoreError> {
        let result = self.0.load_game(room).await;
        request("load_game", &result);
        result
    }

    async fn save_game(
        &self,
        room: &Room,
        game: &Game,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let result = self.0.save_game(room, game, expected_version).await;
        request("save_game", &result);
        result
    }

    async fn replace_unreadable_game(
        &self,
        room: &Room,
        game: &Game,
        salvaged: &Salvaged,
    ) -> Result<(), StoreError> {
        let result = self.0.replace_unreadable_game(room, game, salvaged).await;
        request("replace_unreadable_game", &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use quiz_store::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn a_scope_counts_its_own_requests_only() {
        let store = TalliedStore(MemoryStore::new());
        let id = ConnectionId("a".to_owned());
        let room = Room("r".to_owned());
        let ((), first) = scope(async {
            store
                .put_connection(&Connection::new(id.clone(), room.clone(), None, 0))
                .await
                .unwrap();
            store.room_connections(&room).await.unwrap();
            // A missing row is an answer, not a failure.
            let _ = store
                .bind_username(&ConnectionId("b".to_owned()), "x")
                .await;
            post("close", &Err(PostErrorKind::Throttled.into()));
            post("close", &Ok(()));
        })
        .await;
        assert_eq!(first.store_ok, 3);
        assert_eq!(first.store_failed, 0);
        assert_eq!(first.posts_throttled, 1);
        assert_eq!(first.posts_delivered, 1);
        let ((), second) = scope(async {
            posts(&BroadcastReport {
                delivered: 4,
                gone: vec![id.clone()],
                throttled: 1,
                failed: 2,
                retried: 3,
            });
        })
        .await;
        assert_eq!(
            second,
            Tally {
                posts_delivered: 4,
                posts_gone: 1,
                posts_throttled: 1,
                posts_failed: 2,
                posts_retried: 3,
                ..Tally::default()
            }
        );
    }
}
