//! The client side of TLS as a user meets it: real `imclient`, `imload` and `doctor`
//! processes with `--tls` against a real `imserver` that speaks TLS on every listener
//! (`--tls-cert`, `--tls-key`, a certificate for `localhost` and `127.0.0.1` made at test
//! time), beside a blocking TLS test client. Every wait is for a line, never a sleep.
#![cfg(feature = "tls")]

mod common;

use std::io::BufReader;
use std::process::{Child, Command, Output, Stdio};

use common::example::{example_path, lines_of};
use common::imload::{assert_every_message_delivered_once, imload, SMALL_RUN};
use common::person::{conv_id, Person};
use common::tls::{Certs, TlsClient};
use common::{Client, Server, PATIENCE};

/// A server on `listen` speaking TLS with `certs`, presence changes sent within 20 ms,
/// with `flags` too.
fn tls_server_at(listen: &str, certs: &Certs, flags: &[&str]) -> Server {
    let tls = certs.server_flags();
    let mut all = vec!["--presence-interval-ms", "20"];
    all.extend(tls.iter().map(String::as_str));
    all.extend_from_slice(flags);
    Server::start_at(listen, &[], &all)
}

fn tls_server(certs: &Certs) -> Server {
    tls_server_at("127.0.0.1:0", certs, &[])
}

/// `imclient --tls --ca CA` as `name`, to the server's address as typed here.
fn tls_person(server: &Server, name: &str, ca: &std::path::Path) -> Person {
    let mut command = Person::command(&server.addr.to_string(), name);
    command.arg("--tls").arg("--ca").arg(ca);
    Person::run(name, command)
}

/// A raw TLS user, registered.
fn tls_user(server: &Server, certs: &Certs, name: &str) -> TlsClient {
    let mut user = TlsClient::connect(server.addr, certs).expect("TLS handshake");
    user.send(&format!("REGISTER [\"{name}\"]"));
    user.wait_for("ONLINE_USERS ");
    user
}

/// `imclient` with `flags` and nothing on stdin, run to its end.
fn imclient(flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imclient"))
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .expect("run imclient")
}

#[test]
fn imclient_over_tls_chats_with_a_plain_user_of_the_same_server_both_ways() {
    let certs = Certs::localhost();
    let server = tls_server_at("127.0.0.1:0", &certs, &["--listen-plain", "127.0.0.1:0"]);
    server.wait_log("without TLS (--listen-plain)");
    let plain = server.listening_addrs()[1];
    let mut alice = tls_person(&server, "alice", &certs.cert);
    alice.wait("* registered as alice (available)");
    let mut bob = Client::connect(plain);
    bob.send("REGISTER [\"bob\"]");
    bob.expect("ONLINE_USERS ");
    alice.wait("* bob came online (available)");

    alice.type_line("/invite bob");
    let id = conv_id(&alice.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }));
    bob.recv_until("the invitation", |l| {
        l.starts_with(&format!("INVITATION [{id},"))
    });
    bob.send(&format!("JOIN [{id}]"));
    alice.wait(&format!("[{id}] * bob joined"));
    alice.type_line("hello bob");
    let said = format!("MESSAGE [{id},\"alice\",\"hello bob\"]");
    bob.recv_until("alice's message", |l| l == said);

    // Longer than one TLS record (16 KiB): the line arrives in several, and is whole.
    let long = "x".repeat(40_000);
    bob.send(&format!("SEND_MESSAGE [{id},\"{long}\"]"));
    alice.wait(&format!("[{id}] bob: {long}"));
    // A burst: many records in one read; the screen shows every line, once, in order.
    for i in 0..200 {
        bob.send(&format!("SEND_MESSAGE [{id},\"burst {i}\"]"));
    }
    for i in 0..200 {
        alice.wait(&format!("[{id}] bob: burst {i}"));
    }

    assert!(alice.exit().success(), "{:?}", alice.screen);
    assert_eq!(alice.count(&format!("[{id}] bob: burst 199")), 1);
}

#[test]
fn imclient_reconnects_over_tls_to_a_restarted_server() {
    let certs = Certs::localhost();
    let mut server = tls_server(&certs);
    let addr = server.addr;
    let mut alice = tls_person(&server, "alice", &certs.cert);
    alice.wait("* registered as alice (available)");
    server.signal(libc::SIGKILL);
    server.wait_exit();
    alice.wait_for("the connection lost", |l| {
        l.ends_with("; reconnecting in 0.5 s")
    });
    // Bound before: the new server gets the same port (mio sets SO_REUSEADDR).
    let server = tls_server_at(&addr.to_string(), &certs, &[]);
    alice.wait(&format!("* reconnected to {addr}"));
    alice.wait("* registered as alice (available)");
    // Still over TLS: a TLS user hears alice's messages.
    let mut bob = tls_user(&server, &certs, "bob");
    alice.wait("* bob came online (available)");
    alice.type_line("/invite bob");
    let id = conv_id(&alice.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }));
    bob.wait_for(&format!("INVITATION [{id},"));
    bob.send(&format!("JOIN [{id}]"));
    alice.wait(&format!("[{id}] * bob joined"));
    alice.type_line("still private");
    bob.wait_for(&format!("MESSAGE [{id},\"alice\",\"still private\"]"));
    assert!(alice.exit().success());
}

#[test]
fn imclient_with_a_ca_that_did_not_sign_the_certificate_fails_with_a_certificate_error() {
    let certs = Certs::localhost();
    let stranger = Certs::localhost();
    let server = tls_server(&certs);
    let mut eve = tls_person(&server, "eve", &stranger.cert);
    let line = eve.wait_for("a failure to connect", |l| {
        l.starts_with("! cannot connect")
    });
    assert!(line.contains("certificate"), "{line}");
    let status = eve.exit();
    assert_eq!(status.code(), Some(1), "{:?}", eve.screen);
    assert!(!eve.screen.iter().any(|l| l.starts_with("* registered")));
}

#[test]
fn imclient_without_tls_on_a_tls_port_says_to_add_tls() {
    let certs = Certs::localhost();
    let server = tls_server(&certs);
    let addr = server.addr.to_string();
    let out = imclient(&["--server", &addr, "--name", "ann", "--no-reconnect"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(if it speaks TLS, add --tls)"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

#[test]
fn imclient_checks_the_name_typed_in_server_against_the_certificate() {
    let certs = Certs::localhost();
    // The certificate names localhost and 127.0.0.1, not 127.0.0.2 (loopback too).
    let server = tls_server_at("127.0.0.2:0", &certs, &[]);
    let mut mallory = tls_person(&server, "mallory", &certs.cert);
    let line = mallory.wait_for("a failure to connect", |l| {
        l.starts_with("! cannot connect")
    });
    assert!(line.contains("certificate"), "{line}");
    assert_eq!(mallory.exit().code(), Some(1));
}

#[test]
fn imclient_tls_flags_misused_are_usage_errors() {
    let certs = Certs::localhost();
    let missing = certs.cert.with_file_name("missing.pem");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (&["--ca", missing], "--tls"),
        (&["--tls", "--ca", missing], "missing.pem"),
        (&["--tls", "--discover"], "--discover"),
    ];
    for (flags, said) in cases {
        let output = imclient(flags);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(said), "{flags:?}: {stderr}");
    }
}

#[test]
fn imload_over_tls_delivers_every_message_and_says_tls() {
    let certs = Certs::localhost();
    let server = tls_server(&certs);
    let ca = certs.cert.to_str().unwrap();
    let mut flags = SMALL_RUN.to_vec();
    flags.extend(["--tls", "--ca", ca]);
    let (output, report) = imload(&server.addr.to_string(), &flags, "tls");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("a JSON report");
    assert_eq!(report["tls"], true, "{report}");
    assert_every_message_delivered_once(&report, 3);
    assert!(stdout.contains("target im over TLS"), "{stdout}");
}

#[test]
fn imload_with_a_ca_that_did_not_sign_the_certificate_fails_and_says_why() {
    let certs = Certs::localhost();
    let stranger = Certs::localhost();
    let server = tls_server(&certs);
    let ca = stranger.cert.to_str().unwrap();
    let flags = ["--clients", "2", "--members", "2", "--tls", "--ca", ca];
    let (output, report) = imload(&server.addr.to_string(), &flags, "tls-stranger");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(report.is_none());
}

#[test]
fn imload_tls_is_for_the_im_target_only() {
    let output = Command::new(env!("CARGO_BIN_EXE_imload"))
        .args(["--target", "redis", "--tls", "--server", "127.0.0.1:1"])
        .output()
        .expect("run imload");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls is for --target im only"), "{stderr}");
}

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_doctor_answers_over_tls() {
    let certs = Certs::localhost();
    let server = tls_server(&certs);
    let addr = server.addr.to_string();
    let ca = certs.cert.to_str().unwrap();
    let mut doctor = Killed(
        Command::new(example_path("doctor"))
            .args(["--server", &addr, "--tls", "--ca", ca])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the doctor"),
    );
    let lines = lines_of(BufReader::new(doctor.0.stdout.take().unwrap()));
    let first = lines.recv_timeout(PATIENCE);
    assert_eq!(first.as_deref(), Ok("doctor: registered as doctor"));
    let mut patient = tls_user(&server, &certs, "patient");
    patient.send("INVITE [\"doctor\"]");
    let id = common::invitation_id(&patient.wait_for("INVITATION ["));
    let greeting = patient.wait_for(&format!("MESSAGE [{id},\"doctor\","));
    assert!(greeting.contains("Good day."), "{greeting}");
}
