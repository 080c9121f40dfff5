//! The load generator's loop: one thread, one `mio::Poll`, every socket non-blocking.
//!
//! One iteration, in order:
//!
//! 1. **Poll.** Sleep until a socket is ready or the next thing is due (a connection to
//!    open, a message to send, a progress line, a deadline).
//! 2. **Clock.** Read the time once; everything below uses that one `now`.
//! 3. **Serve.** For each socket with an event: finish connecting if it was, then read
//!    until `WouldBlock` (on epoll, until a short read: `buffer::Drain`) and act on every
//!    line (count a message, answer a `PING`, note a login or a join). Replies are only
//!    queued.
//! 4. **Advance.** Open the connections the connect rate allows, send every message due
//!    by `now` (each in a write of its own, as a person's client sends it), print
//!    progress, move to the next phase.
//! 5. **Flush.** Write every client with other queued output (logins, joins, answers) until
//!    done or `WouldBlock`; a blocked one is written again on its next writable event.
//!
//! Setup (connecting, logging in, forming groups) is in `setup.rs`; reading, counting and
//! sending messages in `traffic.rs`; the progress lines and the final report in `show.rs`;
//! the timer that wakes the loop to the microsecond in `wake.rs`.

mod part;
mod setup;
mod show;
mod traffic;
mod wake;

pub use part::run_share;
use setup::names;
use wake::Wake;

use std::io::ErrorKind;
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use super::im::Im;
use super::irc::Irc;
use super::link::Link;
use super::proto::Protocol;
use super::redis::Redis;
use super::report::Report;
use super::rss::CpuWindow;
use super::split::Share;
use super::stats::{Stats, Tracker};
use super::{LoadError, Settings, Target, SETUP_PATIENCE_MS};
use crate::buffer::Drain;

/// Events taken from the kernel per poll; more wait for the next poll.
const EVENTS_CAPACITY: usize = 1024;

/// How often a progress line is printed, microseconds.
const PROGRESS_EVERY_US: u64 = 1_000_000;

/// Messages queued per loop pass at most. A generator that has fallen behind its schedule
/// would otherwise queue everything overdue in one pass and read nothing meanwhile; what
/// is left stays due, with its original time, so its latency still counts the wait.
const MAX_SENDS_PER_PASS: usize = 1024;

/// Bytes a client may have queued that the server has not taken yet. Past this, sending
/// pauses (messages stay due, their latency still counted from when they were due): a
/// saturated server then holds imload's memory to clients × this, instead of every
/// message offered.
const MAX_UNSENT_BYTES: usize = 64 * 1024;

const SIGNALS: Token = Token(usize::MAX);
/// The timerfd that wakes the loop for a send due within the poll's resolution.
const WAKE: Token = Token(usize::MAX - 1);
/// `--procs`: the parent's pipe, which carries the common start time.
const STDIN: Token = Token(usize::MAX - 2);

/// Runs the workload `settings` describe and reports what happened.
pub fn run(settings: &Settings) -> Result<Report, LoadError> {
    settings.check().map_err(LoadError::Settings)?;
    match settings.target {
        // The same im adapter; only the transport differs (see `Link`).
        Target::Im | Target::Ws => Driver::new(Im::of(settings), settings, None)?.run(),
        Target::Redis => Driver::new(Redis, settings, None)?.run(),
        Target::Irc => Driver::new(Irc, settings, None)?.run(),
    }
}

/// How far one client has come; it only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// The non-blocking connect has not completed yet.
    Connecting,
    /// Connected, its login queued or sent, no answer yet.
    LoggingIn,
    /// Logged in; waiting for the rest of its group.
    Registered,
    /// A member of its group's conversation: ready to send and receive.
    Joined,
}

/// The run's phase (see the module docs of `load`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Connecting, logging in and forming groups.
    Setup,
    /// Sending on the clock.
    Sending,
    /// Sending has stopped; waiting for the last deliveries until this time.
    Draining { until_us: u64 },
    /// `--idle`: everyone is logged in; holding until interrupted.
    Holding,
}

/// One simulated client. Its slab key is its number: every client is inserted before any
/// is removed.
struct Client<S> {
    name: String,
    /// The socket with its read buffer and outbox, over TCP or WebSocket.
    conn: Link,
    /// The protocol's parsing state for this connection.
    state: S,
    stage: Stage,
    /// The conversation it sends to: the server's number (im) or its group's.
    conv: u64,
    /// Whether it is on [`Driver::dirty`] already.
    dirty: bool,
    /// Bytes of a multi-line reply read so far (RESP), counted when the reply completes.
    partial_bytes: u64,
}

/// What a line asked for that touches more than the client that read it.
enum Note {
    Registered,
    Invited { conv: u64, by_me: bool },
    Joined,
    Answer(Vec<u8>),
    Error(String),
}

/// The whole run: sockets, clients, schedule and counts.
struct Driver<P: Protocol> {
    proto: P,
    /// The settings, with `members` no larger than `clients`.
    settings: Settings,
    poll: Poll,
    /// SIGINT and SIGTERM, as poll events: they end the run early (or the hold).
    signals: Signals,
    /// Wakes the poll when the next thing is due, closer than its timeout can.
    wake: Wake,
    clients: Slab<Client<P::State>>,
    /// Every client's name, by client number (also for clients not yet opened).
    names: Vec<String>,
    /// The numbers of the first client and the first group in the whole run (not 0 for a
    /// share of `--procs`): a client's server, and its group's name, are those of the
    /// whole run.
    first_client: usize,
    group_offset: usize,
    /// `--procs`: waiting for the parent's common start once setup is done.
    gate: Option<part::Gate>,
    /// Clients registered, per group; the group forms when all are.
    group_registered: Vec<usize>,
    /// Clients that reached each stage, counted once each.
    connected: usize,
    registered: usize,
    joined: usize,
    /// Clients with output queued since the last flush.
    dirty: Vec<usize>,
    /// What the lines of the current read asked for, acted on after the read.
    notes: Vec<(usize, Note)>,
    tracker: Tracker,
    stats: Stats,
    /// The clock's origin: every time in the run is microseconds since this.
    started: Instant,
    /// The same moment on the wall clock, for the report's timestamp.
    started_wall: SystemTime,
    /// Each server process's resident memory before the first connection
    /// (`--server-pid`), kB.
    rss_before_kb: Vec<Option<u64>>,
    /// CPU times when the measured window started and when sending stopped.
    cpu: CpuWindow,
    phase: Phase,
    /// When setup finished: every client logged in (and, unless idle, joined).
    setup_us: Option<u64>,
    /// Setup fails if nothing progresses (no connect, login or join) past this time.
    setup_deadline_us: u64,
    /// Clients opened, connected, registered and joined, summed: setup's progress.
    setup_progress: usize,
    /// Sending starts, measuring starts (after the warmup), sending ends.
    send_start_us: u64,
    measure_start_us: u64,
    send_end_us: u64,
    /// Messages scheduled so far: message `j` is due at `send_start + j / rate`.
    scheduled: u64,
    /// The client whose next message is due but whose unsent output is over
    /// [`MAX_UNSENT_BYTES`]: sending waits for its writable event, not a spinning poll.
    stalled_on: Option<usize>,
    /// Deliveries that should happen, to other members and to the sender itself.
    expected: u64,
    expected_echoes: u64,
    /// A signal asked the run to stop.
    interrupted: bool,
    /// When the next progress line is due, and the counts at the last one.
    next_progress_us: u64,
    last_sent: u64,
    last_delivered: u64,
    /// Scratch space for one message's text and wire bytes, reused for every message.
    text: String,
    wire: Vec<u8>,
}

impl<P: Protocol> Driver<P> {
    fn new(proto: P, settings: &Settings, share: Option<&Share>) -> Result<Driver<P>, LoadError> {
        let poll = Poll::new()?;
        if share.is_some() {
            part::watch_stdin(&poll)?;
        }
        let (first, run) = share.map_or((0, std::process::id()), |s| (s.first, s.run));
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let n = settings.clients;
        let k = settings.members.min(n);
        let started = Instant::now();
        let wake = Wake::new(poll.registry(), WAKE, started)?;
        Ok(Driver {
            proto,
            settings: Settings {
                members: k,
                ..settings.clone()
            },
            poll,
            signals,
            wake,
            clients: Slab::with_capacity(n),
            names: names(first, n, run),
            first_client: first,
            group_offset: share.map_or(0, |s| s.first_group),
            gate: share.map(|_| part::Gate::default()),
            group_registered: vec![0; n.div_ceil(k)],
            connected: 0,
            registered: 0,
            joined: 0,
            dirty: Vec::new(),
            notes: Vec::new(),
            tracker: Tracker::new(n, k),
            stats: Stats::new(),
            started,
            started_wall: SystemTime::now(),
            rss_before_kb: settings
                .server_pids
                .iter()
                .map(|&p| super::rss_kb(p))
                .collect(),
            cpu: CpuWindow::default(),
            phase: Phase::Setup,
            setup_us: None,
            setup_deadline_us: SETUP_PATIENCE_MS * 1000,
            setup_progress: 0,
            send_start_us: 0,
            measure_start_us: 0,
            send_end_us: 0,
            scheduled: 0,
            stalled_on: None,
            expected: 0,
            expected_echoes: 0,
            interrupted: false,
            next_progress_us: PROGRESS_EVERY_US,
            last_sent: 0,
            last_delivered: 0,
            text: String::new(),
            wire: Vec::new(),
        })
    }

    fn run(mut self) -> Result<Report, LoadError> {
        let now = self.run_loop()?;
        Ok(self.report(now))
    }

    /// Runs until the run is over; returns the time it ended.
    fn run_loop(&mut self) -> Result<u64, LoadError> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let mut ready = Vec::new();
        loop {
            let timeout = self.timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
            let now = self.now_us();
            ready.clear();
            for event in events.iter() {
                match event.token() {
                    SIGNALS => self.interrupted |= self.signals.pending().next().is_some(),
                    WAKE => self.wake.fired(),
                    STDIN => self.on_stdin()?,
                    Token(key) => {
                        // A writable event alone reads nothing: on mio's poll(2) backend
                        // a read to `WouldBlock` re-arms writable interest, which would
                        // fire again at once, and a read on each would spin the loop.
                        let closed = event.is_read_closed() || event.is_error();
                        let readable = event.is_readable() || closed;
                        ready.push((key, readable.then(|| Drain::after(closed))));
                    }
                }
            }
            for &(key, drain) in &ready {
                self.serve(key, drain, now)?;
            }
            if self.advance(now)? {
                return Ok(now);
            }
            self.flush();
        }
    }

    /// The server client `key` connects to: by its number in the whole run (`nodes.rs`).
    fn node(&self, key: usize) -> &super::Node {
        let servers = &self.settings.servers;
        &servers[super::node_of(self.first_client + key, servers.len())]
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// How long the poll may sleep: until the next thing due, never past a progress line.
    fn timeout(&mut self) -> Option<Duration> {
        let now = self.now_us();
        let due = match self.phase {
            Phase::Setup if self.clients.len() < self.settings.clients => self.connect_due_us(),
            Phase::Setup => self.setup_deadline_us,
            // Behind a client the server does not read from: its writable event (or
            // another's) wakes the loop; there is nothing to send until then.
            Phase::Sending if self.stalled() => self.send_end_us,
            Phase::Sending => self.message_due_us(self.scheduled).min(self.send_end_us),
            Phase::Draining { until_us } => until_us,
            Phase::Holding => u64::MAX,
        };
        self.wake.timeout(now, due.min(self.next_progress_us))
    }

    /// Queues bytes for a client and marks it for flushing.
    fn send(&mut self, key: usize, bytes: Vec<u8>) {
        if let Some(client) = self.clients.get_mut(key) {
            client.conn.send(bytes);
            mark_dirty(&mut self.dirty, key, client);
        }
    }

    /// Step 4. Returns whether the run is over.
    fn advance(&mut self, now: u64) -> Result<bool, LoadError> {
        match self.phase {
            Phase::Setup => self.advance_setup(now)?,
            Phase::Sending => {
                if self.advance_sending(now) {
                    return Ok(true);
                }
            }
            Phase::Draining { until_us } => {
                if self.all_received() || now >= until_us || self.interrupted {
                    return Ok(true);
                }
            }
            // Held on to the progress lines below: returning before them left the next
            // one due in the past, and the poll's timeout at zero (a spin, 100% of a core,
            // for the whole hold).
            Phase::Holding if self.interrupted => return Ok(true),
            Phase::Holding => {}
        }
        if now >= self.next_progress_us {
            self.progress(now);
        }
        Ok(false)
    }

    /// Step 5.
    fn flush(&mut self) {
        for key in std::mem::take(&mut self.dirty) {
            let Some(client) = self.clients.get_mut(key) else {
                continue;
            };
            client.dirty = false;
            if client.stage == Stage::Connecting {
                continue;
            }
            // A failed write shows up as a failed read at the next event; nothing to do here.
            let _ = client.conn.flush();
        }
    }
}

fn mark_dirty<S>(dirty: &mut Vec<usize>, key: usize, client: &mut Client<S>) {
    if !client.dirty {
        client.dirty = true;
        dirty.push(key);
    }
}
