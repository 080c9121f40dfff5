//! Who may join, in virtual time: every way a connection goes gives its address's slot
//! back, and a ban ends when its minute does (the loop's clock is the test's, so a minute
//! passes without a wait).

use std::net::TcpStream as StdStream;

use super::{config, Client, Config, Harness};
use crate::protocol::Password;
use crate::server::admission::{key_of, BAN_WINDOW_MS, MAX_FAILURES};

const TOO_MANY: &str = "ERROR \"too many connections from your address\"";
const BANNED: &str = "ERROR \"too many wrong passwords from your address; try again later\"";

/// A server that holds loopback to one connection per address.
fn one_per_address(config: Config) -> Harness {
    Harness::new(Config {
        max_connections_per_ip: 1,
        limit_loopback: true,
        ..config
    })
}

/// Connections counted open from 127.0.0.1.
fn open(h: &Harness) -> u32 {
    let loopback = key_of([127, 0, 0, 1].into(), true).unwrap();
    h.server.admission.open_from(loopback)
}

/// What a connection made now is told, if it is refused at accept.
fn told(h: &mut Harness) -> Vec<String> {
    let stream = StdStream::connect(h.addr()).unwrap();
    h.until_quiet();
    stream.set_nonblocking(true).unwrap();
    let mut client = Client {
        stream,
        input: Vec::new(),
    };
    client.lines()
}

/// One way to end a connection.
type Close = fn(&mut Harness, &mut Client);

#[test]
fn every_way_a_connection_goes_frees_its_slot() {
    let mut h = one_per_address(Config {
        max_line: 16,
        register_timeout_ms: 1_000,
        ..config()
    });
    let ways: [(&str, Close); 4] = [
        ("goodbye", |_, c| c.send("GOODBYE")),
        ("violation", |_, c| c.send(&"x".repeat(100))),
        ("its own close", |_, c| {
            c.stream.shutdown(std::net::Shutdown::Both).unwrap()
        }),
        ("registration timeout", |h, _| h.now += 1_000),
    ];
    for (way, close) in ways {
        let mut client = h.connect();
        assert_eq!(open(&h), 1, "{way}");
        assert_eq!(told(&mut h), [TOO_MANY], "{way}");
        close(&mut h, &mut client);
        h.until_quiet();
        // Closing ends when the peer's end of stream is read.
        drop(client);
        h.until_quiet();
        assert_eq!(open(&h), 0, "{way}");
        assert!(h.server.conns.is_empty(), "{way}");
    }
    assert_eq!(
        h.server.admission.addresses(),
        0,
        "no entry outlives its connections"
    );
}

#[test]
fn a_ban_is_refused_for_its_minute_and_then_lifted() {
    let mut h = one_per_address(Config {
        password: Some(Password::new("pw")),
        ..config()
    });
    let mut failures = 0;
    while failures < MAX_FAILURES {
        let mut guesser = h.connect();
        for _ in 0..3.min(MAX_FAILURES - failures) {
            guesser.send("REGISTER [\"mallory\",null,{\"password\":\"guess\"}]");
            failures += 1;
        }
        h.until_quiet();
        drop(guesser);
        h.until_quiet();
    }
    assert!(h.server.conns.is_empty());
    assert_eq!(told(&mut h), [BANNED]);
    h.now = BAN_WINDOW_MS - 1;
    assert_eq!(told(&mut h), [BANNED], "still within the minute");
    h.now = BAN_WINDOW_MS;
    let mut client = h.connect();
    client.send("REGISTER [\"alice\",null,{\"password\":\"pw\"}]");
    h.until_quiet();
    assert_eq!(client.lines(), ["ONLINE_USERS {\"alice\":\"available\"}"]);
}
