//! WebSocket framing (RFC 6455) on the server's side, sans-IO: a pure reader that turns the
//! bytes a connection received into messages, and the few frames the server writes.
//!
//! One text message carries one protocol line, without its `\n`, in both directions, so the
//! dispatcher never knows which transport a line came by. Frame headers are parsed and
//! formatted by tungstenite's codec ([`FrameHeader`]); this module only decides what the
//! frames mean: masked client frames are required, fragments are joined within the line
//! limit, control frames are answered, and every violation names its close code.
//!
//! Like [`crate::framing`], [`Reader::next`] works straight over the connection's read
//! buffer: an unfragmented text frame (what browsers send) is unmasked in place and handed
//! on as a `&str` without a copy.

use std::fmt;
use std::io::Cursor;

use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// The longest header of a frame the server sends: no mask, a 64-bit length.
pub const MAX_SERVER_HEADER: usize = 10;

/// Control frames carry at most this much (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// What one complete frame from the client means.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A whole message: one protocol line, its `\n` (if it had one) taken off.
    Line(&'a str),
    /// A whole message that is not one line (it holds a newline): refused with an `ERROR`,
    /// the connection stays open, as for any other bad line.
    NotOneLine,
    /// Part of a fragmented message, kept until its last fragment.
    Fragment,
    /// A ping: answered with a pong carrying the same bytes.
    Ping(&'a [u8]),
    /// A pong: nothing to do (the server never pings).
    Pong,
    /// The client starts the close handshake, with this status code (1005 if none).
    Close(u16),
}

/// A violation of RFC 6455 (or of the line limit): the connection is closed with
/// [`WsError::close_code`], after an `ERROR` that says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsError {
    /// Client frames must be masked (§5.1).
    Unmasked,
    /// A reserved bit or opcode, with no extension negotiated; a control frame fragmented
    /// or too long; a continuation with nothing to continue, or a new message before the
    /// last one ended; a bad close code.
    Protocol(&'static str),
    /// Binary messages carry no protocol line.
    Binary,
    /// A text message that is not UTF-8.
    NotUtf8,
    /// A message longer than the line limit (bytes).
    TooBig { limit: usize },
}

impl WsError {
    /// The status code the close frame carries (RFC 6455 §7.4.1).
    pub fn close_code(self) -> u16 {
        u16::from(match self {
            WsError::Unmasked | WsError::Protocol(_) => CloseCode::Protocol,
            WsError::Binary => CloseCode::Unsupported,
            WsError::NotUtf8 => CloseCode::Invalid,
            WsError::TooBig { .. } => CloseCode::Size,
        })
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::Unmasked => f.write_str("client frames must be masked"),
            WsError::Protocol(what) => f.write_str(what),
            WsError::Binary => f.write_str("binary messages are not accepted; send text"),
            WsError::NotUtf8 => f.write_str("message is not UTF-8"),
            WsError::TooBig { limit } => write!(f, "message longer than {limit} bytes"),
        }
    }
}

impl std::error::Error for WsError {}

/// One connection's incoming side: the fragments of an unfinished message.
#[derive(Debug, Default)]
pub struct Reader {
    /// The fragments so far, unmasked; empty (no allocation) between messages.
    message: Vec<u8>,
    /// A fragmented message has begun and not ended.
    fragmented: bool,
    /// The last call handed out `message` as a line: cleared at the next call.
    handed_out: bool,
}

impl Reader {
    /// Whether part of a message is held (for the line deadline).
    pub fn has_partial(&self) -> bool {
        self.fragmented
    }

    /// Reads the next complete frame from `buf` (the unconsumed input), unmasking its
    /// payload in place. `Ok(Some((what, used)))`: the frame used `used` bytes;
    /// `Ok(None)`: no complete frame yet, read more. A frame too long for the limit is
    /// refused as soon as its header says so, before its payload is buffered.
    pub fn next<'a>(
        &'a mut self,
        buf: &'a mut [u8],
        max_line: usize,
    ) -> Result<Option<(Incoming<'a>, usize)>, WsError> {
        if std::mem::take(&mut self.handed_out) {
            self.message = Vec::new();
        }
        let mut cursor = Cursor::new(&buf[..]);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(None),
            Err(_) => return Err(WsError::Protocol("reserved opcode")),
        };
        let start = cursor.position() as usize;
        // A line and its `\r\n`: what one message may carry at most.
        let limit = max_line.saturating_add(2);
        let is_control = matches!(header.opcode, OpCode::Control(_));
        if is_control && len > MAX_CONTROL_PAYLOAD {
            return Err(WsError::Protocol("control frame longer than 125 bytes"));
        }
        if !is_control && len > limit.saturating_sub(self.message.len()) as u64 {
            return Err(WsError::TooBig { limit: max_line });
        }
        let Some(mask) = header.mask else {
            return Err(WsError::Unmasked);
        };
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(WsError::Protocol("reserved bit set"));
        }
        let end = start + len as usize;
        if buf.len() < end {
            return Ok(None);
        }
        let payload = &mut buf[start..end];
        unmask(payload, mask);
        let what = match header.opcode {
            OpCode::Control(_) if !header.is_final => {
                return Err(WsError::Protocol("fragmented control frame"))
            }
            OpCode::Control(Control::Ping) => Incoming::Ping(payload),
            OpCode::Control(Control::Pong) => Incoming::Pong,
            OpCode::Control(Control::Close) => Incoming::Close(close_code(payload)?),
            OpCode::Data(Data::Binary) => return Err(WsError::Binary),
            OpCode::Data(Data::Text) if self.fragmented => {
                return Err(WsError::Protocol("new message before the last one ended"))
            }
            OpCode::Data(Data::Text) if header.is_final => one_line(payload, max_line)?,
            OpCode::Data(Data::Text) => {
                self.fragmented = true;
                self.message.extend_from_slice(payload);
                Incoming::Fragment
            }
            OpCode::Data(Data::Continue) if !self.fragmented => {
                return Err(WsError::Protocol("continuation frame with no message"))
            }
            OpCode::Data(Data::Continue) => {
                self.message.extend_from_slice(payload);
                if header.is_final {
                    self.fragmented = false;
                    self.handed_out = true;
                    one_line(&mut self.message, max_line)?
                } else {
                    Incoming::Fragment
                }
            }
            OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                return Err(WsError::Protocol("reserved opcode"))
            }
        };
        Ok(Some((what, end)))
    }
}

/// A whole text message as one protocol line: UTF-8, within the limit, one trailing `\n`
/// (or `\r\n`) allowed and taken off, no other newline.
fn one_line(payload: &mut [u8], max_line: usize) -> Result<Incoming<'_>, WsError> {
    let line = payload.strip_suffix(b"\n").unwrap_or(payload);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max_line {
        return Err(WsError::TooBig { limit: max_line });
    }
    let line = std::str::from_utf8(line).map_err(|_| WsError::NotUtf8)?;
    Ok(if line.contains('\n') {
        Incoming::NotOneLine
    } else {
        Incoming::Line(line)
    })
}

/// The status code of a close frame's payload: none (1005), or a code a peer may send
/// (§7.4), followed by a UTF-8 reason.
fn close_code(payload: &[u8]) -> Result<u16, WsError> {
    let bad = WsError::Protocol("bad close frame");
    match payload {
        [] => Ok(u16::from(CloseCode::Status)),
        [_] => Err(bad),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode::from(code).is_allowed() {
                return Err(bad);
            }
            std::str::from_utf8(reason).map_err(|_| WsError::NotUtf8)?;
            Ok(code)
        }
    }
}

/// Client payloads are XORed with the frame's 4-byte key (RFC 6455 §5.3). tungstenite
/// keeps its own unmasking private, and this is all it is.
pub fn unmask(payload: &mut [u8], key: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Formats the header of an unmasked, final text frame of `len` bytes into `out`, and
/// returns how long it is: the server sends each line as one such frame.
pub fn text_header(len: usize, out: &mut [u8; MAX_SERVER_HEADER]) -> usize {
    header(OpCode::Data(Data::Text), len, out)
}

fn header(opcode: OpCode, len: usize, out: &mut [u8; MAX_SERVER_HEADER]) -> usize {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut cursor = Cursor::new(&mut out[..]);
    // An unmasked header is 10 bytes at most, so writing it into 10 cannot fail.
    header
        .format(len as u64, &mut cursor)
        .expect("an unmasked header fits in 10 bytes");
    cursor.position() as usize
}

/// A whole control frame from the server: a pong, or a close.
fn control(kind: Control, payload: &[u8]) -> Vec<u8> {
    let mut head = [0; MAX_SERVER_HEADER];
    let used = header(OpCode::Control(kind), payload.len(), &mut head);
    [&head[..used], payload].concat()
}

/// The pong that answers a ping with `payload` (125 bytes at most, checked on reading).
pub fn pong(payload: &[u8]) -> Vec<u8> {
    control(Control::Pong, payload)
}

/// The close frame the server sends last, with this status code and no reason text (the
/// `ERROR` line before it says why).
pub fn close(code: u16) -> Vec<u8> {
    control(Control::Close, &code.to_be_bytes())
}

/// Status codes for the closes the server starts (RFC 6455 §7.4.1).
pub mod code {
    /// The client said `GOODBYE`, or started the close itself.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A deadline passed (registration, or a frame not finished in time).
    pub const POLICY: u16 = 1008;
}

#[cfg(test)]
mod tests;
