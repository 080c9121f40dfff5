//! A connection's life in virtual time: written, shut and removed when its peer closes;
//! cut off at its deadlines; drained when closing even past the output limit; dropped when
//! all queued output passes its bound.

use super::{config, user, Config, Harness, State, MAX_PASSES};
use crate::server::MAX_BYTES_PER_WAKE;

#[test]
fn goodbye_is_written_shut_and_removed_once_the_peer_closes() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let key = h.key_of(&alice).unwrap();
    alice.send("INVITE []\nGOODBYE\nLIST_CONVERSATIONS");
    h.until_quiet();
    assert_eq!(
        alice.lines(),
        ["INVITATION [1,\"alice\"]"],
        "nothing after GOODBYE"
    );
    assert!(
        matches!(h.server.conns[key].state, State::Shut(_)),
        "waits for alice's end"
    );
    alice.stream.shutdown(std::net::Shutdown::Write).unwrap();
    h.until_quiet();
    assert!(
        !h.server.conns.contains(key),
        "removed at the peer's end of stream"
    );
}

#[test]
fn a_shut_connection_has_its_input_read_away_a_pass_share_at_a_time() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let key = h.key_of(&alice).unwrap();
    alice.send("GOODBYE");
    h.until_quiet();
    assert!(matches!(h.server.conns[key].state, State::Shut(_)));
    // Four passes' worth of bytes after GOODBYE, then the end of alice's stream.
    let junk = vec![b'x'; 4 * MAX_BYTES_PER_WAKE];
    let mut sent = 0;
    while sent < junk.len() {
        let n = alice.send_some(&junk[sent..]);
        assert!(n > 0, "the kernel takes 256 KiB on loopback");
        sent += n;
    }
    alice.stream.shutdown(std::net::Shutdown::Write).unwrap();
    h.pass();
    assert!(
        h.server.conns.contains(key),
        "one pass reads one share, not the whole stream"
    );
    assert!(
        h.server.has_pending_work(),
        "and the next pass comes at once"
    );
    h.until_quiet();
    assert!(
        !h.server.conns.contains(key),
        "removed at the end of stream"
    );
}

#[test]
fn a_peer_that_never_closes_is_cut_off_at_the_linger_deadline() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let key = h.key_of(&alice).unwrap();
    alice.send("GOODBYE");
    h.until_quiet();
    assert!(h.server.conns.contains(key));
    h.now += 4_990;
    h.until_quiet();
    assert!(h.server.conns.contains(key), "not before the deadline");
    h.now += 20;
    h.until_quiet();
    assert!(!h.server.conns.contains(key), "gone after it");
}

#[test]
fn an_unregistered_connection_is_closed_at_its_deadline_in_virtual_time() {
    let mut h = Harness::new(Config {
        register_timeout_ms: 3_000,
        ..config()
    });
    let mut idle = h.connect();
    let mut member = user(&mut h, "member");
    h.now += 2_990;
    h.until_quiet();
    assert!(idle.lines().is_empty());
    h.now += 20;
    h.until_quiet();
    assert_eq!(idle.lines(), ["ERROR \"registration timeout; closing\""]);
    assert!(
        member
            .lines()
            .iter()
            .all(|l| l.starts_with("ONLINE_USERS ")),
        "presence only"
    );
    assert!(
        h.key_of(&member).is_some(),
        "a registered user has no deadline"
    );
}

#[test]
fn a_closing_connection_over_the_output_limit_still_drains_as_its_peer_reads() {
    let mut h = Harness::new(Config {
        max_output: 4096,
        ..config()
    });
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    socket.connect(&h.addr().into()).unwrap();
    let mut alice = h.connect_with(socket.into());
    let key = h.key_of(&alice).unwrap();
    // In the pass that serves alice's GOODBYE, far more is queued for her than the kernel
    // takes at once (as when others' messages reach her in the same pass).
    let big = crate::buffer::Line::from(format!("ERROR \"{}\"\n", "z".repeat(8 << 20)).as_bytes());
    alice.send("GOODBYE");
    h.server.out.send(key, &big);
    h.pass();
    assert!(
        h.server.conns[key].write_blocked,
        "blocked and closing: it waits for writable events, it is not forgotten"
    );
    let mut received = 0;
    while h.server.conns.contains(key) || received < big.len() {
        assert!(
            h.passes < MAX_PASSES,
            "only {received} of {} bytes arrived",
            big.len()
        );
        received += alice.lines().iter().map(|l| l.len() + 1).sum::<usize>();
        if h.server.conns.contains(key) && matches!(h.server.conns[key].state, State::Shut(_)) {
            alice.stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        h.pass();
    }
    assert_eq!(received, big.len(), "all of it, then the end of stream");
}

#[test]
fn past_the_bound_on_all_queued_output_a_member_that_reads_nothing_is_dropped_and_others_go_on() {
    // The per-connection limit is far away: only the total can drop anyone here.
    let mut h = Harness::new(Config {
        max_output_total: 1 << 20,
        max_line_rate: None,
        ..config()
    });
    let mut alice = user(&mut h, "alice");
    let sleeper = h.member_with_a_small_buffer(&mut alice, "sleeper");
    let key = h.key_of(&sleeper).unwrap();
    let message = format!("SEND_MESSAGE [1,\"{}\"]", "x".repeat(8000));
    let mut heard = Vec::new();
    while h.server.conns.contains(key) {
        alice.send(&message);
        h.until_quiet();
        heard.extend(alice.lines());
        assert!(h.passes < MAX_PASSES, "the sleeper was never dropped");
    }
    assert!(
        h.server.out.queued(key) == 0 && !h.server.out.has_dirty(),
        "its output went with it"
    );
    alice.send(&message);
    h.until_quiet();
    heard.extend(alice.lines());
    assert!(heard.contains(&"CONVERSATIONS {\"1\":[\"alice\"]}".to_string()));
    assert!(
        heard.last().unwrap().starts_with("MESSAGE [1,\"alice\""),
        "alice goes on"
    );
}

#[test]
fn a_line_and_the_end_of_stream_that_arrive_together_are_both_seen() {
    // One edge reports both. On epoll the read that takes the line is short, which would
    // end the drain (`SHORT_READ_DRAINS`); the event also said the peer closed, so the loop
    // reads on to the end of stream instead of waiting for an edge that never comes.
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let key = h.key_of(&alice).unwrap();
    alice.send("INVITE []");
    alice.stream.shutdown(std::net::Shutdown::Write).unwrap();
    h.until_quiet();
    assert_eq!(
        alice.lines(),
        ["INVITATION [1,\"alice\"]"],
        "the line was served"
    );
    assert!(
        !h.server.conns.contains(key),
        "the end of stream was seen and the connection removed"
    );
}

#[test]
fn a_connection_served_to_a_short_read_holds_no_read_buffer() {
    // Idle connections hold no storage (buffer.rs): the buffer goes to the spare once its
    // lines are handled, even when no read came after them to find `WouldBlock`.
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let key = h.key_of(&alice).unwrap();
    alice.send("LIST_CONVERSATIONS");
    h.until_quiet();
    assert!(!alice.lines().is_empty(), "the line was served");
    assert_eq!(h.server.conns[key].input.storage(), 0);
}
