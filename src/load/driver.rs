//! The load generator's loop: one thread, one `mio::Poll`, every socket non-blocking.
//!
//! One iteration, in order:
//!
//! 1. **Poll.** Sleep until a socket is ready or the next thing is due (a connection to
//!    open, a message to send, a progress line, a deadline).
//! 2. **Clock.** Read the time once; everything below uses that one `now`.
//! 3. **Serve.** For each socket with an event: finish connecting if it was, then read
//!    until `WouldBlock` and act on every line (count a message, answer a `PING`, note a
//!    login or a join). Replies are only queued.
//! 4. **Advance.** Open the connections the connect rate allows, queue every message due
//!    by `now`, print progress, move to the next phase.
//! 5. **Flush.** Write every client with queued output until done or `WouldBlock`; a
//!    blocked one is written again on its next writable event.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::buffer::Line;
use crate::client::Connection;

use super::im::Im;
use super::irc::Irc;
use super::proto::{Event, Member, Protocol};
use super::redis::Redis;
use super::stats::{Arrival, Progress, Report, ReportHeader, Stamp, Stats, Tracker};
use super::{LoadError, Settings, Target, DRAIN_PATIENCE_MS, SETUP_PATIENCE_MS};

/// Events taken from the kernel per poll; more wait for the next poll.
const EVENTS_CAPACITY: usize = 1024;

/// How often a progress line is printed, microseconds.
const PROGRESS_EVERY_US: u64 = 1_000_000;

/// The poll's timeout has millisecond resolution (rounded up). The loop sleeps this much
/// less than the time to the next send and polls without sleeping for the rest, so its own
/// timer does not add up to a millisecond to every latency it measures. imload is meant to
/// have a core of its own.
const SPIN_BELOW_US: u64 = 1_000;

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

/// Runs the workload `settings` describe and reports what happened.
pub fn run(settings: &Settings) -> Result<Report, LoadError> {
    if settings.clients == 0 || settings.members == 0 {
        return Err(LoadError::Settings(
            "--clients and --members must be at least 1".into(),
        ));
    }
    if !settings.idle && (settings.rate <= 0.0 || settings.connect_rate <= 0.0) {
        return Err(LoadError::Settings(
            "--rate and --connect-rate must be positive".into(),
        ));
    }
    if settings.clients > u32::MAX as usize {
        return Err(LoadError::Settings(
            "--clients must fit the stamp's 32-bit sender".into(),
        ));
    }
    match settings.target {
        Target::Im => Driver::new(Im, settings)?.run(),
        Target::Redis => Driver::new(Redis, settings)?.run(),
        Target::Irc => Driver::new(Irc, settings)?.run(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Connecting,
    LoggingIn,
    Registered,
    Joined,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Setup,
    Sending,
    Draining { until_us: u64 },
    Holding,
}

/// One simulated client. Its slab key is its number: every client is inserted before any
/// is removed.
struct Client<S> {
    name: String,
    conn: Connection,
    state: S,
    stage: Stage,
    /// The conversation it sends to: the server's number (im) or its group's.
    conv: u64,
    /// Sequence number of its next message.
    seq: u32,
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

struct Driver<P: Protocol> {
    proto: P,
    settings: Settings,
    poll: Poll,
    signals: Signals,
    clients: Slab<Client<P::State>>,
    names: Vec<String>,
    /// Clients registered, per group; the group forms when all are.
    group_registered: Vec<usize>,
    connected: usize,
    registered: usize,
    joined: usize,
    dirty: Vec<usize>,
    notes: Vec<(usize, Note)>,
    tracker: Tracker,
    stats: Stats,
    started: Instant,
    phase: Phase,
    /// Setup fails if nothing progresses (no connect, login or join) past this time.
    setup_deadline_us: u64,
    /// Clients opened, connected, registered and joined, summed: setup's progress.
    setup_progress: usize,
    send_start_us: u64,
    measure_start_us: u64,
    send_end_us: u64,
    /// Messages scheduled so far: message `j` is due at `send_start + j / rate`.
    scheduled: u64,
    /// Deliveries that should happen, to other members and to the sender itself.
    expected: u64,
    expected_echoes: u64,
    interrupted: bool,
    next_progress_us: u64,
    last_sent: u64,
    last_delivered: u64,
    text: String,
    wire: Vec<u8>,
}

impl<P: Protocol> Driver<P> {
    fn new(proto: P, settings: &Settings) -> Result<Driver<P>, LoadError> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let n = settings.clients;
        let k = settings.members.min(n);
        Ok(Driver {
            proto,
            settings: Settings {
                members: k,
                ..settings.clone()
            },
            poll,
            signals,
            clients: Slab::with_capacity(n),
            names: names(n),
            group_registered: vec![0; n.div_ceil(k)],
            connected: 0,
            registered: 0,
            joined: 0,
            dirty: Vec::new(),
            notes: Vec::new(),
            tracker: Tracker::new(n, k),
            stats: Stats::new(),
            started: Instant::now(),
            phase: Phase::Setup,
            setup_deadline_us: SETUP_PATIENCE_MS * 1000,
            setup_progress: 0,
            send_start_us: 0,
            measure_start_us: 0,
            send_end_us: 0,
            scheduled: 0,
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
                    Token(key) => ready.push(key),
                }
            }
            for &key in &ready {
                self.serve(key, now)?;
            }
            if self.advance(now)? {
                return Ok(self.report(now));
            }
            self.flush();
        }
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// How long the poll may sleep: until the next thing due, never past a progress line.
    fn timeout(&self) -> Option<Duration> {
        let now = self.now_us();
        let due = match self.phase {
            Phase::Setup if self.clients.len() < self.settings.clients => self.connect_due_us(),
            Phase::Setup => self.setup_deadline_us,
            Phase::Sending => self.message_due_us(self.scheduled).min(self.send_end_us),
            Phase::Draining { until_us } => until_us,
            Phase::Holding => u64::MAX,
        };
        let due = due.min(self.next_progress_us);
        let wait = due.saturating_sub(now);
        // Wake up to one resolution step early (the poll rounds up) and spin the rest.
        Some(Duration::from_micros(wait.saturating_sub(SPIN_BELOW_US)))
    }

    fn connect_due_us(&self) -> u64 {
        (self.clients.len() as f64 / self.settings.connect_rate * 1e6) as u64
    }

    fn message_due_us(&self, j: u64) -> u64 {
        self.send_start_us + (j as f64 / self.settings.rate * 1e6) as u64
    }

    /// Step 3 for one socket.
    fn serve(&mut self, key: usize, now: u64) -> Result<(), LoadError> {
        let Driver {
            clients,
            proto,
            stats,
            tracker,
            notes,
            ..
        } = self;
        let Some(client) = clients.get_mut(key) else {
            return Ok(());
        };
        if client.stage == Stage::Connecting {
            match connected(client.conn.socket()) {
                Ok(true) => {
                    client.stage = Stage::LoggingIn;
                    self.connected += 1;
                }
                Ok(false) => return Ok(()),
                Err(source) => {
                    return Err(LoadError::Connect {
                        addr: self.settings.server,
                        source,
                    })
                }
            }
        }
        let window = (self.measure_start_us, self.send_end_us);
        let result = client.conn.receive_lines(|line| {
            let bytes = client.partial_bytes + line.len() as u64 + 1;
            client.partial_bytes = 0;
            match proto.parse(&mut client.state, &client.name, line) {
                Event::Partial => client.partial_bytes = bytes,
                Event::Message(text) => on_message(stats, tracker, key, text, bytes, now, window),
                Event::Presence => stats.presence_bytes += bytes,
                Event::Other => stats.other_bytes += bytes,
                event => {
                    stats.other_bytes += bytes;
                    notes.push((key, note(event)));
                }
            }
        });
        let failure = match result {
            Ok(false) => None,
            Ok(true) => Some("closed by the server".to_string()),
            Err(e) => Some(format!("connection failed: {e}")),
        };
        if client.conn.queued() > 0 {
            mark_dirty(&mut self.dirty, key, client);
        }
        self.act_on_notes()?;
        if let Some(why) = failure {
            let name = &self.names[key];
            if self.phase == Phase::Setup {
                return Err(LoadError::Rejected(format!("{name}: {why}")));
            }
            self.stats.closed += 1;
            self.stats.error(format!("{name}: {why}"));
            let mut client = self.clients.remove(key);
            let _ = self.poll.registry().deregister(client.conn.socket());
        }
        Ok(())
    }

    /// Acts on what the lines of one read asked for.
    fn act_on_notes(&mut self) -> Result<(), LoadError> {
        for (key, note) in std::mem::take(&mut self.notes) {
            match note {
                Note::Registered => self.on_registered(key),
                Note::Invited { conv, by_me } => {
                    let Some(client) = self.clients.get_mut(key) else {
                        continue;
                    };
                    client.conv = conv;
                    if by_me {
                        self.on_joined(key);
                    } else {
                        let accept = self.proto.accept(conv);
                        self.send(key, accept);
                    }
                }
                Note::Joined => self.on_joined(key),
                Note::Answer(bytes) => self.send(key, bytes),
                Note::Error(text) if self.phase == Phase::Setup => {
                    return Err(LoadError::Rejected(format!("{}: {text}", self.names[key])));
                }
                Note::Error(text) => self.stats.error(format!("{}: {text}", self.names[key])),
            }
        }
        Ok(())
    }

    fn on_registered(&mut self, key: usize) {
        let Some(client) = self
            .clients
            .get_mut(key)
            .filter(|c| c.stage < Stage::Registered)
        else {
            return;
        };
        client.stage = Stage::Registered;
        self.registered += 1;
        if self.settings.idle {
            return;
        }
        let k = self.settings.members;
        let group = key / k;
        self.group_registered[group] += 1;
        let members = group * k..((group + 1) * k).min(self.settings.clients);
        if self.group_registered[group] < members.len() {
            return;
        }
        for member in members.clone() {
            let me = Member {
                name: &self.names[member],
                group,
                leader: member == members.start,
            };
            if let Some(bytes) = self.proto.form(me, &self.names[members.clone()]) {
                self.send(member, bytes);
            }
        }
    }

    fn on_joined(&mut self, key: usize) {
        if let Some(client) = self
            .clients
            .get_mut(key)
            .filter(|c| c.stage < Stage::Joined)
        {
            client.stage = Stage::Joined;
            self.joined += 1;
        }
    }

    /// Queues bytes for a client and marks it for flushing.
    fn send(&mut self, key: usize, bytes: Vec<u8>) {
        if let Some(client) = self.clients.get_mut(key) {
            client.conn.send_line(Line::from(bytes));
            mark_dirty(&mut self.dirty, key, client);
        }
    }

    /// Step 4. Returns whether the run is over.
    fn advance(&mut self, now: u64) -> Result<bool, LoadError> {
        match self.phase {
            Phase::Setup => self.advance_setup(now)?,
            Phase::Sending => {
                self.send_due(now);
                if now >= self.send_end_us || self.interrupted {
                    self.send_end_us = self.send_end_us.min(now);
                    self.phase = Phase::Draining {
                        until_us: now + DRAIN_PATIENCE_MS * 1000,
                    };
                }
            }
            Phase::Draining { until_us } => {
                let received = self.stats.delivered + self.stats.echoes;
                if received >= self.expected + self.expected_echoes
                    || now >= until_us
                    || self.interrupted
                {
                    return Ok(true);
                }
            }
            Phase::Holding => return Ok(self.interrupted),
        }
        if now >= self.next_progress_us {
            self.progress(now);
        }
        Ok(false)
    }

    fn advance_setup(&mut self, now: u64) -> Result<(), LoadError> {
        let n = self.settings.clients;
        while self.clients.len() < n && self.connect_due_us() <= now {
            self.open()?;
        }
        if self.interrupted {
            return Err(LoadError::Interrupted {
                registered: self.registered,
                clients: n,
            });
        }
        if self.settings.idle && self.registered == n {
            println!("registered {n} clients; holding them until interrupted");
            self.phase = Phase::Holding;
        } else if self.joined == n {
            self.send_start_us = now;
            self.measure_start_us = now + (self.settings.warmup * 1e6) as u64;
            self.send_end_us = self.measure_start_us + (self.settings.duration * 1e6) as u64;
            self.phase = Phase::Sending;
        }
        let progress = self.clients.len() + self.connected + self.registered + self.joined;
        if progress != self.setup_progress {
            self.setup_progress = progress;
            self.setup_deadline_us = now + SETUP_PATIENCE_MS * 1000;
        } else if self.phase == Phase::Setup && now >= self.setup_deadline_us {
            let (ready, phase) = match () {
                _ if self.connected < n => (self.connected, "connected"),
                _ if self.registered < n => (self.registered, "registered"),
                _ => (self.joined, "joined their conversation"),
            };
            return Err(LoadError::SetupTimeout {
                ready,
                clients: n,
                phase,
            });
        }
        Ok(())
    }

    /// Opens the next client's connection and queues its login.
    fn open(&mut self) -> Result<(), LoadError> {
        let index = self.clients.len();
        let ips = &self.settings.source_ips;
        let source = (!ips.is_empty()).then(|| ips[index % ips.len()]);
        let server = self.settings.server;
        let fail = |source| LoadError::Connect {
            addr: server,
            source,
        };
        let mut socket = open_socket(server, source).map_err(fail)?;
        let key = self.clients.vacant_entry().key();
        debug_assert_eq!(key, index, "keys are client numbers");
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut socket, Token(key), interest)
            .map_err(fail)?;
        let name = self.names[index].clone();
        let mut conn = Connection::from_stream(socket);
        conn.send_line(Line::from(self.proto.login(&name, self.settings.presence)));
        let group = (index / self.settings.members) as u64;
        self.clients.insert(Client {
            name,
            conn,
            state: P::State::default(),
            stage: Stage::Connecting,
            conv: group,
            seq: 0,
            dirty: false,
            partial_bytes: 0,
        });
        Ok(())
    }

    /// Queues every message due by `now`, each stamped with the time it was due.
    fn send_due(&mut self, now: u64) {
        let n = self.settings.clients as u64;
        let k = self.settings.members;
        for _ in 0..MAX_SENDS_PER_PASS {
            let due = self.message_due_us(self.scheduled);
            if due > now || due >= self.send_end_us {
                return;
            }
            let key = (self.scheduled % n) as usize;
            let Some(client) = self.clients.get_mut(key) else {
                self.scheduled += 1;
                continue;
            };
            if client.conn.queued() > MAX_UNSENT_BYTES {
                return;
            }
            self.scheduled += 1;
            let stamp = Stamp {
                sender: key as u32,
                seq: client.seq,
                due_us: due,
                queued_us: now,
            };
            client.seq += 1;
            stamp.encode(self.settings.size, &mut self.text);
            self.wire.clear();
            self.proto.message(client.conv, &self.text, &mut self.wire);
            client.conn.send_line(Line::from(&self.wire[..]));
            mark_dirty(&mut self.dirty, key, client);
            let group = key / k;
            let group_len = ((group + 1) * k).min(self.settings.clients) - group * k;
            self.stats.sent += 1;
            self.expected += group_len as u64 - 1;
            self.expected_echoes += u64::from(P::ECHOES);
        }
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

    fn progress(&mut self, now: u64) {
        let secs = (now - self.next_progress_us + PROGRESS_EVERY_US) as f64 / 1e6;
        let line = Progress {
            elapsed_s: now as f64 / 1e6,
            connected: self.connected,
            sent_per_s: (self.stats.sent - self.last_sent) as f64 / secs,
            delivered_per_s: (self.stats.delivered - self.last_delivered) as f64 / secs,
            p99_us: self.stats.corrected.value_at_quantile(0.99),
            errors: self.stats.errors,
        };
        self.last_sent = self.stats.sent;
        self.last_delivered = self.stats.delivered;
        self.next_progress_us = now + PROGRESS_EVERY_US;
        if self.settings.progress {
            eprintln!("{line}");
        }
    }

    fn report(&self, now: u64) -> Report {
        let measured_us = self
            .send_end_us
            .min(now)
            .saturating_sub(self.measure_start_us);
        let header = ReportHeader {
            target: self.settings.target.name(),
            clients: self.settings.clients,
            members: self.settings.members,
            size: self.settings.size,
            offered_rate: self.settings.rate,
            measured_s: measured_us as f64 / 1e6,
        };
        Report::new(&self.stats, header, self.expected, self.expected_echoes)
    }
}

/// Client names: `u`, two letters that differ from run to run, and the client's number,
/// as in `uqf17`. A run that starts while the server still retires the last run's clients
/// would otherwise be refused their names. At most 9 characters below a million clients,
/// the longest nick RFC 2812 promises.
fn names(n: usize) -> Vec<String> {
    let run = std::process::id() as usize;
    let letter = |i: usize| char::from(b'a' + (i % 26) as u8);
    let tag: String = [letter(run), letter(run / 26)].iter().collect();
    (0..n).map(|i| format!("u{tag}{i}")).collect()
}

fn mark_dirty<S>(dirty: &mut Vec<usize>, key: usize, client: &mut Client<S>) {
    if !client.dirty {
        client.dirty = true;
        dirty.push(key);
    }
}

fn note(event: Event<'_>) -> Note {
    match event {
        Event::Registered => Note::Registered,
        Event::Invited { conv, by_me } => Note::Invited { conv, by_me },
        Event::Joined => Note::Joined,
        Event::Answer(bytes) => Note::Answer(bytes),
        Event::Error(text) => Note::Error(text),
        other => Note::Error(format!("unexpected event {other:?}")),
    }
}

/// Counts one message that reached client `receiver`.
fn on_message(
    stats: &mut Stats,
    tracker: &mut Tracker,
    receiver: usize,
    text: &str,
    bytes: u64,
    now: u64,
    (measure_start, send_end): (u64, u64),
) {
    let Some(stamp) =
        Stamp::decode(text).filter(|s| tracker.same_group(receiver, s.sender as usize))
    else {
        stats.strays += 1;
        return;
    };
    match tracker.arrive(receiver, stamp.sender as usize, stamp.seq) {
        Arrival::Duplicate => {
            stats.duplicates += 1;
            return;
        }
        Arrival::Late => stats.reordered += 1,
        Arrival::New => {}
    }
    stats.message_bytes += bytes;
    if stamp.sender as usize == receiver {
        stats.echoes += 1;
        return;
    }
    stats.delivered += 1;
    if (measure_start..send_end).contains(&now) {
        stats.delivered_measured += 1;
        stats.message_bytes_measured += bytes;
    }
    if (measure_start..send_end).contains(&stamp.due_us) {
        stats
            .corrected
            .saturating_record(now.saturating_sub(stamp.due_us).max(1));
        stats
            .uncorrected
            .saturating_record(now.saturating_sub(stamp.queued_us).max(1));
    }
}

/// Starts a non-blocking connect, from `source` if given.
fn open_socket(server: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(server);
    };
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    match socket.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// Whether a non-blocking connect has finished: the check mio documents for the first
/// writable event (`take_error`, then `peer_addr`).
fn connected(socket: &mut TcpStream) -> io::Result<bool> {
    if let Some(e) = socket.take_error()? {
        return Err(e);
    }
    match socket.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}
