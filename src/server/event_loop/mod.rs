//! The event loop: one thread, one `mio::Poll`, every socket non-blocking.
//!
//! [`Server::run`] polls, reads the clock once, and hands the events to [`Server::turn`]:
//! one pass. A pass is these phases, in order:
//!
//! 1. **Note readiness.** Record which sockets are readable or writable, in sets: a
//!    connection named by many events is still served once. Nothing is read or written.
//! 2. **Serve input** (`input.rs`). For each ready connection, once: read until
//!    `WouldBlock` (on epoll, until a short read: `buffer::SHORT_READ_DRAINS`), cut lines
//!    (on the page's connections, an HTTP request and then WebSocket frames:
//!    `transport.rs`), dispatch each to its handler, at most [`MAX_FRAMES_PER_WAKE`]
//!    lines or [`MAX_BYTES_PER_WAKE`] bytes of them (and the discovery socket's datagrams,
//!    `announce.rs`, with a budget of their own). A connection that spends its budget
//!    stays in the ready set for the next pass (the backlog); one that spends its line
//!    tokens (its rate limit) leaves it until a timer says it has one again. Handlers only queue output and return an effect; they
//!    never touch a socket.
//! 3. **Timers** (`timers.rs`). Collect every timer due by `now`, then run them: registration and line
//!    deadlines, the end of a connection's throttling, the presence broadcast, linger
//!    deadlines, announcements.
//! 4. **Flush.** Encode the member maps owed in this pass into their places (one per member,
//!    shared between equal maps), then write every outbox with queued output, until it is
//!    empty or the kernel says `WouldBlock`; only those that said `WouldBlock` wait for a
//!    writable event (every connection is registered for both, once, at accept). A
//!    connection whose queue is still over the output limit is dropped as a slow reader.
//! 5. **Settle.** Advance the lifecycle of every connection whose closing moved on in this
//!    pass (`lifecycle.rs`): a closing user leaves the chat (the others' updates are queued),
//!    a connection whose last output is written shuts its end, a finished one is removed.
//!    Then, if presence changed, the next broadcast is put on the wheel.
//! 6. **Accept** new connections, last, so a slot freed in this pass is used at once (from
//!    every listener: one per address `--listen` resolved to).
//!
//! Then the loop polls again, and [`Server::poll_timeout`] keeps the promise that nothing is
//! left waiting: the timeout is zero while any connection has input left over (the
//! backlog), output queued and not yet tried, or a closing to settle. Work a late phase
//! creates (settling queues the others' updates after the flush) is done at once by the next
//! pass; only when there is none does the loop sleep until an event or the next timer.
//!
//! mio's readiness is edge-triggered: an event says "something changed", once. That is why
//! every read, write and accept goes on until `WouldBlock`; stopping early would wait for an
//! event that never comes. The deliberate exceptions are the line budget and the line rate
//! of phase 2, and the loop remembers those connections itself (the backlog, and a timer);
//! and on epoll a short read, after which the kernel has nothing more and new bytes raise
//! a new edge (epoll(7); not on mio's `poll(2)` backend, see `buffer::SHORT_READ_DRAINS`).

mod accept;
mod admission;
mod announce;
#[cfg(feature = "engine")]
mod engine;
mod input;
mod lifecycle;
mod listen;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(not(feature = "engine"))]
mod no_engine;
mod output;
mod stream;
#[cfg(test)]
mod tests;
mod timers;
mod transport;
#[cfg(feature = "web")]
mod web;

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use log::info;
use mio::event::Event;
use mio::{Events, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::buffer::{ReadBuf, SpareBuffer};
use crate::wheel::{TimerId, Wheel};

use super::admission::{Admission, Slot};
use super::chat::Chat;
use super::dispatch::{self, Ctx, Effect};
use super::engine::Engine;
use super::keyset::KeySet;
use super::line_rate::Bucket;
use super::loglimit::{Kind, LogLimit};
use super::outboxes::Outboxes;
use super::reason::Reason;
use super::stats::Stats;
use super::Config;
use accept::Accept;
pub use announce::{AnnounceConfig, ANNOUNCE_INTERVAL_MS, ANSWER_INTERVAL_MS, DATAGRAMS_PER_PASS};
use announce::{Announcer, ANNOUNCER};
use lifecycle::{Run, State};
use listen::Listener;
use stream::Stream;
use timers::Timer;
use transport::Transport;

/// Lines handled for one connection per pass. A client that writes thousands of lines at
/// once gets this many, then every other ready connection gets its turn; the rest wait in
/// its buffer for the next pass, which comes at once (the backlog makes the poll not sleep).
pub const MAX_FRAMES_PER_WAKE: usize = 64;

/// Bytes of lines handled for one connection per pass, with the same backlog as
/// [`MAX_FRAMES_PER_WAKE`]. A command costs about what its line is long (an `INVITE` of
/// thousands of names, say), so this bounds what one connection's turn costs everyone else:
/// one maximal line, not 64 of them. A line is always handled once the turn has begun, so a
/// longer `--max-line` still works, a line per pass.
pub const MAX_BYTES_PER_WAKE: usize = 64 * 1024;

/// Events taken from the kernel per poll. More are simply returned by the next poll.
const EVENTS_CAPACITY: usize = 1024;

/// Timer resolution: deadlines are rounded up to this. Presence intervals and registration
/// deadlines are seconds long, so 10 ms is plenty precise, and it bounds wake-ups.
const TICK_MS: u64 = 10;

/// Wheel size: 512 ticks of 10 ms make one turn of about 5 s; longer timers wait in their
/// slot for their turn.
const WHEEL_SLOTS: usize = 512;

/// The signal pipe's token; the engine's link to Redis is just below it (`engine.rs`), the
/// discovery socket below that (`announce.rs`), and the listeners' count down from below
/// that (`listen.rs`).
const SIGNALS: Token = Token(usize::MAX);

/// One event, as a pass sees it: which socket, and what it is ready for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub token: Token,
    /// Readable, or closed or failed: reading will tell which.
    pub readable: bool,
    pub writable: bool,
    /// The peer closed its end, or the socket failed: read to the end, even past a short
    /// read (see [`crate::buffer::SHORT_READ_DRAINS`]).
    pub closed: bool,
}

impl From<&Event> for Readiness {
    fn from(event: &Event) -> Readiness {
        Readiness {
            token: event.token(),
            readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            writable: event.is_writable(),
            closed: event.is_read_closed() || event.is_error(),
        }
    }
}

/// The socket side of one connection. Its key in [`Server::conns`] is its key everywhere:
/// its mio token, its outbox, its user in the chat.
#[derive(Debug)]
struct Conn {
    /// Plain TCP, or TLS over it (`--tls-cert`).
    stream: Stream,
    input: ReadBuf,
    /// How its input is cut: lines, or (the `web` feature) HTTP, then WebSocket frames.
    transport: Transport,
    generation: u64,
    /// Where it is in its life (see `lifecycle.rs`).
    state: State,
    /// Not yet drained since the last readable event: to `WouldBlock`, or on epoll to a
    /// short read (see [`crate::buffer::SHORT_READ_DRAINS`]).
    readable: bool,
    /// An event said the peer closed or the socket failed: drain to the end of stream,
    /// never stopping at a short read.
    closed: bool,
    /// Its last write stopped at `WouldBlock` with output left: the next writable event
    /// (it is registered for both, once, at accept) writes it again.
    write_blocked: bool,
    /// The one timer pending for this connection: its registration deadline, and once it
    /// is closing, its linger deadline. Cancelled when it is met.
    deadline: Option<TimerId>,
    /// Its line tokens (unused while the rate is off).
    bucket: Bucket,
    /// Out of tokens: its `Unthrottle` timer is on the wheel, and until it fires the
    /// connection is not served.
    throttled: bool,
    /// Its last command went to the engine (Redis) and the answer is not back: until it
    /// is, the connection is not served (`engine.rs`).
    waiting: bool,
    /// When the unfinished line in `input` was first seen; `None` between lines.
    line_since: Option<u64>,
    /// Its `LineDeadline` timer, while one is on the wheel (at most one).
    line_timer: Option<TimerId>,
    /// Where its address is counted (`admission/`); `None` when exempt (loopback).
    address: Option<Slot>,
    /// Wrong passwords it has sent (`REGISTER` on a server with `--password-file`).
    wrong_passwords: u8,
}

/// The server: the listeners, the connections, the chat and the timers.
pub struct Server {
    poll: Poll,
    /// One per address listened on; emptied once shutting down: no new connections.
    listeners: Vec<Listener>,
    signals: Signals,
    conns: Slab<Conn>,
    chat: Chat,
    /// Where the state nodes share lives: here (memory), or Redis (`engine.rs`).
    engine: Engine,
    out: Outboxes,
    /// The read buffer that connections hand on to each other (see [`SpareBuffer`]).
    spare: SpareBuffer,
    wheel: Wheel<Timer>,
    config: Config,
    started: Instant,
    next_generation: u64,
    /// Connections to serve in the next pass: those that became readable, and those that
    /// spent their line budget in the last one (the backlog). A set: once per pass each.
    ready: KeySet,
    /// Connections whose closing may move on at the next settle.
    settling: KeySet,
    accept: Accept,
    run: Run,
    /// The presence broadcast on the wheel, if one is scheduled.
    presence_timer: Option<TimerId>,
    /// How many lines of each kind clients have made us log lately (`loglimit.rs`).
    log: LogLimit,
    /// The end of a log window that left lines out, if it is on the wheel.
    log_timer: Option<TimerId>,
    /// The page's responses, encoded once (the `web` feature).
    #[cfg(feature = "web")]
    site: crate::server::web::Site,
    /// The TLS configuration every listener's connections use (`--tls-cert`), loaded at
    /// start.
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The discovery socket (`--announce`); dropped once shutting down.
    announcer: Option<Announcer>,
    /// Open connections per address, and bans for wrong passwords.
    admission: Admission,
    /// What the loop counts (`stats.rs`), for `--metrics`.
    stats: Stats,
}

impl Server {
    /// Runs the loop until a signal asks it to stop and queued output has drained. Returns
    /// an error only if polling itself fails; one connection's error closes that connection.
    pub fn run(mut self) -> io::Result<()> {
        self.log_listeners()?;
        #[cfg(feature = "metrics")]
        self.log_metrics_addrs()?;
        if let Some(announce) = &self.config.announce {
            let (group, interface, name) = (announce.group, announce.interface, &announce.name);
            info!("announcing to {group} on interface {interface} as {name:?}");
        }
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let mut ready = Vec::with_capacity(EVENTS_CAPACITY);
        while self.run != Run::Stopped {
            let timeout = self.poll_timeout(self.now_ms());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            ready.clear();
            ready.extend(events.iter().map(Readiness::from));
            // The clock is read once per pass; every phase uses this one `now`. With
            // `--metrics` on, once more at the end, for the pass's duration.
            let woke = Instant::now();
            let now = woke.duration_since(self.started).as_millis() as u64;
            self.turn(&ready, now);
            if !self.config.metrics.is_empty() {
                self.stats.pass_time.record(woke.elapsed());
            }
        }
        info!("shut down");
        Ok(())
    }

    /// One pass of the loop over the events of one poll, at time `now` (milliseconds since
    /// the server started). Tests call it with a clock of their own.
    pub fn turn(&mut self, events: &[Readiness], now: u64) {
        trace!(self.config.trace, "poll returned {} events", events.len());
        self.stats.passes += 1;
        self.note_readiness(events, now);
        self.serve_ready(now);
        #[cfg(feature = "engine")]
        self.serve_engine(now);
        self.serve_announcer(now);
        for timer in self.wheel.advance(now) {
            self.fire(timer, now);
        }
        self.flush_dirty();
        #[cfg(feature = "engine")]
        self.flush_engine(now);
        self.settle(now);
        self.accept_pending(now);
        self.schedule_log_summary();
        if self.run == Run::Stopping && self.conns.is_empty() && self.engine_settled() {
            self.run = Run::Stopped;
        }
    }

    /// Whether a pass has work to do without any new event: input left over, output not
    /// yet tried, a closing to settle, or invitations to an ended conversation still to
    /// lapse. While there is, the poll must not sleep.
    pub fn has_pending_work(&self) -> bool {
        !self.ready.is_empty()
            || self.announcer.as_ref().is_some_and(|a| a.readable)
            || self.out.has_dirty()
            || !self.settling.is_empty()
            || self.chat.has_lapsing()
            || self.engine_has_work()
    }

    /// How long the next poll may sleep: not at all while work is pending (libuv's
    /// `uv_backend_timeout`, Redis's `AE_DONT_WAIT`); otherwise until the next timer, or
    /// until an event if there is none.
    pub fn poll_timeout(&self, now: u64) -> Option<Duration> {
        if self.has_pending_work() {
            return Some(Duration::ZERO);
        }
        let deadline = self.wheel.next_deadline()?;
        Some(Duration::from_millis(deadline.saturating_sub(now)))
    }

    /// Milliseconds since the server started: the loop's clock.
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Phase 1: readiness goes into sets; nothing is read or written yet.
    fn note_readiness(&mut self, events: &[Readiness], now: u64) {
        for event in events {
            match event.token {
                SIGNALS => self.on_signal(now),
                #[cfg(feature = "engine")]
                engine::ENGINE => self.engine_ready(event.readable, event.writable, now),
                ANNOUNCER => {
                    if let Some(announcer) = self.announcer.as_mut() {
                        announcer.readable = true;
                    }
                }
                token if self.listener_ready(token) => {}
                Token(key) => {
                    let Some(conn) = self.conns.get_mut(key) else {
                        continue;
                    };
                    if event.readable {
                        conn.readable = true;
                        conn.closed |= event.closed;
                        // An open connection has lines to serve, unless it is out of line
                        // tokens (its timer serves it); a closing one may have reached its
                        // peer's end of stream.
                        match conn.state {
                            State::Open if conn.throttled || conn.waiting => false,
                            State::Open => self.ready.insert(key),
                            _ => self.settling.insert(key),
                        };
                    }
                    if event.writable {
                        self.out.mark_dirty(key);
                        // TLS records the socket did not take wait in rustls, not in the
                        // outbox, which may be empty.
                        if conn.stream.owes_records() {
                            self.out.mark_writable(key);
                        }
                    }
                }
            }
        }
    }

    /// Does what a handler asked of the loop.
    fn apply(&mut self, key: usize, effect: Effect, now: u64) {
        match effect {
            Effect::Continue => {}
            Effect::Registered => {
                if let Some(user) = self.chat.user(key) {
                    if self.log.allow(Kind::Register, now) {
                        let (name, presence) = (&user.name, user.presence);
                        info!("register {name} (conn {key}, presence {presence:?})");
                    }
                }
                // The registration deadline is met.
                if let Some(timer) = self.conns.get_mut(key).and_then(|c| c.deadline.take()) {
                    self.wheel.cancel(timer);
                }
            }
            Effect::Close => self.close(key, Reason::Goodbye),
            Effect::WrongPassword => self.wrong_password(key, now),
            Effect::Wait => {
                if let Some(conn) = self.conns.get_mut(key) {
                    conn.waiting = true;
                    trace!(
                        self.config.trace,
                        "conn {key}: waits for the engine's answer"
                    );
                }
            }
        }
    }
}
