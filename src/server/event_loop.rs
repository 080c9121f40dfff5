//! The event loop: one thread, one `mio::Poll`, every socket non-blocking.
//!
//! One iteration of [`Server::run`], in order:
//!
//! 1. **Poll.** Sleep until a socket is ready or the next timer is due; do not sleep at all
//!    if a connection still has lines left over from the last pass.
//! 2. **Clock.** Read the time once; everything below uses that one `now`.
//! 3. **Note readiness.** Record which sockets are readable or writable. Nothing is read or
//!    written yet.
//! 4. **Serve input.** For each readable connection: read until `WouldBlock`, cut lines,
//!    dispatch each to its handler, at most [`MAX_FRAMES_PER_WAKE`] lines per connection.
//!    Handlers only queue output; they never touch a socket.
//! 5. **Timers.** Collect every timer due by `now`, then run them: registration deadlines,
//!    the presence broadcast, closing deadlines.
//! 6. **Retire.** Connections that started closing leave their conversations and go
//!    offline. Doing it here, not inside a handler, keeps the state steady while step 4
//!    iterates over it.
//! 7. **Flush.** Write every connection that has output queued, until its queue is empty or
//!    the kernel says `WouldBlock`; only those that said `WouldBlock` wait for a writable
//!    event. Nothing queued is left unwritten when the loop goes back to sleep.
//! 8. **Close, then accept.** Remove connections that finished closing; then accept new
//!    ones, so a slot freed in this pass can be used at once.
//!
//! mio's readiness is edge-triggered: an event says "something changed", once. That is why
//! every read, write and accept goes on until `WouldBlock`; stopping early would wait for an
//! event that never comes. The one deliberate exception is the per-wake line budget of
//! step 4, and the loop remembers those connections itself (the backlog).

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use log::{debug, info};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::buffer::{Flushed, ReadBuf, SpareBuffer};
use crate::wheel::{TimerId, Wheel};

use super::chat::{Chat, ChatLimits};
use super::reason::Reason;
use super::{dispatch, presence, Config};

mod lifecycle;

/// Lines handled for one connection per pass. A client that writes thousands of lines at
/// once gets this many, then every other ready connection gets its turn; the rest wait in
/// its buffer for the next pass, which comes at once (the backlog makes the poll not sleep).
pub const MAX_FRAMES_PER_WAKE: usize = 64;

/// Events taken from the kernel per poll. More are simply returned by the next poll.
const EVENTS_CAPACITY: usize = 1024;

/// Timer resolution: deadlines are rounded up to this. Presence intervals and registration
/// deadlines are seconds long, so 10 ms is plenty precise, and it bounds wake-ups.
const TICK_MS: u64 = 10;

/// Wheel size: 512 ticks of 10 ms make one turn of about 5 s; longer timers wait in their
/// slot for their turn.
const WHEEL_SLOTS: usize = 512;

const LISTENER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);

/// What a timer does when it fires. Timers outlive the events that set them, so those that
/// point at a connection carry its generation: a reused slab key is never mistaken for the
/// old connection.
#[derive(Debug)]
enum Timer {
    RegisterDeadline { key: usize, generation: u64 },
    Linger { key: usize, generation: u64 },
    PresenceBroadcast,
    AcceptRetry,
    ShutdownDeadline,
}

/// The socket side of one connection. Its key in [`Server::ios`] is its key in the chat too.
#[derive(Debug)]
struct Io {
    socket: TcpStream,
    input: ReadBuf,
    generation: u64,
    /// Not yet drained to `WouldBlock` since the last readable event.
    readable: bool,
    /// Registered for writable events (only while output is stuck behind `WouldBlock`).
    wants_write: bool,
    /// Closing: our end is shut for writing; waiting for the peer's end of stream.
    shut_down: bool,
    /// The one timer pending for this connection: its registration deadline, and once it
    /// is closing with output to write, its linger deadline. Cancelled when it is met.
    deadline: Option<TimerId>,
}

/// The server: the listener, the connections, the chat and the timers.
pub struct Server {
    poll: Poll,
    /// `None` once shutting down: no new connections.
    listener: Option<TcpListener>,
    signals: Signals,
    ios: Slab<Io>,
    chat: Chat,
    /// The read buffer that connections hand on to each other (see [`SpareBuffer`]).
    spare: SpareBuffer,
    wheel: Wheel<Timer>,
    config: Config,
    started: Instant,
    next_generation: u64,
    /// Connections that used their whole line budget: served again on the next pass
    /// without waiting for an event.
    backlog: Vec<(usize, u64)>,
    /// Connections closing and not yet removed.
    closing: Vec<(usize, u64)>,
    /// The listener reported readiness and has not yet said `WouldBlock`.
    accept_pending: bool,
    /// Accept is paused (out of file descriptors) until a retry timer or a close.
    accept_paused: bool,
    /// Accept has failed for lack of descriptors and not succeeded since.
    accept_stalled: bool,
    presence_scheduled: bool,
    shutting_down: bool,
    shutdown_expired: bool,
}

impl Server {
    /// Binds the listening socket and sets up the poll, the signals and the timers.
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(config.listen)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let limits = ChatLimits {
            max_output: config.max_output,
        };
        Ok(Server {
            poll,
            listener: Some(listener),
            signals,
            ios: Slab::new(),
            chat: Chat::new(limits, config.trace),
            spare: SpareBuffer::default(),
            wheel: Wheel::new(TICK_MS, WHEEL_SLOTS, 0),
            config,
            started: Instant::now(),
            next_generation: 0,
            backlog: Vec::new(),
            closing: Vec::new(),
            accept_pending: false,
            accept_paused: false,
            accept_stalled: false,
            presence_scheduled: false,
            shutting_down: false,
            shutdown_expired: false,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.listener {
            Some(listener) => listener.local_addr(),
            None => Err(io::Error::new(ErrorKind::NotConnected, "not listening")),
        }
    }

    /// Runs the loop until a signal asks it to stop and queued output has drained. Returns
    /// an error only if polling itself fails; one connection's error closes that connection.
    pub fn run(mut self) -> io::Result<()> {
        info!("listening on {}", self.local_addr()?);
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = self.now_ms();
            trace!(
                self.config.trace,
                "poll returned {} events",
                events.iter().count()
            );

            let mut ready = std::mem::take(&mut self.backlog);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_pending = true,
                    SIGNALS => self.on_signal(now),
                    Token(key) => {
                        let Some(io) = self.ios.get_mut(key) else {
                            continue;
                        };
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            io.readable = true;
                            ready.push((key, io.generation));
                        }
                        if event.is_writable() {
                            self.chat.mark_dirty(key);
                        }
                    }
                }
            }

            for (key, generation) in ready {
                if self.serve(key, generation) {
                    self.backlog.push((key, generation));
                }
            }

            for timer in self.wheel.advance(now) {
                self.fire(timer);
            }

            self.retire_closing(now);
            if !self.chat.presence.is_empty() && !self.presence_scheduled {
                let at = now + self.config.presence_interval_ms;
                self.wheel.insert(at, Timer::PresenceBroadcast);
                self.presence_scheduled = true;
            }

            self.flush_dirty(now);
            self.remove_closed();
            if self.accept_pending && !self.accept_paused {
                self.accept(now);
            }
            if self.shutting_down && (self.ios.is_empty() || self.shutdown_expired) {
                info!("shut down");
                return Ok(());
            }
        }
    }

    /// Milliseconds since the server started: the loop's clock.
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// No sleep while lines are left over; otherwise until the next timer, or forever.
    fn poll_timeout(&self) -> Option<Duration> {
        if !self.backlog.is_empty() {
            return Some(Duration::ZERO);
        }
        // A fresh reading: this iteration's work took time since its `now`.
        let now = self.now_ms();
        let deadline = self.wheel.next_deadline()?;
        Some(Duration::from_millis(deadline.saturating_sub(now)))
    }

    /// Step 4 for one connection: handle buffered lines, read more when none is complete,
    /// until `WouldBlock`, end of stream, closing, or the line budget is spent. Returns
    /// `true` if the budget ran out with input possibly left.
    fn serve(&mut self, key: usize, generation: u64) -> bool {
        let Some(io) = self
            .ios
            .get_mut(key)
            .filter(|io| io.generation == generation)
        else {
            return false;
        };
        let trace = self.config.trace;
        let mut handled = 0;
        loop {
            // Buffered lines first, and read only when no line is complete: the buffer then
            // never holds much more than one line limit plus one read.
            while !self.chat.is_closing(key) {
                if handled == MAX_FRAMES_PER_WAKE {
                    return true;
                }
                match io.input.next_line(self.config.max_line) {
                    Ok(Some(line)) => {
                        handled += 1;
                        trace!(trace, "conn {key}: frame complete ({} bytes)", line.len());
                        debug!("conn {key} sent: {}", shorten(line));
                        dispatch::dispatch(&mut self.chat, key, line);
                        // Registered: the registration deadline is met.
                        if let Some(timer) = io.deadline.filter(|_| self.chat.is_registered(key)) {
                            self.wheel.cancel(timer);
                            io.deadline = None;
                        }
                    }
                    Ok(None) => break,
                    Err(violation) => {
                        debug!("conn {key}: framing violation: {violation}");
                        self.chat.send_error(key, &format!("{violation}; closing"));
                        self.chat.close(key, Reason::Violation);
                    }
                }
            }
            if self.chat.is_closing(key) || !io.readable {
                return false;
            }
            match io.input.read_from(&mut io.socket, &mut self.spare) {
                Ok(0) => {
                    trace!(trace, "conn {key}: readable, end of stream");
                    self.chat.close(key, Reason::Closed);
                }
                Ok(n) => trace!(trace, "conn {key}: readable, read {n} bytes"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    io.readable = false;
                    return false;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("conn {key}: read failed: {e}");
                    self.chat.abandon(key, Reason::after_error(&e));
                }
            }
        }
    }

    /// Step 5 for one due timer.
    fn fire(&mut self, timer: Timer) {
        trace!(self.config.trace, "timer fired: {timer:?}");
        match timer {
            Timer::RegisterDeadline { key, generation } => {
                if self.is_current(key, generation) && !self.chat.is_registered(key) {
                    self.chat.send_error(key, "registration timeout; closing");
                    self.chat.close(key, Reason::Timeout);
                }
            }
            Timer::Linger { key, generation } => {
                if self.is_current(key, generation) {
                    debug!("conn {key}: did not finish closing in time");
                    self.chat.abandon(key, Reason::Broken);
                    self.remove(key);
                }
            }
            Timer::PresenceBroadcast => {
                self.presence_scheduled = false;
                presence::broadcast(&mut self.chat);
            }
            Timer::AcceptRetry => self.accept_paused = false,
            Timer::ShutdownDeadline => self.shutdown_expired = true,
        }
    }

    /// Step 7: write every connection with queued output until done or `WouldBlock`.
    fn flush_dirty(&mut self, now: u64) {
        for key in self.chat.take_dirty() {
            let (Some(io), Some(out)) = (self.ios.get_mut(key), self.chat.outbox(key)) else {
                continue;
            };
            let queued = out.queued();
            let blocked = match out.flush_to(&mut io.socket) {
                Ok(flushed) => {
                    let Flushed { written, blocked } = flushed;
                    let how = if blocked { ", then would block" } else { "" };
                    trace!(
                        self.config.trace,
                        "conn {key}: flush wrote {written} of {queued} bytes{how}"
                    );
                    blocked
                }
                Err(e) => {
                    debug!("conn {key}: write failed: {e}");
                    self.chat.abandon(key, Reason::after_error(&e));
                    continue;
                }
            };
            if blocked && self.chat.enforce_output_limit(key) {
                continue;
            }
            self.chat.release_outbox(key);
            // Writable events only while output is stuck: otherwise every write would
            // wake the loop for nothing.
            if blocked != io.wants_write {
                let interest = if blocked {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                match self
                    .poll
                    .registry()
                    .reregister(&mut io.socket, Token(key), interest)
                {
                    Ok(()) => io.wants_write = blocked,
                    Err(e) => {
                        debug!("conn {key}: reregister failed: {e}");
                        self.chat.abandon(key, Reason::Broken);
                    }
                }
            }
        }
        // A failed write above may have closed connections: let them leave the chat now
        // rather than one pass later.
        self.retire_closing(now);
    }
}

/// At most the first 200 characters of a line, for the debug log.
fn shorten(line: &str) -> &str {
    line.char_indices()
        .nth(200)
        .map_or(line, |(end, _)| &line[..end])
}
