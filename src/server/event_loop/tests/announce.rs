//! Discovery in virtual time: a real multicast socket on loopback, the passes driven at
//! the times the test sets. The rate limit and the jitter are the loop's clock's business,
//! so they are checked here, to the millisecond, with no waiting.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use super::{config, user, Harness, Server};
use crate::discovery::{self, Announce, Datagram, MAX_DATAGRAM};
use crate::server::event_loop::announce::Announcer;
use crate::server::{AnnounceConfig, Config, ANNOUNCE_INTERVAL_MS, DATAGRAMS_PER_PASS};

/// How long a datagram sent on loopback may take to arrive, at most (it takes microseconds).
const PATIENCE: Duration = Duration::from_secs(10);

/// A group of this test's own on loopback, and a socket in it.
fn ear() -> (UdpSocket, SocketAddrV4) {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 66, 68), port);
    let socket = discovery::join(group, Ipv4Addr::LOCALHOST).expect("multicast on loopback");
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    (socket, group)
}

fn announcing(group: SocketAddrV4, config: Config) -> Harness {
    Harness::new(Config {
        announce: Some(AnnounceConfig {
            group,
            interface: Ipv4Addr::LOCALHOST,
            name: "lab".into(),
        }),
        ..config
    })
}

/// Runs the passes up to the first tick, when the first ANNOUNCE goes out (a timer due at
/// start fires at the wheel's first tick, 10 ms), and reads that ANNOUNCE.
fn first_announce(h: &mut Harness, ear: &UdpSocket) -> Announce {
    h.until_quiet();
    h.now = 10;
    h.until_quiet();
    assert_eq!(announcer(h).sent, 1);
    next_announce(ear)
}

fn announcer(h: &Harness) -> &Announcer {
    h.server.announcer.as_ref().expect("announcing")
}

/// The next ANNOUNCE the ear hears (skipping the REQUESTs it sent itself).
fn next_announce(ear: &UdpSocket) -> Announce {
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, _) = ear.recv_from(&mut buf).expect("an ANNOUNCE in time");
        if let Ok(Datagram::Announce(announce)) = discovery::parse(&buf[..n]) {
            return announce;
        }
    }
}

/// Passes at the same `now` until the server has heard `requests` REQUESTs and
/// `malformed` bad datagrams (they may take a moment to arrive).
fn until_heard(h: &mut Harness, requests: u64, malformed: u64) {
    let deadline = Instant::now() + PATIENCE;
    while (announcer(h).requests, announcer(h).malformed) != (requests, malformed) {
        assert!(Instant::now() < deadline, "datagrams not heard");
        h.pass();
    }
    h.until_quiet();
}

#[test]
fn the_first_announce_goes_out_at_once_and_names_what_is_served() {
    let (ear, group) = ear();
    let mut h = announcing(group, config());
    let announce = first_announce(&mut h, &ear);
    assert_eq!(announce.name, "lab");
    assert_eq!(announce.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(announce.users, 0);
    assert_eq!(announce.plain, vec![h.addr()]);
    assert_eq!(announce.web, Vec::<SocketAddr>::new(), "no page here");
}

#[test]
fn a_request_flood_gets_one_answer_per_second() {
    let (ear, group) = ear();
    let mut h = announcing(group, config());
    first_announce(&mut h, &ear);
    // Just after the first ANNOUNCE: a flood, more than one pass reads.
    h.now = 20;
    let flood = 3 * DATAGRAMS_PER_PASS as u64;
    for _ in 0..flood {
        ear.send_to(&discovery::request(), group).unwrap();
    }
    until_heard(&mut h, flood, 0);
    assert_eq!(announcer(&h).sent, 1, "no answer within the second");
    h.now = 1009;
    h.until_quiet();
    assert_eq!(announcer(&h).sent, 1);
    // One answer for all of them, a second after the last ANNOUNCE.
    h.now = 1010;
    h.until_quiet();
    assert_eq!(announcer(&h).sent, 2);
    assert_eq!(next_announce(&ear).name, "lab");
    // Again within the second: the answer waits for its end.
    h.now = 1500;
    ear.send_to(&discovery::request(), group).unwrap();
    until_heard(&mut h, flood + 1, 0);
    assert_eq!(announcer(&h).sent, 2);
    h.now = 2010;
    h.until_quiet();
    assert_eq!(announcer(&h).sent, 3);
    // After a quiet second, a REQUEST is answered in the pass that reads it.
    h.now = 3500;
    ear.send_to(&discovery::request(), group).unwrap();
    until_heard(&mut h, flood + 2, 0);
    assert_eq!(announcer(&h).sent, 4);
}

#[test]
fn a_flood_of_datagrams_gets_one_budget_per_pass() {
    let (ear, group) = ear();
    let mut h = announcing(group, config());
    let flood = 3 * DATAGRAMS_PER_PASS as u64;
    for _ in 0..flood {
        ear.send_to(b"junk", group).unwrap();
    }
    // Wait until the kernel says the socket is readable, then one pass reads one budget.
    let deadline = Instant::now() + PATIENCE;
    while announcer(&h).malformed == 0 {
        assert!(Instant::now() < deadline, "datagrams not heard");
        h.pass();
    }
    assert!(announcer(&h).malformed <= DATAGRAMS_PER_PASS as u64);
    until_heard(&mut h, 0, flood);
}

#[test]
fn malformed_datagrams_change_nothing() {
    let (ear, group) = ear();
    let mut h = announcing(group, config());
    let _alice = user(&mut h, "alice");
    first_announce(&mut h, &ear);
    let junk: [&[u8]; 8] = [
        b"",
        b"\xff\xfe",
        b"HELLO {}",
        b"REQUEST [1]",
        b"REQUEST {}\nREQUEST {}",
        b"ANNOUNCE {\"name\":1}",
        b"REGISTER [\"mallory\"]",
        &[b'x'; 4000],
    ];
    h.now = 2000;
    for datagram in junk {
        ear.send_to(datagram, group).unwrap();
    }
    until_heard(&mut h, 0, junk.len() as u64);
    let announcer = announcer(&h);
    assert_eq!(announcer.sent, 1, "no answer to junk");
    assert!(announcer.answer_timer.is_none(), "none owed either");
    assert!(h.server.chat.find_user("mallory").is_none());
    // A REQUEST after them is answered at once, with the chat as it was.
    ear.send_to(&discovery::request(), group).unwrap();
    until_heard(&mut h, 1, junk.len() as u64);
    let announce = next_announce(&ear);
    assert_eq!(announce.users, 1);
    assert_eq!(self::announcer(&h).sent, 2);
}

#[test]
fn unasked_announcements_come_every_ten_seconds_or_so_never_in_step() {
    let (_ear, group) = ear();
    let mut h = announcing(group, config());
    let mut sent_at = Vec::new();
    // A minute and a half of virtual time in 10 ms steps, nothing else happening.
    while h.now <= 90_000 {
        let before = announcer(&h).sent;
        h.pass_with(&[]);
        if announcer(&h).sent > before {
            sent_at.push(h.now);
        }
        h.now += 10;
    }
    let waits: Vec<u64> = sent_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(waits.len() >= 5, "{sent_at:?}");
    let (least, most) = (ANNOUNCE_INTERVAL_MS / 2, ANNOUNCE_INTERVAL_MS * 3 / 2);
    assert!(
        waits.iter().all(|w| (least..=most + 10).contains(w)),
        "{waits:?}"
    );
    assert!(
        waits.windows(2).any(|w| w[0] != w[1]),
        "jittered: {waits:?}"
    );
}

#[test]
fn every_interface_is_named_by_the_one_announced_on_and_a_long_announce_refused() {
    let (ear, group) = ear();
    let mut h = Harness::listening(
        vec!["0.0.0.0:0".parse().unwrap()],
        Config {
            announce: Some(AnnounceConfig {
                group,
                interface: Ipv4Addr::LOCALHOST,
                name: "lab".into(),
            }),
            ..config()
        },
    );
    let port = h.addr().port();
    assert_eq!(
        first_announce(&mut h, &ear).plain,
        vec![SocketAddr::from(([127, 0, 0, 1], port))]
    );

    let long = Server::bind(Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        announce: Some(AnnounceConfig {
            group,
            interface: Ipv4Addr::LOCALHOST,
            name: "x".repeat(MAX_DATAGRAM),
        }),
        ..config()
    });
    let e = long.err().expect("refused");
    assert!(e.to_string().contains("over 1024"), "{e}");
}
