//! What the server counts while it runs: plain `u64` counters that the loop bumps where the
//! thing happens, always compiled (the core keeps them whether or not anyone reads them).
//!
//! They are cheap enough for the hot path: an array index and an add per line, no
//! allocation, no hashing, no clock read. The one clock read they add, at the end of a
//! pass for its duration, happens only when `--metrics` is on. The `metrics` feature reads
//! them at scrape time (`metrics.rs`), together with gauges it computes then by a scan.
//!
//! Another part counts a new kind of thing with one line: `self.stats.refused(Refused::X)`
//! after adding `X` to [`Refused`], say.
//!
//! Everything the metrics listener's own connections do is counted apart from the chat:
//! their bytes and closes are left out of these counters (a scrape is
//! [`Stats::scrapes`]), so scraping a quiet server shows it quiet.

use std::time::Duration;

use crate::protocol::cmd;

use super::dispatch::COMMANDS;
use super::reason::Reason;

/// Lines in are counted by the row of `COMMANDS` they matched, then these two.
const UNKNOWN: usize = COMMANDS.len();
const EMPTY: usize = COMMANDS.len() + 1;

/// The label of each slot of [`Stats::lines_in`] past the commands.
pub const LINES_IN_OTHER: [&str; 2] = ["unknown", "empty"];

/// The server's counters. Fields are public so that the loop bumps them in place and the
/// scrape reads them; each says what one unit of it is.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Lines dispatched, by the row of [`COMMANDS`] they matched; then lines whose word is
    /// no command's, then empty lines.
    pub lines_in: [u64; COMMANDS.len() + 2],
    /// Bytes read from chat connections (lines, the page's requests, WebSocket frames).
    pub bytes_in: u64,
    /// Bytes written to chat connections.
    pub bytes_out: u64,
    /// Connections removed, by why they closed (indexed by [`REASONS`]).
    pub closes: [u64; REASONS.len()],
    /// Connections dropped for not reading their output (`--max-output`, or the largest
    /// queues when `--max-output-total` is reached).
    pub slow_readers: u64,
    /// Connections refused at accept, by [`Refused`].
    pub refusals: [u64; Refused::ALL.len()],
    /// Passes of the loop.
    pub passes: u64,
    /// How long passes took (only while `--metrics` is on).
    pub pass_time: PassTimes,
    /// `GET /metrics` requests answered.
    pub scrapes: u64,
    /// `REGISTER`s refused for a wrong or missing password (`--password-file`).
    pub wrong_passwords: u64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            lines_in: [0; COMMANDS.len() + 2],
            bytes_in: 0,
            bytes_out: 0,
            closes: [0; REASONS.len()],
            slow_readers: 0,
            refusals: [0; Refused::ALL.len()],
            passes: 0,
            pass_time: PassTimes::default(),
            scrapes: 0,
            wrong_passwords: 0,
        }
    }
}

impl Stats {
    /// One line dispatched: `row` is its command's row in [`COMMANDS`], `None` for a word
    /// that is no command; `empty` for a blank line.
    pub fn line_in(&mut self, row: Option<usize>, empty: bool) {
        let slot = match row {
            _ if empty => EMPTY,
            Some(row) => row,
            None => UNKNOWN,
        };
        if let Some(count) = self.lines_in.get_mut(slot) {
            *count += 1;
        }
    }

    /// Bytes read from a connection; a scrape's are not the chat's.
    pub fn read(&mut self, bytes: usize, scrape: bool) {
        if !scrape {
            self.bytes_in += bytes as u64;
        }
    }

    /// Bytes written to a connection; a scrape's are not the chat's.
    pub fn wrote(&mut self, bytes: usize, scrape: bool) {
        if !scrape {
            self.bytes_out += bytes as u64;
        }
    }

    /// A connection removed, for `reason`; a scrape's close is not the chat's.
    pub fn closed(&mut self, reason: Reason, scrape: bool) {
        if scrape {
            return;
        }
        if let Some(count) = self.closes.get_mut(reason as usize) {
            *count += 1;
        }
    }

    /// A connection refused at accept.
    pub fn refused(&mut self, why: Refused) {
        self.refusals[why as usize] += 1;
    }
}

/// Every [`Reason`], in declaration order (`reason as usize` indexes it). A new reason
/// must be added here as well as to [`reason_label`], which the compiler insists on.
pub const REASONS: [Reason; 12] = [
    Reason::Goodbye,
    Reason::Closed,
    Reason::Violation,
    Reason::SlowReader,
    Reason::Timeout,
    Reason::LineTimeout,
    Reason::Broken,
    Reason::Shutdown,
    Reason::Served,
    Reason::TlsFailed,
    Reason::WrongPasswords,
    Reason::EngineLost,
];

/// A reason as a label value: short, lower case, no spaces.
pub fn reason_label(reason: Reason) -> &'static str {
    match reason {
        Reason::Goodbye => "goodbye",
        Reason::Closed => "closed",
        Reason::Violation => "violation",
        Reason::SlowReader => "slow_reader",
        Reason::Timeout => "register_timeout",
        Reason::LineTimeout => "line_timeout",
        Reason::Broken => "broken",
        Reason::Shutdown => "shutdown",
        Reason::Served => "served",
        Reason::TlsFailed => "tls_failed",
        Reason::WrongPasswords => "wrong_passwords",
        Reason::EngineLost => "engine_lost",
    }
}

/// Why a connection was refused at accept (admission decides; the stats count).
pub use super::admission::Refused;

/// The words a server line can start with, and a slot for anything else; indexed by
/// [`out_word`].
pub const OUT_WORDS: [&str; 10] = [
    cmd::ONLINE_USERS,
    cmd::PRESENCE,
    cmd::INVITATION,
    cmd::CONVERSATIONS,
    cmd::MESSAGE,
    cmd::ERROR,
    cmd::MEMBERS,
    cmd::JOINED,
    cmd::LEFT,
    "other",
];

/// Lines queued for clients, by their command word. Kept by the outboxes, where every line
/// is queued: counting there counts each delivery (a line queued for 100 members is 100),
/// and a line dropped for a full queue or a closed connection is not counted.
#[derive(Debug, Clone, Default)]
pub struct LinesOut(pub [u64; OUT_WORDS.len()]);

impl LinesOut {
    /// One line queued.
    pub fn count(&mut self, line: &[u8]) {
        self.0[out_word(line)] += 1;
    }
}

/// The slot in [`OUT_WORDS`] of a line the server sends, from its first bytes: the first
/// byte tells every word apart except `MESSAGE` and `MEMBERS`, whose third byte does. A
/// comparison or two per line, no search.
pub fn out_word(line: &[u8]) -> usize {
    match (line.first(), line.get(2)) {
        (Some(b'O'), _) => 0,
        (Some(b'P'), _) => 1,
        (Some(b'I'), _) => 2,
        (Some(b'C'), _) => 3,
        (Some(b'M'), Some(b'S')) => 4,
        (Some(b'E'), _) => 5,
        (Some(b'M'), Some(b'M')) => 6,
        (Some(b'J'), _) => 7,
        (Some(b'L'), _) => 8,
        _ => OUT_WORDS.len() - 1,
    }
}

/// Upper bounds of the pass-duration buckets, in microseconds (a last bucket takes the
/// rest). An idle pass takes microseconds, a busy one (64 lines for each of many
/// connections, a large broadcast) milliseconds; a pass near a second is a server in
/// trouble. Fixed, so recording is a short scan and an add, no allocation.
pub const PASS_BUCKETS_US: [u64; 15] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    1_000_000,
];

/// A histogram of pass durations with the fixed buckets of [`PASS_BUCKETS_US`].
#[derive(Debug, Clone, Default)]
pub struct PassTimes {
    /// Passes per bucket (not cumulative); the last is past every bound.
    pub buckets: [u64; PASS_BUCKETS_US.len() + 1],
    /// Sum of all recorded durations, in nanoseconds (u64: 584 years of passes).
    pub sum_ns: u64,
    pub count: u64,
}

impl PassTimes {
    pub fn record(&mut self, took: Duration) {
        let us = took.as_micros() as u64;
        let slot = PASS_BUCKETS_US.partition_point(|&bound| bound < us);
        self.buckets[slot] += 1;
        self.sum_ns = self.sum_ns.saturating_add(took.as_nanos() as u64);
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_out_word_is_counted_as_itself_and_anything_else_as_other() {
        for (i, word) in OUT_WORDS.iter().enumerate().take(OUT_WORDS.len() - 1) {
            let line = format!("{word} [1]\n");
            assert_eq!(out_word(line.as_bytes()), i, "{word}");
        }
        for line in [&b""[..], b"\n", b"HTTP/1.1 200 OK", b"M"] {
            assert_eq!(out_word(line), OUT_WORDS.len() - 1, "{line:?}");
        }
    }

    #[test]
    fn every_reason_is_at_its_own_index() {
        for (i, reason) in REASONS.iter().enumerate() {
            assert_eq!(*reason as usize, i, "{reason:?}");
        }
        let mut stats = Stats::default();
        stats.closed(Reason::Served, false);
        stats.closed(Reason::Served, true);
        assert_eq!(stats.closes[Reason::Served as usize], 1);
    }

    #[test]
    fn a_pass_lands_in_the_first_bucket_whose_bound_it_does_not_pass() {
        let mut times = PassTimes::default();
        times.record(Duration::from_micros(10));
        times.record(Duration::from_micros(11));
        times.record(Duration::from_secs(5));
        assert_eq!(times.buckets[0], 1);
        assert_eq!(times.buckets[1], 1);
        assert_eq!(times.buckets[PASS_BUCKETS_US.len()], 1);
        assert_eq!(times.count, 3);
        assert_eq!(times.sum_ns, 5_000_021_000);
    }

    #[test]
    fn lines_in_are_counted_by_row_unknown_or_empty() {
        let mut stats = Stats::default();
        stats.line_in(Some(0), false);
        stats.line_in(None, false);
        stats.line_in(None, true);
        assert_eq!(stats.lines_in[0], 1);
        assert_eq!(stats.lines_in[UNKNOWN], 1);
        assert_eq!(stats.lines_in[EMPTY], 1);
    }
}
