//! One lifecycle per connection, advanced in one place.
//!
//! ```text
//!   Open ──close──► Closing ──settle──► Flushing ──output written──► Shut ──peer's EOF──► removed
//!                      │    (leaves the chat,   (linger deadline)    (our end shut)
//!                      │     is told why)
//!                      └─ output not wanted (slow reader, broken) ─────────────────────► removed
//! ```
//!
//! A shutdown (SIGINT or SIGTERM) is one more reason: every open connection closes with it,
//! is told `ERROR "server shutting down"` as its last line when it leaves the chat, and once
//! that is written goes from `Shut` to removed without waiting for the peer's end of stream.
//! The server exits when every connection is gone, or after [`SHUTDOWN_GRACE_MS`] if some
//! peer does not read: writes never block, so a client that reads nothing delays the exit
//! by that much at most.
//!
//! Anything may decide that a connection closes (a handler's `GOODBYE`, end of stream, a
//! framing violation, a failed write, the output limit, a deadline, a signal): it calls
//! [`Server::close`], which only records the reason and puts the connection in the
//! `settling` set. Everything else happens in [`Server::advance`], called for that set once
//! per pass, after the flush (the settle phase): so nothing the loop is iterating over
//! disappears under it, and what a retiring user's departure queues for others is written
//! by the very next pass (`poll_timeout` does not sleep while output is queued).

use std::io::{ErrorKind, Read};

use log::{debug, info};

use super::{Kind, Reason, Server, Timer, MAX_BYTES_PER_WAKE};
use crate::buffer::ReadBuf;

/// How long a closing connection may take to take its last output and close its end. A
/// peer that neither reads nor closes is cut off after this.
const LINGER_MS: u64 = 5_000;

/// On SIGINT or SIGTERM, how long queued output (each connection's last being the notice of
/// the shutdown) may take to drain before the server exits anyway: long enough for any
/// reading client to take a few lines, short enough that a supervisor's stop, or an
/// operator's Ctrl-C, is not kept waiting by a client that does not read.
const SHUTDOWN_GRACE_MS: u64 = 2_000;

/// Invitations to ended conversations cleared per pass at most. One user leaving may end
/// 1024 conversations of 999 invitees each: a million removals, too many for one pass. The
/// rest wait for the next pass, which comes at once; meanwhile a `JOIN` to an ended
/// conversation is refused all the same.
const MAX_LAPSES_PER_PASS: usize = 10_000;

/// Bytes discarded per read from a closing connection (a stack buffer; never kept).
pub(super) const DISCARD_CHUNK: usize = 4096;

/// Where a connection is in its life. Each closing state keeps the first reason given,
/// which is what the disconnect line logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Reading and dispatching lines.
    Open,
    /// Closing was decided in this pass; still a user of the chat until the pass settles.
    Closing(Reason),
    /// Out of the chat; writing what is still queued (an `ERROR` that explains the close,
    /// answers to lines before `GOODBYE`). Input is no longer read.
    Flushing(Reason),
    /// Everything is written and our end is shut, so the peer sees end of stream right
    /// after the last line; input is discarded until the peer's end of stream. Closing with
    /// unread input would send a reset, which can destroy the very line that explains it.
    Shut(Reason),
    /// Nothing more can or need be written: removed at the next settle.
    Done(Reason),
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Open => f.write_str("open"),
            State::Closing(reason) => write!(f, "closing ({reason})"),
            State::Flushing(reason) => write!(f, "flushing ({reason})"),
            State::Shut(reason) => write!(f, "shut ({reason})"),
            State::Done(reason) => write!(f, "done ({reason})"),
        }
    }
}

/// Whether the server goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Run {
    Serving,
    /// A signal came: no new connections; every connection is closing.
    Stopping,
    /// Every connection is gone, or the grace period ended: `run` returns.
    Stopped,
}

impl Server {
    /// Whether `key` still holds the connection of this generation, and not a newer one
    /// that reused the slab key.
    pub(super) fn is_current(&self, key: usize, generation: u64) -> bool {
        self.conns
            .get(key)
            .is_some_and(|conn| conn.generation == generation)
    }

    /// Starts closing an open connection (the first reason wins). What is queued is still
    /// written if the reason wants it; otherwise it is dropped at once.
    pub(super) fn close(&mut self, key: usize, reason: Reason) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.state == State::Open {
            conn.state = State::Closing(reason);
            if !reason.flushes() {
                self.out.discard(key);
            }
            self.settling.insert(key);
        }
    }

    /// Closes a connection whose output can never be written (its socket failed, or it
    /// would not finish closing): its queue is dropped, and if it has already left the
    /// chat it is removed at the next settle.
    pub(super) fn abandon(&mut self, key: usize, reason: Reason) {
        self.out.discard(key);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match conn.state {
            State::Open => conn.state = State::Closing(reason),
            State::Closing(_) => {}
            State::Flushing(first) | State::Shut(first) | State::Done(first) => {
                conn.state = State::Done(first)
            }
        }
        self.settling.insert(key);
    }

    /// Phase 5: every connection whose closing may move on, a budget of the invitations to
    /// ended conversations, then the presence schedule (settling a user is a presence
    /// change).
    pub(super) fn settle(&mut self, now: u64) {
        for key in self.settling.take() {
            self.advance(key, now);
        }
        self.chat.lapse_invitations(MAX_LAPSES_PER_PASS);
        self.schedule_presence(now);
    }

    /// Moves one connection along its lifecycle as far as it can go now. The one place a
    /// connection's state changes after closing starts.
    fn advance(&mut self, key: usize, now: u64) {
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if let State::Done(reason) = conn.state {
                self.remove(key, reason);
                return;
            }
            let from = conn.state;
            conn.state = match from {
                State::Open | State::Done(_) => return,
                State::Closing(reason) => {
                    if !conn.transport.is_scrape() && self.log.allow(Kind::Disconnect, now) {
                        match self.chat.user(key) {
                            Some(user) => info!("disconnect {} (conn {key}): {reason}", user.name),
                            None => info!("disconnect conn {key}: {reason}"),
                        }
                    }
                    self.engine.retire(&mut self.chat, &mut self.out, key);
                    // Its last line, after what leaving queued: why it is being closed, when
                    // nobody told it where the closing was decided.
                    if let Some(text) = reason.notice() {
                        self.out.send_error(key, text);
                    }
                    #[cfg(feature = "web")]
                    super::web::last_words(&conn.transport, &mut self.out, key, reason);
                    // Its input is read no more: an unfinished line it held (up to the
                    // line limit) is freed now, not when the connection is removed.
                    conn.input = ReadBuf::new();
                    // Its registration and line deadlines no longer matter.
                    for timer in [conn.deadline.take(), conn.line_timer.take()]
                        .into_iter()
                        .flatten()
                    {
                        self.wheel.cancel(timer);
                    }
                    if reason.flushes() {
                        let linger = Timer::Linger {
                            key,
                            generation: conn.generation,
                        };
                        conn.deadline = Some(self.wheel.insert(now + LINGER_MS, linger));
                        State::Flushing(reason)
                    } else {
                        State::Done(reason)
                    }
                }
                // The flush phase brings it back here once the queue is written.
                State::Flushing(_) if self.out.queued(key) > 0 || conn.stream.owes_records() => {
                    return
                }
                State::Flushing(reason) => {
                    conn.stream.shutdown_write();
                    State::Shut(reason)
                }
                // A server going down does not wait for every client to close its end; what
                // the client sent meanwhile is read away once, so that closing does not
                // send a reset that could destroy the notice still in flight.
                State::Shut(reason) if reason == Reason::Shutdown => {
                    drain_until_end(conn.stream.tcp());
                    State::Done(reason)
                }
                State::Shut(reason) => match drain_until_end(conn.stream.tcp()) {
                    Drained::End => State::Done(reason),
                    // A readable event, or the linger deadline, brings it back.
                    Drained::Empty => return,
                    // The next pass reads on, at once: nothing is left unread while the
                    // loop sleeps.
                    Drained::More => {
                        self.settling.insert(key);
                        return;
                    }
                },
            };
            trace!(self.config.trace, "conn {key}: {from} -> {}", conn.state);
        }
    }

    /// Deregisters, drops and forgets one connection, everywhere it is known.
    fn remove(&mut self, key: usize, reason: Reason) {
        let mut conn = self.conns.remove(key);
        self.stats.closed(reason, conn.transport.is_scrape());
        let _ = self.poll.registry().deregister(conn.stream.tcp());
        for timer in [conn.deadline, conn.line_timer].into_iter().flatten() {
            self.wheel.cancel(timer);
        }
        self.out.discard(key);
        self.ready.remove(key);
        self.settling.remove(key);
        self.admission.release(conn.address);
        trace!(self.config.trace, "conn {key}: removed ({reason})");
        // A descriptor is free again: if accept was paused for lack of one, try again.
        self.accept.retry();
    }

    /// After every settle: if presence changed and no broadcast is on the wheel, one is put
    /// there, one interval from now. That is the coalescing: every change until it fires
    /// goes out in one message.
    fn schedule_presence(&mut self, now: u64) {
        if self.chat.presence_changed() && self.presence_timer.is_none() {
            let at = now + self.config.presence_interval_ms;
            self.presence_timer = Some(self.wheel.insert(at, Timer::PresenceBroadcast));
        }
    }

    /// After every pass: if a log window left lines out, its end is put on the wheel, so
    /// that the count is logged when it ends even if no line of its kind comes again.
    pub(super) fn schedule_log_summary(&mut self) {
        if self.log_timer.is_none() {
            if let Some(at) = self.log.summary_due() {
                self.log_timer = Some(self.wheel.insert(at, Timer::LogSummary));
            }
        }
    }

    /// SIGINT or SIGTERM: stop accepting, close every open connection for the shutdown (it
    /// is told so, see [`Reason::notice`]), and exit when all have closed or the grace
    /// period ends.
    pub(super) fn on_signal(&mut self, now: u64) {
        let signals: Vec<i32> = self.signals.pending().collect();
        if signals.is_empty() || self.run != Run::Serving {
            return;
        }
        let names: Vec<&str> = signals
            .iter()
            .map(|&s| signal_hook::low_level::signal_name(s).unwrap_or("a signal"))
            .collect();
        info!("received {}: shutting down", names.join(" and "));
        self.run = Run::Stopping;
        for mut listener in std::mem::take(&mut self.listeners) {
            listener.deregister(&self.poll);
        }
        self.stop_announcing();
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.close(key, Reason::Shutdown);
        }
        self.wheel
            .insert(now + SHUTDOWN_GRACE_MS, Timer::ShutdownDeadline);
        debug!("waiting at most {SHUTDOWN_GRACE_MS} ms for output to drain");
    }
}

/// What reading away a closing connection's input found.
enum Drained {
    /// End of stream, or an error: nothing more will come.
    End,
    /// Nothing more for now: its next bytes bring a readable event.
    Empty,
    /// The pass's share was read and more is waiting.
    More,
}

/// Reads and discards a closing connection's input, at most [`MAX_BYTES_PER_WAKE`] per
/// call: a peer that keeps sending after our end is shut gets the same share of a pass as
/// a reading one, not a loop that lasts as long as it sends.
fn drain_until_end(socket: &mut mio::net::TcpStream) -> Drained {
    let mut scratch = [0u8; DISCARD_CHUNK];
    let mut budget = MAX_BYTES_PER_WAKE;
    while budget > 0 {
        match socket.read(&mut scratch) {
            Ok(0) => return Drained::End,
            Ok(n) => budget = budget.saturating_sub(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Drained::Empty,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Drained::End,
        }
    }
    Drained::More
}
