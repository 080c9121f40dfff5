//! The outbox against in-memory writers: order, partial writes, shared lines, and the
//! WebSocket wire form.

use std::io::{self, Write};

use super::*;

/// A writer that takes at most `limit` bytes per call, like a nearly full socket.
struct Trickle {
    got: Vec<u8>,
    limit: usize,
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.limit);
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Everything `out` holds, written `limit` bytes at a time.
fn drain(out: &mut Outbox, limit: usize) -> Vec<u8> {
    let mut sink = Trickle {
        got: Vec::new(),
        limit,
    };
    while !out.is_empty() {
        out.write_to(&mut sink).unwrap();
    }
    sink.got
}

#[test]
fn outbox_writes_in_order_across_partial_writes() {
    let mut out = Outbox::new();
    let shared = Line::from(&b"MESSAGE [1,\"a\",\"hi\"]\n"[..]);
    out.push(shared.clone());
    out.push(Line::from(&b"ERROR \"x\"\n"[..]));
    out.push(shared.clone());
    let total = out.queued();
    let got = drain(&mut out, 5);
    assert_eq!(got.len(), total);
    assert_eq!(
        got,
        b"MESSAGE [1,\"a\",\"hi\"]\nERROR \"x\"\nMESSAGE [1,\"a\",\"hi\"]\n"
    );
    assert_eq!(shared.holders(), 1, "written lines are released");
    let mut spare = SpareQueues::default();
    out.release_if_empty(&mut spare);
    assert_eq!(
        out.entries.capacity(),
        0,
        "an empty outbox holds no storage"
    );
    assert_eq!(spare.0.len(), 1, "the spare has it");
    let mut other = Outbox::new();
    other.push_reusing(shared.clone(), &mut spare);
    assert!(spare.0.is_empty(), "the next outbox took it");
    assert_eq!(other.queued(), shared.len());
}

#[cfg(feature = "web")]
mod websocket {
    use super::*;
    use std::io::Cursor;
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tungstenite::protocol::frame::FrameHeader;

    /// The frames in `bytes`, read back with tungstenite's parser: (opcode, payload).
    fn frames(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut cursor = Cursor::new(bytes);
        let mut frames = Vec::new();
        while (cursor.position() as usize) < bytes.len() {
            let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert!(header.is_final && header.mask.is_none());
            let at = cursor.position() as usize;
            frames.push((header.opcode, bytes[at..at + len as usize].to_vec()));
            cursor.set_position((at + len as usize) as u64);
        }
        frames
    }

    #[test]
    fn each_line_goes_as_one_text_frame_without_its_newline_across_partial_writes() {
        let mut out = Outbox::new();
        out.set_wire(Wire::WebSocket);
        let long = Line::from(format!("MESSAGE [1,\"a\",\"{}\"]\n", "x".repeat(300)).into_bytes());
        let short = Line::from(&b"ERROR \"x\"\n"[..]);
        out.push(short.clone());
        out.push(long.clone());
        out.push_raw(Line::from(crate::websocket::close(1000)));
        let queued = out.queued();
        for limit in [1, 3, 7, 1000] {
            let mut copy = Outbox::new();
            copy.set_wire(Wire::WebSocket);
            copy.push(short.clone());
            copy.push(long.clone());
            copy.push_raw(Line::from(crate::websocket::close(1000)));
            let got = drain(&mut copy, limit);
            assert_eq!(got.len(), queued, "queued counts the wire bytes");
            assert_eq!(
                frames(&got),
                [
                    (OpCode::Data(Data::Text), b"ERROR \"x\"".to_vec()),
                    (OpCode::Data(Data::Text), long[..long.len() - 1].to_vec()),
                    (OpCode::Control(Control::Close), vec![3, 232]),
                ],
                "written {limit} bytes at a time"
            );
        }
        assert_eq!(
            long.holders(),
            2,
            "the outbox shares the line, it never copies it"
        );
    }

    #[test]
    fn a_place_kept_writes_nothing_until_filled_and_then_one_frame() {
        let mut out = Outbox::new();
        out.set_wire(Wire::WebSocket);
        let mut spare = SpareQueues::default();
        let place = out.reserve(Line::default(), &mut spare);
        out.push(Line::from(&b"MESSAGE [1,\"a\",\"b\"]\n"[..]));
        out.fill(place, Line::from(&b"CONVERSATIONS {}\n"[..]));
        let texts: Vec<Vec<u8>> = frames(&drain(&mut out, 5))
            .into_iter()
            .map(|f| f.1)
            .collect();
        assert_eq!(
            texts,
            [
                b"CONVERSATIONS {}".to_vec(),
                b"MESSAGE [1,\"a\",\"b\"]".to_vec()
            ]
        );
        let mut empty = Outbox::new();
        empty.set_wire(Wire::WebSocket);
        empty.reserve(Line::default(), &mut spare);
        assert!(empty.is_empty() && drain(&mut empty, 5).is_empty());
    }

    #[test]
    fn an_http_outbox_carries_no_protocol_lines() {
        let mut out = Outbox::new();
        assert!(out.carries_lines());
        out.set_wire(Wire::Http);
        assert!(!out.carries_lines());
    }
}
