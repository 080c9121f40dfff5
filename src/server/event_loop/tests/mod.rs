//! The loop in virtual time: real sockets on 127.0.0.1, but the passes are driven one by one
//! through [`Server::turn`] with a clock of the test's own, and after every pass the loop's
//! promise is checked against a full inspection of its state: when `poll_timeout` would let
//! it sleep, no connection has anything left to do.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream as StdStream;
use std::time::Duration;

use mio::Events;

use super::lifecycle::State;
use super::{Config, Kind, Readiness, Server, MAX_BYTES_PER_WAKE, MAX_FRAMES_PER_WAKE};
use crate::server::{LOG_BURST, LOG_WINDOW_MS};

mod announce;
mod lifecycle;
mod limits;
mod listen;
mod random;
#[cfg(feature = "web")]
mod web;

/// Passes run at most while waiting for the loop to go quiet: far more than any test needs,
/// so that a loop that never settles fails instead of spinning.
const MAX_PASSES: usize = 10_000;

/// A server driven pass by pass, at a time the test sets.
struct Harness {
    server: Server,
    now: u64,
    events: Events,
    passes: usize,
    /// Passes that ended with output queued (by settling): the case the promise is about.
    dirty_after: usize,
}

impl Harness {
    fn new(config: Config) -> Harness {
        Harness::listening(vec!["127.0.0.1:0".parse().unwrap()], config)
    }

    fn listening(listen: Vec<std::net::SocketAddr>, config: Config) -> Harness {
        let config = Config { listen, ..config };
        Harness {
            server: Server::bind(config).unwrap(),
            now: 0,
            events: Events::with_capacity(256),
            passes: 0,
            dirty_after: 0,
        }
    }

    /// The events the kernel has now (a poll that does not wait).
    fn readiness(&mut self) -> Vec<Readiness> {
        self.server
            .poll
            .poll(&mut self.events, Some(Duration::ZERO))
            .unwrap();
        self.events.iter().map(Readiness::from).collect()
    }

    /// One pass over the events there are, then the check of the loop's promise.
    fn pass(&mut self) {
        let events = self.readiness();
        self.pass_with(&events);
    }

    fn pass_with(&mut self, events: &[Readiness]) {
        self.server.turn(events, self.now);
        self.passes += 1;
        self.dirty_after += usize::from(self.server.out.has_dirty());
        assert_sleeping_means_idle(&self.server, self.now);
    }

    /// Passes for as long as the loop says it has work without waiting: what `run` does
    /// with a zero timeout.
    fn until_quiet(&mut self) {
        self.pass();
        for _ in 0..MAX_PASSES {
            if !self.server.has_pending_work() {
                return;
            }
            self.pass();
        }
        panic!("the loop never went quiet");
    }

    /// A client connected and accepted.
    fn connect(&mut self) -> Client {
        self.connect_with(StdStream::connect(self.addr()).unwrap())
    }

    fn connect_with(&mut self, stream: StdStream) -> Client {
        stream.set_nonblocking(true).unwrap();
        // What a test writes is there at the next pass, even the second of two partial
        // lines (Nagle's algorithm would hold it until the first is acknowledged).
        stream.set_nodelay(true).unwrap();
        self.until_quiet();
        let client = Client {
            stream,
            input: Vec::new(),
        };
        assert!(self.key_of(&client).is_some(), "accepted");
        client
    }

    /// A client that registered as `name` with a tiny receive buffer, in conversation 1
    /// with `inviter`: the kernel soon stops taking its output if it does not read.
    fn member_with_a_small_buffer(&mut self, inviter: &mut Client, name: &str) -> Client {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        socket.connect(&self.addr().into()).unwrap();
        let mut client = self.connect_with(socket.into());
        client.send(&format!("REGISTER [\"{name}\"]"));
        // One pass at a time: the order of two connections within one pass is the backend's.
        self.until_quiet();
        inviter.send(&format!("INVITE [\"{name}\"]"));
        self.until_quiet();
        client.send("JOIN [1]");
        self.until_quiet();
        client
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addrs().unwrap()[0]
    }

    /// The key of the connection whose peer is `client`.
    fn key_of(&self, client: &Client) -> Option<usize> {
        let ours = client.stream.local_addr().unwrap();
        self.server
            .conns
            .iter()
            .find(|(_, conn)| conn.stream.peer_addr().ok() == Some(ours))
            .map(|(key, _)| key)
    }
}

/// The promise of `poll_timeout`, checked by looking at every connection: if the loop would
/// sleep now, nothing is queued and unblocked, nothing is closing and unsettled, and no open
/// connection has a complete line buffered or unread input it was told about, unless it is
/// out of line tokens (then a timer on the wheel, which bounds the sleep, serves it).
fn assert_sleeping_means_idle(server: &Server, now: u64) {
    if server.poll_timeout(now) == Some(Duration::ZERO) {
        return;
    }
    assert!(
        !server.chat.has_lapsing(),
        "invitations are left to lapse and the loop would sleep"
    );
    assert!(
        !server.announcer.as_ref().is_some_and(|a| a.readable),
        "the discovery socket has datagrams unread and the loop would sleep"
    );
    let max_line = server.config.max_line;
    for (key, conn) in server.conns.iter() {
        let queued = server.out.queued(key);
        let state = conn.state;
        assert!(
            !matches!(state, State::Closing(_) | State::Done(_)),
            "conn {key} is {state:?} and the loop would sleep"
        );
        assert!(
            queued == 0 || conn.write_blocked,
            "conn {key} ({state:?}) has {queued} bytes queued, not blocked, and the loop would sleep"
        );
        assert!(
            !(matches!(state, State::Flushing(_)) && queued == 0),
            "conn {key} has written everything but is not shut, and the loop would sleep"
        );
        if state == State::Open && !conn.throttled {
            assert!(
                !conn.readable,
                "conn {key} has unread input and the loop would sleep"
            );
            assert!(
                !conn
                    .transport
                    .has_complete_unit(conn.input.unconsumed(), max_line),
                "conn {key} has a line to handle and the loop would sleep"
            );
        }
    }
}

/// A test client on a non-blocking socket.
struct Client {
    stream: StdStream,
    input: Vec<u8>,
}

impl Client {
    /// Writes what the socket takes now; returns how many bytes that was.
    fn send_some(&mut self, bytes: &[u8]) -> usize {
        self.stream.write(bytes).unwrap_or(0)
    }

    /// Writes a short line; the socket always has room for it in these tests.
    fn send(&mut self, line: &str) {
        let bytes = format!("{line}\n");
        assert_eq!(self.send_some(bytes.as_bytes()), bytes.len());
    }

    /// Every complete line that has arrived, without waiting.
    fn lines(&mut self) -> Vec<String> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let end = self
            .input
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let complete: Vec<u8> = self.input.drain(..end).collect();
        String::from_utf8_lossy(&complete)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn config() -> Config {
    Config {
        presence_interval_ms: 1000,
        ..Config::default()
    }
}

/// A registered client, its answer read.
fn user(h: &mut Harness, name: &str) -> Client {
    let mut client = h.connect();
    client.send(&format!("REGISTER [\"{name}\"]"));
    h.until_quiet();
    assert!(client.lines()[0].starts_with("ONLINE_USERS "));
    client
}

#[test]
fn a_slow_reader_dropped_in_a_flush_is_settled_and_the_others_hear_at_once() {
    let mut h = Harness::new(Config {
        max_output: 4096,
        // carol floods until she is dropped.
        max_line_rate: None,
        ..config()
    });
    let mut alice = user(&mut h, "alice");
    let mut carol = h.member_with_a_small_buffer(&mut alice, "carol");
    let both = "CONVERSATIONS {\"1\":[\"alice\",\"carol\"]}";
    assert!(alice.lines().contains(&both.to_string()));
    let carol_key = h.key_of(&carol).unwrap();

    // carol asks and asks and never reads; each pass answers at most a budget of lines.
    let asks = "LIST_CONVERSATIONS\n".repeat(MAX_FRAMES_PER_WAKE);
    while h.server.conns.contains(carol_key) {
        carol.send_some(asks.as_bytes());
        h.pass();
        assert!(h.passes < MAX_PASSES, "carol was never dropped");
    }
    // The pass that dropped her also settled her, and left alice's update queued: the next
    // poll does not sleep, and the next pass writes it.
    assert_eq!(h.server.poll_timeout(h.now), Some(Duration::ZERO));
    h.pass();
    assert!(!h.server.has_pending_work());
    assert!(
        alice
            .lines()
            .contains(&"CONVERSATIONS {\"1\":[\"alice\"]}".to_string()),
        "alice heard that carol left"
    );
    // The presence change is on the wheel: one interval later, alice hears it too.
    h.now += 1000;
    h.until_quiet();
    assert_eq!(alice.lines(), ["ONLINE_USERS {\"alice\":\"available\"}"]);
}

#[test]
fn a_connection_is_served_once_per_pass_however_many_events_name_it() {
    // The budget, not the line rate, is what is tested here.
    let mut h = Harness::new(Config {
        max_line_rate: None,
        ..config()
    });
    let mut flooder = user(&mut h, "flooder");
    let mut other = user(&mut h, "other");
    let key = h.key_of(&flooder).unwrap();
    let lines = 10 * MAX_FRAMES_PER_WAKE;
    flooder.send("LIST_CONVERSATIONS\n".repeat(lines).trim_end());
    other.send("LIST_CONVERSATIONS");
    // The kernel's events, and the flooder named three more times.
    let mut events = h.readiness();
    let again = Readiness {
        token: mio::Token(key),
        readable: true,
        writable: false,
        closed: false,
    };
    events.extend([again; 3]);
    h.pass_with(&events);
    assert_eq!(
        flooder.lines().len(),
        MAX_FRAMES_PER_WAKE,
        "one budget, not four"
    );
    assert_eq!(
        other.lines().len(),
        1,
        "the other got its turn in the same pass"
    );
    assert_eq!(
        h.server.poll_timeout(h.now),
        Some(Duration::ZERO),
        "the rest is backlog"
    );

    let mut served = MAX_FRAMES_PER_WAKE;
    while served < lines {
        assert!(
            h.passes < MAX_PASSES,
            "only {served} of {lines} lines were served"
        );
        h.pass_with(&[again, again]);
        let got = flooder.lines().len();
        assert!(got <= MAX_FRAMES_PER_WAKE, "{got} lines in one pass");
        served += got;
    }
    assert_eq!(served, lines);
    h.until_quiet();
    assert!(flooder.lines().is_empty());
}

#[test]
fn long_lines_are_served_a_byte_budget_at_a_time() {
    let mut h = Harness::new(config());
    let mut sender = user(&mut h, "sender");
    let mut other = user(&mut h, "other");
    // Eight 17 KB lines, each answered with one map: a turn ends once 64 KiB are handled.
    let line = format!("LIST_CONVERSATIONS {}[]\n", " ".repeat(17_000));
    let all = line.repeat(8);
    assert_eq!(sender.send_some(all.as_bytes()), all.len());
    other.send("LIST_CONVERSATIONS");
    h.pass();
    let per_turn = MAX_BYTES_PER_WAKE.div_ceil(line.len() - 1);
    assert_eq!(sender.lines().len(), per_turn, "one budget of bytes");
    assert_eq!(other.lines().len(), 1, "the other got its turn");
    assert_eq!(
        h.server.poll_timeout(h.now),
        Some(Duration::ZERO),
        "backlog"
    );
    h.until_quiet();
    assert_eq!(sender.lines().len(), 8 - per_turn, "the rest, nothing lost");
}

#[test]
fn refusals_past_the_limit_are_logged_a_burst_at_a_time_and_counted_until_the_window_ends() {
    let mut h = Harness::new(Config {
        max_connections: 1,
        ..config()
    });
    let _alice = user(&mut h, "alice");
    let refused = 3 * u64::from(LOG_BURST);
    let _turned_away: Vec<StdStream> = (0..refused)
        .map(|_| StdStream::connect(h.addr()).unwrap())
        .collect();
    h.until_quiet();
    let left_out = refused - u64::from(LOG_BURST);
    assert_eq!(h.server.log.suppressed(Kind::Refused), left_out);
    h.now = LOG_WINDOW_MS - 1;
    h.until_quiet();
    assert_eq!(h.server.log.suppressed(Kind::Refused), left_out, "not yet");
    // Nothing else happens: the timer for the window's end logs the count.
    h.now = LOG_WINDOW_MS;
    h.until_quiet();
    assert_eq!(h.server.log.suppressed(Kind::Refused), 0, "summed up");
    assert!(h.server.log_timer.is_none());
}
