//! Per-connection buffers: what has been read but not yet framed, and what is queued to be
//! written.
//!
//! Both release their memory when they become empty, so an idle connection holds no buffer
//! at all: that is what lets one small machine keep tens of thousands of connections open.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::rc::Rc;

use crate::framing::{self, FrameError};

/// One encoded line, shared by reference between every outbox it is queued on: a message
/// to a hundred members is encoded once and costs a hundred reference counts, not a hundred
/// copies. `Rc` (not `Arc`) because everything runs on one thread.
pub type Line = Rc<[u8]>;

/// How many bytes one read asks the kernel for. Larger reads mean fewer system calls for a
/// busy sender; the buffer only grows this far beyond the line limit.
pub const READ_CHUNK: usize = 16 * 1024;

/// How many queued lines one `writev` hands to the kernel at most (Linux accepts 1024).
const MAX_IOV: usize = 64;

/// Bytes received and not yet consumed as lines.
///
/// Lines are consumed by advancing a cursor; the consumed prefix is dropped (compacted)
/// once per read, not once per line, so a buffer of many short lines is not moved again and
/// again.
#[derive(Debug, Default)]
pub struct ReadBuf {
    bytes: Vec<u8>,
    /// Start of the unconsumed bytes.
    start: usize,
}

impl ReadBuf {
    pub fn new() -> ReadBuf {
        ReadBuf::default()
    }

    /// Does one `read` into the buffer. Returns what `read` returned: `Ok(0)` is end of
    /// stream, and `WouldBlock` and `Interrupted` are passed up for the caller to handle.
    pub fn read_from(&mut self, src: &mut impl Read) -> io::Result<usize> {
        self.bytes.drain(..self.start);
        self.start = 0;
        let filled = self.bytes.len();
        self.bytes.resize(filled + READ_CHUNK, 0);
        let result = src.read(&mut self.bytes[filled..]);
        self.bytes.truncate(filled + *result.as_ref().unwrap_or(&0));
        self.release_if_empty();
        result
    }

    /// Takes the next complete line, if there is one (see [`framing::next_line`]).
    pub fn next_line(&mut self, max_line: usize) -> Result<Option<&str>, FrameError> {
        let ReadBuf { bytes, start } = self;
        match framing::next_line(&bytes[*start..], max_line)? {
            Some((line, used)) => {
                *start += used;
                Ok(Some(line))
            }
            None => Ok(None),
        }
    }

    /// Bytes held and not yet consumed.
    pub fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees the storage once everything has been consumed: an idle connection keeps no
    /// buffer.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() {
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
        if self.lines.is_empty() {
            // An idle connection keeps no queue storage.
            self.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `limit` bytes per call, like a nearly full socket.
    struct Trickle {
        got: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn read_buffer_frames_lines_across_reads_and_frees_itself() {
        let mut buf = ReadBuf::new();
        let mut input: &[u8] = b"ONE\nTW";
        assert_eq!(buf.read_from(&mut input).unwrap(), 6);
        assert_eq!(buf.next_line(64), Ok(Some("ONE")));
        assert_eq!(buf.next_line(64), Ok(None));
        assert_eq!(buf.len(), 2);
        let mut more: &[u8] = b"O\n";
        buf.read_from(&mut more).unwrap();
        assert_eq!(buf.next_line(64), Ok(Some("TWO")));
        buf.release_if_empty();
        assert_eq!(buf.bytes.capacity(), 0);
    }

    #[test]
    fn read_buffer_passes_end_of_stream_up() {
        let mut buf = ReadBuf::new();
        let mut empty: &[u8] = b"";
        assert_eq!(buf.read_from(&mut empty).unwrap(), 0);
        assert!(buf.is_empty());
    }

    #[test]
    fn outbox_writes_in_order_across_partial_writes() {
        let mut out = Outbox::new();
        let shared: Line = Rc::from(&b"MESSAGE [1,\"a\",\"hi\"]\n"[..]);
        out.push(shared.clone());
        out.push(Rc::from(&b"ERROR \"x\"\n"[..]));
        out.push(shared.clone());
        let total = out.queued();
        let mut sink = Trickle {
            got: Vec::new(),
            limit: 5,
        };
        while !out.is_empty() {
            out.write_to(&mut sink).unwrap();
        }
        assert_eq!(sink.got.len(), total);
        assert_eq!(
            sink.got,
            b"MESSAGE [1,\"a\",\"hi\"]\nERROR \"x\"\nMESSAGE [1,\"a\",\"hi\"]\n"
        );
        assert_eq!(Rc::strong_count(&shared), 1, "written lines are released");
        assert_eq!(out.lines.capacity(), 0, "an empty outbox holds no storage");
    }
}
