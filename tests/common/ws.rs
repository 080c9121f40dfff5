//! A blocking WebSocket test client: tungstenite's own client (a real peer, not ours) over
//! a plain `TcpStream`, plus raw frames for what a well-behaved client never sends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use super::PATIENCE;

/// What the server sent next.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Line(String),
    /// A close frame, with its status code.
    Close(u16),
    /// The connection ended with no close frame.
    Ended,
}

pub struct WsClient {
    pub socket: WebSocket<TcpStream>,
}

impl WsClient {
    /// Connects to the page's WebSocket as a client that is no browser (no `Origin`).
    pub fn connect(http: SocketAddr) -> WsClient {
        WsClient::connect_from(http, None).expect("upgrade")
    }

    /// Connects as a page of `origin` would; `Err` holds the HTTP status if refused.
    pub fn connect_from(http: SocketAddr, origin: Option<&str>) -> Result<WsClient, u16> {
        let stream = TcpStream::connect(http).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut request = format!("ws://{http}/ws").into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        match tungstenite::client::client(request, stream) {
            Ok((socket, _)) => Ok(WsClient { socket }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("handshake failed: {e}"),
        }
    }

    /// Registers as `name` and returns the answer.
    pub fn user(http: SocketAddr, name: &str) -> WsClient {
        let mut client = WsClient::connect(http);
        client.send(&format!("REGISTER [\"{name}\"]"));
        let answer = client.recv();
        assert!(answer.starts_with("ONLINE_USERS "), "{answer}");
        client
    }

    /// Sends one line as one text frame.
    pub fn send(&mut self, line: &str) {
        self.socket.send(Message::text(line)).expect("send");
    }

    /// Writes bytes straight to the socket, framed or not.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stream = self.socket.get_mut();
        stream.write_all(bytes).expect("send");
    }

    /// The next thing the server sent (pings and pongs are shown as lines `PING`/`PONG:`).
    pub fn next(&mut self) -> Got {
        match self.socket.read() {
            Ok(Message::Text(text)) => Got::Line(text.to_string()),
            Ok(Message::Pong(payload)) => {
                Got::Line(format!("PONG:{}", String::from_utf8_lossy(&payload)))
            }
            Ok(Message::Close(frame)) => Got::Close(frame.map_or(1005, |f| u16::from(f.code))),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Got::Ended
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("nothing from the server in time")
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// The next line; fails on anything else.
    pub fn recv(&mut self) -> String {
        match self.next() {
            Got::Line(line) => line,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    /// Skips lines until one satisfies `pred`.
    pub fn recv_until(&mut self, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.recv();
            if pred(&line) {
                return line;
            }
        }
    }

    /// Lines until the close frame; returns them and its code. Then the server ends the
    /// stream.
    pub fn until_close(&mut self) -> (Vec<String>, u16) {
        let mut lines = Vec::new();
        loop {
            match self.next() {
                Got::Line(line) => lines.push(line),
                Got::Close(code) => return (lines, code),
                Got::Ended => panic!("ended with no close frame after {lines:?}"),
            }
        }
    }

    /// Whether the server ended the TCP stream (after its close frame).
    pub fn stream_ended(&mut self) -> bool {
        let mut rest = Vec::new();
        self.socket.get_mut().read_to_end(&mut rest).is_ok()
    }

    /// Starts the close handshake with a normal close.
    pub fn close(&mut self) {
        let frame = tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        self.socket.close(Some(frame)).expect("close");
    }
}
