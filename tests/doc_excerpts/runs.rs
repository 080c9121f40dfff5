//! Scenarios behind the README's `nc` demo and log excerpt, the `--trace` excerpts of
//! architecture.md and teaching.md, and teaching.md's run of the discover example.

use std::time::{Duration, Instant};

use crate::common::{Client, Server, PATIENCE};
use crate::render::{annotate, cut_date, cut_timestamp, Columns};
use crate::Scenario;

pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("nc demo", nc_demo),
    ("trace", trace),
    ("log limit", log_limit),
    ("discover example", discover_example),
];

/// A window of the server's log, timestamps cut: from the `poll returned` line of the pass
/// that logged `anchor` (the server logs a pass before its clients can see its output, but
/// this test may read the log after them, so the window is found by content, not by the
/// count of lines read so far), up to the line `end` picks, once it picks one.
fn log_window(
    server: &Server,
    anchor: &str,
    end: impl Fn(&[String], usize) -> Option<usize>,
) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lines: Vec<String> = server.logs().lines().map(String::from).collect();
        let at = lines.iter().position(|l| l.contains(anchor));
        let start = at.and_then(|at| (0..=at).rev().find(|&i| lines[i].contains("poll returned")));
        if let (Some(start), Some(last)) = (start, at.and_then(|at| end(&lines, at))) {
            return lines[start..=last]
                .iter()
                .map(|l| cut_timestamp(l).to_string())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "the log window never ended; logs:\n{}",
            server.logs()
        );
        // The harness wakes its own waits on each new line; this one looks at a window of
        // lines, so it polls, at the pace of the harness's wait_exit.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The index of the `n`-th (from 1) line containing `needle` at or after `from`.
fn nth(lines: &[String], from: usize, needle: &str, n: usize) -> Option<usize> {
    (from..lines.len())
        .filter(|&i| lines[i].contains(needle))
        .nth(n - 1)
}

/// The README's demo: alice and bob in two `nc` sessions. The presence interval is 3 s
/// instead of 1 s so that bob's registration surely falls in the interval alice's opened
/// (the lines are the same; with 1 s, a machine that stalls for a second would split the
/// broadcast in two).
fn nc_demo() -> Vec<(&'static str, String)> {
    let server = Server::start(&["--presence-interval-ms", "3000"]);
    let header = "$ nc -N 127.0.0.1 6666";
    let mut demo = Columns::new(header, header);
    let (mut alice, mut bob) = (server.client(), server.client());
    demo.left_sends(&mut alice, r#"REGISTER ["alice"]"#);
    demo.left_gets(&mut alice);
    demo.right_sends(&mut bob, r#"REGISTER ["bob","at lunch"]"#);
    demo.right_gets(&mut bob);
    demo.both_get(&mut alice, &mut bob);
    demo.left_sends(&mut alice, r#"INVITE ["bob"]"#);
    demo.both_get(&mut alice, &mut bob);
    demo.right_sends(&mut bob, "JOIN [1]");
    demo.both_get(&mut alice, &mut bob);
    demo.left_sends(&mut alice, r#"SEND_MESSAGE [1,"hi bob"]"#);
    demo.both_get(&mut alice, &mut bob);
    demo.right_sends(&mut bob, "GOODBYE");
    demo.left_gets(&mut alice);
    demo.left_gets(&mut alice);
    assert!(bob.expect_closed().is_empty(), "bob got more after GOODBYE");
    vec![("nc-demo", demo.render())]
}

/// One message, then a GOODBYE, under `--trace`: the excerpts of teaching.md and
/// architecture.md. The presence interval is 2 s so the broadcast after bob's goodbye
/// surely comes after bob's end of stream, as the excerpt says.
fn trace() -> Vec<(&'static str, String)> {
    let server = Server::start(&["--trace", "--presence-interval-ms", "2000"]);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    let both = r#"ONLINE_USERS {"alice":"available","bob":"available"}"#;
    // Both hear the broadcast of the arrivals, so no presence change is pending below.
    alice.recv_until("the broadcast with bob", |l| l == both);
    bob.expect_line(both);
    alice.send(r#"INVITE ["bob"]"#);
    alice.expect("INVITATION ");
    bob.expect("INVITATION ");
    bob.send("JOIN [1]");
    alice.expect("CONVERSATIONS ");
    bob.expect("CONVERSATIONS ");

    alice.send(r#"SEND_MESSAGE [1,"hi"]"#);
    alice.expect("MESSAGE ");
    bob.expect("MESSAGE ");
    // The pass ends when both members' outboxes are flushed.
    let message = log_window(&server, "dispatch SEND_MESSAGE", |lines, at| {
        nth(lines, at, "flush wrote", 2)
    });
    let message = annotate(
        &message,
        &[
            ("poll returned", "the kernel: one socket is ready"),
            ("readable", "one line; a short read: all there is"),
            ("frame complete", r#"SEND_MESSAGE [1,"hi"]"#),
            ("dispatch", "the table row, then the handler"),
            ("queued", r#"MESSAGE [1,"alice","hi"], encoded once,"#),
            ("queued", "  queued for both members"),
            ("flush wrote", "before sleeping, flush every dirty"),
            ("flush wrote", "  connection until done or WouldBlock"),
        ],
    );

    bob.send("GOODBYE");
    assert!(bob.expect_closed().is_empty());
    // bob closes only once alice has her new map, so his end of stream comes in a poll
    // of its own, after the flush, every run.
    alice.expect_line(r#"CONVERSATIONS {"1":["alice"]}"#);
    drop(bob);
    alice.expect_line(r#"ONLINE_USERS {"alice":"available"}"#);
    // Up to the flush of the presence broadcast that follows bob's goodbye.
    let goodbye = log_window(&server, "dispatch GOODBYE", |lines, at| {
        nth(lines, at, "timer fired", 1).and_then(|timer| nth(lines, timer, "flush wrote", 1))
    });
    let goodbye = annotate(
        &goodbye,
        &[
            ("-> shut", "nothing left to write: shut"),
            // The poll does not wait (it reports the shut socket's change of state). How
            // many events each poll returns is epoll's; on mio's poll(2) backend writable
            // events come after every `WouldBlock`, so the needles leave the count out.
            ("poll returned", "work pending: no sleep"),
            ("conn 0: queued", "alice's new member list, owed"),
            ("poll returned", "bob's end of stream"),
            ("poll returned", "one interval later"),
            ("conn 0: queued", "ONLINE_USERS without bob"),
        ],
    );
    vec![("trace-message", message), ("trace-goodbye", goodbye)]
}

/// The README's rate-limited log: 300 connections refused by `--max-connections 1`, one
/// after the other (each reads its refusal before the next connects), all well within one
/// 5 s window, then the window's end logs the count left out.
fn log_limit() -> Vec<(&'static str, String)> {
    let server = Server::start(&["--max-connections", "1"]);
    let _holder = server.user("holder");
    for _ in 0..300 {
        let mut refused = Client::connect(server.addr);
        assert_eq!(refused.expect_closed(), [r#"ERROR "server full""#]);
    }
    server.wait_log("similar lines suppressed");
    let refused: Vec<String> = server
        .logs()
        .lines()
        .filter(|l| l.contains("refused"))
        .map(|l| cut_date(l).to_string())
        .collect();
    assert_eq!(refused.len(), 11, "10 lines and the count: {refused:#?}");
    let shown = [
        refused[0].clone(),
        "... 8 more refused lines ...".to_string(),
        refused[9].clone(),
        refused[10].clone(),
    ];
    vec![("log-limit", shown.join("\n"))]
}

/// teaching.md's run of `examples/discover.rs` beside a real `imserver --announce` named
/// lab with one user. The run is in a group of its own on loopback (`--interface
/// 127.0.0.1`); the excerpt names the default group instead, the one the reader's run
/// joins, and that is the only text replaced. The server's first ANNOUNCE is over before
/// the example starts, so the one it prints answers its REQUEST; then a malformed datagram
/// is sent to the group by hand.
fn discover_example() -> Vec<(&'static str, String)> {
    use crate::common::discovery::{announce_flags, fresh_group, Ear};
    use crate::common::example::{example_path, lines_of};
    use imchat::discovery::DEFAULT_GROUP;
    use std::process::{Command, Stdio};

    let group = fresh_group();
    let ear = Ear::join(group);
    let flags = announce_flags(group, "lab");
    let server = Server::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    let _alice = server.user("alice");
    ear.announce_from("lab");
    let mut child = Command::new(example_path("discover"))
        .args([&group.to_string(), "--interface", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the discover example");
    let lines = lines_of(std::io::BufReader::new(child.stdout.take().unwrap()));
    let next = || lines.recv_timeout(PATIENCE).expect("a line from discover");
    // Joined, its own REQUEST come back, the server's answer: in this order every run (the
    // REQUEST is in the example's socket before the server can have read it).
    let mut shown = vec!["$ cargo run --example discover -- --interface 127.0.0.1".to_string()];
    shown.extend([next(), next(), next()]);
    assert!(shown[3].contains("ANNOUNCE from"), "{shown:?}");
    ear.send(b"REQUEST [not json\n");
    shown.push(next());
    let _ = child.kill();
    let _ = child.wait();
    let text = shown
        .join("\n")
        .replace(&group.to_string(), DEFAULT_GROUP)
        .replace(&format!("127.0.0.1:{}", group.port()), "127.0.0.1:6666");
    vec![("discover-example", text)]
}
