//! How a connection may send, in virtual time: a line must be finished within its deadline,
//! and lines past the connection's rate wait (in its buffer and in the kernel) until it has
//! tokens again, while the loop sleeps and everyone else is served.

use std::time::Duration;

use super::{config, user, Client, Config, Harness, State};
use crate::server::{LineRate, Reason};

/// Why the connection of `client` is closing, if it is.
fn closing(h: &Harness, client: &Client) -> Option<Reason> {
    match h.server.conns[h.key_of(client)?].state {
        State::Open => None,
        State::Closing(r) | State::Flushing(r) | State::Shut(r) | State::Done(r) => Some(r),
    }
}

/// The lines `client` has received since last asked, presence broadcasts left out.
fn heard(client: &mut Client) -> Vec<String> {
    let mut lines = client.lines();
    lines.retain(|l| !l.starts_with("ONLINE_USERS "));
    lines
}

/// At time `at`, one pass and whatever work it leaves; the loop then sleeps.
fn at(h: &mut Harness, at: u64) {
    h.now = at;
    h.until_quiet();
}

#[test]
fn a_line_unfinished_at_its_deadline_gets_an_error_and_closes() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    let mut bob = user(&mut h, "bob");
    alice.send_some(b"SEND_MESSAGE [1,\"sl");
    at(&mut h, 100);
    // Dripping into the line does not move its deadline: it runs from its first byte.
    for (time, byte) in [(10_000, b"o"), (20_000, b"o"), (30_090, b"w")] {
        alice.send_some(byte);
        at(&mut h, time);
        assert_eq!(closing(&h, &alice), None, "still open at {time} ms");
    }
    at(&mut h, 30_110);
    assert_eq!(
        heard(&mut alice),
        ["ERROR \"line not finished within 30 s; closing\""]
    );
    assert_eq!(closing(&h, &alice), Some(Reason::LineTimeout));
    let key = h.key_of(&alice).unwrap();
    assert!(
        h.server.conns[key].input.is_empty(),
        "the unfinished line is freed when closing starts, not after the linger"
    );
    bob.lines();
    bob.send("LIST_CONVERSATIONS");
    h.until_quiet();
    assert_eq!(
        heard(&mut bob),
        ["CONVERSATIONS {}"],
        "nobody else is touched"
    );
}

#[test]
fn each_line_has_its_own_deadline_from_its_first_byte() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    alice.send_some(b"LIST_CONV");
    at(&mut h, 0);
    // The first line is finished in time, and the next one starts in the same write.
    alice.send_some(b"ERSATIONS\nLIST_");
    at(&mut h, 20_000);
    assert_eq!(heard(&mut alice), ["CONVERSATIONS {}"]);
    at(&mut h, 30_010);
    assert_eq!(
        closing(&h, &alice),
        None,
        "the first line's deadline is gone"
    );
    at(&mut h, 49_990);
    assert_eq!(closing(&h, &alice), None, "the second line has until 50 s");
    at(&mut h, 50_010);
    assert_eq!(closing(&h, &alice), Some(Reason::LineTimeout));
}

#[test]
fn whole_lines_arm_no_line_deadline() {
    let mut h = Harness::new(config());
    let mut alice = user(&mut h, "alice");
    alice.send("LIST_CONVERSATIONS\nLIST_CONVERSATIONS");
    h.until_quiet();
    assert_eq!(heard(&mut alice).len(), 2);
    let key = h.key_of(&alice).unwrap();
    assert_eq!(h.server.conns[key].line_timer, None);
    at(&mut h, 100_000);
    assert_eq!(closing(&h, &alice), None);
}

/// Lines `L0`, `L1`, ... each answered by an `ERROR` that names it, so order is visible.
fn numbered(range: std::ops::Range<usize>, width: usize) -> String {
    range.map(|i| format!("L{i:0width$}\n")).collect()
}

/// The numbers of the lines `client` has had answers for since last asked.
fn answered(client: &mut Client) -> Vec<usize> {
    heard(client)
        .iter()
        .map(|l| {
            let number = l
                .strip_prefix("ERROR \"L")
                .and_then(|l| l.split(':').next());
            number.and_then(|n| n.parse().ok()).expect(l)
        })
        .collect()
}

#[test]
fn a_burst_past_the_bucket_is_served_at_the_rate_in_order_while_the_loop_sleeps() {
    let rate = LineRate {
        per_sec: 50,
        burst: 10,
    };
    let mut h = Harness::new(Config {
        max_line_rate: Some(rate),
        ..config()
    });
    let mut alice = user(&mut h, "alice");
    let mut bob = user(&mut h, "bob");
    // A second later both buckets are full again: the burst is 10.
    h.now = 1_000;
    alice.send_some(numbered(0..30, 1).as_bytes());
    h.pass();
    assert_eq!(
        answered(&mut alice),
        (0..10).collect::<Vec<_>>(),
        "the burst"
    );
    h.until_quiet();
    assert!(answered(&mut alice).is_empty());
    assert!(!h.server.has_pending_work(), "the rest waits for tokens");
    assert_eq!(
        h.server.poll_timeout(h.now),
        Some(Duration::from_millis(20)),
        "the loop sleeps until the next token: 50 a second"
    );

    bob.send("LIST_CONVERSATIONS");
    h.until_quiet();
    assert_eq!(
        heard(&mut bob),
        ["CONVERSATIONS {}"],
        "bob is served meanwhile"
    );

    at(&mut h, 1_020);
    assert_eq!(answered(&mut alice), [10]);
    at(&mut h, 1_120);
    assert_eq!(answered(&mut alice), [11, 12, 13, 14, 15]);
    // Idle for a while: the bucket holds at most the burst.
    at(&mut h, 5_000);
    assert_eq!(answered(&mut alice), (16..26).collect::<Vec<_>>());
    at(&mut h, 5_080);
    assert_eq!(
        answered(&mut alice),
        [26, 27, 28, 29],
        "all of them, in order"
    );
    assert_eq!(closing(&h, &alice), None);
}

#[test]
fn a_throttled_connection_still_reads_what_the_kernel_holds_for_it() {
    let mut h = Harness::new(Config {
        max_line_rate: Some(LineRate {
            per_sec: 1000,
            burst: 100,
        }),
        ..config()
    });
    let mut alice = user(&mut h, "alice");
    // Far more than one read takes: most of it stays in the kernel while alice is
    // throttled, and she sends nothing more, so no new readable event will come.
    const LINES: usize = 3000;
    let flood = numbered(0..LINES, 30);
    assert!(flood.len() > 4 * crate::buffer::READ_CHUNK);
    assert_eq!(alice.send_some(flood.as_bytes()), flood.len());
    let mut got = Vec::new();
    while got.len() < LINES {
        assert!(
            h.now < 100_000,
            "only {} of {LINES} lines answered",
            got.len()
        );
        let next = h.now + 100;
        at(&mut h, next);
        let step = answered(&mut alice);
        assert!(step.len() <= 100, "{} lines in 100 ms", step.len());
        got.extend(step);
        assert!(!h.server.has_pending_work());
    }
    assert_eq!(got, (0..LINES).collect::<Vec<_>>());
}

#[test]
fn with_the_rate_off_a_burst_is_served_at_once() {
    let mut h = Harness::new(Config {
        max_line_rate: None,
        ..config()
    });
    let mut alice = user(&mut h, "alice");
    alice.send_some(numbered(0..60, 1).as_bytes());
    h.pass();
    assert_eq!(answered(&mut alice), (0..60).collect::<Vec<_>>());
}
