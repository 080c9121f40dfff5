//! Why a connection closes: logged on disconnect, and deciding whether what is queued is
//! still written first.

use std::fmt;

/// What every connection is told when the server shuts down (SIGINT or SIGTERM).
pub const SHUTDOWN_NOTICE: &str = "server shutting down";

/// What a registered user is told when its node loses Redis (`Reason::EngineLost`).
pub const ENGINE_LOST_NOTICE: &str = "this server lost its chat engine (Redis); please reconnect";

/// Why a connection is closing. It is logged, and decides whether queued output is still
/// written before the socket closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The client said `GOODBYE`.
    Goodbye,
    /// The client closed its end (end of stream).
    Closed,
    /// A framing violation: a line too long or not UTF-8.
    Violation,
    /// Its queued output passed the output limit: it does not read what it is sent.
    SlowReader,
    /// It did not register in time.
    Timeout,
    /// It started a line and did not finish it in time.
    LineTimeout,
    /// A read or write failed.
    Broken,
    /// The server is shutting down.
    Shutdown,
    /// An HTTP request was answered (the page's connections close after one request).
    Served,
    /// Its input was not TLS on a TLS listener, or its handshake failed: it is sent the
    /// TLS alert that says why, and nothing else.
    TlsFailed,
    /// Its `REGISTER` had a wrong password [`MAX_WRONG_PASSWORDS_PER_CONNECTION`] times
    /// (the last `ERROR` says so, and is written first).
    ///
    /// [`MAX_WRONG_PASSWORDS_PER_CONNECTION`]: super::MAX_WRONG_PASSWORDS_PER_CONNECTION
    WrongPasswords,
    /// The node lost its link to Redis, or its lease there (`--engine redis`): it cannot
    /// know what its users missed, so it signs them out to reconnect (the notice says so).
    EngineLost,
}

impl Reason {
    /// The reason for a failed read or write: a reset or a broken pipe is the client going
    /// away (a client that closes with unread input sends a reset); anything else is broken.
    pub fn after_error(e: &std::io::Error) -> Reason {
        use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
        match e.kind() {
            BrokenPipe | ConnectionAborted | ConnectionReset => Reason::Closed,
            _ => Reason::Broken,
        }
    }

    /// Whether what is queued is still worth writing before closing. A slow reader's queue
    /// is exactly what must be dropped, and a broken socket cannot take it.
    pub fn flushes(self) -> bool {
        !matches!(self, Reason::SlowReader | Reason::Broken)
    }

    /// The `ERROR` a connection closing for this reason is told as its last line, when
    /// nothing at the point of decision told it already. The other reasons either explain
    /// themselves there (a violation, a timeout, each with its details), are the client's
    /// own doing, or cannot be written.
    pub fn notice(self) -> Option<&'static str> {
        match self {
            Reason::Shutdown => Some(SHUTDOWN_NOTICE),
            Reason::EngineLost => Some(ENGINE_LOST_NOTICE),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Goodbye => "goodbye",
            Reason::Closed => "closed",
            Reason::Violation => "violation",
            Reason::SlowReader => "slow reader dropped",
            Reason::Timeout => "timeout",
            Reason::LineTimeout => "line timeout",
            Reason::Broken => "broken",
            Reason::Shutdown => "shutdown",
            Reason::Served => "served",
            Reason::TlsFailed => "TLS failed",
            Reason::WrongPasswords => "too many wrong passwords",
            Reason::EngineLost => "engine lost",
        })
    }
}
