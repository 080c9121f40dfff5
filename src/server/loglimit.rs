//! Rate limits for the log lines that clients can cause.
//!
//! Every connection logs a line when it connects, registers and disconnects, and a refused
//! one when it is turned away: a client that connects in a loop would otherwise write the
//! log as fast as it connects (1,908 refusals in 5 s in one test). Lines of one [`Kind`]
//! are logged while a window lasts up to [`LOG_BURST`]; the rest are only counted, and one
//! line says how many were left out when the window ends. The first line of a kind after
//! a quiet spell is always logged, so a slow trickle loses nothing.
//!
//! Time is the loop's `now`, passed in like everywhere else: the limiter reads no clock.
//! The loop puts a timer on the wheel for the end of a window that suppressed lines (see
//! [`LogLimit::summary_due`]), so the count comes out on time even if nothing more happens.
//!
//! Debug lines are not limited: they are off unless an operator asks for them, and then the
//! detail is what was asked for. Neither is `--trace`, the teaching trace.

use std::fmt;

use log::Level;

/// Lines of one kind logged per window, and the window's length: the defaults of Linux's
/// `printk_ratelimit` (10 lines per 5 s). Ten in a row already say "this is happening a
/// lot"; the summary says how much. With eight kinds, a flood of everything writes at
/// most 88 lines per 5 s.
pub const LOG_BURST: u32 = 10;
pub const LOG_WINDOW_MS: u64 = 5_000;

/// A kind of log line that a client can repeat at will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `connect ADDR (conn N)`
    Connect,
    /// `register NAME (conn N, ...)`
    Register,
    /// `disconnect ...: REASON`
    Disconnect,
    /// `refused ADDR: server full`
    Refused,
    /// `accept paused ...` and `accept resumed`: out of descriptors, a close frees one, the
    /// next accept takes it and the one after fails again.
    AcceptPaused,
    /// `register ADDR failed: ...`: the poll refused a new socket, so every connection may.
    PollRegisterFailed,
    /// `announce: ignored a malformed datagram ...`: anyone on the LAN can send them.
    Malformed,
    /// `banned ADDR ...`: once per ban, but guessers spread over many networks earn many.
    Banned,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Connect,
        Kind::Register,
        Kind::Disconnect,
        Kind::Refused,
        Kind::AcceptPaused,
        Kind::PollRegisterFailed,
        Kind::Malformed,
        Kind::Banned,
    ];

    /// The level of the lines, and of the summary that stands for them.
    pub fn level(self) -> Level {
        match self {
            Kind::AcceptPaused | Kind::PollRegisterFailed | Kind::Banned => Level::Warn,
            _ => Level::Info,
        }
    }

    /// How the summary names the lines: their first words.
    fn name(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Register => "register",
            Kind::Disconnect => "disconnect",
            Kind::Refused => "refused",
            Kind::AcceptPaused => "accept paused/resumed",
            Kind::PollRegisterFailed => "register ... failed",
            Kind::Malformed => "announce: ignored a malformed datagram",
            Kind::Banned => "banned",
        }
    }
}

/// What one window of one kind has seen so far.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    /// When its first line came; meaningless while `logged` is 0 (no window open).
    start: u64,
    logged: u32,
    suppressed: u64,
}

/// The line that stands for the lines a window left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub kind: Kind,
    pub suppressed: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}: {} similar lines suppressed in the last {} s (at most {LOG_BURST} per {} s)",
            self.kind.name(),
            self.suppressed,
            LOG_WINDOW_MS / 1000,
            LOG_WINDOW_MS / 1000,
        )
    }
}

/// One window per kind of line.
#[derive(Debug, Default)]
pub struct LogLimit {
    windows: [Window; Kind::ALL.len()],
}

impl LogLimit {
    /// Whether a line of `kind` may be logged at `now`. If the kind's last window is over,
    /// its summary is logged first and this line opens a new one.
    pub fn allow(&mut self, kind: Kind, now: u64) -> bool {
        let (allowed, summary) = self.count(kind, now);
        if let Some(summary) = summary {
            log::log!(kind.level(), "{summary}");
        }
        allowed
    }

    /// Logs the summary of every window that is over at `now` (the loop's timer for
    /// [`LogLimit::summary_due`]).
    pub fn end_windows(&mut self, now: u64) {
        for summary in self.take_ended(now) {
            log::log!(summary.kind.level(), "{summary}");
        }
    }

    /// When the earliest window holding suppressed lines ends: the loop's timer for
    /// [`LogLimit::end_windows`]. `None` when nothing is waiting to be summed up.
    pub fn summary_due(&self) -> Option<u64> {
        self.windows
            .iter()
            .filter(|w| w.suppressed > 0)
            .map(|w| w.start + LOG_WINDOW_MS)
            .min()
    }

    /// Lines of `kind` left out so far in its current window.
    #[cfg(test)]
    pub fn suppressed(&self, kind: Kind) -> u64 {
        self.windows[kind as usize].suppressed
    }

    /// [`LogLimit::allow`] without the logging: whether to log, and the summary of the
    /// window this line ended, if it left lines out.
    fn count(&mut self, kind: Kind, now: u64) -> (bool, Option<Summary>) {
        let summary = self.end_window(kind, now);
        let window = &mut self.windows[kind as usize];
        if window.logged == 0 {
            window.start = now;
        }
        if window.logged < LOG_BURST {
            window.logged += 1;
            (true, summary)
        } else {
            window.suppressed += 1;
            (false, summary)
        }
    }

    /// [`LogLimit::end_windows`] without the logging.
    fn take_ended(&mut self, now: u64) -> Vec<Summary> {
        Kind::ALL
            .into_iter()
            .filter_map(|kind| self.end_window(kind, now))
            .collect()
    }

    /// Closes the kind's window if it is over at `now`, and returns its summary if it left
    /// lines out.
    fn end_window(&mut self, kind: Kind, now: u64) -> Option<Summary> {
        let window = &mut self.windows[kind as usize];
        if window.logged == 0 || now.saturating_sub(window.start) < LOG_WINDOW_MS {
            return None;
        }
        let suppressed = std::mem::take(window).suppressed;
        (suppressed > 0).then_some(Summary { kind, suppressed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_the_rest_counted_and_summed_up_in_the_next_window() {
        let mut limit = LogLimit::default();
        let start = 1_000;
        for i in 0..LOG_BURST as u64 {
            assert_eq!(
                limit.count(Kind::Refused, start + i),
                (true, None),
                "line {i}"
            );
        }
        for i in 0..25 {
            assert_eq!(limit.count(Kind::Refused, start + 100 + i), (false, None));
        }
        assert_eq!(limit.summary_due(), Some(start + LOG_WINDOW_MS));
        assert_eq!(
            limit.count(Kind::Refused, start + LOG_WINDOW_MS),
            (
                true,
                Some(Summary {
                    kind: Kind::Refused,
                    suppressed: 25
                })
            ),
            "the next window's first line comes after the count of the last one"
        );
        assert_eq!(
            limit.summary_due(),
            None,
            "the new window has left nothing out"
        );
    }

    #[test]
    fn a_window_that_ends_quietly_is_summed_up_by_the_timer() {
        let mut limit = LogLimit::default();
        for _ in 0..LOG_BURST + 3 {
            limit.count(Kind::Disconnect, 0);
        }
        let due = limit.summary_due().expect("a summary is waiting");
        assert!(limit.take_ended(due - 1).is_empty(), "not before the end");
        let ended = limit.take_ended(due);
        assert_eq!(
            ended,
            [Summary {
                kind: Kind::Disconnect,
                suppressed: 3
            }]
        );
        assert_eq!(
            ended[0].to_string(),
            "disconnect: 3 similar lines suppressed in the last 5 s (at most 10 per 5 s)"
        );
        assert!(
            limit.take_ended(due + LOG_WINDOW_MS).is_empty(),
            "said once"
        );
        assert_eq!(limit.count(Kind::Disconnect, due + 1), (true, None));
    }

    #[test]
    fn kinds_are_limited_separately_and_a_quiet_window_needs_no_summary() {
        let mut limit = LogLimit::default();
        for _ in 0..LOG_BURST {
            assert!(limit.count(Kind::Connect, 0).0);
        }
        assert!(!limit.count(Kind::Connect, 0).0);
        assert!(
            limit.count(Kind::Refused, 0).0,
            "another kind has its own burst"
        );
        assert_eq!(
            limit.take_ended(LOG_WINDOW_MS).len(),
            1,
            "only Connect left lines out"
        );
        assert_eq!(limit.summary_due(), None);
    }
}
