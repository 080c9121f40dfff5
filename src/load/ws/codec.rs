//! The client's half of RFC 6455 as imload needs it: the opening handshake (a request, and
//! the check of the server's `101`), masked text frames out, and the server's unmasked
//! frames in, read in place from the connection's buffer.
//!
//! SHA-1, base64 and the frame header's bit layout are tungstenite's
//! (`derive_accept_key`, `FrameHeader`); the HTTP response head is httparse's. What is
//! left here is the policy: which frames a load generator accepts from imserver.

use std::fmt;
use std::io::Cursor;

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::server::web::WS_PATH;
use crate::websocket::unmask;

/// Longest response head (status line and headers) accepted for the upgrade. imserver's
/// `101` is about 130 bytes; a server that sends more than this without ending its head is
/// not one imload can measure, and the bound keeps it from growing the buffer.
pub const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// Headers parsed in the `101` at most. imserver sends three; httparse needs a fixed array,
/// and a response with more is refused as not imserver's.
const MAX_RESPONSE_HEADERS: usize = 32;

/// Why the server's bytes are not a WebSocket imload can use. Every one ends the client's
/// connection; none panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsError(pub String);

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WsError {}

fn err<T>(why: impl Into<String>) -> Result<T, WsError> {
    Err(WsError(why.into()))
}

/// The upgrade request for `host` (the `Host` header: imserver's `--http` address) with the
/// client's `key` (`Sec-WebSocket-Key`). No `Origin`: imload is not a browser, and the
/// contract accepts a client without one.
pub fn handshake_request(host: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {WS_PATH} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Reads the server's answer to the upgrade from the start of `buf`. `Ok(Some(n))`: a
/// valid `101` whose head is the first `n` bytes (frames may follow); `Ok(None)`: the head
/// is not complete yet. `expected_accept` is `derive_accept_key` of the client's key.
pub fn check_response(buf: &[u8], expected_accept: &str) -> Result<Option<usize>, WsError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE_HEAD => {
            return err(format!(
                "the upgrade response head is longer than {MAX_RESPONSE_HEAD} bytes"
            ))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return err(format!(
                "the upgrade response is not HTTP: {e} (is this imserver's --http address?)"
            ))
        }
    };
    if response.code != Some(101) {
        return err(format!(
            "WebSocket upgrade refused: {} {} (is this imserver's --http address?)",
            response.code.unwrap_or(0),
            response.reason.unwrap_or("")
        ));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    if !header("Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return err("the 101 response lacks `Upgrade: websocket`");
    }
    let upgrade_token = |v: String| {
        v.split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    };
    if !header("Connection").is_some_and(upgrade_token) {
        return err("the 101 response lacks `Connection: Upgrade`");
    }
    match header("Sec-WebSocket-Accept") {
        Some(accept) if accept == expected_accept => Ok(Some(head)),
        Some(accept) => err(format!(
            "Sec-WebSocket-Accept is {accept:?}, expected {expected_accept:?}"
        )),
        None => err("the 101 response lacks Sec-WebSocket-Accept"),
    }
}

/// The `Sec-WebSocket-Accept` a server must answer `key` with.
pub fn expected_accept(key: &str) -> String {
    derive_accept_key(key.as_bytes())
}

/// Appends one final, masked frame carrying `payload` to `out`.
pub fn encode_frame(opcode: OpCode, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    let header = FrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: Some(mask),
    };
    out.reserve_exact(header.len(payload.len() as u64) + payload.len());
    // Writing to a Vec cannot fail; `format` returns a Result for other writers.
    let _ = header.format(payload.len() as u64, out);
    let start = out.len();
    out.extend_from_slice(payload);
    // tungstenite's `apply_mask` is private. Masking is the XOR the server's `unmask` undoes
    // (each byte with the key's byte at the same offset modulo 4, RFC 6455 section 5.3),
    // done on the frame's own copy of the payload.
    unmask(&mut out[start..], mask);
}

/// Appends the text frame for one protocol line: the line without its trailing newline
/// (`\n` or `\r\n`), one line per frame (the web contract).
pub fn encode_line(line: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    encode_frame(OpCode::Data(Data::Text), line, mask, out);
}

/// One frame from the server, borrowed from the read buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A text frame: one protocol line.
    Text(&'a str),
    /// A ping, to be answered with a pong carrying the same bytes.
    Ping(&'a [u8]),
    /// A pong (imload never pings; ignored).
    Pong,
    /// The server closes, with its status code (none if it gave none) and reason.
    Close(Option<u16>, &'a str),
}

/// Reads the next frame from the start of `buf`, in place: `Ok(Some((frame, n)))` with
/// the frame's total length `n`, `Ok(None)` until the whole frame has arrived. Refuses
/// (`Err`) what imserver never sends: masked, fragmented, binary or reserved frames, and
/// text longer than `max_text` or not UTF-8.
pub fn next_frame(buf: &[u8], max_text: usize) -> Result<Option<(Incoming<'_>, usize)>, WsError> {
    let mut cursor = Cursor::new(buf);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Ok(None),
        Err(e) => return err(format!("bad frame from the server: {e}")),
    };
    if header.mask.is_some() {
        return err("the server sent a masked frame (RFC 6455 section 5.1)");
    }
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return err("the server set a reserved bit: no extension was agreed");
    }
    if !header.is_final || header.opcode == OpCode::Data(Data::Continue) {
        // imserver sends one line per unfragmented frame (the web contract).
        return err("the server fragmented a message");
    }
    if len > max_text as u64 {
        return err(format!("a frame of {len} bytes, over {max_text}"));
    }
    let start = cursor.position() as usize;
    let Some(payload) = buf.get(start..start + len as usize) else {
        return Ok(None);
    };
    let used = start + payload.len();
    let frame = match header.opcode {
        OpCode::Data(Data::Text) => match std::str::from_utf8(payload) {
            Ok(text) => Incoming::Text(text),
            Err(_) => return err("a text frame that is not UTF-8"),
        },
        OpCode::Control(Control::Ping) => Incoming::Ping(payload),
        OpCode::Control(Control::Pong) => Incoming::Pong,
        OpCode::Control(Control::Close) => match payload {
            [] => Incoming::Close(None, ""),
            [hi, lo, reason @ ..] => Incoming::Close(
                Some(u16::from_be_bytes([*hi, *lo])),
                std::str::from_utf8(reason).unwrap_or(""),
            ),
            [_] => return err("a close frame with a one-byte payload"),
        },
        OpCode::Data(Data::Binary) => return err("the server sent a binary frame"),
        other => return err(format!("the server sent a frame with opcode {other}")),
    };
    Ok(Some((frame, used)))
}

/// The code's meaning, for messages: `1008 (Policy)`.
pub fn close_code_name(code: u16) -> String {
    format!("{code} ({:?})", CloseCode::from(code))
}

/// A cheap generator of mask keys (xorshift64*). RFC 6455 section 5.3 asks for keys an
/// attacker cannot predict, to protect proxies from cache poisoning by scripts in a
/// browser; imload is no browser and talks to a server its user runs, so a generator seeded
/// per connection from the OS's randomness (through the handshake key) is enough, and
/// costs a few instructions per frame instead of a CSPRNG call.
#[derive(Debug, Clone)]
pub struct MaskKeys(u64);

impl MaskKeys {
    /// Seeds from `seed`'s bytes (the connection's random `Sec-WebSocket-Key`).
    pub fn new(seed: &[u8]) -> MaskKeys {
        // FNV-1a over the bytes, then one splitmix64 round to spread them; never zero
        // (xorshift's one fixed point).
        let mut x = seed.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        MaskKeys((x ^ (x >> 31)) | 1)
    }

    /// The next frame's key.
    pub fn next_key(&mut self) -> [u8; 4] {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 32) as u32).to_le_bytes()
    }
}

#[cfg(test)]
mod tests;
