//! SIGINT and SIGTERM: every connection, registered or not, is told
//! `ERROR "server shutting down"` as its last line, then sees end of stream, and the server
//! exits 0 (at most its grace period after, if a client does not read).

mod common;

use common::Server;

const NOTICE: &str = "ERROR \"server shutting down\"";

#[test]
fn sigint_tells_every_connection_then_closes_it_and_exits_zero() {
    let mut server = Server::start_node(&[]);
    let mut alice = server.user("alice");
    alice.send("INVITE []");
    alice.expect_line("INVITATION [1,\"alice\"]");
    let mut anonymous = server.client();
    // Accepted (a round trip proves it) but never registered.
    anonymous.send("LIST_CONVERSATIONS");
    anonymous.expect("ERROR \"LIST_CONVERSATIONS: ");
    server.signal(libc::SIGINT);
    server.wait_log("received SIGINT: shutting down");
    for client in [&mut alice, &mut anonymous] {
        let lines = client.expect_closed();
        assert_eq!(lines.last().map(String::as_str), Some(NOTICE), "{lines:?}");
    }
    assert_eq!(server.wait_exit().code(), Some(0));
    server.wait_log("shut down");
}

#[test]
fn sigterm_does_the_same() {
    let mut server = Server::start_node(&[]);
    let mut alice = server.user("alice");
    server.signal(libc::SIGTERM);
    assert_eq!(alice.expect_closed(), [NOTICE]);
    assert_eq!(server.wait_exit().code(), Some(0));
    server.wait_log("received SIGTERM: shutting down");
}

#[test]
fn a_client_that_reads_nothing_does_not_hold_the_exit() {
    // Room to queue everything below for the client that never reads: it must still be
    // connected, with output it cannot take, when the signal comes.
    let mut server = Server::start_node(&["--max-line-rate", "off", "--max-output", "67108864"]);
    let mut reader = server.user("reader");
    let mut stuck = server.user("stuck");
    stuck.send("INVITE [\"reader\"]");
    reader.expect_line("INVITATION [1,\"stuck\"]");
    reader.send("JOIN [1]");
    reader.sync();
    // 12 MB of messages: far more than the kernel's socket buffers hold for stuck.
    let text = "x".repeat(60_000);
    let count = 200;
    for _ in 0..count {
        stuck.send(&format!("SEND_MESSAGE [1,\"{text}\"]"));
    }
    // Once reader has every message, the server has queued every one for stuck too.
    for _ in 0..count {
        reader.recv_until("a message", |l| l.starts_with("MESSAGE [1,\"stuck\""));
    }
    server.signal(libc::SIGTERM);
    let lines = reader.expect_closed();
    assert_eq!(lines.last().map(String::as_str), Some(NOTICE), "{lines:?}");
    // It exits once its grace period ends, stuck's output unwritten (the harness waits far
    // longer than that period).
    assert_eq!(server.wait_exit().code(), Some(0));
    drop(stuck);
}
