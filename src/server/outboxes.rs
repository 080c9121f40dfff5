//! The transport side of the chat: every connection's outbox, the set of those with output
//! to write, and the queue storage they hand on to each other.
//!
//! Handlers and the chat queue lines here ([`Outboxes::send`]) and never see a socket; the
//! event loop takes the dirty set ([`Outboxes::take_dirty`]) and writes each outbox to its
//! socket before it sleeps.
//!
//! All queued output together is bounded too ([`Outboxes::send`] checks it as each line is
//! queued): past `--max-output-total`, the connections with the most unread output are
//! dropped first, until the total is back under three quarters of the bound.

use std::io::{self, Write};

use log::warn;

use crate::buffer::{Flushed, Line, Outbox, SpareQueues, Wire, ENTRY_BYTES};
use crate::line::live_bytes;
use crate::protocol::encode_error;

use super::keyset::KeySet;
use super::stats::LinesOut;

/// Default `--max-output-total`: 256 MiB for all queued output together. The per-connection
/// limit alone would let ten thousand slow readers hold 80 GB; a small machine (a class's
/// VPS) has a gigabyte or two, and a healthy server queues a few megabytes per pass.
pub const DEFAULT_MAX_OUTPUT_TOTAL: usize = 256 * 1024 * 1024;

/// One connection's outbox, and whether it still takes lines.
#[derive(Debug, Default)]
struct Slot {
    out: Outbox,
    /// `false` before the connection opens and once its output is discarded: a connection
    /// dropped for not reading, or whose socket failed, must not collect lines again.
    open: bool,
    /// Where its owed map goes, while one is owed.
    place: usize,
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
    /// Connections owed their `CONVERSATIONS` map, each once (see `chat/members.rs`).
    owed: KeySet,
    /// The empty line that keeps an owed map's place in its outbox.
    placeholder: Line,
    /// Lines queued in every outbox together.
    entries: usize,
    /// The bound on all queued output: distinct line bytes plus one entry per queued line.
    max_total: usize,
    /// Connections dropped to keep the total under its bound, for the loop to close.
    evicted: KeySet,
    /// Lines queued, by command word (raw entries, HTTP responses and WebSocket control
    /// frames, are no lines).
    pub sent: LinesOut,
}

impl Outboxes {
    pub fn new(trace: bool, max_total: usize) -> Outboxes {
        Outboxes {
            trace,
            max_total,
            ..Outboxes::default()
        }
    }

    /// Whether `--trace` is on.
    pub fn tracing(&self) -> bool {
        self.trace
    }

    /// Gives a new connection an empty outbox that takes lines, in this wire form.
    pub fn open(&mut self, key: usize, wire: Wire) {
        if key >= self.slots.len() {
            self.slots.resize_with(key + 1, Slot::default);
        }
        self.discard(key);
        let mut out = Outbox::new();
        out.set_wire(wire);
        self.slots[key] = Slot {
            out,
            open: true,
            place: 0,
        };
    }

    /// Changes a connection's wire form (an HTTP connection upgraded to a WebSocket).
    #[cfg(feature = "web")]
    pub fn set_wire(&mut self, key: usize, wire: Wire) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.out.set_wire(wire);
        }
    }

    /// Queues a line for one connection and marks it for writing. Every path that queues
    /// output goes through here, so no connection can be left with output and not dirty.
    pub fn send(&mut self, key: usize, line: &Line) {
        self.queue(key, line, false);
    }

    /// Queues bytes already in the connection's wire form (an HTTP response, a WebSocket
    /// control frame, a scrape's answer), under the same bounds as lines.
    #[cfg(any(feature = "web", feature = "metrics"))]
    pub fn send_raw(&mut self, key: usize, bytes: &Line) {
        self.queue(key, bytes, true);
    }

    fn queue(&mut self, key: usize, line: &Line, raw: bool) {
        if !self.is_open(key) || !(raw || self.slots[key].out.carries_lines()) {
            return;
        }
        if !self.room_for_one_more(key) {
            return;
        }
        let slot = &mut self.slots[key];
        if raw {
            slot.out.push_raw_reusing(line.clone(), &mut self.spare);
        } else {
            slot.out.push_reusing(line.clone(), &mut self.spare);
            self.sent.count(line);
        }
        self.entries += 1;
        trace!(self.trace, "conn {key}: queued {} bytes", line.len());
        self.dirty.insert(key);
    }

    fn is_open(&self, key: usize) -> bool {
        self.slots.get(key).is_some_and(|slot| slot.open)
    }

    /// Marks `key`'s `CONVERSATIONS` map as owed, keeping its place in the outbox: lines
    /// queued later come after it. A map already owed is not owed twice.
    pub fn owe_map(&mut self, key: usize) {
        if self.owed.contains(key) || !self.is_open(key) || !self.slots[key].out.carries_lines() {
            return;
        }
        if !self.room_for_one_more(key) {
            return;
        }
        let slot = &mut self.slots[key];
        slot.place = slot.out.reserve(self.placeholder.clone(), &mut self.spare);
        self.entries += 1;
        self.owed.insert(key);
        self.dirty.insert(key);
    }

    /// Takes back a map owed to `key`: its place in the outbox stays empty.
    pub fn forget_owed(&mut self, key: usize) {
        self.owed.remove(key);
    }

    /// The connections owed a map since the last call, each once.
    pub fn take_owed(&mut self) -> Vec<usize> {
        self.owed.take()
    }

    /// Puts an owed map in its place.
    pub fn fill_owed(&mut self, key: usize, map: &Line) {
        self.owed.remove(key);
        if let Some(slot) = self.slots.get_mut(key).filter(|slot| slot.open) {
            slot.out.fill(slot.place, map.clone());
            self.sent.count(map);
            trace!(self.trace, "conn {key}: queued {} bytes", map.len());
        }
    }

    /// Whether one more line fits in the bound on all queued output, after dropping the
    /// connections with the most unread output if it did not. `false` if `key` itself was
    /// dropped.
    fn room_for_one_more(&mut self, key: usize) -> bool {
        let total = |entries: usize| live_bytes() + (entries + 1) * ENTRY_BYTES;
        if total(self.entries) <= self.max_total {
            return true;
        }
        let mut largest: Vec<(usize, usize)> = (self.slots.iter().enumerate())
            .filter(|(_, slot)| slot.open && slot.out.queued() > 0)
            .map(|(key, slot)| (slot.out.queued(), key))
            .collect();
        largest.sort_unstable_by(|a, b| b.cmp(a));
        let mut dropped = 0;
        for (_, victim) in largest {
            if total(self.entries) <= self.max_total / 4 * 3 {
                break;
            }
            self.discard(victim);
            self.evicted.insert(victim);
            dropped += 1;
        }
        // Only when someone was dropped: with nothing queued anywhere there is nobody to
        // drop, and nothing worth a line per delivery.
        if dropped > 0 {
            warn!(
                "queued output reached --max-output-total ({} bytes): dropped the {dropped} \
                 connections with the most unread output",
                self.max_total
            );
        }
        self.is_open(key)
    }

    /// Connections dropped for the bound on all queued output since the last call.
    pub fn take_evicted(&mut self) -> Vec<usize> {
        self.evicted.take()
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

    /// Marks a connection for writing whatever its outbox holds: its TLS layer has records
    /// to write (the handshake's, an alert) even if no line is queued.
    pub fn mark_writable(&mut self, key: usize) {
        if key < self.slots.len() {
            self.dirty.insert(key);
        }
    }

    /// Whether any outbox has output queued that the loop has not tried to write yet (or a
    /// connection was dropped for the total bound and is not closed yet).
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.evicted.is_empty()
    }

    /// The outboxes with output queued since the last call, each once.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        self.dirty.take()
    }

    /// Writes a connection's outbox to `dst` until it is empty or `dst` would block (see
    /// [`Outbox::flush_to`]). `None` if the connection has no outbox.
    pub fn write(&mut self, key: usize, dst: &mut impl Write) -> Option<io::Result<Flushed>> {
        let out = &mut self.slots.get_mut(key)?.out;
        let before = out.lines();
        let result = out.flush_to(dst);
        let gone = before - out.lines();
        self.uncount(gone);
        Some(result)
    }

    /// Bytes queued for a connection and not yet written.
    pub fn queued(&self, key: usize) -> usize {
        self.slots.get(key).map_or(0, |slot| slot.out.queued())
    }

    /// After a write: an outbox with nothing left hands its storage on, so an idle
    /// connection holds none.
    pub fn release(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            // Nothing is left to write, but places kept for maps no longer owed may be.
            let before = slot.out.lines();
            slot.out.release_if_empty(&mut self.spare);
            let gone = before - slot.out.lines();
            self.uncount(gone);
        }
    }

    /// Takes lines that left an outbox off the count of queued lines. A miscount must not
    /// wrap around (every connection would then look over the bound): tests catch it, a
    /// server saturates.
    fn uncount(&mut self, lines: usize) {
        debug_assert!(
            lines <= self.entries,
            "{lines} lines gone of {}",
            self.entries
        );
        self.entries = self.entries.saturating_sub(lines);
    }

    /// Drops what is queued for a connection, and everything queued for it later: its
    /// output can never be written (its socket failed) or must not be (it does not read).
    pub fn discard(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            let gone = std::mem::take(slot).out.lines();
            self.uncount(gone);
        }
        self.dirty.remove(key);
        self.owed.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_kept_for_a_map_no_longer_owed_is_written_as_nothing_and_counted_out() {
        let mut out = Outboxes::new(false, DEFAULT_MAX_OUTPUT_TOTAL);
        out.open(0, Wire::Lines);
        out.owe_map(0);
        out.forget_owed(0);
        assert_eq!(out.entries, 1);
        let mut written = Vec::new();
        out.write(0, &mut written).unwrap().unwrap();
        out.release(0);
        assert!(written.is_empty());
        assert_eq!(out.entries, 0, "no queue entry is left counted");
        out.send(0, &Line::from(&b"MESSAGE [1,\"a\",\"b\"]\n"[..]));
        out.write(0, &mut written).unwrap().unwrap();
        out.release(0);
        assert_eq!(out.entries, 0);
    }
}
