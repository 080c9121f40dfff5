//! The client's loop: one thread, one `mio::Poll` holding the server's socket, the
//! keyboard, the screen and the signals.
//!
//! One iteration, in order:
//!
//! 1. **Server input.** If the socket was readable, read it until `WouldBlock` and turn each
//!    reply into screen lines (paused while the screen is far behind, see
//!    [`SCREEN_PAUSE_BYTES`]).
//! 2. **Keyboard input.** If stdin was readable, read it until `WouldBlock` and turn each line
//!    into requests or screen lines (not before the registration is accepted, and paused
//!    while the server is far behind, see [`INPUT_PAUSE_BYTES`]).
//! 3. **Flush.** Write queued requests to the server, then queued lines to the screen, each
//!    until done or `WouldBlock`.
//! 4. **Exit?** Once finished and the screen is drained (or has had its chance), return the
//!    exit code.
//! 5. **Poll.** Sleep until something is ready; not at all if step 1 or 2 paused with work
//!    left; at most until the sign-off deadline.
//!
//! Server replies are handled before typed lines so that a command typed in the same
//! instant acts on the freshest state.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::client::Connection;
use crate::protocol::Request;

use super::state::{ChatState, Output};
use super::terminal::{Keyboard, Screen, Typed};
use super::{exit, Config};

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
    /// `GOODBYE` sent; waiting for the server to close, until the deadline.
    SigningOff { deadline: Instant },
    /// Nothing more to do but drain the screen, until the deadline.
    Done { code: u8, deadline: Instant },
}

struct Client {
    poll: Poll,
    server: SocketAddr,
    conn: Connection,
    keyboard: Keyboard,
    screen: Screen,
    signals: Signals,
    state: ChatState,
    /// The socket was reported readable and not yet read to `WouldBlock`.
    server_ready: bool,
    phase: Phase,
    /// The screen could not be written: the exit code says so, whatever else happens.
    screen_failed: bool,
}

/// Connects, registers and chats until the user signs off or the server goes away.
/// Returns the process exit code (see [`exit`]).
pub fn run(config: Config) -> u8 {
    match Client::start(config) {
        Ok(client) => client.run(),
        Err(e) => {
            // Nothing is registered yet and stdin is untouched: a plain print is safe.
            println!("! cannot start: {e}");
            exit::REFUSED
        }
    }
}

impl Client {
    fn start(config: Config) -> io::Result<Client> {
        let poll = Poll::new()?;
        let mut conn = Connection::connect(config.server)
            .map_err(|e| io::Error::new(e.kind(), format!("connect to {}: {e}", config.server)))?;
        poll.registry().register(
            conn.socket(),
            SERVER,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let screen = Screen::open(SCREEN)?;
        let keyboard = Keyboard::open(poll.registry(), KEYBOARD)?;
        conn.send(&Request::Register {
            name: config.name.clone(),
            status: Some(config.status),
            presence: None,
        });
        Ok(Client {
            poll,
            server: config.server,
            conn,
            keyboard,
            screen,
            signals,
            state: ChatState::new(&config.name),
            server_ready: false,
            phase: Phase::Chatting,
            screen_failed: false,
        })
    }

    fn run(mut self) -> u8 {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        loop {
            self.serve_server();
            self.serve_keyboard();
            self.flush();
            if let Phase::Done { code, deadline } = self.phase {
                if self.screen.queued() == 0 || self.screen_failed || Instant::now() >= deadline {
                    return if self.screen_failed {
                        exit::REFUSED
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
                return exit::REFUSED;
            }
            for event in events.iter() {
                match event.token() {
                    SERVER => self.server_ready = true,
                    KEYBOARD => self.keyboard.ready = true,
                    SIGNALS => self.on_signal(),
                    // SCREEN: writable again; the flush at the top of the loop writes.
                    _ => {}
                }
            }
        }
    }

    /// Zero while paused work is left, the nearest deadline while signing off or draining,
    /// otherwise until something happens.
    fn timeout(&self) -> Option<Duration> {
        let deadline = match self.phase {
            Phase::Chatting => None,
            Phase::SigningOff { deadline } | Phase::Done { deadline, .. } => Some(deadline),
        };
        let more_input = self.reading_keyboard()
            && self.keyboard.ready
            && self.conn.queued() < INPUT_PAUSE_BYTES;
        let more_replies = !matches!(self.phase, Phase::Done { .. })
            && self.server_ready
            && self.screen.queued() < SCREEN_PAUSE_BYTES;
        if more_input || more_replies {
            return Some(Duration::ZERO);
        }
        deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn serve_server(&mut self) {
        if !self.server_ready
            || matches!(self.phase, Phase::Done { .. })
            || self.screen.queued() >= SCREEN_PAUSE_BYTES
        {
            return;
        }
        self.server_ready = false;
        let received = match self.conn.receive() {
            Ok(received) => received,
            Err(e) => return self.server_gone(Some(e)),
        };
        for reply in received.replies {
            let mut out = Output::default();
            self.state.on_reply(reply, &mut out);
            self.apply(out);
            if matches!(self.phase, Phase::Done { .. }) {
                return;
            }
        }
        if received.closed {
            self.server_gone(None);
        }
    }

    fn serve_keyboard(&mut self) {
        while self.reading_keyboard()
            && self.keyboard.ready
            && self.conn.queued() < INPUT_PAUSE_BYTES
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
                if self.phase != Phase::Chatting {
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
    /// to command.
    fn reading_keyboard(&self) -> bool {
        self.phase == Phase::Chatting && self.state.registered()
    }

    /// Carries out what the state decided: screen lines, requests, signing off.
    fn apply(&mut self, out: Output) {
        for line in &out.lines {
            self.screen.print(line);
        }
        for request in &out.requests {
            self.conn.send(request);
        }
        if out.refused {
            self.finish(exit::REFUSED);
        } else if out.quit {
            self.sign_off("* signing off");
        }
    }

    fn flush(&mut self) {
        if !matches!(self.phase, Phase::Done { .. }) {
            if let Err(e) = self.conn.flush() {
                self.server_gone(Some(e));
            }
        }
        if self.screen_failed {
            return;
        }
        if let Err(e) = self.screen.flush(self.poll.registry()) {
            // Nowhere left to show anything: sign off politely, and say so in the exit code.
            self.screen_failed = true;
            if e.kind() != ErrorKind::BrokenPipe {
                eprintln!("imclient: cannot write to the screen: {e}");
            }
            self.sign_off("");
        }
    }

    fn on_signal(&mut self) {
        // Drain the pending signals (the self-pipe must be read to WouldBlock).
        let count = self.signals.pending().count();
        if count == 0 {
            return;
        }
        match self.phase {
            Phase::Chatting => self.sign_off("* interrupted; signing off"),
            Phase::SigningOff { .. } => {
                self.screen.print("! interrupted again; exiting now");
                self.finish(exit::REFUSED);
            }
            Phase::Done { .. } => {}
        }
    }

    /// Sends `GOODBYE` and waits for the server to close.
    fn sign_off(&mut self, line: &str) {
        if self.phase != Phase::Chatting {
            return;
        }
        if !line.is_empty() {
            self.screen.print(line);
        }
        self.conn.send(&Request::Goodbye);
        self.phase = Phase::SigningOff {
            deadline: Instant::now() + GOODBYE_WAIT,
        };
    }

    fn finish(&mut self, code: u8) {
        if !matches!(self.phase, Phase::Done { .. }) {
            self.phase = Phase::Done {
                code,
                deadline: Instant::now() + SCREEN_DRAIN_WAIT,
            };
        }
    }

    /// The connection closed (`None`) or failed. Before the server has accepted us that is
    /// a failure to connect, whatever the phase; after `GOODBYE` it is the expected end.
    fn server_gone(&mut self, error: Option<io::Error>) {
        let registered = self.state.registered();
        let (line, code) = match (self.phase, &error) {
            (Phase::Done { .. }, _) => return,
            (_, Some(e)) if !registered => (
                Some(format!("! cannot connect to {}: {e}", self.server)),
                exit::REFUSED,
            ),
            (_, None) if !registered => (
                Some("! server closed the connection before registering us".into()),
                exit::REFUSED,
            ),
            (Phase::SigningOff { .. }, _) => (None, exit::OK),
            (Phase::Chatting, Some(e)) => (
                Some(format!("! lost the connection to the server: {e}")),
                exit::SERVER_GONE,
            ),
            (Phase::Chatting, None) => (
                Some("! server closed the connection".into()),
                exit::SERVER_GONE,
            ),
        };
        if let Some(line) = line {
            self.screen.print(&line);
        }
        self.finish(code);
    }
}
