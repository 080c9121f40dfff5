//! Per-connection buffers: what has been read but not yet framed, and what is queued to be
//! written.
//!
//! Both give their memory up when they become empty, so an idle connection holds no buffer
//! at all: that is what lets one small machine keep tens of thousands of connections open.
//! What they give up goes to a small spare ([`SpareBuffer`], [`SpareQueues`]) that the next
//! busy connection takes, so being frugal costs no allocation per read or per delivery.

use std::io::{self, Read};

use crate::framing::{self, FrameError};

pub use crate::line::Line;
pub use outbox::{Flushed, Outbox, SpareQueues, Wire, ENTRY_BYTES};

mod outbox;

/// How many bytes one read asks the kernel for. Larger reads mean fewer system calls for a
/// busy sender; the buffer only grows this far beyond the line limit.
pub const READ_CHUNK: usize = 16 * 1024;

/// Whether a short read (fewer bytes than the buffer had room for) may end a drain, with no
/// second read to hear `WouldBlock`.
///
/// On epoll it may: epoll(7) says that for a stream socket a short read means its receive
/// queue was empty, and bytes that arrive after it raise a new edge. Skipping the read that
/// would only say `WouldBlock` saves one system call per wake-up of a connection that sent
/// one message. Not when the event also said the peer closed or failed: that edge has been
/// reported already, so the drain goes on to end of stream.
///
/// On `poll(2)` (`--cfg mio_unsupported_force_poll_poll`) it may not: mio emulates edge
/// triggering there by dropping an interest once it fired and re-arming it only when an
/// operation returns `WouldBlock`, so a loop that stops at a short read never hears from the
/// socket again (docs/teaching.md, "Why the same code works on epoll and on poll(2)").
pub const SHORT_READ_DRAINS: bool = !cfg!(mio_unsupported_force_poll_poll);

/// How far a readable event's socket is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Until `WouldBlock` or end of stream.
    ToWouldBlock,
    /// Until a short read, `WouldBlock` or end of stream (epoll only).
    ToShortRead,
}

impl Drain {
    /// The drain for an event, given whether it said the peer closed or the socket failed.
    pub fn after(closed: bool) -> Drain {
        if SHORT_READ_DRAINS && !closed {
            Drain::ToShortRead
        } else {
            Drain::ToWouldBlock
        }
    }

    /// Whether a read that returned `got` ends the drain with no further read.
    pub fn ends_at(self, got: Got) -> bool {
        got.short && self == Drain::ToShortRead
    }
}

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Got {
    /// Bytes read; 0 is end of stream.
    pub n: usize,
    /// Fewer than the buffer had room for: the kernel had no more at that moment.
    pub short: bool,
}

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
        self.read_some(src, spare).map(|got| got.n)
    }

    /// Like [`ReadBuf::read_from`], and also says whether the read was short (see
    /// [`SHORT_READ_DRAINS`]).
    pub fn read_some(&mut self, src: &mut impl Read, spare: &mut SpareBuffer) -> io::Result<Got> {
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
        let room = self.bytes.len() - self.end;
        let result = src.read(&mut self.bytes[self.end..]);
        if let Ok(n) = result {
            self.end += n;
        }
        self.release_if_empty(spare);
        result.map(|n| Got { n, short: n < room })
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

    /// Takes the next unit of input that `cut` finds in the unconsumed bytes, for framings
    /// other than lines (an HTTP request, a WebSocket frame): `cut` returns what it found
    /// and how many bytes it used, and may change them in place (unmasking).
    pub fn next_with<'a, T: 'a, E>(
        &'a mut self,
        cut: impl FnOnce(&'a mut [u8]) -> Result<Option<(T, usize)>, E>,
    ) -> Result<Option<T>, E> {
        let ReadBuf {
            bytes, start, end, ..
        } = self;
        let found = cut(&mut bytes[*start..*end])?;
        Ok(found.map(|(unit, used)| {
            *start += used;
            self.scanned = *start;
            unit
        }))
    }

    /// The bytes held and not yet consumed.
    pub fn unconsumed(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    /// Bytes held and not yet consumed.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of storage held: none while idle.
    pub fn storage(&self) -> usize {
        self.bytes.len()
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

#[cfg(test)]
mod tests;
