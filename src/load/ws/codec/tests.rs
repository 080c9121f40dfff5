//! The codec against tungstenite's own parser and frame builder, and the handshake against
//! RFC 6455's worked example.

use std::io::Cursor;

use tungstenite::protocol::frame::Frame;

use super::*;

/// What a server reads from a client frame: tungstenite's parse of the header, and the
/// payload unmasked.
fn server_reads(wire: &[u8]) -> (FrameHeader, Vec<u8>, usize) {
    let mut cursor = Cursor::new(wire);
    let (header, len) = FrameHeader::parse(&mut cursor)
        .unwrap()
        .expect("a whole header");
    let start = cursor.position() as usize;
    let mask = header.mask.expect("client frames are masked");
    let payload = wire[start..start + len as usize]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    (header, payload, start + len as usize)
}

/// A frame as imserver would send it, built by tungstenite.
fn server_frame(frame: Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.format(&mut out).unwrap();
    out
}

#[test]
fn a_line_goes_out_as_one_masked_final_text_frame_without_its_newline() {
    let mut keys = MaskKeys::new(b"dGhlIHNhbXBsZSBub25jZQ==");
    for line in [
        &b"SEND_MESSAGE [3,\"hi\"]\n"[..],
        b"REGISTER [\"u1\"]\r\n",
        b"GOODBYE",
        b"\n",
    ] {
        let key = keys.next_key();
        let mut wire = Vec::new();
        encode_line(line, key, &mut wire);
        let (header, payload, used) = server_reads(&wire);
        assert!(header.is_final);
        assert_eq!(header.opcode, OpCode::Data(Data::Text));
        assert_eq!(header.mask, Some(key));
        assert_eq!(used, wire.len(), "nothing after the frame");
        let text = std::str::from_utf8(line)
            .unwrap()
            .trim_end_matches(['\r', '\n']);
        assert_eq!(payload, text.as_bytes());
    }
}

#[test]
fn payload_lengths_use_all_three_length_forms() {
    // 7-bit, 16-bit and 64-bit lengths (RFC 6455 section 5.2).
    for len in [0, 125, 126, 65_535, 65_536, 70 * 1024] {
        let line: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut wire = Vec::new();
        encode_line(&line, [1, 2, 3, 4], &mut wire);
        let (_, payload, used) = server_reads(&wire);
        assert_eq!((payload.len(), used), (len, wire.len()), "{len}");
        assert_eq!(payload, line);
    }
}

#[test]
fn mask_keys_differ_from_frame_to_frame_and_from_seed_to_seed() {
    let mut a = MaskKeys::new(b"one key");
    let mut b = MaskKeys::new(b"another key");
    let from_a: Vec<[u8; 4]> = (0..1000).map(|_| a.next_key()).collect();
    let from_b: Vec<[u8; 4]> = (0..1000).map(|_| b.next_key()).collect();
    let distinct: std::collections::HashSet<_> = from_a.iter().collect();
    assert!(distinct.len() > 990, "keys repeat: {}", distinct.len());
    assert_ne!(from_a, from_b);
}

#[test]
fn server_frames_are_read_in_place() {
    let line = "MESSAGE [3,\"u0\",\"s0.1.2.3.xx\"]";
    let mut buf = server_frame(Frame::message(
        line.as_bytes().to_vec(),
        OpCode::Data(Data::Text),
        true,
    ));
    let whole = buf.len();
    buf.extend(server_frame(Frame::ping(b"p".to_vec())));
    let (frame, used) = next_frame(&buf, 1 << 20).unwrap().unwrap();
    assert_eq!((frame, used), (Incoming::Text(line), whole));
    let (frame, _) = next_frame(&buf[used..], 1 << 20).unwrap().unwrap();
    assert_eq!(frame, Incoming::Ping(b"p"));
    // Every prefix of a frame is "not yet", never an error.
    for cut in 0..whole {
        assert_eq!(next_frame(&buf[..cut], 1 << 20), Ok(None), "{cut}");
    }
    let long = "x".repeat(70_000);
    let buf = server_frame(Frame::message(
        long.clone().into_bytes(),
        OpCode::Data(Data::Text),
        true,
    ));
    assert_eq!(
        next_frame(&buf, 1 << 20).unwrap().unwrap(),
        (Incoming::Text(&long), buf.len())
    );
    assert!(next_frame(&buf, 65_536).is_err(), "over the cap");
}

#[test]
fn a_close_frame_carries_its_code_and_reason() {
    let mut buf = Vec::new();
    let header = FrameHeader::default(); // final, close, unmasked
    header.format(9, &mut buf).unwrap();
    buf.extend_from_slice(&1008u16.to_be_bytes());
    buf.extend_from_slice(b"too far");
    assert_eq!(
        next_frame(&buf, 100).unwrap().unwrap(),
        (Incoming::Close(Some(1008), "too far"), buf.len())
    );
    assert_eq!(close_code_name(1008), "1008 (Policy)");
    let empty = server_frame(Frame::close(None));
    assert_eq!(
        next_frame(&empty, 100).unwrap().unwrap().0,
        Incoming::Close(None, "")
    );
}

#[test]
fn frames_imserver_never_sends_are_refused_not_panicked_on() {
    let binary = server_frame(Frame::message(vec![1, 2], OpCode::Data(Data::Binary), true));
    let fragment = server_frame(Frame::message(
        b"ab".to_vec(),
        OpCode::Data(Data::Text),
        false,
    ));
    let bad_utf8 = server_frame(Frame::message(
        vec![0xff, 0xfe],
        OpCode::Data(Data::Text),
        true,
    ));
    let mut masked = Vec::new();
    encode_line(b"hi", [9, 9, 9, 9], &mut masked);
    for (what, frame) in [
        ("binary", &binary[..]),
        ("fragment", &fragment),
        ("bad utf-8", &bad_utf8),
        ("masked", &masked),
        ("reserved opcode", &[0x83, 0x00][..]),
        ("rsv1", &[0xc1, 0x00][..]),
        ("one-byte close", &[0x88, 0x01, 0x03][..]),
    ] {
        assert!(next_frame(frame, 1 << 20).is_err(), "{what}");
    }
    // Junk of every short shape: an error or "not yet", never a panic.
    for a in 0..=255u8 {
        for b in [0u8, 1, 125, 126, 127, 0x80, 0xff] {
            let _ = next_frame(
                &[a, b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                1 << 20,
            );
        }
    }
}

#[test]
fn the_accept_key_is_rfc_6455s_worked_example() {
    // RFC 6455 section 1.3.
    assert_eq!(
        expected_accept("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn the_request_asks_for_an_upgrade_on_the_ws_path() {
    let request = handshake_request("127.0.0.1:6680", "dGhlIHNhbXBsZSBub25jZQ==");
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Request::new(&mut headers);
    let n = parsed.parse(&request).unwrap();
    assert_eq!(n, httparse::Status::Complete(request.len()));
    assert_eq!((parsed.method, parsed.path), (Some("GET"), Some("/ws")));
    let get = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).unwrap())
    };
    assert_eq!(get("Host"), Some("127.0.0.1:6680"));
    assert_eq!(get("Upgrade"), Some("websocket"));
    assert_eq!(get("Sec-WebSocket-Version"), Some("13"));
    assert_eq!(get("Sec-WebSocket-Key"), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(get("Origin"), None, "not a browser");
}

#[test]
fn the_response_must_be_a_101_with_the_derived_accept_key() {
    let accept = expected_accept("dGhlIHNhbXBsZSBub25jZQ==");
    let good = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let mut with_frame = good.clone().into_bytes();
    with_frame.extend(server_frame(Frame::ping(Vec::new())));
    assert_eq!(check_response(&with_frame, &accept), Ok(Some(good.len())));
    for cut in 0..good.len() {
        assert_eq!(
            check_response(&good.as_bytes()[..cut], &accept),
            Ok(None),
            "{cut}"
        );
    }
    let refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    let e = check_response(refused.as_bytes(), &accept).unwrap_err();
    assert!(e.0.contains("403 Forbidden"), "{e}");
    let wrong = good.replace(&accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let e = check_response(wrong.as_bytes(), &accept).unwrap_err();
    assert!(e.0.contains("Sec-WebSocket-Accept"), "{e}");
    for missing in [
        "upgrade: WebSocket\r\n",
        "Connection: keep-alive, Upgrade\r\n",
    ] {
        let response = good.replace(missing, "");
        assert!(
            check_response(response.as_bytes(), &accept).is_err(),
            "{missing}"
        );
    }
    assert!(check_response(b"SSH-2.0-OpenSSH\r\n\r\n", &accept).is_err());
    let endless = format!("HTTP/1.1 101 OK\r\nX: {}", "y".repeat(MAX_RESPONSE_HEAD));
    assert!(
        check_response(endless.as_bytes(), &accept).is_err(),
        "a head over the cap"
    );
}
