//! What the server logs, and where: every line on standard error; `--log-level` over
//! `RUST_LOG` over the default; other crates at warn unless named; and never what a client
//! says, even at debug.

mod common;

use common::Server;

#[test]
fn logs_go_to_stderr_and_stdout_stays_empty() {
    let server = Server::start(&[]);
    let _alice = server.user("alice");
    server.wait_log("register alice");
    // Both lines came through some pipe; had either been standard output, it would be here.
    assert_eq!(server.stdout(), Vec::<String>::new());
}

#[test]
fn at_debug_a_line_is_logged_by_its_command_and_size_never_its_text() {
    let server = Server::start(&["--log-level", "debug"]);
    let mut alice = server.user("alice");
    alice.send("INVITE []");
    alice.expect_line("INVITATION [1,\"alice\"]");
    alice.send("SEND_MESSAGE [1,\"Zanzibar meets at noon\"]");
    alice.expect_line("MESSAGE [1,\"alice\",\"Zanzibar meets at noon\"]");
    // Chat typed into a raw connection, no command in front: its first word is no command
    // name, and must not be logged as one.
    alice.send("Zanzibar-at-noon is the plan");
    alice.expect("ERROR ");
    alice.send("GOODBYE");
    // Everything logged about those lines came before this one.
    server.wait_log("disconnect alice");
    let logs = server.logs();
    assert!(
        !logs.to_lowercase().contains("zanzibar"),
        "message text in the logs:\n{logs}"
    );
    // The debug lines are there: the test does not pass on a log without them.
    assert!(
        logs.contains("conn 0 sent SEND_MESSAGE (41 bytes)"),
        "{logs}"
    );
    assert!(
        logs.contains("conn 0 sent an unknown command (28 bytes)"),
        "{logs}"
    );
}

#[test]
fn rust_log_sets_the_level_when_no_flag_does() {
    let server = Server::start_at("127.0.0.1:0", &[("RUST_LOG", "debug")], &[]);
    let _alice = server.user("alice");
    server.wait_log("conn 0 sent REGISTER (");
}

#[test]
fn the_flag_overrides_rust_log() {
    let server = Server::start_at(
        "127.0.0.1:0",
        &[("RUST_LOG", "debug")],
        &["--log-level", "info"],
    );
    let _alice = server.user("alice");
    // Logged after the line's debug line would have been.
    server.wait_log("register alice");
    assert!(!server.logs().contains("DEBUG"), "{}", server.logs());
}

#[test]
fn rust_log_per_module_hides_what_it_names() {
    // The lifecycle module's info lines ("disconnect ...") hidden, the loop's
    // ("register ...") shown.
    let quiet_lifecycle = "info,imchat::server::event_loop::lifecycle=warn";
    let server = Server::start_at("127.0.0.1:0", &[("RUST_LOG", quiet_lifecycle)], &[]);
    let mut bob = server.user("bob");
    let mut alice = server.user("alice");
    alice.send("GOODBYE");
    alice.expect_closed();
    // Bob hears that alice left: her disconnect has been handled, and would have been
    // logged by now.
    bob.recv_until("alice gone", |l| {
        l.starts_with("ONLINE_USERS ") && !l.contains("alice")
    });
    server.wait_log("register alice");
    assert!(!server.logs().contains("disconnect "), "{}", server.logs());
}

#[test]
fn other_crates_stay_quiet_at_trace_unless_rust_log_names_them() {
    let server = Server::start(&["--log-level", "trace"]);
    let _alice = server.user("alice");
    server.wait_log("register alice");
    // mio logs every registration with its poll at TRACE.
    assert!(!server.logs().contains("[mio"), "{}", server.logs());

    let asked = Server::start_at("127.0.0.1:0", &[("RUST_LOG", "mio=trace")], &[]);
    let _bob = asked.user("bob");
    asked.wait_log("[mio");
}
