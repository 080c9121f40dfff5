//! [`TlsStream`] on both sides of a real non-blocking socket pair: the handshake, lines both
//! ways, what a full socket and a cut stream look like from above.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use rustls::ServerConnection;

use super::*;

/// A certificate for `localhost`, made now, as the server's config and a client's that
/// trusts it.
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = fresh_dir();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert, made.cert.pem()).unwrap();
    fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = server_config(&cert, &key).unwrap();
    let client = client_config(Some(&cert)).unwrap();
    (server, client)
}

/// A directory of its own for each test's files (tests run in parallel).
fn fresh_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("imchat-tls-unit-{}-{n}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

type Pair = (TlsStream<UnixStream>, TlsStream<UnixStream>);

/// A server and a client stream over a non-blocking socket pair, handshake not started.
fn pair() -> Pair {
    let (server_config, client_config) = configs();
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let server = TlsStream::new(a, ServerConnection::new(server_config).unwrap());
    let client = TlsStream::new(b, client_session(&client_config, "localhost").unwrap());
    (server, client)
}

/// Reads what is there, as a loop does on a readable event: until `WouldBlock`.
fn read_all(stream: &mut TlsStream<UnixStream>) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(got),
            Err(e) => return Err(e),
        }
    }
}

/// Both sides read and write their records until neither has any: a handshake, with each
/// step as a loop would take it.
fn pump((server, client): &mut Pair) {
    for _ in 0..16 {
        for side in [&mut *client, &mut *server] {
            read_all(side).unwrap();
            let _ = side.write_records();
        }
        if !server.is_handshaking() && !client.is_handshaking() {
            return;
        }
    }
    panic!("the handshake did not finish");
}

#[test]
fn a_handshake_and_lines_both_ways() {
    let mut pair = pair();
    pump(&mut pair);
    let (server, client) = &mut pair;
    client.write_all(b"REGISTER [\"ann\"]\n").unwrap();
    assert_eq!(read_all(server).unwrap(), b"REGISTER [\"ann\"]\n");
    server.write_all(b"ONLINE_USERS {}\n").unwrap();
    assert_eq!(read_all(client).unwrap(), b"ONLINE_USERS {}\n");
}

#[test]
fn plaintext_written_before_the_handshake_ends_goes_out_after_it() {
    let mut pair = pair();
    let (server, _) = &mut pair;
    assert!(server.is_handshaking());
    server.write_all(b"ERROR \"early\"\n").unwrap();
    pump(&mut pair);
    let (server, client) = &mut pair;
    let _ = server.write_records();
    assert_eq!(read_all(client).unwrap(), b"ERROR \"early\"\n");
}

#[test]
fn a_socket_that_takes_nothing_makes_writes_say_would_block_and_records_wait() {
    let mut pair = pair();
    pump(&mut pair);
    let (server, client) = &mut pair;
    let line = [b'x'; 1000];
    let mut taken = 0;
    let blocked = loop {
        match server.write(&line) {
            Ok(n) => taken += n,
            Err(e) => break e,
        }
        assert!(taken < 64 << 20, "writes never blocked");
    };
    assert_eq!(blocked.kind(), ErrorKind::WouldBlock);
    assert!(
        server.wants_write(),
        "what the socket did not take waits in rustls"
    );
    // The peer reads: the records that waited go out, and every byte taken arrives.
    let mut got = read_all(client).unwrap().len();
    while got < taken {
        match server.write_records() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => other.unwrap(),
        }
        got += read_all(client).unwrap().len();
    }
    assert_eq!(got, taken);
    assert!(!server.wants_write());
}

#[test]
fn input_that_is_not_tls_is_invalid_data_with_an_alert_for_the_peer() {
    let (mut server, mut client) = pair();
    client
        .socket_mut()
        .write_all(b"REGISTER [\"ann\"]\n")
        .unwrap();
    let e = read_all(&mut server).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(server.wants_write(), "an alert is queued");
}

#[test]
fn the_end_of_stream_reads_as_zero_with_or_without_close_notify() {
    for notify in [true, false] {
        let mut pair = pair();
        pump(&mut pair);
        let (server, client) = &mut pair;
        client.write_all(b"GOODBYE\n").unwrap();
        if notify {
            client.close_notify();
            client.write_records().unwrap();
        }
        client.socket().shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_all(server).unwrap(), b"GOODBYE\n", "notify: {notify}");
        let mut buf = [0; 16];
        assert_eq!(server.read(&mut buf).unwrap(), 0, "notify: {notify}");
    }
}

#[test]
fn files_that_are_missing_or_wrong_are_named_in_the_error() {
    let dir = fresh_dir();
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key, other_key, empty) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("other.pem"),
        dir.join("empty.pem"),
    );
    fs::write(&cert, one.cert.pem()).unwrap();
    fs::write(&key, one.signing_key.serialize_pem()).unwrap();
    fs::write(&other_key, two.signing_key.serialize_pem()).unwrap();
    fs::write(&empty, "").unwrap();
    let missing = dir.join("missing.pem");
    let cases = [
        (&missing, &key, "cannot read --tls-cert"),
        (&cert, &missing, "cannot read --tls-key"),
        (&empty, &key, "no certificate in it"),
        (&cert, &empty, "no private key in it"),
        (&key, &key, "no certificate in it"),
        (&cert, &other_key, "does not go with --tls-cert"),
    ];
    for (cert, key, expected) in cases {
        let e = server_config(cert, key).unwrap_err();
        assert!(e.contains(expected), "{e:?} should say {expected:?}");
    }
    assert!(server_config(&cert, &key).is_ok());
}
