//! The client's loop: one thread, one `mio::Poll` holding the server's socket, the
//! keyboard, the screen and the signals. The server's side (its replies, losing it and
//! getting it back) is in `event_loop/connection.rs`.
//!
//! One iteration, in order:
//!
//! 1. **Server input.** If the socket was readable, read it until `WouldBlock` and turn each
//!    reply into screen lines (paused while the screen is far behind, see
//!    [`SCREEN_PAUSE_BYTES`]).
//! 2. **Keyboard input.** If stdin was readable, read it until `WouldBlock` and turn each line
//!    into requests or screen lines (not before the registration is accepted, and paused
//!    while the server is far behind, see [`INPUT_PAUSE_BYTES`]).
//! 3. **Reconnect?** If the connection was lost and the retry timer is due, connect again.
//! 4. **Flush.** Write queued requests to the server (over TLS, with the records rustls
//!    holds: the handshake's come from reads), then queued lines to the screen, each until
//!    done or `WouldBlock`. Every pass flushes, so a writable event needs no flag.
//! 5. **Exit?** Once finished and the screen is drained (or has had its chance), return the
//!    exit code.
//! 6. **Poll.** Sleep until something is ready; not at all if step 1 or 2 paused with work
//!    left; at most until the nearest deadline (sign-off, screen drain, retry timer).
//!
//! Server replies are handled before typed lines so that a command typed in the same
//! instant acts on the freshest state.

mod connection;

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::client::{ClientTls, Connection};
use crate::protocol::{Password, Request};

use super::state::{ChatState, Output};
use super::terminal::{Keyboard, Screen, Typed};
use super::{exit, Config};
use connection::Backoff;

const SERVER: Token = Token(0);
const KEYBOARD: Token = Token(1);
const SCREEN: Token = Token(2);
const SIGNALS: Token = Token(3);

/// After `GOODBYE`, how long the server may take to close the connection. It normally does
/// so at once; a server that does not must not keep the user's terminal forever.
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// At exit, how long the last screen lines may take to be written (a terminal stopped with
/// Ctrl-S, or a pipe nobody reads, must not keep the process alive).
const SCREEN_DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Stop reading typed lines while this many bytes wait to go to the server: a pasted file of
/// megabytes then waits in the pipe, not in memory.
const INPUT_PAUSE_BYTES: usize = 256 * 1024;

/// Stop reading the server while this many bytes wait to go to the screen. The server then
/// holds the backlog, and its own output limit decides, not this process's memory.
const SCREEN_PAUSE_BYTES: usize = 1024 * 1024;

/// Events taken from the kernel per poll; four sources, so a few suffice.
const EVENTS_CAPACITY: usize = 16;

/// Where the client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Registering or registered, reading both the keyboard and the server.
    Chatting,
    /// The connection was lost after registering: waiting until `retry_at`, or (`None`)
    /// connecting and registering again. Typed lines are read; those that need the server
    /// are refused with a line saying so.
    Reconnecting { retry_at: Option<Instant> },
    /// `GOODBYE` sent; waiting for the server to close, until the deadline.
    SigningOff { deadline: Instant },
    /// Nothing more to do but drain the screen, until the deadline.
    Done { code: u8, deadline: Instant },
}

struct Client {
    poll: Poll,
    server: SocketAddr,
    /// `--tls`: how every connection, the first and each reconnection, speaks TLS.
    tls: Option<ClientTls>,
    /// `None` while disconnected, between a lost connection and the next try.
    conn: Option<Connection>,
    keyboard: Keyboard,
    screen: Screen,
    signals: Signals,
    state: ChatState,
    /// The status to register with: the one given at start, then the last one the server
    /// confirmed, so a reconnected user keeps it.
    status: String,
    /// The server's password, for every `REGISTER` (reconnecting registers again).
    password: Option<Password>,
    /// The socket was reported readable and not yet read to `WouldBlock`.
    server_ready: bool,
    phase: Phase,
    /// The delays between reconnection attempts; `None` with `--no-reconnect`.
    backoff: Option<Backoff>,
    /// The screen could not be written: the exit code says so, whatever else happens.
    screen_failed: bool,
}

/// Connects, registers and chats until the user signs off, or the server goes away and
/// reconnecting is off or refused. Returns the process exit code (see [`exit`]).
pub fn run(config: Config) -> u8 {
    match Client::start(config) {
        Ok(client) => client.run(),
        Err(e) => {
            // Nothing is registered yet: a plain print is safe (and a closed stdout is not
            // worth a panic).
            let _ = writeln!(io::stdout(), "! cannot start: {e}");
            exit::REFUSED
        }
    }
}

impl Client {
    fn start(config: Config) -> io::Result<Client> {
        let poll = Poll::new()?;
        let conn = connection::connect(&poll, config.server, config.tls.as_ref())
            .map_err(|e| io::Error::new(e.kind(), format!("connect to {}: {e}", config.server)))?;
        // SIGCONT: resumed after Ctrl-Z; see `on_signal`.
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGCONT])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let screen = Screen::open(SCREEN)?;
        let keyboard = Keyboard::open(poll.registry(), KEYBOARD)?;
        let mut client = Client {
            poll,
            server: config.server,
            tls: config.tls,
            conn: Some(conn),
            keyboard,
            screen,
            signals,
            state: ChatState::new(&config.name),
            status: config.status,
            password: config.password,
            server_ready: false,
            phase: Phase::Chatting,
            backoff: config.reconnect.then(Backoff::new),
            screen_failed: false,
        };
        for line in &config.notices {
            client.screen.print(line);
        }
        client.send_register();
        Ok(client)
    }

    fn run(mut self) -> u8 {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            self.serve_server();
            self.serve_keyboard();
            self.retry_if_due();
            self.flush();
            if let Phase::Done { code, deadline } = self.phase {
                if self.screen.queued() == 0 || self.screen_failed || Instant::now() >= deadline {
                    return if self.screen_failed {
                        exit::LOCAL
                    } else {
                        code
                    };
                }
            }
            if let Phase::SigningOff { deadline } = self.phase {
                if Instant::now() >= deadline {
                    self.screen
                        .print("! the server did not close the connection; exiting");
                    self.finish(exit::OK);
                    continue;
                }
            }
            if let Err(e) = self.poll.poll(&mut events, self.timeout()) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                // Without a working poll nothing can be waited for: one last try at the
                // screen, and out.
                self.screen.print(&format!("! poll failed: {e}"));
                let _ = self.screen.flush(self.poll.registry());
                return exit::LOCAL;
            }
            for event in events.iter() {
                match event.token() {
                    // A writable event alone reads nothing (the flush at the top of
                    // the loop writes): on mio's poll(2) backend a read to `WouldBlock`
                    // re-arms writable interest, which an idle socket fires at once, and
                    // a read on each would spin the loop.
                    SERVER => {
                        self.server_ready |=
                            event.is_readable() || event.is_read_closed() || event.is_error()
                    }
                    KEYBOARD => self.keyboard.ready = true,
                    SIGNALS => self.on_signal(),
                    // SCREEN: writable again; the flush at the top of the loop writes.
                    _ => {}
                }
            }
        }
    }

    /// Zero while paused work is left, the nearest deadline while signing off, draining or
    /// waiting to reconnect, otherwise until something happens.
    fn timeout(&self) -> Option<Duration> {
        let deadline = match self.phase {
            Phase::Chatting | Phase::Reconnecting { retry_at: None } => None,
            Phase::Reconnecting { retry_at } => retry_at,
            Phase::SigningOff { deadline } | Phase::Done { deadline, .. } => Some(deadline),
        };
        let more_input = self.reading_keyboard()
            && self.keyboard.ready
            && self.requests_queued() < INPUT_PAUSE_BYTES;
        let more_replies = !matches!(self.phase, Phase::Done { .. })
            && self.server_ready
            && self.screen.queued() < SCREEN_PAUSE_BYTES;
        if more_input || more_replies {
            return Some(Duration::ZERO);
        }
        deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn requests_queued(&self) -> usize {
        self.conn.as_ref().map_or(0, Connection::queued)
    }

    fn serve_keyboard(&mut self) {
        while self.reading_keyboard()
            && self.keyboard.ready
            && self.requests_queued() < INPUT_PAUSE_BYTES
        {
            let mut lines: Vec<Typed> = Vec::new();
            if let Err(e) = self.keyboard.read_some(self.poll.registry(), &mut lines) {
                self.screen.print(&format!("! cannot read input: {e}"));
                self.keyboard.ready = false;
                self.keyboard.ended = true;
            }
            for line in lines {
                let mut out = Output::default();
                match line {
                    Ok(line) => self.state.on_input(&line, &mut out),
                    Err(why) => out.lines.push(format!("! {why}")),
                }
                self.apply(out);
                if !self.reading_keyboard() {
                    return;
                }
            }
            if self.keyboard.ended {
                self.sign_off("* end of input; signing off");
            }
        }
    }

    /// Typed lines wait until the server has accepted the registration: a command before
    /// that would act on a state that does not exist yet, and a refused user has nothing
    /// to command. While reconnecting they are read, so that `/quit` and end of input work
    /// and the user hears at once that a message cannot go out.
    fn reading_keyboard(&self) -> bool {
        match self.phase {
            Phase::Chatting => self.state.registered(),
            Phase::Reconnecting { .. } => true,
            Phase::SigningOff { .. } | Phase::Done { .. } => false,
        }
    }

    /// Carries out what the state decided: screen lines, requests, signing off.
    fn apply(&mut self, out: Output) {
        for line in &out.lines {
            self.screen.print(line);
        }
        match (&mut self.conn, self.phase) {
            (_, _) if out.requests.is_empty() => {}
            (Some(conn), Phase::Chatting | Phase::SigningOff { .. }) => {
                for request in &out.requests {
                    conn.send(request);
                }
            }
            _ => self
                .screen
                .print("! not sent: not connected to the server (reconnecting)"),
        }
        if out.refused {
            if matches!(self.phase, Phase::Reconnecting { .. }) {
                self.screen
                    .print("! could not register again after reconnecting; exiting");
            }
            self.finish(exit::REFUSED);
        } else if out.quit {
            self.sign_off("* signing off");
        }
    }

    fn flush(&mut self) {
        self.flush_server();
        if self.screen_failed {
            return;
        }
        if let Err(e) = self.screen.flush(self.poll.registry()) {
            // Nowhere left to show anything: say why where it can still be seen, sign off
            // politely, and say so in the exit code.
            self.screen_failed = true;
            let why = if e.kind() == ErrorKind::BrokenPipe {
                "standard output closed".to_string()
            } else {
                format!("cannot write to standard output: {e}")
            };
            let then = match self.phase {
                Phase::Chatting | Phase::Reconnecting { .. } => "; signing off",
                Phase::SigningOff { .. } | Phase::Done { .. } => "",
            };
            let _ = writeln!(io::stderr(), "imclient: {why}{then}");
            self.sign_off("");
            // The GOODBYE just queued goes now, not after the next event.
            self.flush_server();
        }
    }

    fn flush_server(&mut self) {
        if !matches!(self.phase, Phase::Done { .. }) {
            if let Some(Err(e)) = self.conn.as_mut().map(Connection::flush) {
                self.server_gone(Some(e));
            }
        }
    }

    fn on_signal(&mut self) {
        // Drain the pending signals (the self-pipe must be read to WouldBlock).
        let mut interrupted = false;
        for signal in self.signals.pending() {
            if signal == SIGCONT {
                // Resumed after Ctrl-Z: the shell may have read the terminal meanwhile, or
                // typed lines may be waiting. Look again; a look costs one poll(2) check.
                self.keyboard.ready |= !self.keyboard.ended;
            } else {
                interrupted = true;
            }
        }
        if !interrupted {
            return;
        }
        match self.phase {
            Phase::Chatting | Phase::Reconnecting { .. } => {
                self.sign_off("* interrupted; signing off")
            }
            Phase::SigningOff { .. } => {
                self.screen.print("! interrupted again; exiting now");
                self.finish(exit::LOCAL);
            }
            Phase::Done { .. } => {}
        }
    }

    /// Sends `GOODBYE` and waits for the server to close; while reconnecting there is
    /// nobody to say it to, and the session ends at once as one the server cut short.
    fn sign_off(&mut self, line: &str) {
        if !matches!(self.phase, Phase::Chatting | Phase::Reconnecting { .. }) {
            return;
        }
        if !line.is_empty() {
            self.screen.print(line);
        }
        match self.conn.as_mut() {
            Some(conn) if self.phase == Phase::Chatting => {
                conn.send(&Request::Goodbye);
                self.phase = Phase::SigningOff {
                    deadline: Instant::now() + GOODBYE_WAIT,
                };
            }
            _ => {
                self.drop_connection();
                self.finish(exit::SERVER_GONE);
            }
        }
    }

    fn finish(&mut self, code: u8) {
        if !matches!(self.phase, Phase::Done { .. }) {
            self.phase = Phase::Done {
                code,
                deadline: Instant::now() + SCREEN_DRAIN_WAIT,
            };
        }
    }
}
