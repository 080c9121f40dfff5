//! A [`Connection`] over TLS against a rustls server on a real loopback socket, both ends
//! driven by hand in one thread: the handshake made of flushes and reads, lines both ways,
//! and a drain that over TLS does not stop at a short read.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};

use super::*;
use crate::tls::TlsStream;

/// How long a hand-driven exchange over loopback may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// A certificate for `localhost` made now: the server's configuration, and the client's
/// TLS trusting it (`trusted`) or trusting another certificate only.
fn tls(trusted: bool) -> (Arc<ServerConfig>, ClientTls) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("imchat-client-{}-{n}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let write = |name: &str| -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        fs::write(&cert, made.cert.pem()).unwrap();
        fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    };
    let (cert, key) = write("server");
    let server = crate::tls::server_config(&cert, &key).unwrap();
    let ca = if trusted { cert } else { write("stranger").0 };
    let client = ClientTls::new(Some(&ca), "localhost:0").unwrap();
    (server, client)
}

/// A client connection to a fresh listener, and the server's end with TLS over it.
fn connect(trusted: bool) -> (Connection, TlsStream<TcpStream>) {
    let (server_config, client_tls) = tls(trusted);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let conn = Connection::connect(addr, Some(&client_tls)).unwrap();
    let (socket, _) = listener.accept().unwrap();
    socket.set_nonblocking(true).unwrap();
    let server = TlsStream::new(socket, ServerConnection::new(server_config).unwrap());
    (conn, server)
}

/// Everything the server's end has, read to `WouldBlock`, its records written.
fn serve(server: &mut TlsStream<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    let read = loop {
        match server.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let _ = server.write_records();
    read.map(|()| got)
}

/// Both ends in turn, as two loops would, until the server has read `want` bytes or the
/// client's read fails; returns what the server read and the client's lines.
fn exchange(
    conn: &mut Connection,
    server: &mut TlsStream<TcpStream>,
    want: usize,
) -> std::io::Result<(Vec<u8>, Vec<String>)> {
    let deadline = Instant::now() + PATIENCE;
    let (mut got, mut lines) = (Vec::new(), Vec::new());
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "no progress; server read {got:?}"
        );
        if conn.wants_write() {
            // `Ok(false)` (blocked, or connecting still) is tried again next turn.
            conn.flush()?;
        }
        got.extend(serve(server).unwrap());
        conn.receive_lines(|line| lines.push(line.to_string()))?;
    }
    Ok((got, lines))
}

#[test]
fn the_handshake_is_flushes_and_reads_then_lines_go_both_ways() {
    let (mut conn, mut server) = connect(true);
    assert!(
        conn.wants_write(),
        "the ClientHello waits for the first flush"
    );
    conn.send_line(Line::from(&b"REGISTER [\"ann\"]\n"[..]));
    let request = b"REGISTER [\"ann\"]\n";
    let (got, _) = exchange(&mut conn, &mut server, request.len()).unwrap();
    assert_eq!(got, request);

    server.write_all(b"ONLINE_USERS {}\n").unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut lines = Vec::new();
    while lines.is_empty() {
        assert!(Instant::now() < deadline, "the reply never came");
        conn.receive_lines(|line| lines.push(line.to_string()))
            .unwrap();
    }
    assert_eq!(lines, ["ONLINE_USERS {}"]);
}

#[test]
fn over_tls_a_drain_to_a_short_read_still_reads_every_line_there_is() {
    let (mut conn, mut server) = connect(true);
    let request = b"REGISTER [\"ann\"]\n";
    conn.send_line(Line::from(&request[..]));
    exchange(&mut conn, &mut server, request.len()).unwrap();
    // Many small records: rustls decrypts a few per socket read, so a read comes back
    // short while the kernel still holds the rest.
    let count = 300;
    for i in 0..count {
        let line = format!("MESSAGE [1,\"bob\",\"line {i}\"]\n");
        server.write_all(line.as_bytes()).unwrap();
    }
    server.flush().unwrap();
    let mut lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    // Loopback hands the bytes over as they are written; the first line is there at once,
    // the last as soon as the kernel has them all, which one drain must then read.
    while lines.is_empty() {
        assert!(Instant::now() < deadline, "nothing arrived");
        conn.receive_lines_with(Drain::ToShortRead, |line| lines.push(line.to_string()))
            .unwrap();
    }
    assert_eq!(lines.len(), count, "one drain read all: {:?}", lines.last());
}

#[test]
fn a_certificate_the_client_does_not_trust_is_a_failed_read_that_says_so() {
    let (mut conn, mut server) = connect(false);
    conn.send_line(Line::from(&b"REGISTER [\"ann\"]\n"[..]));
    let e = exchange(&mut conn, &mut server, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("certificate"), "{e}");
    // The client told the server why: its alert fails the server's read.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match serve(&mut server) {
            Err(e) => break assert!(e.to_string().contains("alert"), "{e}"),
            Ok(_) => assert!(Instant::now() < deadline, "no alert came"),
        }
    }
}
