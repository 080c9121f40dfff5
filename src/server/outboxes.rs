//! The transport side of the chat: every connection's outbox, the set of those with output
//! to write, and the queue storage they hand on to each other.
//!
//! Handlers and the chat queue lines here ([`Outboxes::send`]) and never see a socket; the
//! event loop takes the dirty set ([`Outboxes::take_dirty`]) and writes each outbox to its
//! socket before it sleeps.

use std::rc::Rc;

use crate::buffer::{Line, Outbox, SpareQueues};
use crate::protocol::encode_error;

use super::keyset::KeySet;

/// One connection's outbox, and whether it still takes lines.
#[derive(Debug, Default)]
struct Slot {
    out: Outbox,
    /// `false` before the connection opens and once its output is discarded: a connection
    /// dropped for not reading, or whose socket failed, must not collect lines again.
    open: bool,
}

/// Every connection's outbox, by connection key.
#[derive(Debug, Default)]
pub struct Outboxes {
    slots: Vec<Slot>,
    /// Outboxes with output queued since they were last written.
    dirty: KeySet,
    /// Queue storage handed on from outboxes whose output was all written.
    spare: SpareQueues,
    /// Log each queued line (`--trace`).
    trace: bool,
}

impl Outboxes {
    pub fn new(trace: bool) -> Outboxes {
        Outboxes {
            trace,
            ..Outboxes::default()
        }
    }

    /// Whether `--trace` is on.
    pub fn tracing(&self) -> bool {
        self.trace
    }

    /// Gives a new connection an empty outbox that takes lines.
    pub fn open(&mut self, key: usize) {
        if key >= self.slots.len() {
            self.slots.resize_with(key + 1, Slot::default);
        }
        self.slots[key] = Slot {
            out: Outbox::new(),
            open: true,
        };
    }

    /// Queues a line for one connection and marks it for writing. Every path that queues
    /// output goes through here, so no connection can be left with output and not dirty.
    pub fn send(&mut self, key: usize, line: &Line) {
        let Some(slot) = self.slots.get_mut(key).filter(|slot| slot.open) else {
            return;
        };
        slot.out.push_reusing(Rc::clone(line), &mut self.spare);
        trace!(self.trace, "conn {key}: queued {} bytes", line.len());
        self.dirty.insert(key);
    }

    /// Queues an `ERROR` line.
    pub fn send_error(&mut self, key: usize, text: &str) {
        self.send(key, &Line::from(encode_error(text)));
    }

    /// Marks a connection for writing again if it has output (its socket became writable).
    pub fn mark_dirty(&mut self, key: usize) {
        if self.queued(key) > 0 {
            self.dirty.insert(key);
        }
    }

    /// Whether any outbox has output queued that the loop has not tried to write yet.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The outboxes with output queued since the last call, each once.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        self.dirty.take()
    }

    /// One connection's outbox, for the loop to write to its socket.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Outbox> {
        self.slots.get_mut(key).map(|slot| &mut slot.out)
    }

    /// Bytes queued for a connection and not yet written.
    pub fn queued(&self, key: usize) -> usize {
        self.slots.get(key).map_or(0, |slot| slot.out.queued())
    }

    /// After a write: an outbox with nothing left hands its storage on, so an idle
    /// connection holds none.
    pub fn release(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.out.release_if_empty(&mut self.spare);
        }
    }

    /// Drops what is queued for a connection, and everything queued for it later: its
    /// output can never be written (its socket failed) or must not be (it does not read).
    pub fn discard(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            *slot = Slot::default();
        }
        self.dirty.remove(key);
    }
}
