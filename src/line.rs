//! One encoded line, shared by every outbox it is queued on, and the count of the bytes all
//! live lines hold.
//!
//! A message to a hundred members is encoded once and costs a hundred reference counts, not
//! a hundred copies. So the memory that queued output really holds is not the sum of what
//! each outbox has queued (that counts a shared line once per recipient) but the bytes of
//! the distinct lines still alive. Every [`Line`] adds its length to a per-thread count when
//! it is made and takes it off when its last holder drops it; [`live_bytes`] reads the
//! count. The server runs on one thread, so the count is exactly its own.

use std::cell::Cell;
use std::ops::Deref;
use std::rc::Rc;

thread_local! {
    /// Bytes held by the lines alive on this thread.
    static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Bytes held by every line alive on this thread: encoded output not yet written to all
/// its recipients (and the few lines being built in the current pass).
pub fn live_bytes() -> usize {
    LIVE_BYTES.with(Cell::get)
}

/// One encoded line. Cloning it is a reference-count increment; `Rc` (not `Arc`) because
/// everything runs on one thread.
#[derive(Debug, Clone)]
pub struct Line(Rc<Counted>);

/// The bytes of a line, counted in [`LIVE_BYTES`] while they exist.
#[derive(Debug)]
struct Counted(Box<[u8]>);

impl From<Vec<u8>> for Line {
    fn from(bytes: Vec<u8>) -> Line {
        let bytes = bytes.into_boxed_slice();
        LIVE_BYTES.with(|live| live.set(live.get() + bytes.len()));
        Line(Rc::new(Counted(bytes)))
    }
}

impl From<&[u8]> for Line {
    fn from(bytes: &[u8]) -> Line {
        Line::from(bytes.to_vec())
    }
}

/// The empty line: a place kept in an outbox for a line encoded later.
impl Default for Line {
    fn default() -> Line {
        Line::from(Vec::new())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE_BYTES.with(|live| live.set(live.get() - self.0.len()));
    }
}

impl Deref for Line {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0 .0
    }
}

impl Line {
    /// How many holders share this line (outboxes, and whoever built it).
    pub fn holders(&self) -> usize {
        Rc::strong_count(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_bytes_count_each_shared_line_once_until_its_last_holder_drops_it() {
        let before = live_bytes();
        let line = Line::from(b"MESSAGE [1,\"a\",\"hi\"]\n".to_vec());
        let copies: Vec<Line> = (0..100).map(|_| line.clone()).collect();
        assert_eq!(live_bytes() - before, line.len(), "shared, so counted once");
        drop(line);
        assert_eq!(live_bytes() - before, copies[0].len());
        drop(copies);
        assert_eq!(live_bytes(), before);
    }
}
