//! The outbox: lines queued for one connection, written in order, possibly over many
//! writes, in the connection's wire form.
//!
//! A line is encoded once and shared by every outbox it is queued on, whatever transport
//! each recipient uses: the wire form is applied as the outbox is written. On a plain TCP
//! connection a line goes out as it is; on a WebSocket, each line goes out as one text frame,
//! its header as a small slice of its own beside the shared bytes in the same `writev`.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use super::Line;

/// How many queued lines one `writev` hands to the kernel at most (Linux accepts 1024; a
/// WebSocket line takes two slices).
const MAX_IOV: usize = 64;

/// Spare queues kept at most. A pass needs one per connection it writes to; past this many
/// an emptied queue is freed. Each is a few dozen bytes, so the bound is about 64 KiB.
const MAX_SPARE_QUEUES: usize = 1024;

/// A queue that grew longer than this (a burst to a slow reader) is freed rather than
/// kept, so the spares stay small.
const MAX_SPARE_QUEUE_LINES: usize = 64;

/// How a connection's output goes on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wire {
    /// Protocol lines as they are (`\n`-terminated): the TCP protocol.
    #[default]
    Lines,
    /// An HTTP connection before any upgrade: it carries only its response (a raw entry);
    /// protocol lines are not queued at all.
    #[cfg(feature = "web")]
    Http,
    /// Each protocol line as one WebSocket text frame, without its `\n`.
    #[cfg(feature = "web")]
    WebSocket,
    /// A connection to the metrics listener (`--metrics`): like [`Wire::Http`], it carries
    /// only its response.
    #[cfg(feature = "metrics")]
    Metrics,
}

/// What [`Outbox::flush_to`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Bytes written.
    pub written: usize,
    /// Stopped at `WouldBlock` with output left: wait for a writable event.
    pub blocked: bool,
}

/// One queued line: a protocol line (framed by the wire form), or bytes that are already
/// in wire form (an HTTP response, a WebSocket control frame), written as they are.
#[derive(Debug, Clone)]
pub struct Entry {
    line: Line,
    // Only the WebSocket wire form frames lines; without the `web` feature all go as they are.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    raw: bool,
}

/// What one queued entry costs beside its bytes (which are shared): for the bound on all
/// queued output.
pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

/// Emptied outbox queues kept for reuse (like [`super::SpareBuffer`] for reading):
/// queueing a line for a connection that had nothing queued then costs no allocation, which
/// at low load would otherwise be one allocation and one free per delivery.
#[derive(Debug, Default)]
pub struct SpareQueues(Vec<VecDeque<Entry>>);

/// Lines queued for one connection, written in order, possibly over many writes.
#[derive(Debug, Default)]
pub struct Outbox {
    entries: VecDeque<Entry>,
    /// Bytes of the front entry's wire form already written.
    front_written: usize,
    /// Bytes queued and not yet written, across all entries, in wire form.
    queued: usize,
    wire: Wire,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Changes the wire form (an HTTP connection upgraded to a WebSocket). Entries already
    /// queued keep the form they were counted in: only raw ones are queued before.
    pub fn set_wire(&mut self, wire: Wire) {
        self.wire = wire;
    }

    /// Whether protocol lines can be queued here (not on a plain HTTP connection).
    pub fn carries_lines(&self) -> bool {
        #[cfg(feature = "web")]
        if self.wire == Wire::Http {
            return false;
        }
        #[cfg(feature = "metrics")]
        if self.wire == Wire::Metrics {
            return false;
        }
        true
    }

    /// Queues a line (a reference-count increment; the bytes are not copied).
    pub fn push(&mut self, line: Line) {
        self.push_entry(Entry { line, raw: false });
    }

    /// Queues bytes already in wire form.
    pub fn push_raw(&mut self, line: Line) {
        self.push_entry(Entry { line, raw: true });
    }

    fn push_entry(&mut self, entry: Entry) {
        self.queued += self.wire_len(&entry);
        self.entries.push_back(entry);
    }

    /// Queues a line, taking a spare queue first if this outbox holds no storage.
    pub fn push_reusing(&mut self, line: Line, spare: &mut SpareQueues) {
        self.take_spare(spare);
        self.push(line);
    }

    /// [`Outbox::push_raw`], taking a spare queue first if this outbox holds no storage.
    pub fn push_raw_reusing(&mut self, line: Line, spare: &mut SpareQueues) {
        self.take_spare(spare);
        self.push_raw(line);
    }

    fn take_spare(&mut self, spare: &mut SpareQueues) {
        if self.entries.capacity() == 0 {
            if let Some(queue) = spare.0.pop() {
                self.entries = queue;
            }
        }
    }

    /// Keeps a place in the queue for a line not encoded yet: `placeholder` (an empty line)
    /// stands in it until [`Outbox::fill`] puts the line there. An empty place writes
    /// nothing. Returns the place.
    pub fn reserve(&mut self, placeholder: Line, spare: &mut SpareQueues) -> usize {
        self.push_reusing(placeholder, spare);
        self.entries.len() - 1
    }

    /// Puts `line` in a place kept by [`Outbox::reserve`]. Places stay put until the next
    /// write, so the caller fills them before writing.
    pub fn fill(&mut self, place: usize, line: Line) {
        let wire = self.wire;
        if let Some(slot) = self
            .entries
            .get_mut(place)
            .filter(|kept| kept.line.is_empty())
        {
            slot.line = line;
            self.queued += wire_len(wire, slot);
        }
    }

    /// Entries queued (each a reference to its shared bytes).
    pub fn lines(&self) -> usize {
        self.entries.len()
    }

    /// Once everything is written, gives the storage to `spare` (or frees it): an idle
    /// connection keeps no queue storage.
    pub fn release_if_empty(&mut self, spare: &mut SpareQueues) {
        if self.is_empty() && self.entries.capacity() > 0 {
            let mut queue = std::mem::take(&mut self.entries);
            // Nothing is left to write, but empty places kept for lines never filled may be.
            queue.clear();
            if spare.0.len() < MAX_SPARE_QUEUES && queue.capacity() <= MAX_SPARE_QUEUE_LINES {
                spare.0.push(queue);
            }
            self.front_written = 0;
        }
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Drops everything queued and frees the storage (the wire form stays).
    pub fn clear(&mut self) {
        *self = Outbox {
            wire: self.wire,
            ..Outbox::default()
        };
    }

    /// Writes until the queue is empty or `dst` says `WouldBlock`, retrying `Interrupted`.
    /// A socket is edge-triggered: stopping before `WouldBlock` would wait for a writable
    /// event that never comes. Any other error (and a write of zero bytes) is returned.
    pub fn flush_to(&mut self, dst: &mut impl Write) -> io::Result<Flushed> {
        let mut flushed = Flushed {
            written: 0,
            blocked: false,
        };
        while !self.is_empty() {
            match self.write_to(dst) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => flushed.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    flushed.blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(flushed)
    }

    /// Hands as much of the queue as one `writev` takes to `dst`, and forgets what it
    /// took. Returns what the write returned; `WouldBlock` and `Interrupted` are the
    /// caller's to handle.
    pub fn write_to(&mut self, dst: &mut impl Write) -> io::Result<usize> {
        #[cfg(feature = "web")]
        if self.wire == Wire::WebSocket {
            return self.write_frames_to(dst);
        }
        // Every other wire form writes each entry's bytes as they are.
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        for (i, entry) in self.entries.iter().take(MAX_IOV).enumerate() {
            let skip = if i == 0 { self.front_written } else { 0 };
            slices[i] = IoSlice::new(&entry.line[skip..]);
            count += 1;
        }
        let written = dst.write_vectored(&slices[..count])?;
        self.consume(written);
        Ok(written)
    }

    /// [`Outbox::write_to`] for a WebSocket: each line a text frame, its header a slice of
    /// its own before the shared bytes.
    #[cfg(feature = "web")]
    fn write_frames_to(&mut self, dst: &mut impl Write) -> io::Result<usize> {
        let mut headers = [[0u8; MAX_HEADER]; MAX_IOV];
        let mut slices = [IoSlice::new(&[]); 2 * MAX_IOV];
        let mut count = 0;
        let mut skip = self.front_written;
        for (entry, header) in self.entries.iter().zip(headers.iter_mut()) {
            for part in wire_parts(self.wire, entry, header) {
                // Parts of the front entry already written are skipped.
                let from = skip.min(part.len());
                skip -= from;
                if from < part.len() {
                    slices[count] = IoSlice::new(&part[from..]);
                    count += 1;
                }
            }
        }
        let written = dst.write_vectored(&slices[..count])?;
        self.consume(written);
        Ok(written)
    }

    fn wire_len(&self, entry: &Entry) -> usize {
        wire_len(self.wire, entry)
    }

    fn consume(&mut self, mut written: usize) {
        self.queued -= written;
        while let Some(front) = self.entries.front() {
            let rest = self.wire_len(front) - self.front_written;
            if written < rest {
                self.front_written += written;
                break;
            }
            written -= rest;
            self.front_written = 0;
            self.entries.pop_front();
        }
    }
}

/// The longest header an entry's wire form adds.
#[cfg(feature = "web")]
const MAX_HEADER: usize = crate::websocket::MAX_SERVER_HEADER;
#[cfg(not(feature = "web"))]
const MAX_HEADER: usize = 0;

/// An entry as it goes on the wire: a header (formatted into `header`) and the body.
fn wire_parts<'a>(wire: Wire, entry: &'a Entry, header: &'a mut [u8; MAX_HEADER]) -> [&'a [u8]; 2] {
    #[cfg(feature = "web")]
    if wire == Wire::WebSocket && !entry.raw && !entry.line.is_empty() {
        let body = entry.line.strip_suffix(b"\n").unwrap_or(&entry.line);
        let used = crate::websocket::text_header(body.len(), header);
        return [&header[..used], body];
    }
    let _ = (wire, header);
    [&[], &entry.line]
}

/// How many bytes an entry is on the wire.
fn wire_len(wire: Wire, entry: &Entry) -> usize {
    if wire == Wire::Lines {
        return entry.line.len();
    }
    let mut header = [0; MAX_HEADER];
    wire_parts(wire, entry, &mut header)
        .iter()
        .map(|part| part.len())
        .sum()
}

#[cfg(test)]
mod tests;
