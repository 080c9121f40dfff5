//! `imclient` surviving the server going away: a real server killed and restarted on the
//! same port, and a scripted server (a plain listener) for the cases a real one cannot be
//! made to hit on cue: the shutdown notice, a refused re-registration. Every wait is for a
//! screen line or a request line, never a fixed sleep.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use common::person::{conv_id, Person};
use common::{Server, PATIENCE};

const FLAGS: &[&str] = &["--presence-interval-ms", "20"];

/// alice invites bob, bob joins; returns the conversation id.
fn alice_invites_bob(alice: &mut Person, bob: &mut Person) -> u64 {
    alice.type_line("/invite bob");
    let id = conv_id(&alice.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }));
    bob.wait(&format!(
        "[{id}] * invited by alice; type /join {id} to accept"
    ));
    bob.type_line(&format!("/join {id}"));
    bob.wait(&format!("[{id}] * you joined"));
    alice.wait(&format!("[{id}] * members: alice, bob"));
    id
}

/// Waits for the line that says the connection was lost and when the next try is.
fn wait_lost(person: &mut Person, delay: &str) {
    let suffix = format!("; reconnecting in {delay}");
    person.wait_for("connection lost", |l| {
        (l.starts_with("! server closed the connection")
            || l.starts_with("! lost the connection to the server: "))
            && l.ends_with(&suffix)
    });
}

#[test]
fn a_killed_and_restarted_server_is_rejoined_under_the_same_name_and_status() {
    let mut server = Server::start(FLAGS);
    let addr = server.addr;
    let mut alice = Person::join(&server, "alice");
    let mut bob = Person::join(&server, "bob");
    alice.wait("* bob came online (available)");
    let old = alice_invites_bob(&mut alice, &mut bob);
    alice.type_line("/status away");
    alice.wait("* you are now away");
    bob.wait("* alice is now away");

    server.signal(libc::SIGKILL);
    server.wait_exit();
    for person in [&mut alice, &mut bob] {
        wait_lost(person, "0.5 s");
        person.wait(&format!(
            "[{old}] * conversation ended: the connection to the server was lost"
        ));
    }
    // Bound before: the new server gets the same port (mio sets SO_REUSEADDR).
    let server = Server::start_at(&addr.to_string(), &[], FLAGS);
    assert_eq!(server.addr, addr);
    alice.wait(&format!("* reconnected to {addr}"));
    alice.wait("* registered as alice (away)");
    bob.wait(&format!("* reconnected to {addr}"));
    bob.wait("* registered as bob (available)");

    // Another user sees both, alice with the status she had.
    let mut carol = server.client();
    carol.send(r#"REGISTER ["carol"]"#);
    let online = carol.expect("ONLINE_USERS ");
    assert!(online.contains("\"alice\":\"away\""), "{online}");
    assert!(online.contains("\"bob\":\"available\""), "{online}");

    // The local state was cleared: nothing is current, and chatting works again.
    alice.type_line("/list");
    alice.wait("* no conversations");
    let new = alice_invites_bob(&mut alice, &mut bob);
    alice.type_line("back again");
    bob.wait(&format!("[{new}] alice: back again"));
    assert!(alice.exit().success());
    assert!(bob.exit().success());
}

/// A scripted server's side of one connection.
struct Scripted {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Scripted {
    fn accept(listener: &TcpListener) -> Scripted {
        let (socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        Scripted {
            writer: socket.try_clone().unwrap(),
            reader: BufReader::new(socket),
        }
    }

    fn expect(&mut self, line: &str) {
        let mut got = String::new();
        self.reader
            .read_line(&mut got)
            .expect("a request line in time");
        assert_eq!(got, format!("{line}\n"));
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }
}

#[test]
fn a_shutdown_notice_then_a_close_is_shown_and_the_client_registers_again() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut command = Person::command(&addr.to_string(), "alice");
    command.args(["--status", "at lunch"]);
    let mut alice = Person::run("alice", command);
    let mut server = Scripted::accept(&listener);
    server.expect(r#"REGISTER ["alice","at lunch"]"#);
    server.send(r#"ONLINE_USERS {"alice":"at lunch","bob":"away"}"#);
    server.send(r#"CONVERSATIONS {"4":["bob","alice"]}"#);
    server.send(r#"INVITATION [5,"bob"]"#);
    alice.wait("[5] * invited by bob; type /join 5 to accept");
    server.send(r#"ERROR "server shutting down""#);
    drop(server);

    alice.wait("! server shutting down");
    alice.wait("! server closed the connection; reconnecting in 0.5 s");
    alice.wait("[4] * conversation ended: the connection to the server was lost");
    alice.wait("[5] * invitation dropped: the connection to the server was lost");
    // Until registered again, what needs the server is refused, and said so.
    alice.type_line("/status back");
    alice.wait("! not sent: not connected to the server (reconnecting)");
    alice.type_line("/who");
    alice.wait("* online: nobody else");

    let mut server = Scripted::accept(&listener);
    server.expect(r#"REGISTER ["alice","at lunch"]"#);
    server.send(r#"ONLINE_USERS {"alice":"at lunch","bob":"away"}"#);
    alice.wait(&format!("* reconnected to {addr}"));
    alice.wait("* registered as alice (at lunch)");
    alice.wait("* online: bob (away)");

    // Registered again, the delay starts over; quitting while reconnecting is exit code 3.
    drop(server);
    alice.wait("! server closed the connection; reconnecting in 0.5 s");
    alice.close_stdin();
    alice.wait("* end of input; signing off");
    assert_eq!(alice.exit().code(), Some(3));
}

#[test]
fn a_refused_registration_after_reconnecting_exits_1() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut alice = Person::start(&addr.to_string(), "alice");
    let mut server = Scripted::accept(&listener);
    server.expect(r#"REGISTER ["alice","available"]"#);
    server.send(r#"ONLINE_USERS {"alice":"available"}"#);
    alice.wait("* registered as alice (available)");
    drop(server);
    alice.wait("! server closed the connection; reconnecting in 0.5 s");

    // Someone took the name meanwhile.
    let mut server = Scripted::accept(&listener);
    server.expect(r#"REGISTER ["alice","available"]"#);
    server.send(r#"ERROR "REGISTER: name alice is taken""#);
    alice.wait("! REGISTER: name alice is taken");
    alice.wait("! could not register again after reconnecting; exiting");
    assert_eq!(alice.exit().code(), Some(1));
}
