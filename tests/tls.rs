//! TLS on the server's own loop (`--tls-cert`, `--tls-key`), black-box: real handshakes over
//! 127.0.0.1 with certificates made at test time.

#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use common::tls::{Certs, TlsClient};
use common::{Client, Server, PATIENCE};

/// A server speaking TLS with `certs`, with these flags too.
fn tls_server(certs: &Certs, flags: &[&str]) -> Server {
    let tls = certs.server_flags();
    let mut all: Vec<&str> = tls.iter().map(String::as_str).collect();
    all.extend_from_slice(flags);
    Server::start(&all)
}

/// A TLS client registered as `name`.
fn tls_user(addr: SocketAddr, certs: &Certs, name: &str) -> TlsClient {
    let mut client = TlsClient::connect(addr, certs).expect("TLS handshake");
    client.send(&format!("REGISTER [\"{name}\"]"));
    client.wait_for("ONLINE_USERS ");
    client
}

#[test]
fn a_tls_client_and_a_plain_client_chat_through_one_server() {
    let certs = Certs::localhost();
    let server = tls_server(&certs, &["--listen-plain", "127.0.0.1:0"]);
    let plain_line = server.wait_log("without TLS (--listen-plain)");
    let plain_addr = server.listening_addrs()[1];
    assert!(plain_line.contains(&plain_addr.to_string()), "{plain_line}");

    let mut ann = tls_user(server.addr, &certs, "ann");
    let mut bob = Client::connect(plain_addr);
    bob.send("REGISTER [\"bob\"]");
    bob.expect("ONLINE_USERS ");

    ann.send("INVITE [\"bob\"]");
    let invitation = bob.recv_until("an invitation", |l| l.starts_with("INVITATION "));
    let id = common::invitation_id(&invitation);
    bob.send(&format!("JOIN [{id}]"));
    ann.wait_for("CONVERSATIONS ");
    ann.send(&format!("SEND_MESSAGE [{id},\"over TLS\"]"));
    assert_eq!(
        bob.recv_until("a message", |l| l.starts_with("MESSAGE ")),
        format!("MESSAGE [{id},\"ann\",\"over TLS\"]")
    );
    bob.send(&format!("SEND_MESSAGE [{id},\"in the clear\"]"));
    ann.wait_for(&format!("MESSAGE [{id},\"ann\",\"over TLS\"]"));
    assert_eq!(
        ann.wait_for("MESSAGE "),
        format!("MESSAGE [{id},\"bob\",\"in the clear\"]")
    );
}

#[test]
fn a_tls_reader_gets_a_long_burst_whole_and_in_order() {
    // More than the socket and rustls buffer together, sent while the reader does not
    // read: the server's writes meet `WouldBlock` with records waiting in rustls, and must
    // go on when the reader reads.
    let certs = Certs::localhost();
    let server = tls_server(&certs, &["--max-line-rate", "off"]);
    let mut ann = tls_user(server.addr, &certs, "ann");
    let mut bob = tls_user(server.addr, &certs, "bob");
    ann.send("INVITE [\"bob\"]");
    let id = common::invitation_id(&bob.wait_for("INVITATION "));
    bob.send(&format!("JOIN [{id}]"));
    ann.wait_for("CONVERSATIONS ");
    let text = "x".repeat(1000);
    const COUNT: usize = 3000;
    let mut burst = String::new();
    for i in 0..COUNT {
        burst.push_str(&format!("SEND_MESSAGE [{id},\"{i} {text}\"]\n"));
    }
    ann.send_raw(burst.as_bytes());
    for i in 0..COUNT {
        let line = bob.wait_for("MESSAGE ");
        let expected = format!("MESSAGE [{id},\"ann\",\"{i} {text}\"]");
        assert_eq!(line, expected, "message {i}");
    }
}

#[test]
fn a_plain_client_on_the_tls_port_is_closed_cleanly_and_the_server_goes_on() {
    let certs = Certs::localhost();
    let server = tls_server(&certs, &[]);
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    plain.write_all(b"REGISTER [\"ann\"]\n").unwrap();
    // A TLS alert at most, then the end of the stream: a close, not a reset and not a hang.
    let mut got = Vec::new();
    plain
        .read_to_end(&mut got)
        .expect("an orderly end of stream");
    assert!(got.len() < 64, "only an alert: {got:?}");
    assert!(!got.contains(&b'\n'), "no protocol line: {got:?}");
    server.wait_log("TLS failed");
    // The listener still serves TLS clients.
    let _ann = tls_user(server.addr, &certs, "ann");
}

#[test]
fn a_handshake_that_stalls_is_closed_by_the_registration_deadline() {
    let certs = Certs::localhost();
    let server = tls_server(&certs, &["--register-timeout-ms", "200"]);
    // Half a real ClientHello, then nothing.
    let config = certs.client_config();
    let mut session = imchat::tls::client_session(&config, "localhost").unwrap();
    let mut hello = Vec::new();
    session.write_tls(&mut hello).unwrap();
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.set_read_timeout(Some(PATIENCE)).unwrap();
    stalled.write_all(&hello[..hello.len() / 2]).unwrap();
    let mut got = Vec::new();
    stalled
        .read_to_end(&mut got)
        .expect("closed, not left hanging");
    server.wait_log(": timeout");
}

#[test]
fn the_page_is_served_over_https_on_the_http_listener() {
    let certs = Certs::localhost();
    let server = tls_server(&certs, &[]);
    assert!(server
        .wait_log("web page at https://")
        .contains(&server.http().to_string()));
    let mut page = TlsClient::connect(server.http(), &certs).expect("TLS handshake");
    page.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let response = String::from_utf8(page.read_to_end()).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "{response:.200}"
    );
    assert!(response.contains("<html"), "{response:.400}");
}

#[test]
fn unreadable_or_mismatched_certificate_files_stop_the_server_at_start_naming_them() {
    let certs = Certs::localhost();
    let other = Certs::localhost();
    let missing = certs.file("placeholder", "").with_file_name("missing.pem");
    let cert = certs.cert.display().to_string();
    let key = certs.key.display().to_string();
    let cases = [
        (
            missing.display().to_string(),
            key.clone(),
            "cannot read --tls-cert",
        ),
        (
            cert.clone(),
            missing.display().to_string(),
            "cannot read --tls-key",
        ),
        (
            cert.clone(),
            other.key.display().to_string(),
            "does not go with --tls-cert",
        ),
        (key.clone(), key.clone(), "no certificate in it"),
    ];
    for (cert, key, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_imserver"))
            .args(["--listen", "127.0.0.1:0", "--http", "off"])
            .args(["--tls-cert", &cert, "--tls-key", &key])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(expected),
            "{stderr:?} should say {expected:?}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
    // One file without the other is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_imserver"))
        .args(["--tls-cert", &cert])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
