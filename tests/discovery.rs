//! Discovery against real `imserver --announce` processes: real multicast on loopback, in a
//! group of each test's own. (The rate limit to the millisecond is checked in virtual time
//! in the loop's own tests; here the same promises hold on the wall clock.)

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::discovery::{announce_flags, fresh_group, Ear};
use common::Server;
use imchat::discovery::{request, Datagram};

fn announcing(group: std::net::SocketAddrV4, name: &str) -> Server {
    let flags = announce_flags(group, name);
    let server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    server.wait_log(&format!(
        "announcing to {group} on interface 127.0.0.1 as \"{name}\""
    ));
    server
}

/// How long the flood lasts: long enough for the answers of two and a half seconds, short
/// enough that the first unasked ANNOUNCE of either server (5 to 15 s after the first) is
/// not due yet... and if it is, it is counted under the same limit anyway.
const FLOOD: Duration = Duration::from_millis(2500);

#[test]
fn two_servers_are_heard_and_a_request_flood_gets_at_most_one_answer_per_second_from_each() {
    let group = fresh_group();
    let ear = Ear::join(group);
    let (mut alpha, mut beta) = (announcing(group, "alpha"), announcing(group, "beta"));
    let first_alpha = ear.announce_from("alpha");
    assert_eq!(first_alpha.plain, vec![alpha.addr]);
    assert_eq!(first_alpha.web, vec![alpha.http()]);
    assert_eq!(first_alpha.users, 0);
    assert_eq!(ear.announce_from("beta").plain, vec![beta.addr]);
    let _carol = alpha.user("carol");

    // A REQUEST every 2 ms or so, and a datagram of junk with each, for the whole flood.
    let mut answers: HashMap<String, Vec<u64>> = HashMap::new();
    let (start, mut sent) = (Instant::now(), 0);
    while start.elapsed() < FLOOD {
        ear.send(&request());
        ear.send(b"REQUEST [not json");
        sent += 1;
        let pace = Instant::now() + Duration::from_millis(2);
        while let Some((datagram, _)) = ear.recv_until(pace) {
            if let Ok(Datagram::Announce(a)) = datagram {
                let at = start.elapsed().as_millis() as u64;
                answers.entry(a.name.clone()).or_default().push(at);
                if a.name == "alpha" {
                    assert_eq!(a.users, 1, "carol is counted");
                }
            }
        }
    }
    assert!(sent > 100, "a flood: {sent}");
    for name in ["alpha", "beta"] {
        let times = answers.get(name).cloned().unwrap_or_default();
        // Answered all along (the limit delays answers, it does not stop them), and never
        // twice within a second: in 2.5 s, at 0, 1 and 2 s at the most.
        assert!(
            (2..=3).contains(&times.len()),
            "{name} answered at {times:?} ms"
        );
    }
    for server in [&mut alpha, &mut beta] {
        server.signal(libc::SIGTERM);
        server.wait_exit();
        let summary = server.wait_log("announce: sent ");
        assert!(summary.contains("malformed datagrams"), "{summary}");
    }
}

#[test]
fn malformed_datagrams_change_nothing() {
    let group = fresh_group();
    let ear = Ear::join(group);
    let server = announcing(group, "lab");
    ear.announce_from("lab");
    let heard_first = Instant::now();
    let junk: [&[u8]; 7] = [
        b"",
        b"\xc3\x28 not UTF-8",
        b"WHO {}",
        b"REQUEST [1]",
        b"REQUEST {}\nREQUEST {}",
        b"ANNOUNCE {\"name\":\"fake\"}",
        &[b'{'; 3000],
    ];
    for datagram in junk {
        ear.send(datagram);
    }
    for why in [
        "empty",
        "not UTF-8",
        "unknown command",
        "REQUEST: not a JSON object",
    ] {
        server.wait_log(&format!(
            "ignored a malformed datagram from 127.0.0.1:{}: {why}",
            group.port()
        ));
    }
    server.wait_log("more than one line");
    server.wait_log("longer than 1024 bytes");
    // Had any of them counted as a REQUEST, its answer would come a second after the first
    // ANNOUNCE; the next unasked one is 5 s away at the soonest.
    let window = heard_first + Duration::from_millis(1500);
    while let Some((datagram, _)) = ear.recv_until(window) {
        assert!(
            !matches!(datagram, Ok(Datagram::Announce(_))),
            "junk was answered"
        );
    }
    // The server goes on as before: a REQUEST is answered, and the chat works.
    ear.send(&request());
    assert_eq!(ear.announce_from("lab").users, 0);
    server.user("alice");
    assert!(
        !server.logs().contains("WHO"),
        "no datagram text in the log"
    );
}

#[test]
fn bad_announce_flags_are_refused_at_start() {
    let imserver = env!("CARGO_BIN_EXE_imserver");
    let cases: [&[&str]; 4] = [
        &["--announce", "--announce-group", "10.0.0.1:6666"],
        &["--announce", "--announce-group", "[ff02::1]:6666"],
        &["--announce", "--name", ""],
        &["--announce-group", "239.255.1.1:6666"],
    ];
    for args in cases {
        let out = Command::new(imserver)
            .args(["--http", "off"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} exits as a usage error"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("announce") || err.contains("name"),
            "{args:?}: {err}"
        );
    }
}
