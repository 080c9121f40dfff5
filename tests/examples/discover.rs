//! The discover example (examples/discover.rs) end to end, on loopback: each test joins a
//! multicast group of its own (`fresh_group`) with `--interface 127.0.0.1`, so no datagram
//! leaves the machine.

use std::net::SocketAddrV4;
use std::sync::mpsc;
use std::time::Instant;

use imchat::discovery::{Announce, Datagram};

use crate::common::discovery::{announce_flags, fresh_group, Ear};
use crate::common::example::lines_of;
use crate::common::{Server, PATIENCE};
use crate::Example;

/// The next line the discover example prints about something other than a REQUEST (it
/// hears its own come back).
fn next_heard(lines: &mpsc::Receiver<String>) -> String {
    loop {
        let line = lines
            .recv_timeout(PATIENCE)
            .expect("a line from the example");
        if !line.starts_with("discover: REQUEST from ") {
            return line;
        }
    }
}

/// Starts the discover example in `group` on loopback; returns it with its lines after the
/// first, which must say what it joined.
fn discover_in(group: SocketAddrV4) -> (Example, mpsc::Receiver<String>) {
    let group = group.to_string();
    let (example, stdout) = Example::start("discover", &[&group, "--interface", "127.0.0.1"]);
    let lines = lines_of(stdout);
    assert_eq!(
        lines.recv_timeout(PATIENCE).expect("the first line"),
        format!("discover: joined {group} on interface 127.0.0.1")
    );
    (example, lines)
}

#[test]
fn discover_asks_who_is_there_and_prints_each_announce_it_hears() {
    let group = fresh_group();
    let fake_server = Ear::join(group);
    let (_discover, lines) = discover_in(group);

    // Its REQUEST reaches the group; the fake server answers it as a server does.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match fake_server.recv_until(deadline) {
            Some((Ok(Datagram::Request), _)) => break,
            Some(_) => {}
            None => panic!("no REQUEST from the example within {PATIENCE:?}"),
        }
    }
    let announce = Announce {
        name: "lab".into(),
        version: "9.8.7".into(),
        users: 2,
        // Listening on every interface: the example shows where it was heard from.
        plain: vec!["0.0.0.0:4000".parse().unwrap()],
        web: vec!["127.0.0.1:4001".parse().unwrap()],
    };
    fake_server.send(&announce.encode());
    let from = format!("127.0.0.1:{}", group.port());
    assert_eq!(
        next_heard(&lines),
        format!(
            "discover: ANNOUNCE from {from}: \"lab\", version 9.8.7, users 2, \
             plain 127.0.0.1:4000, web 127.0.0.1:4001"
        )
    );

    // Malformed datagrams: one line each, saying why, never their text.
    fake_server.send(b"ANNOUNCE {\"name\":\"\x1b[2Jgotcha\"}\n");
    assert_eq!(
        next_heard(&lines),
        format!("discover: skipped a datagram from {from}: ANNOUNCE: not an announcement")
    );
    fake_server.send(b"HELLO {}\n");
    assert_eq!(
        next_heard(&lines),
        format!("discover: skipped a datagram from {from}: unknown command")
    );
    // A well-formed ANNOUNCE's text is shown escaped: no terminal escape gets through.
    let sly = Announce {
        name: "\x1b[2Jsly".into(),
        plain: Vec::new(),
        ..announce
    };
    fake_server.send(&sly.encode());
    assert_eq!(
        next_heard(&lines),
        format!("discover: ANNOUNCE from {from}: \"\\u{{1b}}[2Jsly\", version 9.8.7, users 2, web 127.0.0.1:4001")
    );
}

#[test]
fn discover_hears_a_real_server_answer_its_request() {
    let group = fresh_group();
    let flags = announce_flags(group, "lab");
    let mut server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    // One user, registered before the example starts: every ANNOUNCE it can hear counts her.
    let _alice = server.user("alice");
    let (_discover, lines) = discover_in(group);
    let (plain, web) = (server.addr, server.http());
    assert_eq!(
        next_heard(&lines),
        format!(
            "discover: ANNOUNCE from 127.0.0.1:{}: \"lab\", version {}, users 1, plain {plain}, \
             web {web}",
            group.port(),
            env!("CARGO_PKG_VERSION")
        )
    );
    // The server heard the example's REQUEST (it says so as it stops).
    server.signal(libc::SIGTERM);
    server.wait_exit();
    server.wait_log("heard 1 REQUESTs");
}
