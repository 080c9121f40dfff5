//! `imclient` driven as a person would: real `imclient` processes against a real `imserver`,
//! typing through stdin and reading the screen lines on stdout. Every wait is for a screen
//! line (with the harness's generous patience), never a fixed sleep.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;

use common::person::{conv_id, Person};
use common::Server;

/// Presence changes reach others within this interval; short, so tests that wait for
/// "came online" lines do not wait the default second.
const PRESENCE_MS: &str = "20";

fn server() -> Server {
    Server::start(&["--presence-interval-ms", PRESENCE_MS])
}

/// alice and bob online, each having seen the other.
fn alice_and_bob(server: &Server) -> (Person, Person) {
    let mut alice = Person::join(server, "alice");
    let mut bob = Person::join(server, "bob");
    alice.wait("* bob came online (available)");
    bob.wait("* online: alice (available)");
    (alice, bob)
}

/// alice invites bob, bob joins; returns the conversation id.
fn alice_invites_bob(alice: &mut Person, bob: &mut Person) -> u64 {
    alice.type_line("/invite bob");
    let id = conv_id(&alice.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }));
    alice.wait(&format!("[{id}] * members: alice (pending)"));
    bob.wait(&format!(
        "[{id}] * invited by alice; type /join {id} to accept"
    ));
    bob.type_line(&format!("/join {id}"));
    bob.wait(&format!("[{id}] * you joined"));
    bob.wait(&format!("[{id}] * members: alice, bob"));
    alice.wait(&format!("[{id}] * bob joined"));
    alice.wait(&format!("[{id}] * members: alice, bob"));
    id
}

#[test]
fn invite_join_and_chat_both_ways_each_line_once() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server);
    let id = alice_invites_bob(&mut alice, &mut bob);
    alice.type_line("hello bob");
    alice.wait(&format!("[{id}] alice: hello bob"));
    bob.wait(&format!("[{id}] alice: hello bob"));
    bob.type_line("hi alice, \"quoted\" and ünïcode");
    alice.wait(&format!("[{id}] bob: hi alice, \"quoted\" and ünïcode"));

    assert!(alice.exit().success());
    assert!(bob.exit().success());
    for person in [&alice, &bob] {
        assert_eq!(
            person.count(&format!("[{id}] alice: hello bob")),
            1,
            "{}",
            person.name
        );
        assert_eq!(
            person.count(&format!("[{id}] bob: hi alice, \"quoted\" and ünïcode")),
            1
        );
        // Never itself among the online users, never an invitation for its own INVITE.
        let me = &person.name;
        assert!(!person
            .screen
            .iter()
            .any(|l| l.starts_with("* online:") && l.contains(me.as_str())));
        assert!(!person
            .screen
            .iter()
            .any(|l| l.contains(&format!("* {me} came online"))));
    }
    assert_eq!(
        alice
            .screen
            .iter()
            .filter(|l| l.contains("invited by"))
            .count(),
        0
    );
}

#[test]
fn several_conversations_status_and_leave() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server);
    let mut carol = Person::join(&server, "carol");
    alice.wait("* carol came online (available)");
    carol.wait_for("alice and bob online", |l| {
        l.contains("alice (available)") && l.contains("bob")
    });
    let with_bob = alice_invites_bob(&mut alice, &mut bob);

    carol.type_line("/invite alice");
    let with_carol =
        conv_id(&carol.wait_for("started", |l| l.ends_with("you started this conversation")));
    alice.wait(&format!(
        "[{with_carol}] * invited by carol; type /join {with_carol} to accept"
    ));
    alice.type_line(&format!("/join {with_carol}"));
    alice.wait(&format!("[{with_carol}] * now current"));
    carol.wait(&format!("[{with_carol}] * members: carol, alice"));

    // Plain text goes to the current conversation, /ID TEXT to another one.
    alice.type_line("to carol");
    alice.type_line(&format!("/{with_bob} to bob"));
    carol.wait(&format!("[{with_carol}] alice: to carol"));
    bob.wait(&format!("[{with_bob}] alice: to bob"));
    alice.type_line(&format!("/switch {with_bob}"));
    alice.wait(&format!("[{with_bob}] * now current"));
    alice.type_line("bob again");
    bob.wait(&format!("[{with_bob}] alice: bob again"));

    bob.type_line("/status away");
    bob.wait("* you are now away");
    alice.wait("* bob is now away");
    carol.wait("* bob is now away");

    bob.type_line(&format!("/leave {with_bob}"));
    bob.wait(&format!("[{with_bob}] * you left"));
    alice.wait(&format!("[{with_bob}] * bob left"));
    alice.wait(&format!("[{with_bob}] * members: alice (alone)"));
    alice.type_line("/list");
    alice.wait(&format!("[{with_bob}] * members: alice (alone) (current)"));
    alice.wait(&format!("[{with_carol}] * members: carol, alice"));

    bob.type_line(&format!("/{with_bob} still there?"));
    bob.wait(&format!(
        "! SEND_MESSAGE: not a member of conversation {with_bob}"
    ));
    carol.type_line("/quit");
    carol.wait("* signing off");
    alice.wait("* carol went offline");
    for person in [&mut alice, &mut bob, &mut carol] {
        assert!(person.exit().success());
    }
    assert_eq!(
        carol.screen.iter().filter(|l| l.contains("to bob")).count(),
        0
    );
    assert_eq!(
        bob.screen.iter().filter(|l| l.contains("to carol")).count(),
        0
    );
}

#[test]
fn a_taken_name_is_refused_with_a_nonzero_exit() {
    let server = server();
    let _alice = Person::join(&server, "alice");
    let mut other = Person::start(&server.addr.to_string(), "ALICE");
    other.wait("! REGISTER: name ALICE is taken");
    assert_eq!(other.exit().code(), Some(1));
    let mut bad = Person::start(&server.addr.to_string(), "two words");
    bad.wait_for("bad name", |l| l.starts_with("! REGISTER: bad name"));
    assert_eq!(bad.exit().code(), Some(1));
}

#[test]
fn no_server_is_reported_with_a_nonzero_exit() {
    // A port that was free a moment ago: nobody listens there now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut nobody = Person::start(&addr.to_string(), "alice");
    nobody.wait_for("cannot connect", |l| {
        l.starts_with(&format!("! cannot connect to {addr}"))
    });
    assert_eq!(nobody.exit().code(), Some(1));
}

#[test]
fn the_server_going_away_without_reconnecting_exits_3() {
    let mut server = server();
    let mut command = Person::command(&server.addr.to_string(), "alice");
    command.arg("--no-reconnect");
    let mut alice = Person::run("alice", command);
    alice.wait("* registered as alice (available)");
    server.signal(libc::SIGKILL);
    server.wait_exit();
    alice.wait_for("server gone", |l| {
        l == "! server closed the connection"
            || l.starts_with("! lost the connection to the server")
    });
    assert_eq!(alice.exit().code(), Some(3));
}

#[test]
fn end_of_input_and_ctrl_c_say_goodbye() {
    let server = server();
    let (mut alice, mut bob) = alice_and_bob(&server);
    bob.close_stdin();
    bob.wait("* end of input; signing off");
    assert!(bob.exit().success());
    alice.wait("* bob went offline");

    let mut carol = Person::join(&server, "carol");
    alice.wait("* carol came online (available)");
    carol.signal(libc::SIGINT);
    carol.wait("* interrupted; signing off");
    assert!(carol.exit().success());
    alice.wait("* carol went offline");
}

#[test]
fn anything_the_server_sends_is_shown_without_a_panic() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut command = Person::command(&addr, "alice");
    command.arg("--no-reconnect");
    let mut alice = Person::run("alice", command);
    let (mut socket, _) = listener.accept().unwrap();
    let mut register = [0u8; 64];
    let n = socket.read(&mut register).unwrap();
    assert!(register[..n].starts_with(b"REGISTER [\"alice\""));
    socket
        .write_all(
            b"ONLINE_USERS {\"alice\":\"available\"}\nNOPE\nMESSAGE [1]\n\
              CONVERSATIONS {\"x\":[1]}\nINVITATION [0,\"\x1b[2J\"]\n\
              INVITATION [3,\"\\u001b[2J\"]\n\
              MESSAGE [5,\"x\",\"still fine\"]\n",
        )
        .unwrap();
    alice.wait("! unexpected line from server: NOPE");
    alice.wait("! unexpected line from server: MESSAGE [1]");
    // A raw escape is not even JSON; an escaped one is, and is shown harmless.
    alice.wait("! unexpected line from server: INVITATION [0,\"\\u{1b}[2J\"]");
    alice.wait("[3] * invited by \\u{1b}[2J; type /join 3 to accept");
    alice.wait("[5] x: still fine");
    drop(socket);
    alice.wait("! server closed the connection");
    assert_eq!(alice.exit().code(), Some(3));
}

#[test]
fn a_file_as_input_is_read_to_its_end_then_signs_off() {
    // epoll refuses regular files, so this is the keyboard's other path: read whenever
    // needed, since a file never blocks.
    let server = server();
    let _bob = Person::join(&server, "bob");
    let path = std::env::temp_dir().join(format!("imclient-input-{}.txt", std::process::id()));
    std::fs::write(&path, "/who\n/list\n/status away").unwrap();
    let input = std::fs::File::open(&path).unwrap();
    let mut reader = Person::spawn(&server.addr.to_string(), "reader", Stdio::from(input));
    std::fs::remove_file(&path).unwrap();
    reader.wait("* registered as reader (available)");
    reader.wait("* online: bob (available)");
    reader.wait("* online: bob (available)");
    reader.wait("* no conversations");
    reader.wait("* end of input; signing off");
    assert!(reader.exit().success());
}
