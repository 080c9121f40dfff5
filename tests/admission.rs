//! Who may join, black-box against the real `imserver`: the password (`--password-file`),
//! the per-address cap (`--max-connections-per-ip`) and the bans for wrong passwords. The
//! clients all come from 127.0.0.1, so the tests that count per address pass
//! `--limit-loopback`. That a ban ends after a minute is tested on the pure module with a
//! clock of its own (`server::admission`), never here by waiting.

mod common;

use std::process::Command;
use std::time::Instant;

use common::imload::{assert_every_message_delivered_once, imload, SMALL_RUN};
use common::person::Person;
use common::{Client, Server, TempFile, PATIENCE};

const PASSWORD: &str = "correct-horse-8d1f";
const WRONG: &str = "wrong-guess-77a0";
const WRONG_PASSWORD: &str = "ERROR \"REGISTER: wrong password\"";

fn password_file(name: &str, contents: &str) -> TempFile {
    TempFile::write(&format!("admission-{name}"), contents)
}

/// A server with the password, and `flags`.
fn server_with_password(file: &str, flags: &[&str]) -> Server {
    // Read at start: gone once the server says it is listening.
    let file = password_file(file, &format!("{PASSWORD}\n"));
    let mut all = vec!["--password-file", file.path().to_str().unwrap()];
    all.extend_from_slice(flags);
    Server::start_node(&all)
}

fn register(name: &str, password: Option<&str>) -> String {
    match password {
        Some(password) => format!("REGISTER [\"{name}\",null,{{\"password\":\"{password}\"}}]"),
        None => format!("REGISTER [\"{name}\"]"),
    }
}

/// Waits until `needle` has been logged `n` times (a poll with the harness's patience).
fn wait_logged(server: &Server, needle: &str, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while server.logs().matches(needle).count() < n {
        assert!(
            Instant::now() < deadline,
            "{needle:?} not logged {n} times; logs:\n{}",
            server.logs()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn the_right_password_registers_and_a_wrong_or_missing_one_does_not() {
    let server = server_with_password("right-wrong", &[]);
    let mut client = server.client();
    client.send(&register("alice", None));
    client.expect_line(WRONG_PASSWORD);
    client.send(&register("alice", Some(WRONG)));
    client.expect_line(WRONG_PASSWORD);
    client.send("LIST_CONVERSATIONS");
    client.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");
    client.send(&register("alice", Some(PASSWORD)));
    client.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
}

#[test]
fn the_third_wrong_password_closes_the_connection_after_saying_so() {
    let server = server_with_password("third", &[]);
    let mut client = server.client();
    for _ in 0..3 {
        client.send(&register("mallory", Some(WRONG)));
    }
    client.expect_line(WRONG_PASSWORD);
    client.expect_line(WRONG_PASSWORD);
    assert_eq!(client.expect_closed(), [WRONG_PASSWORD]);
    server.wait_log("disconnect conn 0: too many wrong passwords");
}

#[test]
fn a_server_without_a_password_ignores_one() {
    let server = Server::start_node(&[]);
    let mut client = server.client();
    client.send(&register("alice", Some("anything")));
    client.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
}

#[test]
fn twenty_wrong_passwords_from_one_address_ban_it_and_the_ban_is_logged_once() {
    let server = server_with_password("ban", &["--limit-loopback"]);
    // Six connections spend their three tries each: 18 failures.
    for _ in 0..6 {
        let mut guesser = server.client();
        for _ in 0..3 {
            guesser.send(&register("mallory", Some(WRONG)));
        }
        assert_eq!(guesser.expect_closed().len(), 3);
    }
    let mut last = server.client();
    for _ in 0..2 {
        last.send(&register("mallory", Some(WRONG)));
        last.expect_line(WRONG_PASSWORD);
    }
    server.wait_log("banned 127.0.0.1 for 60 s: 20 wrong passwords within 60 s");
    let refused = "ERROR \"too many wrong passwords from your address; try again later\"";
    for _ in 0..3 {
        assert_eq!(server.client().expect_closed(), [refused]);
    }
    // A failure during the ban (the open connection's third) bans nothing anew.
    last.send(&register("mallory", Some(WRONG)));
    assert_eq!(last.expect_closed(), [WRONG_PASSWORD]);
    wait_logged(&server, ": too many wrong passwords", 7);
    assert_eq!(
        server.logs().matches("banned ").count(),
        1,
        "{}",
        server.logs()
    );
}

#[test]
fn an_address_gets_its_share_of_connections_and_a_closed_one_frees_a_slot() {
    let server = Server::start_node(&["--limit-loopback", "--max-connections-per-ip", "3"]);
    let users: Vec<Client> = ["a", "b", "c"].iter().map(|n| server.user(n)).collect();
    assert_eq!(
        server.client().expect_closed(),
        ["ERROR \"too many connections from your address\""]
    );
    server.wait_log("refused 127.0.0.1:");
    #[cfg(feature = "web")]
    assert!(fetch_status(&server).starts_with("HTTP/1.1 429 "));
    drop(users);
    wait_logged(&server, "disconnect ", 3);
    let _d = server.user("d");
}

#[test]
fn loopback_is_exempt_without_limit_loopback() {
    let server = Server::start_node(&["--max-connections-per-ip", "2"]);
    let _users: Vec<Client> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| server.user(n))
        .collect();
}

#[test]
fn imclient_sends_the_password_from_its_file() {
    let server = server_with_password("imclient", &[]);
    let addr = server.addr.to_string();
    let file = password_file("imclient-client", &format!("{PASSWORD}\r\n"));
    let mut command = Person::command(&addr, "alice");
    command.arg("--password-file").arg(file.path());
    let mut alice = Person::run("alice", command);
    alice.wait("* registered as alice (available)");
    // Without it, the server's answer is shown and the client gives up (exit code 1).
    let mut bob = Person::start(&addr, "bob");
    bob.wait("! REGISTER: wrong password");
    assert_eq!(bob.exit().code(), Some(1));
}

#[test]
fn imload_sends_the_password_from_its_file() {
    let server = server_with_password("imload", &[]);
    let addr = server.addr.to_string();
    let file = password_file("imload-client", &format!("{PASSWORD}\n"));
    let mut flags = vec!["--password-file", file.path().to_str().unwrap()];
    flags.extend(SMALL_RUN);
    let (output, report) = imload(&addr, &flags, "admission-password");
    assert!(output.status.success(), "{output:?}");
    assert_every_message_delivered_once(&report.expect("a report"), 3);
    let (output, _) = imload(&addr, &SMALL_RUN, "admission-no-password");
    assert!(!output.status.success(), "refused without it");
}

#[test]
fn an_unreadable_or_empty_password_file_stops_either_program_at_start() {
    let empty = password_file("empty", "\n");
    let missing =
        std::env::temp_dir().join(format!("imchat-admission-{}-none", std::process::id()));
    for file in [empty.path(), &missing] {
        let out = Command::new(env!("CARGO_BIN_EXE_imserver"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--http",
                "off",
                "--password-file",
            ])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = format!("imserver: cannot read --password-file {}: ", file.display());
        assert!(stderr.starts_with(&said), "{stderr}");
        assert!(!stderr.contains("listening"), "{stderr}");
        let out = Command::new(env!("CARGO_BIN_EXE_imclient"))
            .args(["--server", "127.0.0.1:9", "--password-file"])
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "a usage error");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("cannot read --password-file"), "{stderr}");
    }
}

#[test]
fn the_password_never_reaches_the_logs() {
    let server = server_with_password("logs", &["--log-level", "debug", "--limit-loopback"]);
    let mut client = server.client();
    client.send(&register("alice", Some(WRONG)));
    client.expect_line(WRONG_PASSWORD);
    client.send(&register("alice", Some(PASSWORD)));
    client.expect("ONLINE_USERS ");
    client.send("GOODBYE");
    client.expect_closed();
    server.wait_log("disconnect alice");
    let logs = server.logs();
    assert!(logs.contains("register alice"), "{logs}");
    assert!(!logs.contains(PASSWORD) && !logs.contains(WRONG), "{logs}");
}

/// The first line of what the HTTP listener answers a bare connection.
#[cfg(feature = "web")]
fn fetch_status(server: &Server) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(server.http()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}
