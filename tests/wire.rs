//! Black-box tests at the byte level: raw writes to a real server on 127.0.0.1:0, and the
//! lines that come back. Framing, malformed input, and every limit. (Signals are in
//! `shutdown.rs`.)

mod common;

use std::process::Command;

use common::Server;
use imchat::protocol::DEFAULT_MAX_LINE;
use imchat::server::MAX_LISTED_NAMES;

#[test]
fn a_line_split_byte_by_byte_is_one_line() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    for byte in b"REGISTER [\"alice\",\"here\"]\n" {
        alice.send_raw(&[*byte]);
    }
    alice.expect_line("ONLINE_USERS {\"alice\":\"here\"}");
}

#[test]
fn many_lines_in_one_write_are_answered_in_order() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    alice.send_raw(b"REGISTER [\"alice\"]\nINVITE []\nLIST_CONVERSATIONS\nJOIN [5]\n");
    alice.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
    alice.expect_line("INVITATION [1,\"alice\"]");
    alice.expect_line("CONVERSATIONS {\"1\":[\"alice\"]}");
    alice.expect_line("ERROR \"JOIN: not invited to conversation 5\"");
}

#[test]
fn thousands_of_lines_in_one_write_are_all_answered() {
    // Past any line rate: what is tested is that none is lost, not how fast they may come.
    let server = Server::start(&["--max-line-rate", "off"]);
    let mut alice = server.user("alice");
    let count = 5_000;
    alice.send_raw("LIST_CONVERSATIONS\n".repeat(count).as_bytes());
    for _ in 0..count {
        alice.expect_line("CONVERSATIONS {}");
    }
}

#[test]
fn crlf_and_blank_lines_and_lower_case_words_are_accepted() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    alice.send_raw(b"\r\n\n   \r\nregister [\"alice\"]\r\nList_Conversations\r\n");
    alice.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
    alice.expect_line("CONVERSATIONS {}");
}

#[test]
fn commands_before_register_are_refused_but_goodbye_is_not() {
    let server = Server::start(&[]);
    let mut anon = server.client();
    for word in [
        "STATUS [\"x\"]",
        "INVITE []",
        "LIST_CONVERSATIONS",
        "JOIN [1]",
        "LEAVE [1]",
    ] {
        anon.send(word);
        let name = word.split(' ').next().unwrap();
        anon.expect_line(&format!("ERROR \"{name}: not registered\""));
    }
    anon.send("SEND_MESSAGE [1,\"hi\"]");
    anon.expect_line("ERROR \"SEND_MESSAGE: not registered\"");
    anon.send("GOODBYE");
    assert!(anon.expect_closed().is_empty());
}

#[test]
fn malformed_input_gets_an_error_and_the_connection_stays_usable() {
    let server = Server::start(&[]);
    let mut alice = server.user("alice");
    for line in [
        "JOIN [1",
        "JOIN {\"id\":1}",
        "SEND_MESSAGE [\"1\",\"hi\"]",
        "INVITE \"bob\"",
        "STATUS [\"\"]",
        "REGISTER [\"alice\"]",
        "FLY [1]",
        "LEAVE [1]",
        "SEND_MESSAGE [1,\"hi\"]",
    ] {
        alice.send(line);
        let answer = alice.recv();
        let word = line.split(' ').next().unwrap();
        assert!(
            answer.starts_with(&format!("ERROR \"{word}: ")),
            "{line:?} -> {answer:?}"
        );
    }
    alice.send("INVITE []");
    alice.expect_line("INVITATION [1,\"alice\"]");
}

/// An `ERROR` echoes little of the line it answers: a line at the limit gets a few hundred
/// bytes back, not a multiple of itself (a maximal `INVITE` of empty names was once answered
/// with 327 KB).
#[test]
fn an_error_echoes_little_of_a_long_line() {
    let server = Server::start(&[]);
    let mut alice = server.user("alice");
    let small = 1024;

    // As many empty names as a line at the limit holds: `INVITE [` + `"",` * n + `]`.
    let count = (DEFAULT_MAX_LINE - "INVITE []".len() + 1) / 3;
    let line = format!("INVITE [{}]", vec!["\"\""; count].join(","));
    assert!(line.len() <= DEFAULT_MAX_LINE);
    alice.send(&line);
    alice.expect_line("INVITATION [1,\"alice\"]");
    let error = alice.recv();
    assert!(error.len() < small, "{} bytes", error.len());
    let listed = [" (not online)"; MAX_LISTED_NAMES].join(", ");
    let more = count - MAX_LISTED_NAMES;
    assert_eq!(
        error,
        format!("ERROR \"INVITE: not invited: {listed}, and {more} more\"")
    );

    // One long name that is nobody's is cut.
    alice.send(&format!("INVITE [\"{}\"]", "y".repeat(60_000)));
    alice.expect_line("INVITATION [2,\"alice\"]");
    let cut = "y".repeat(imchat::protocol::MAX_NAME_CHARS);
    alice.expect_line(&format!(
        "ERROR \"INVITE: not invited: {cut}… (not online)\""
    ));

    // serde quotes a string where a number belongs; the quote is cut in the middle.
    alice.send(&format!("JOIN [\"{}\"]", "x".repeat(60_000)));
    let error = alice.recv();
    assert!(error.len() < small, "{} bytes", error.len());
    assert!(
        error.starts_with("ERROR \"JOIN: bad arguments (invalid type: string \\\"xxx"),
        "{error}"
    );
    assert!(
        error.ends_with("at line 1 column 60003); expected [conversation id]\""),
        "{error}"
    );
}

#[test]
fn an_overlong_line_is_refused_with_an_error_then_closed() {
    let server = Server::start(&[]);
    let mut alice = server.user("alice");
    let mut line = b"SEND_MESSAGE [1,\"".to_vec();
    line.resize(70 * 1024, b'x');
    line.extend_from_slice(b"\"]\n");
    alice.send_raw(&line);
    let rest = alice.expect_closed();
    assert_eq!(rest, ["ERROR \"line longer than 65536 bytes; closing\""]);
    server.wait_log("disconnect alice (conn 0): violation");
}

#[test]
fn a_tail_that_never_ends_is_bounded_too() {
    let server = Server::start(&["--max-line", "1000"]);
    let mut junk = server.client();
    junk.send_raw(&[b'j'; 1001]);
    assert_eq!(
        junk.expect_closed(),
        ["ERROR \"line longer than 1000 bytes; closing\""]
    );
}

#[test]
fn a_line_at_the_limit_is_fine() {
    let server = Server::start(&["--max-line", "40"]);
    let mut alice = server.client();
    let line = format!("REGISTER [\"alice\",\"{}\"]", "s".repeat(40 - 21));
    assert_eq!(line.len(), 40);
    alice.send(&line);
    alice.expect("ONLINE_USERS ");
}

#[test]
fn invalid_utf8_is_refused_with_an_error_then_closed() {
    let server = Server::start(&[]);
    let mut alice = server.user("alice");
    alice.send_raw(b"STATUS [\"\xff\xfe\"]\nLIST_CONVERSATIONS\n");
    assert_eq!(
        alice.expect_closed(),
        ["ERROR \"line is not UTF-8; closing\""]
    );
}

#[test]
fn goodbye_flushes_what_is_queued_and_ignores_what_follows() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    alice.send_raw(b"REGISTER [\"alice\"]\nINVITE []\nGOODBYE\nINVITE []\n");
    assert_eq!(
        alice.expect_closed(),
        [
            "ONLINE_USERS {\"alice\":\"available\"}",
            "INVITATION [1,\"alice\"]"
        ]
    );
}

#[test]
fn a_client_that_half_closes_still_gets_its_answers() {
    let server = Server::start(&[]);
    let mut alice = server.client();
    alice.send_raw(b"REGISTER [\"alice\"]\nLIST_CONVERSATIONS\n");
    alice.shutdown_write();
    assert_eq!(
        alice.expect_closed(),
        ["ONLINE_USERS {\"alice\":\"available\"}", "CONVERSATIONS {}"]
    );
}

#[test]
fn over_max_connections_the_newcomer_hears_server_full() {
    let server = Server::start_node(&["--max-connections", "2"]);
    let alice = server.user("alice");
    let _bob = server.user("bob");
    let mut third = server.client();
    assert_eq!(third.expect_closed(), ["ERROR \"server full\""]);
    drop(alice);
    server.wait_log("disconnect alice");
    server.user("carol");
}

#[test]
fn refusals_beyond_max_connections_do_not_flood_the_log() {
    let server = Server::start_node(&["--max-connections", "1"]);
    let alice = server.user("alice");
    let refused = 100;
    for _ in 0..refused {
        assert_eq!(server.client().expect_closed(), ["ERROR \"server full\""]);
    }
    drop(alice);
    // Logged after every refusal, so every refusal line is in by now.
    server.wait_log("disconnect alice");
    let logs = server.logs();
    let lines = logs.lines().filter(|l| l.contains("refused 127.")).count();
    // One burst, or two if the refusals straddle the end of a window; never one per
    // refusal.
    let most = 2 * imchat::server::LOG_BURST as usize;
    assert!(
        (1..=most).contains(&lines),
        "{lines} refusal lines for {refused} refusals:\n{logs}"
    );
}

#[test]
fn an_unregistered_connection_is_closed_at_the_deadline() {
    let server = Server::start_node(&["--register-timeout-ms", "300"]);
    let mut registered = server.user("alice");
    let mut idle = server.client();
    assert_eq!(
        idle.expect_closed(),
        ["ERROR \"registration timeout; closing\""]
    );
    server.wait_log("disconnect conn 1: timeout");
    registered.send("LIST_CONVERSATIONS");
    registered.recv_until("its answer", |l| l == "CONVERSATIONS {}");
}

#[test]
fn a_slow_reader_is_dropped_and_the_others_go_on() {
    // The limit is well above what one pass can queue for a healthy reader (64 lines of
    // 1 KiB per sender), so only the reader that stopped reading passes it.
    // Alice sends as fast as she can until the server gives up on `slow`.
    let server = Server::start_node(&[
        "--max-output",
        "262144",
        "--presence-interval-ms",
        "50",
        "--max-line-rate",
        "off",
    ]);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    let mut slow = server.user("slow");
    alice.send("INVITE [\"bob\",\"slow\"]");
    alice.expect_line("INVITATION [1,\"alice\"]");
    // One after the other, so the member order is known.
    let three = "CONVERSATIONS {\"1\":[\"alice\",\"bob\",\"slow\"]}";
    for member in [&mut bob, &mut slow] {
        member.recv_until("the invitation", |l| l.starts_with("INVITATION"));
        member.send("JOIN [1]");
        member.recv_until("its membership", |l| l.starts_with("CONVERSATIONS"));
    }
    alice.recv_until("three members", |l| l == three);
    bob.recv_until("three members", |l| l == three);

    // `slow` never reads again. Alice sends until the server gives up on it; alice and bob
    // read everything meanwhile, on threads, so neither becomes a slow reader itself.
    let text = "x".repeat(1024);
    let bob_reader = std::thread::spawn(move || {
        let (mut seen, mut slow_left) = (0u32, false);
        loop {
            let line = bob.recv_skipping_presence();
            match line.as_str() {
                "MESSAGE [1,\"alice\",\"done\"]" => return (seen, slow_left),
                "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}" => slow_left = true,
                _ if line.starts_with("MESSAGE [1,\"alice\",\"x") => seen += 1,
                _ => panic!("unexpected {line:?}"),
            }
        }
    });
    let mut writer = alice.sender();
    let alice_reader = std::thread::spawn(move || {
        while alice.recv_skipping_presence() != "MESSAGE [1,\"alice\",\"done\"]" {}
    });
    let mut sent = 0u32;
    while !server
        .logs()
        .contains("disconnect slow (conn 2): slow reader dropped")
    {
        assert!(sent < 100_000, "the slow reader was never dropped");
        writer.send(&format!("SEND_MESSAGE [1,\"{text}\"]"));
        sent += 1;
    }
    writer.send("SEND_MESSAGE [1,\"done\"]");
    let (seen, slow_left) = bob_reader.join().unwrap();
    alice_reader.join().unwrap();
    assert_eq!(seen, sent, "bob got every message");
    assert!(slow_left, "bob saw the slow reader leave the conversation");
}

#[test]
fn out_of_descriptors_pauses_accept_until_a_connection_closes() {
    let server = Server::start_in_shell("ulimit -n 32;", &[]);
    let mut clients: Vec<_> = (0..40).map(|_| server.client()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(&format!("REGISTER [\"u{i}\"]"));
    }
    server.wait_log("accept paused");
    // The kernel queues connections in order, so the first `accepted` were accepted.
    let accepted = server.logs().matches("] connect 127.0.0.1:").count();
    assert!((10..40).contains(&accepted), "accepted {accepted}");
    for client in &mut clients[..accepted] {
        client.expect("ONLINE_USERS ");
    }
    clients.remove(0);
    clients[accepted - 1].recv_until("its registration answer", |l| l.starts_with("ONLINE_USERS"));
    // Once when the descriptors ran out, at most once more after the one accept that the
    // freed descriptor allowed: retries while stalled log nothing.
    let pauses = server.logs().matches("accept paused").count();
    assert!(pauses <= 2, "logged {pauses} times");
}

#[test]
fn a_line_not_finished_in_time_gets_an_error_and_the_connection_closes() {
    let server = Server::start(&["--line-timeout-ms", "300"]);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    alice.send_raw(b"SEND_MESSAGE [1,\"and then");
    let said: Vec<String> = alice
        .expect_closed()
        .into_iter()
        .filter(|l| !l.starts_with("ONLINE_USERS"))
        .collect();
    assert_eq!(said, ["ERROR \"line not finished within 300 ms; closing\""]);
    server.wait_log("disconnect alice (conn 0): line timeout");
    bob.send("LIST_CONVERSATIONS");
    bob.recv_until("its answer", |l| l == "CONVERSATIONS {}");
}

#[test]
fn a_bad_flag_or_a_busy_address_exits_non_zero_without_a_panic() {
    let bin = env!("CARGO_BIN_EXE_imserver");
    let bad = Command::new(bin)
        .arg("--max-line")
        .arg("lots")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--max-line"), "{stderr}");
    let never = Command::new(bin)
        .args(["--max-line-rate", "0"])
        .output()
        .unwrap();
    assert!(!never.status.success(), "a rate of 0 would serve nothing");
    let stderr = String::from_utf8_lossy(&never.stderr);
    assert!(stderr.contains("or `off`"), "{stderr}");

    let server = Server::start(&[]);
    let busy = Command::new(bin)
        .args(["--listen", &server.addr.to_string()])
        .output()
        .unwrap();
    assert!(!busy.status.success());
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
