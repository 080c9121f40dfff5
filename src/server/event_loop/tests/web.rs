//! WebSocket connections in the loop, in virtual time: the same budget per pass as a TCP
//! connection, the loop's promise with frames buffered, and a line encoded once for
//! members on both transports.

use std::io::{Cursor, Read, Write};
use std::net::TcpStream as StdStream;

use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

use super::{config, user, Harness, MAX_FRAMES_PER_WAKE};
use crate::server::Config;

/// A WebSocket peer on a non-blocking socket, upgraded.
struct WsPeer {
    stream: StdStream,
    input: Vec<u8>,
}

impl WsPeer {
    fn upgrade(h: &mut Harness) -> WsPeer {
        let http = h.server.http_addrs().unwrap()[0];
        let stream = StdStream::connect(http).unwrap();
        stream.set_nonblocking(true).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut peer = WsPeer {
            stream,
            input: Vec::new(),
        };
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {http}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        peer.stream.write_all(request.as_bytes()).unwrap();
        h.until_quiet();
        h.until_quiet();
        peer.read_available();
        let end = (peer.input.windows(4).position(|w| w == b"\r\n\r\n")).expect("a response");
        let head: Vec<u8> = peer.input.drain(..end + 4).collect();
        assert!(head.starts_with(b"HTTP/1.1 101 "), "upgraded");
        peer
    }

    /// The frames of `lines`, masked, in one write.
    fn send(&mut self, lines: &[&str]) {
        let mut bytes = Vec::new();
        for line in lines {
            let header = FrameHeader {
                opcode: OpCode::Data(Data::Text),
                mask: Some([1, 2, 3, 4]),
                ..FrameHeader::default()
            };
            let frame = Frame::from_payload(header, line.as_bytes().to_vec().into());
            frame.format(&mut bytes).unwrap();
        }
        self.stream.write_all(&bytes).unwrap();
    }

    fn read_available(&mut self) {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = self.stream.read(&mut chunk) {
            self.input.extend_from_slice(&chunk[..n]);
        }
    }

    /// Every complete text frame that has arrived, without waiting.
    fn lines(&mut self) -> Vec<String> {
        self.read_available();
        let mut lines = Vec::new();
        let mut cursor = Cursor::new(&self.input[..]);
        let mut used = 0;
        while let Ok(Some((header, len))) = FrameHeader::parse(&mut cursor) {
            let at = cursor.position() as usize;
            let Some(payload) = self.input.get(at..at + len as usize) else {
                break;
            };
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
            lines.push(String::from_utf8(payload.to_vec()).unwrap());
            used = at + len as usize;
            cursor.set_position(used as u64);
        }
        self.input.drain(..used);
        lines
    }
}

fn web_config() -> Config {
    Config {
        http: vec!["127.0.0.1:0".parse().unwrap()],
        max_line_rate: None,
        ..config()
    }
}

#[test]
fn a_websocket_flood_gets_one_budget_per_pass_like_a_tcp_one() {
    let mut h = Harness::new(web_config());
    let mut web = WsPeer::upgrade(&mut h);
    web.send(&["REGISTER [\"web\"]"]);
    h.until_quiet();
    assert_eq!(web.lines(), ["ONLINE_USERS {\"web\":\"available\"}"]);
    let mut other = user(&mut h, "other");
    let frames = 10 * MAX_FRAMES_PER_WAKE;
    web.send(&vec!["LIST_CONVERSATIONS"; frames]);
    other.send("LIST_CONVERSATIONS");
    h.pass();
    assert_eq!(
        web.lines().len(),
        MAX_FRAMES_PER_WAKE,
        "one budget of frames"
    );
    assert_eq!(
        other.lines().len(),
        1,
        "the other got its turn in the same pass"
    );
    let mut served = MAX_FRAMES_PER_WAKE;
    while served < frames {
        assert!(
            h.passes < super::MAX_PASSES,
            "only {served} of {frames} served"
        );
        // No new event: the backlog alone brings the next pass.
        assert!(h.server.has_pending_work());
        h.pass_with(&[]);
        let got = web.lines().len();
        assert!(got <= MAX_FRAMES_PER_WAKE, "{got} in one pass");
        served += got;
    }
    h.until_quiet();
    assert!(web.lines().is_empty());
}

#[test]
fn a_message_to_members_on_both_transports_is_encoded_once() {
    let mut h = Harness::new(web_config());
    let mut web = WsPeer::upgrade(&mut h);
    web.send(&["REGISTER [\"web\"]"]);
    h.until_quiet();
    let mut tcp = user(&mut h, "tcp");
    web.send(&["INVITE [\"tcp\"]"]);
    h.until_quiet();
    tcp.send("JOIN [1]");
    h.until_quiet();
    web.lines();
    tcp.lines();
    // Between dispatch and flush, one copy of the bytes for both outboxes.
    let before = crate::line::live_bytes();
    let web_key = h.server.conns.iter().map(|(k, _)| k).next().unwrap();
    let mut ctx = crate::server::dispatch::Ctx {
        chat: &mut h.server.chat,
        engine: &mut h.server.engine,
        generation: 0,
        out: &mut h.server.out,
        password: None,
        stats: &mut h.server.stats,
    };
    crate::server::dispatch::dispatch(&mut ctx, web_key, "SEND_MESSAGE [1,\"hi\"]");
    let line = "MESSAGE [1,\"web\",\"hi\"]\n";
    assert_eq!(
        crate::line::live_bytes() - before,
        line.len(),
        "encoded once"
    );
    assert_eq!(
        h.server.out.queued(web_key),
        2 + line.len() - 1,
        "a frame for web"
    );
    h.until_quiet();
    assert_eq!(web.lines(), [line.trim_end()]);
    assert_eq!(tcp.lines(), [line.trim_end()]);
}
