//! Per-connection buffers: what has been read but not yet framed, and what is queued to be
//! written.
//!
//! Both give their memory up when they become empty, so an idle connection holds no buffer
//! at all: that is what lets one small machine keep tens of thousands of connections open.
//! What they give up goes to a small spare ([`SpareBuffer`], [`SpareQueues`]) that the next
//! busy connection takes, so being frugal costs no allocation per read or per delivery.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};

use crate::framing::{self, FrameError};

pub use crate::line::Line;

/// How many bytes one read asks the kernel for. Larger reads mean fewer system calls for a
/// busy sender; the buffer only grows this far beyond the line limit.
pub const READ_CHUNK: usize = 16 * 1024;

/// How many queued lines one `writev` hands to the kernel at most (Linux accepts 1024).
const MAX_IOV: usize = 64;

/// Bytes received and not yet consumed as lines.
///
/// Lines are consumed by advancing a cursor; the consumed prefix is dropped (compacted)
/// once per read, not once per line, so a buffer of many short lines is not moved again and
/// again. When everything is consumed the storage goes to a [`SpareBuffer`], so an idle
/// connection holds none.
#[derive(Debug, Default)]
pub struct ReadBuf {
    /// The storage. Every byte of it is initialized, so a read needs no zero-filling first;
    /// empty (no allocation) while the connection is idle.
    bytes: Vec<u8>,
    /// Start of the unconsumed bytes.
    start: usize,
    /// End of the bytes already searched for a `\n` and found to hold none: the next search
    /// starts here, so a long line arriving in many small reads is searched once, not once
    /// per read. Between `start` and `end`.
    scanned: usize,
    /// End of the bytes read so far.
    end: usize,
}

/// One read buffer set aside for reuse. A connection whose input is all consumed hands its
/// buffer over instead of freeing it, and the next connection to read takes it. The loop
/// serves connections one after the other, so one spare serves them all, and a read costs
/// neither an allocation nor zero-filling a fresh buffer.
#[derive(Debug, Default)]
pub struct SpareBuffer(Vec<u8>);

impl ReadBuf {
    pub fn new() -> ReadBuf {
        ReadBuf::default()
    }

    /// Does one `read` into the buffer. Returns what `read` returned: `Ok(0)` is end of
    /// stream, and `WouldBlock` and `Interrupted` are passed up for the caller to handle.
    pub fn read_from(&mut self, src: &mut impl Read, spare: &mut SpareBuffer) -> io::Result<usize> {
        if self.bytes.is_empty() {
            self.bytes = std::mem::take(&mut spare.0);
            if self.bytes.is_empty() {
                self.bytes = vec![0; READ_CHUNK];
            }
        }
        if self.start > 0 {
            // Only when something was consumed: moving a long unfinished line onto itself
            // on every read would cost as much as searching it again.
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.end == self.bytes.len() {
            // A line longer than the buffer: grow by a chunk (bounded by the line limit).
            self.bytes.resize(self.end + READ_CHUNK, 0);
        }
        let result = src.read(&mut self.bytes[self.end..]);
        if let Ok(n) = result {
            self.end += n;
        }
        self.release_if_empty(spare);
        result
    }

    /// Takes the next complete line, if there is one (see [`framing::next_line`]). Only the
    /// bytes not searched by an earlier call are searched.
    pub fn next_line(&mut self, max_line: usize) -> Result<Option<&str>, FrameError> {
        let ReadBuf {
            bytes,
            start,
            scanned,
            end,
        } = self;
        let unconsumed = &bytes[*start..*end];
        match framing::next_line_after(unconsumed, *scanned - *start, max_line)? {
            Some((line, used)) => {
                // The bytes after this line's `\n` have not been searched yet.
                *start += used;
                *scanned = *start;
                Ok(Some(line))
            }
            None => {
                *scanned = *end;
                Ok(None)
            }
        }
    }

    /// The bytes held and not yet consumed.
    pub fn unconsumed(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// Consumes the first `n` bytes of [`ReadBuf::unconsumed`]: for a framing that reads
    /// the bytes in place itself (imload's WebSocket frames) instead of line by line.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        self.scanned = self.scanned.max(self.start);
    }

    /// Bytes held and not yet consumed.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Once everything has been consumed, gives the storage to `spare` (or frees it, if the
    /// spare is taken or the buffer grew for a long line): an idle connection keeps none.
    pub fn release_if_empty(&mut self, spare: &mut SpareBuffer) {
        if self.is_empty() && !self.bytes.is_empty() {
            let bytes = std::mem::take(&mut self.bytes);
            if spare.0.is_empty() && bytes.len() == READ_CHUNK {
                spare.0 = bytes;
            }
            *self = ReadBuf::default();
        }
    }
}

/// What [`Outbox::flush_to`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Bytes written.
    pub written: usize,
    /// Stopped at `WouldBlock` with output left: wait for a writable event.
    pub blocked: bool,
}

/// Emptied outbox queues kept for reuse (like [`SpareBuffer`] for reading): queueing a
/// line for a connection that had nothing queued then costs no allocation, which at low
/// load would otherwise be one allocation and one free per delivery.
#[derive(Debug, Default)]
pub struct SpareQueues(Vec<VecDeque<Line>>);

/// Spare queues kept at most. A pass needs one per connection it writes to; past this many
/// an emptied queue is freed. Each is a few dozen bytes, so the bound is about 64 KiB.
const MAX_SPARE_QUEUES: usize = 1024;

/// A queue that grew longer than this (a burst to a slow reader) is freed rather than
/// kept, so the spares stay small.
const MAX_SPARE_QUEUE_LINES: usize = 64;

/// Lines queued for one connection, written in order, possibly over many writes.
#[derive(Debug, Default)]
pub struct Outbox {
    lines: VecDeque<Line>,
    /// Bytes of the front line already written.
    front_written: usize,
    /// Bytes queued and not yet written, across all lines.
    queued: usize,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Queues a line (a reference-count increment; the bytes are not copied).
    pub fn push(&mut self, line: Line) {
        self.queued += line.len();
        self.lines.push_back(line);
    }

    /// Queues a line, taking a spare queue first if this outbox holds no storage.
    pub fn push_reusing(&mut self, line: Line, spare: &mut SpareQueues) {
        if self.lines.capacity() == 0 {
            if let Some(queue) = spare.0.pop() {
                self.lines = queue;
            }
        }
        self.push(line);
    }

    /// Keeps a place in the queue for a line not encoded yet: `placeholder` (an empty line)
    /// stands in it until [`Outbox::fill`] puts the line there. An empty place writes
    /// nothing. Returns the place.
    pub fn reserve(&mut self, placeholder: Line, spare: &mut SpareQueues) -> usize {
        self.push_reusing(placeholder, spare);
        self.lines.len() - 1
    }

    /// Puts `line` in a place kept by [`Outbox::reserve`]. Places stay put until the next
    /// write, so the caller fills them before writing.
    pub fn fill(&mut self, place: usize, line: Line) {
        if let Some(slot) = self.lines.get_mut(place).filter(|kept| kept.is_empty()) {
            self.queued += line.len();
            *slot = line;
        }
    }

    /// Lines queued (each a reference to its shared bytes).
    pub fn lines(&self) -> usize {
        self.lines.len()
    }

    /// Once everything is written, gives the storage to `spare` (or frees it): an idle
    /// connection keeps no queue storage.
    pub fn release_if_empty(&mut self, spare: &mut SpareQueues) {
        if self.is_empty() && self.lines.capacity() > 0 {
            let mut queue = std::mem::take(&mut self.lines);
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

    /// Drops everything queued and frees the storage.
    pub fn clear(&mut self) {
        *self = Outbox::default();
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
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        for (i, line) in self.lines.iter().take(MAX_IOV).enumerate() {
            let skip = if i == 0 { self.front_written } else { 0 };
            slices[i] = IoSlice::new(&line[skip..]);
            count += 1;
        }
        let written = dst.write_vectored(&slices[..count])?;
        self.consume(written);
        Ok(written)
    }

    fn consume(&mut self, mut written: usize) {
        self.queued -= written;
        while let Some(front) = self.lines.front() {
            let rest = front.len() - self.front_written;
            if written < rest {
                self.front_written += written;
                break;
            }
            written -= rest;
            self.front_written = 0;
            self.lines.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
