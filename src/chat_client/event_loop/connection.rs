//! The server's side of the loop: its replies, losing it and getting it back.
//!
//! A connection that closes or breaks after the registration was accepted is *lost*: the
//! user is told, every conversation and invitation ends (the server forgets them with the
//! connection, and a restarted server never had them), and the client connects again after
//! a delay that doubles from [`RECONNECT_FIRST`] up to [`RECONNECT_MAX`], registering under
//! the same name with the last status the server confirmed. The delay is a deadline in the
//! same poll loop, never a sleep, so the keyboard and Ctrl-C keep working meanwhile. It
//! tries for as long as the user lets it; `/quit`, end of input or Ctrl-C end the wait.
//!
//! Before the first registration is accepted there is nothing to get back: a failure then
//! is a failure to connect (exit code 1), as is a refused re-registration (the name was
//! taken meanwhile). With `--no-reconnect` a lost connection ends the client (exit code 3).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Interest, Poll};

use crate::client::{ClientTls, Connection};
use crate::protocol::Request;

use super::{exit, Client, Output, Phase, SCREEN_PAUSE_BYTES, SERVER};

/// The first delay before reconnecting: a restarting server is usually back within a
/// second, and half of one keeps a quick restart quick.
pub(super) const RECONNECT_FIRST: Duration = Duration::from_millis(500);

/// The longest delay between two attempts: a server down for an hour then costs one
/// connection attempt (and one screen line) every 10 s, and comes back within 10 s of its
/// return.
pub(super) const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// The delays between attempts: [`RECONNECT_FIRST`], doubling, at most [`RECONNECT_MAX`];
/// back to the first once registered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(super) fn new() -> Backoff {
        Backoff {
            next: RECONNECT_FIRST,
        }
    }

    /// The delay before the next attempt; the one after it is twice as long, up to the cap.
    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(RECONNECT_MAX);
        delay
    }

    pub(super) fn reset(&mut self) {
        self.next = RECONNECT_FIRST;
    }
}

/// `0.5 s`, `1 s`, `10 s`: a delay as the screen shows it.
pub(super) fn seconds(delay: Duration) -> String {
    let tenths = delay.as_millis().div_ceil(100);
    if tenths.is_multiple_of(10) {
        format!("{} s", tenths / 10)
    } else {
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

/// Starts connecting to `server` (the connection completes, or fails, later), with TLS
/// over it for `--tls`, and registers the socket in `poll`.
pub(super) fn connect(
    poll: &Poll,
    server: SocketAddr,
    tls: Option<&ClientTls>,
) -> io::Result<Connection> {
    let mut conn = Connection::connect(server, tls)?;
    poll.registry().register(
        conn.socket(),
        SERVER,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(conn)
}

impl Client {
    /// Reads the server's replies and turns them into screen lines and state.
    pub(super) fn serve_server(&mut self) {
        if !self.server_ready
            || matches!(self.phase, Phase::Done { .. })
            || self.screen.queued() >= SCREEN_PAUSE_BYTES
        {
            return;
        }
        self.server_ready = false;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let received = match conn.receive() {
            Ok(received) => received,
            Err(e) => return self.server_gone(Some(e)),
        };
        for reply in received.replies {
            let mut out = Output::default();
            let was_registered = self.state.registered();
            self.state.on_reply(reply, &mut out);
            if !was_registered && self.state.registered() {
                self.on_registered(&mut out);
            }
            self.apply(out);
            if matches!(self.phase, Phase::Done { .. }) {
                return;
            }
        }
        if received.closed {
            self.server_gone(None);
        }
    }

    /// Queues `REGISTER` with the user's name and status.
    pub(super) fn send_register(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.send(&Request::Register {
                name: self.state.me.clone(),
                status: Some(self.status.clone()),
                presence: None,
                password: self.password.clone(),
            });
        }
    }

    /// The server has just accepted the registration (`out` holds the lines saying so).
    pub(super) fn on_registered(&mut self, out: &mut Output) {
        if matches!(self.phase, Phase::Reconnecting { .. }) {
            out.lines
                .insert(0, format!("* reconnected to {}", self.server));
            self.phase = Phase::Chatting;
        }
        if let Some(backoff) = self.backoff.as_mut() {
            backoff.reset();
        }
    }

    /// The connection closed (`None`) or failed. Before the server has accepted us that is
    /// a failure to connect (or, while reconnecting, a reason to try again later); after
    /// `GOODBYE` it is the expected end; while chatting the connection is lost.
    pub(super) fn server_gone(&mut self, error: Option<io::Error>) {
        let registered = self.state.registered();
        let cannot_connect = match &error {
            Some(e) => format!("! cannot connect to {}: {e}", self.server),
            // A plain client on a TLS port is answered with a TLS alert and a close.
            None if self.tls.is_none() && cfg!(feature = "tls") => {
                "! server closed the connection before registering us \
                 (if it speaks TLS, add --tls)"
                    .into()
            }
            None => "! server closed the connection before registering us".into(),
        };
        match self.phase {
            Phase::Done { .. } => {}
            Phase::Reconnecting { .. } => self.retry_later(&cannot_connect),
            _ if !registered => {
                self.drop_connection();
                self.screen.print(&cannot_connect);
                self.finish(exit::REFUSED);
            }
            Phase::SigningOff { .. } => {
                self.drop_connection();
                self.finish(exit::OK);
            }
            Phase::Chatting => {
                let line = match error {
                    Some(e) => format!("! lost the connection to the server: {e}"),
                    None => "! server closed the connection".into(),
                };
                self.connection_lost(&line);
            }
        }
    }

    /// Says `line`, then either ends (no reconnecting) or ends the conversations and sets
    /// the retry timer.
    fn connection_lost(&mut self, line: &str) {
        self.drop_connection();
        let Some(backoff) = self.backoff.as_mut() else {
            self.screen.print(line);
            self.finish(exit::SERVER_GONE);
            return;
        };
        let delay = backoff.next_delay();
        self.screen
            .print(&format!("{line}; reconnecting in {}", seconds(delay)));
        if let Some(status) = self.state.my_status() {
            self.status = status.to_string();
        }
        let mut out = Output::default();
        self.state
            .connection_lost("the connection to the server was lost", &mut out);
        for line in &out.lines {
            self.screen.print(line);
        }
        self.phase = Phase::Reconnecting {
            retry_at: Some(Instant::now() + delay),
        };
    }

    /// An attempt failed: says `line`, and when the next one will be.
    fn retry_later(&mut self, line: &str) {
        self.drop_connection();
        let delay = self
            .backoff
            .as_mut()
            .map_or(RECONNECT_MAX, Backoff::next_delay);
        self.screen
            .print(&format!("{line}; retrying in {}", seconds(delay)));
        self.phase = Phase::Reconnecting {
            retry_at: Some(Instant::now() + delay),
        };
    }

    /// Connects again once the retry timer is due.
    pub(super) fn retry_if_due(&mut self) {
        let Phase::Reconnecting { retry_at: Some(at) } = self.phase else {
            return;
        };
        if Instant::now() < at {
            return;
        }
        match connect(&self.poll, self.server, self.tls.as_ref()) {
            Ok(conn) => {
                self.conn = Some(conn);
                self.send_register();
                self.phase = Phase::Reconnecting { retry_at: None };
            }
            Err(e) => self.retry_later(&format!("! cannot connect to {}: {e}", self.server)),
        }
    }

    /// Forgets the connection: out of the poll, closed, and nothing more to read from it.
    pub(super) fn drop_connection(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = self.poll.registry().deregister(conn.socket());
        }
        self.server_ready = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_the_cap_and_starts_over_once_registered() {
        let mut backoff = Backoff::new();
        let delays: Vec<String> = (0..7).map(|_| seconds(backoff.next_delay())).collect();
        assert_eq!(
            delays,
            ["0.5 s", "1 s", "2 s", "4 s", "8 s", "10 s", "10 s"]
        );
        backoff.reset();
        assert_eq!(backoff.next_delay(), RECONNECT_FIRST);
    }
}
