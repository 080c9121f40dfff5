//! A [`WsConnection`] against tungstenite's own server: an independent implementation
//! that checks the handshake and refuses unmasked client frames.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

use super::*;

/// How long a step may take before the test fails; a passing run takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// The server's side: reads the client's first frame, sends a line and a ping, expects
/// the pong, then closes with 1008. Returns what it read.
fn serve_one(listener: TcpListener) -> Result<(String, Vec<u8>), String> {
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(PATIENCE))
        .map_err(|e| e.to_string())?;
    let mut ws = tungstenite::accept(stream).map_err(|e| e.to_string())?;
    let first = match ws.read().map_err(|e| e.to_string())? {
        Message::Text(text) => text.to_string(),
        other => return Err(format!("expected a text frame, got {other:?}")),
    };
    ws.send(Message::text("ONLINE_USERS {\"u1\":\"available\"}"))
        .and_then(|()| ws.send(Message::Ping(b"are you there".to_vec().into())))
        .map_err(|e| e.to_string())?;
    let pong = match ws.read().map_err(|e| e.to_string())? {
        Message::Pong(bytes) => bytes.to_vec(),
        other => return Err(format!("expected a pong, got {other:?}")),
    };
    let close = CloseFrame {
        code: CloseCode::Policy,
        reason: "too fast".into(),
    };
    ws.close(Some(close)).map_err(|e| e.to_string())?;
    // The client answers the close; tungstenite then reports the closed connection.
    while ws.read().is_ok() {}
    Ok((first, pong))
}

#[test]
fn a_websocket_client_talks_to_tungstenites_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || serve_one(listener));

    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nonblocking(true).unwrap();
    let mut conn = WsConnection::new(TcpStream::from_std(stream), &addr.to_string());
    // Queued before the 101: held until the handshake is checked.
    conn.send(b"REGISTER [\"u1\"]\n");
    let mut poll = Poll::new().unwrap();
    let interest = Interest::READABLE | Interest::WRITABLE;
    poll.registry()
        .register(conn.socket(), Token(0), interest)
        .unwrap();
    let mut events = Events::with_capacity(8);
    let mut lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let outcome = loop {
        assert!(Instant::now() < deadline, "no close after {lines:?}");
        conn.flush().unwrap();
        poll.poll(&mut events, Some(deadline - Instant::now()))
            .unwrap();
        match conn.receive_lines(crate::buffer::Drain::ToWouldBlock, |line| {
            lines.push(line.to_string())
        }) {
            Ok(false) => {}
            other => break other,
        }
    };
    let (first, pong) = server.join().unwrap().unwrap();
    assert_eq!(first, "REGISTER [\"u1\"]", "one frame, no newline");
    assert_eq!(pong, b"are you there");
    assert_eq!(lines, ["ONLINE_USERS {\"u1\":\"available\"}"]);
    let why = outcome.unwrap_err().to_string();
    assert!(
        why.contains("1008 (Policy)") && why.contains("too fast"),
        "{why}"
    );
}
