//! `imclient --discover` with the real binary (docs/imclient.md, "Finding a server on the
//! LAN"): it sends a REQUEST to the group, lists who answers within its window, and
//! connects.
//!
//! The announcer is first a test socket (an [`Ear`]) that answers the client's REQUEST with
//! hand-made ANNOUNCEs pointing at real servers, so each case (none, one, several,
//! duplicates, an unspecified address) is exactly what the test sends. Every test has a
//! multicast group of its own on loopback (`--announce-interface 127.0.0.1`), so no datagram
//! leaves the machine and no test hears another's. The client's one-second window is its
//! own behaviour; the test only waits for screen lines.

mod common;

use std::net::{SocketAddr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::discovery::{announce_flags, fresh_group, Ear};
use common::person::Person;
use common::{Server, PATIENCE};
use imchat::discovery::{Announce, Datagram};

/// `imclient --discover --name NAME` in `group` on loopback, stdin piped.
fn discover(group: SocketAddrV4, name: &str) -> Person {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imclient"));
    command
        .args(["--discover", "--announce-group", &group.to_string()])
        .args(["--announce-interface", "127.0.0.1", "--name", name])
        .stdin(Stdio::piped())
        .stderr(Stdio::inherit());
    Person::run(name, command)
}

fn announce(name: &str, users: u64, plain: SocketAddr) -> Announce {
    Announce {
        name: name.into(),
        version: "0.1.0".into(),
        users,
        plain: vec![plain],
        web: Vec::new(),
    }
}

/// Waits for the client's REQUEST in the ear's group (the ear sends none of its own
/// before), then sends `datagrams` to the group, as servers answering it would.
fn answer(ear: &Ear, datagrams: &[Vec<u8>]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match ear.recv_until(deadline) {
            Some((Ok(Datagram::Request), _)) => break,
            Some(_) => {}
            None => panic!("no REQUEST from imclient within {PATIENCE:?}"),
        }
    }
    for datagram in datagrams {
        ear.send(datagram);
    }
}

/// Checks, as another user of `server`, that `name` is online there (or not).
fn online_at(server: &Server, name: &str) -> bool {
    let mut probe = Person::join(server, "probe");
    let line = probe.wait_for("the online users", |l| l.starts_with("* online: "));
    assert!(probe.exit().success());
    line.contains(&format!("{name} (available)"))
}

#[test]
fn nobody_answering_exits_1_and_says_where_it_asked() {
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut alice = discover(group, "alice");
    answer(&ear, &[]);
    alice.wait(&format!(
        "! no server answered on {group} within 1 s (is one started with --announce?)"
    ));
    assert_eq!(alice.exit().code(), Some(1));
}

#[test]
fn the_only_server_is_connected_to_and_registered_with() {
    let server = Server::start(&[]);
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut alice = discover(group, "alice");
    answer(&ear, &[announce("lab", 2, server.addr).encode()]);
    alice.wait(&format!("* found lab at {} (2 users online)", server.addr));
    alice.wait("* registered as alice (available)");
    assert!(online_at(&server, "alice"));
    assert!(alice.exit().success());
}

#[test]
fn several_servers_are_listed_and_the_one_typed_is_connected_to() {
    let (first, second) = (Server::start(&[]), Server::start(&[]));
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut alice = discover(group, "alice");
    answer(
        &ear,
        &[
            announce("beta", 0, second.addr).encode(),
            announce("alpha", 1, first.addr).encode(),
        ],
    );
    // Listed by name, whatever the order of arrival.
    alice.wait("* found 2 servers:");
    alice.wait(&format!("  1. alpha at {} (1 user online)", first.addr));
    alice.wait(&format!("  2. beta at {} (0 users online)", second.addr));
    alice.wait("* connect to which? (1-2)");
    // The choice and the first line of the chat in one write: the chat must get its line
    // (the choice is read without reading ahead).
    alice.type_line("2\n/who");
    alice.wait("* registered as alice (available)");
    alice.wait("* online: nobody else");
    alice.wait("* online: nobody else");
    assert!(online_at(&second, "alice"));
    assert!(!online_at(&first, "alice"));
    assert!(alice.exit().success());
}

#[test]
fn a_bad_answer_or_none_at_the_prompt_exits_1() {
    // Nobody is connected to, so the addresses need no server.
    let (a, b) = (
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    );
    let answers = [announce("a", 0, a).encode(), announce("b", 0, b).encode()];
    for (typed, error) in [
        (Some("3"), "! not a choice: \"3\" (1-2 picks a server)"),
        (None, "! no server chosen (end of input)"),
    ] {
        let group = fresh_group();
        let ear = Ear::join(group);
        let mut alice = discover(group, "alice");
        answer(&ear, &answers);
        alice.wait("* connect to which? (1-2)");
        match typed {
            Some(line) => alice.type_line(line),
            None => alice.close_stdin(),
        }
        alice.wait(error);
        assert_eq!(alice.exit().code(), Some(1), "{typed:?}");
    }
}

#[test]
fn one_server_heard_several_times_among_garbage_is_one_server() {
    let server = Server::start(&[]);
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut alice = discover(group, "alice");
    let lab = announce("lab", 3, server.addr).encode();
    answer(
        &ear,
        &[
            lab.clone(),
            b"ANNOUNCE {\"name\":\"broken\"}\n".to_vec(),
            b"REQUEST {}\n".to_vec(),
            lab.clone(),
            vec![b'x'; 2000],
            lab,
        ],
    );
    alice.wait(&format!("* found lab at {} (3 users online)", server.addr));
    alice.wait("* registered as alice (available)");
    assert!(alice.exit().success());
    assert!(
        !alice.screen.iter().any(|l| l.contains("servers:")),
        "{:?}",
        alice.screen
    );
}

#[test]
fn an_unspecified_address_is_where_the_announce_came_from() {
    let server = Server::start(&[]);
    let group = fresh_group();
    let ear = Ear::join(group);
    let mut alice = discover(group, "alice");
    let anywhere = SocketAddr::from(([0, 0, 0, 0], server.addr.port()));
    answer(&ear, &[announce("lab", 0, anywhere).encode()]);
    // The ear sends from loopback, so that is where the server is.
    alice.wait(&format!(
        "* found lab at 127.0.0.1:{} (0 users online)",
        server.addr.port()
    ));
    alice.wait("* registered as alice (available)");
    assert!(online_at(&server, "alice"));
    assert!(alice.exit().success());
}

#[test]
fn discover_and_server_conflict_and_help_shows_the_discovery_screen() {
    let imclient = || Command::new(env!("CARGO_BIN_EXE_imclient"));
    let output = imclient()
        .args(["--discover", "--server", "127.0.0.1:6666"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    // The group and interface mean nothing without --discover.
    let output = imclient()
        .args(["--announce-group", "239.255.1.2:7000"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    let output = imclient().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--discover",
        "--announce-group <ADDR:PORT>",
        "[default: 239.255.66.66:6666]",
        "--announce-interface <ADDR>",
        "* found lab at 127.0.0.1:40123 (2 users online)",
        "* connect to which? (1-2)",
        "! no server answered on 239.255.66.66:6666 within 1 s",
        "with --discover, also when no\n     server answered",
    ] {
        assert!(help.contains(needle), "no {needle:?} in --help:\n{help}");
    }
}

/// A real `imserver --announce` named `name` in `group` on loopback, once it announces.
fn announcing(group: SocketAddrV4, name: &str) -> Server {
    let flags = announce_flags(group, name);
    let server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    server.wait_log(&format!(
        "announcing to {group} on interface 127.0.0.1 as \"{name}\""
    ));
    server
}

#[test]
fn two_announcing_servers_are_both_listed_within_the_second() {
    let group = fresh_group();
    let ear = Ear::join(group);
    let (alpha, beta) = (announcing(group, "alpha"), announcing(group, "beta"));
    // Both have just announced, so the REQUEST comes within their second: each answers
    // when it is over, the latest a server may, and is still listed.
    ear.announce_from("alpha");
    ear.announce_from("beta");
    let mut alice = discover(group, "alice");
    alice.wait("* found 2 servers:");
    alice.wait(&format!("  1. alpha at {} (0 users online)", alpha.addr));
    alice.wait(&format!("  2. beta at {} (0 users online)", beta.addr));
    alice.wait("* connect to which? (1-2)");
    alice.type_line("1");
    alice.wait("* registered as alice (available)");
    assert!(online_at(&alpha, "alice"));
    assert!(alice.exit().success());
}

#[test]
fn the_only_announcing_server_is_connected_to() {
    let group = fresh_group();
    let solo = announcing(group, "solo");
    let mut alice = discover(group, "alice");
    alice.wait(&format!("* found solo at {} (0 users online)", solo.addr));
    alice.wait("* registered as alice (available)");
    assert!(online_at(&solo, "alice"));
    assert!(alice.exit().success());
}
