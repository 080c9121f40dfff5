//! `--target ws`: the im protocol over WebSocket, to imserver's `--http` address.
//!
//! A [`WsConnection`] is to a WebSocket what [`crate::client::Connection`] is to a TCP
//! connection: the socket, a read buffer and an outbox, driven by imload's loop. The
//! protocol adapter is the im one, unchanged: it builds lines and reads lines; this layer
//! puts each line in one masked text frame and hands each text frame's payload back as a
//! line, read in place from the buffer (no copy, no allocation per frame, as with TCP's
//! lines), so imload measures the server and not itself.
//!
//! The opening handshake is sent on connecting, during setup; the lines queued before the
//! server's `101` (the login) are held until it arrives, as RFC 6455 section 4.1 asks.

mod codec;

use std::io::{self, ErrorKind, Write};

use mio::net::TcpStream;
use tungstenite::protocol::frame::coding::{Control, OpCode};

use crate::buffer::{Drain, Got, Line, Outbox, ReadBuf, SpareBuffer};
use crate::client::CLIENT_MAX_LINE;
use crate::websocket::code;

use codec::{check_response, encode_frame, encode_line, next_frame, Incoming, MaskKeys};

use codec::close_code_name;

/// The handshake under way: what the server's `Sec-WebSocket-Accept` must be, and the
/// frames queued until it is checked.
#[derive(Debug)]
struct Upgrading {
    accept: String,
    held: Vec<Line>,
}

/// One non-blocking WebSocket client connection.
#[derive(Debug)]
pub struct WsConnection {
    socket: TcpStream,
    input: ReadBuf,
    /// Where the read buffer waits between reads, so it is allocated once.
    spare: SpareBuffer,
    out: Outbox,
    /// `Some` until the server's `101` has been read and checked.
    upgrading: Option<Upgrading>,
    keys: MaskKeys,
}

impl WsConnection {
    /// Wraps a connecting socket and queues the upgrade request to `host` (the `Host`
    /// header: the server's address as `HOST:PORT`).
    pub fn new(socket: TcpStream, host: &str) -> WsConnection {
        let _ = socket.set_nodelay(true);
        // Sixteen random bytes, base64 (RFC 6455 section 4.1), from tungstenite.
        let key = tungstenite::handshake::client::generate_key();
        let mut out = Outbox::new();
        out.push(Line::from(codec::handshake_request(host, &key)));
        WsConnection {
            socket,
            input: ReadBuf::new(),
            spare: SpareBuffer::default(),
            out,
            upgrading: Some(Upgrading {
                accept: codec::expected_accept(&key),
                held: Vec::new(),
            }),
            keys: MaskKeys::new(key.as_bytes()),
        }
    }

    /// The socket, to register with a `mio::Registry`.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// Queues one protocol line (with or without its `\n`) as one text frame.
    pub fn send(&mut self, line: &[u8]) {
        let mut frame = Vec::new();
        encode_line(line, self.keys.next_key(), &mut frame);
        self.push(Line::from(frame));
    }

    fn push(&mut self, frame: Line) {
        match &mut self.upgrading {
            Some(upgrading) => upgrading.held.push(frame),
            None => self.out.push(frame),
        }
    }

    /// Bytes queued and not yet written (frames held for the handshake not counted).
    pub fn queued(&self) -> usize {
        self.out.queued()
    }

    /// Writes queued output until done (`Ok(true)`) or `WouldBlock` (`Ok(false)`).
    pub fn flush(&mut self) -> io::Result<bool> {
        Ok(!self.out.flush_to(&mut self.socket)?.blocked)
    }

    /// Reads until `WouldBlock` or the end, checks the handshake's answer, and hands the
    /// payload of every text frame to `on_line`. Returns whether the server closed
    /// (normally: end of stream, or a close frame with 1000 or 1001); a close with another
    /// code, and anything imserver would never send, is an error that says what happened.
    /// `drain` says how far to read (see [`crate::buffer::Drain`]).
    pub fn receive_lines(
        &mut self,
        drain: Drain,
        mut on_line: impl FnMut(&str),
    ) -> io::Result<bool> {
        let mut drained = false;
        loop {
            if self.upgrading.is_some() {
                self.upgrade()?;
            }
            if self.upgrading.is_none() {
                if let Some(closed) = self.frames(&mut on_line)? {
                    return Ok(closed);
                }
            }
            if drained {
                // No read after the last line hands the buffer on, so it is done here.
                self.input.release_if_empty(&mut self.spare);
                return Ok(false);
            }
            match self.input.read_some(&mut self.socket, &mut self.spare) {
                Ok(Got { n: 0, .. }) => return Ok(true),
                Ok(got) => drained = drain.ends_at(got),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks the server's answer to the upgrade once its head has arrived, and releases
    /// the frames held meanwhile.
    fn upgrade(&mut self) -> io::Result<()> {
        let Some(upgrading) = &self.upgrading else {
            return Ok(());
        };
        let head = self.input.next_with(|buf| {
            check_response(buf, &upgrading.accept).map(|head| head.map(|n| ((), n)))
        });
        match head {
            Ok(None) => Ok(()),
            Ok(Some(())) => {
                for frame in self.upgrading.take().map(|u| u.held).unwrap_or_default() {
                    self.out.push(frame);
                }
                Ok(())
            }
            Err(e) => Err(io::Error::new(ErrorKind::InvalidData, e)),
        }
    }

    /// Acts on every complete frame in the buffer. `Some(closed)`: the server closed the
    /// WebSocket, and nothing more is to be read.
    fn frames(&mut self, on_line: &mut impl FnMut(&str)) -> io::Result<Option<bool>> {
        loop {
            let frame = self.input.next_with(|buf| next_frame(buf, CLIENT_MAX_LINE));
            match frame {
                Ok(None) => return Ok(None),
                Err(e) => return Err(io::Error::new(ErrorKind::InvalidData, e)),
                // As with TCP's empty lines: nothing to read.
                Ok(Some(Incoming::Text(""))) => {}
                Ok(Some(Incoming::Text(line))) => on_line(line),
                Ok(Some(Incoming::Ping(payload))) => {
                    let mut pong = Vec::new();
                    let op = OpCode::Control(Control::Pong);
                    encode_frame(op, payload, self.keys.next_key(), &mut pong);
                    self.out.push(Line::from(pong));
                }
                Ok(Some(Incoming::Pong)) => {}
                Ok(Some(Incoming::Close(code, reason))) => {
                    let reason = reason.to_string();
                    return self.closed(code, reason).map(Some);
                }
            }
        }
    }

    /// The server sent a close frame: answers it (best effort: the driver drops the
    /// connection right after) and says whether the close was a normal one.
    fn closed(&mut self, code: Option<u16>, reason: String) -> io::Result<bool> {
        let mut answer = Vec::new();
        let payload = code.map(u16::to_be_bytes).unwrap_or_default();
        let payload = &payload[..if code.is_some() { 2 } else { 0 }];
        let close = OpCode::Control(Control::Close);
        encode_frame(close, payload, self.keys.next_key(), &mut answer);
        let _ = self.socket.write(&answer);
        match code {
            None | Some(code::NORMAL) | Some(code::GOING_AWAY) => Ok(true),
            Some(code) => Err(io::Error::other(format!(
                "the server closed the WebSocket with {}: {reason:?}",
                close_code_name(code)
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
