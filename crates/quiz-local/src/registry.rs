//! The connections the gateway holds open, by id: what the WebSocket side registers when a
//! connection opens and the management API looks up to post to it or close it.
//!
//! Both sides depend on this module and neither on the other: a connection's task owns the
//! socket, and everything else reaches it through its [`Entry::outbox`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use tokio::sync::mpsc::UnboundedSender;

/// Something for a connection's task to do, sent by the management API (or the task itself).
#[derive(Debug)]
pub enum Outbound {
    /// Send this frame.
    Frame(OutFrame),
    /// Close the connection normally (`DeleteConnection`).
    Close,
}

/// A frame to send; posted data that is not UTF-8 goes out as a binary frame.
#[derive(Debug)]
pub enum OutFrame {
    Text(String),
    Binary(Bytes),
}

impl OutFrame {
    pub fn len(&self) -> usize {
        match self {
            OutFrame::Text(text) => text.len(),
            OutFrame::Binary(bytes) => bytes.len(),
        }
    }
}

/// The bytes posted to a connection and not yet written to its socket, against a cap: API
/// Gateway, too, holds only so much for a client that does not read, and answers 429 past it.
#[derive(Debug)]
pub struct OutboundBuffer {
    pending: AtomicUsize,
    capacity: usize,
}

impl OutboundBuffer {
    pub fn new(capacity: usize) -> Self {
        OutboundBuffer {
            pending: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Reserves room for `bytes`; `false` (and nothing reserved) when they do not fit.
    pub fn reserve(&self, bytes: usize) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                pending
                    .checked_add(bytes)
                    .filter(|total| *total <= self.capacity)
            })
            .is_ok()
    }

    /// `bytes` were written to the socket (or dropped with it).
    pub fn release(&self, bytes: usize) {
        // Never below zero, whatever the caller does.
        let _ = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |pending| {
                Some(pending.saturating_sub(bytes))
            });
    }

    #[cfg(test)]
    fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

/// One open connection as the management API sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub outbox: UnboundedSender<Outbound>,
    pub connected_at: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// Milliseconds since the epoch of the last data frame either way (`LastActiveAt`).
    pub last_active: Arc<AtomicI64>,
    /// What is posted and not yet sent.
    pub buffer: Arc<OutboundBuffer>,
}

/// The connections the gateway knows, by id. A connection is in it from the moment its
/// `$connect` succeeded until its socket closes; an id not in it is gone.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    pub fn insert(&self, id: String, entry: Entry) {
        self.lock().insert(id, entry);
    }

    pub fn remove(&self, id: &str) -> Option<Entry> {
        self.lock().remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        self.lock().get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every method is a single map operation, so a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_refuses_what_does_not_fit_and_frees_what_was_sent() {
        let buffer = OutboundBuffer::new(100);
        assert!(buffer.reserve(60));
        assert!(!buffer.reserve(41), "60 + 41 > 100");
        assert!(buffer.reserve(40));
        assert_eq!(buffer.pending(), 100);
        buffer.release(60);
        assert!(buffer.reserve(50));
        buffer.release(1_000);
        assert_eq!(buffer.pending(), 0);
    }
}
