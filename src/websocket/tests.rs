//! The reader against frames a client would send, made by tungstenite's own encoder.

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::Frame;

use super::*;

const MAX: usize = 64;

/// A client frame: masked (as RFC 6455 requires of clients) unless `mask` is `None`.
fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask,
        ..FrameHeader::default()
    };
    let frame = Frame::from_payload(header, payload.to_vec().into());
    let mut bytes = Vec::new();
    frame.format(&mut bytes).unwrap();
    bytes
}

fn text(payload: &[u8]) -> Vec<u8> {
    frame(
        OpCode::Data(Data::Text),
        true,
        payload,
        Some([7, 1, 200, 3]),
    )
}

fn control(kind: Control, payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Control(kind), true, payload, Some([9, 9, 9, 9]))
}

/// What the reader makes of `bytes`, frame by frame, as owned strings.
fn read_all(reader: &mut Reader, mut bytes: Vec<u8>) -> Result<Vec<String>, WsError> {
    let mut seen = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some((what, used)) = reader.next(&mut bytes[at..], MAX)? else {
            seen.push("(more)".to_string());
            break;
        };
        seen.push(match what {
            Incoming::Line(line) => line.to_string(),
            other => format!("{other:?}"),
        });
        at += used;
    }
    Ok(seen)
}

fn read(bytes: Vec<u8>) -> Result<Vec<String>, WsError> {
    read_all(&mut Reader::default(), bytes)
}

#[test]
fn a_masked_text_frame_is_one_line_with_its_newline_taken_off() {
    let bytes = [
        text(b"LIST_CONVERSATIONS"),
        text(b"GOODBYE\n"),
        text(b"A\r\n"),
    ]
    .concat();
    assert_eq!(read(bytes).unwrap(), ["LIST_CONVERSATIONS", "GOODBYE", "A"]);
}

#[test]
fn a_message_holding_a_newline_is_refused_but_not_fatal() {
    let bytes = [text(b"GOODBYE\nGOODBYE"), text(b"LIST")].concat();
    assert_eq!(read(bytes).unwrap(), ["NotOneLine", "LIST"]);
}

#[test]
fn a_frame_cut_anywhere_asks_for_more_and_leaves_the_bytes_alone() {
    let all = text(b"SEND_MESSAGE [1,\"hi\"]");
    for cut in 0..all.len() {
        let mut part = all[..cut].to_vec();
        assert_eq!(
            Reader::default().next(&mut part, MAX),
            Ok(None),
            "cut at {cut}"
        );
        assert_eq!(
            part,
            all[..cut],
            "nothing unmasked before the frame is whole"
        );
    }
}

#[test]
fn violations_name_their_close_codes() {
    let unmasked = frame(OpCode::Data(Data::Text), true, b"LIST", None);
    let binary = frame(OpCode::Data(Data::Binary), true, b"LIST", Some([1; 4]));
    let cases = [
        (unmasked, WsError::Unmasked, 1002),
        (binary, WsError::Binary, 1003),
        (text(b"\xff\xfe"), WsError::NotUtf8, 1007),
        (text(&[b'x'; MAX + 3]), WsError::TooBig { limit: MAX }, 1009),
    ];
    for (bytes, error, code) in cases {
        assert_eq!(read(bytes), Err(error));
        assert_eq!(error.close_code(), code, "{error}");
    }
}

#[test]
fn the_line_limit_allows_a_newline_beyond_it() {
    let at_limit = [vec![b'x'; MAX], b"\r\n".to_vec()].concat();
    assert_eq!(read(text(&at_limit)).unwrap(), ["x".repeat(MAX)]);
    let over = [vec![b'x'; MAX + 1], b"\n".to_vec()].concat();
    assert_eq!(read(text(&over)), Err(WsError::TooBig { limit: MAX }));
}

#[test]
fn an_oversize_frame_is_refused_from_its_header_alone() {
    // 70 KiB announced, only the header here: refused before any payload is buffered.
    let whole = text(&vec![b'x'; 70 * 1024]);
    let mut header = whole[..14].to_vec();
    assert_eq!(
        Reader::default().next(&mut header, 65_536),
        Err(WsError::TooBig { limit: 65_536 })
    );
}

#[test]
fn fragments_are_joined_with_control_frames_between_them() {
    let bytes = [
        frame(
            OpCode::Data(Data::Text),
            false,
            b"SEND_MES",
            Some([1, 2, 3, 4]),
        ),
        control(Control::Ping, b"are you there"),
        frame(
            OpCode::Data(Data::Continue),
            false,
            b"SAGE [1,",
            Some([5; 4]),
        ),
        frame(OpCode::Data(Data::Continue), true, b"\"hi\"]", Some([6; 4])),
        text(b"LIST"),
    ]
    .concat();
    let mut reader = Reader::default();
    assert_eq!(
        read_all(&mut reader, bytes).unwrap(),
        [
            "Fragment",
            "Ping([97, 114, 101, 32, 121, 111, 117, 32, 116, 104, 101, 114, 101])",
            "Fragment",
            "SEND_MESSAGE [1,\"hi\"]",
            "LIST"
        ]
    );
    assert!(!reader.has_partial());
}

#[test]
fn fragments_together_are_held_to_the_line_limit() {
    let half = vec![b'x'; MAX / 2 + 2];
    let bytes = [
        frame(OpCode::Data(Data::Text), false, &half, Some([1; 4])),
        frame(OpCode::Data(Data::Continue), true, &half, Some([1; 4])),
    ]
    .concat();
    assert_eq!(read(bytes), Err(WsError::TooBig { limit: MAX }));
}

#[test]
fn broken_fragment_sequences_and_control_frames_are_protocol_errors() {
    let cont = |fin| frame(OpCode::Data(Data::Continue), fin, b"x", Some([1; 4]));
    let start = frame(OpCode::Data(Data::Text), false, b"x", Some([1; 4]));
    let fragmented_ping = frame(OpCode::Control(Control::Ping), false, b"x", Some([1; 4]));
    let mut rsv = text(b"LIST");
    rsv[0] |= 0x40;
    for bytes in [
        cont(true),
        [start.clone(), text(b"LIST")].concat(),
        control(Control::Ping, &[0; 126]),
        fragmented_ping,
        rsv,
        control(Control::Close, &[3]),
        control(Control::Close, &999u16.to_be_bytes()),
    ] {
        let error = read(bytes).unwrap_err();
        assert_eq!(error.close_code(), 1002, "{error}");
    }
}

#[test]
fn close_frames_carry_their_code_or_none() {
    assert_eq!(read(control(Control::Close, &[])).unwrap(), ["Close(1005)"]);
    let going = [&1001u16.to_be_bytes()[..], b"bye"].concat();
    assert_eq!(
        read(control(Control::Close, &going)).unwrap(),
        ["Close(1001)"]
    );
    assert_eq!(read(control(Control::Pong, b"x")).unwrap(), ["Pong"]);
}

#[test]
fn the_server_frames_are_what_tungstenite_reads() {
    for len in [0, 125, 126, 65_535, 65_536, 100_000] {
        let mut head = [0; MAX_SERVER_HEADER];
        let used = text_header(len, &mut head);
        let mut cursor = std::io::Cursor::new(&head[..used]);
        let (header, parsed) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
        assert_eq!(parsed, len as u64);
        assert_eq!(header.opcode, OpCode::Data(Data::Text));
        assert!(header.is_final && header.mask.is_none());
        assert_eq!(
            cursor.position() as usize,
            used,
            "the whole header, no more"
        );
    }
    assert_eq!(pong(b"hi"), [0x8a, 2, b'h', b'i']);
    assert_eq!(close(1009), [0x88, 2, 0x03, 0xf1]);
}
