//! The WebSocket transport against a real server and tungstenite's own client: one text
//! frame per protocol line, chat with TCP users, and RFC 6455 where it matters (masking,
//! fragments, ping, the close handshake and its codes).

#![cfg(feature = "web")]

mod common;

use common::ws::{Got, WsClient};
use common::Server;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

/// A frame as a client might write it, masked unless `mask` is `None`.
fn frame(opcode: OpCode, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask,
        ..FrameHeader::default()
    };
    let mut bytes = Vec::new();
    Frame::from_payload(header, payload.to_vec().into())
        .format(&mut bytes)
        .unwrap();
    bytes
}

const TEXT: OpCode = OpCode::Data(Data::Text);
const MASK: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

#[test]
fn a_websocket_user_and_a_tcp_user_chat_one_line_per_frame() {
    let server = Server::start(&[]);
    let mut web = WsClient::user(server.http(), "web");
    let mut tcp = server.user("tcp");
    web.send("INVITE [\"tcp\"]");
    let invitation = tcp.recv_until("the invitation", |l| l.starts_with("INVITATION "));
    let id = common::invitation_id(&invitation);
    tcp.send(&format!("JOIN [{id}]"));
    tcp.recv_until("the members", |l| l.starts_with("CONVERSATIONS "));
    web.recv_until(|l| l.starts_with("CONVERSATIONS ") && l.contains("\"tcp\""));
    // A trailing newline in the frame is allowed and taken off.
    web.send(&format!("SEND_MESSAGE [{id},\"from the browser\"]\n"));
    tcp.send(&format!("SEND_MESSAGE [{id},\"from the terminal\"]"));
    let from_web = format!("MESSAGE [{id},\"web\",\"from the browser\"]");
    let from_tcp = format!("MESSAGE [{id},\"tcp\",\"from the terminal\"]");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = web.recv();
        assert!(
            !line.ends_with('\n'),
            "a frame carries the line without its newline"
        );
        if line.starts_with("MESSAGE ") {
            seen.push(line);
        }
    }
    // The two were sent at once: either may be first, but each arrives once.
    let mut both = seen.clone();
    both.sort();
    assert_eq!(both, [from_tcp, from_web], "each message once");
    let lines: Vec<String> = (0..2)
        .map(|_| tcp.recv_until("a message", |l| l.starts_with("MESSAGE ")))
        .collect();
    assert_eq!(lines, seen, "the same order for both transports");
}

#[test]
fn bad_lines_get_an_error_and_the_connection_stays_open() {
    let server = Server::start(&[]);
    let mut web = WsClient::connect(server.http());
    web.send("NOT_A_COMMAND");
    assert!(web.recv().starts_with("ERROR "));
    web.send("REGISTER [\"a\"]\nREGISTER [\"b\"]");
    let error = web.recv();
    assert!(error.contains("one line"), "{error}");
    web.send("REGISTER [\"a\"]");
    assert!(web.recv().starts_with("ONLINE_USERS "));
}

#[test]
fn fragments_are_joined_and_pings_between_them_are_answered() {
    let server = Server::start(&[]);
    let mut web = WsClient::connect(server.http());
    let bytes = [
        frame(TEXT, false, b"REGISTER [\"fr", MASK),
        frame(OpCode::Control(Control::Ping), true, b"still here", MASK),
        frame(OpCode::Data(Data::Continue), true, b"ag\"]", MASK),
    ]
    .concat();
    web.send_raw(&bytes);
    assert_eq!(web.next(), Got::Line("PONG:still here".into()));
    assert_eq!(web.recv(), "ONLINE_USERS {\"frag\":\"available\"}");
}

/// Sends `bytes` after registering, and returns the lines before the close and its code.
fn closed_by(bytes: Vec<u8>) -> (Vec<String>, u16) {
    let server = Server::start(&[]);
    let mut web = WsClient::user(server.http(), "victim");
    web.send_raw(&bytes);
    let closed = web.until_close();
    assert!(
        web.stream_ended(),
        "the server ends the stream after its close frame"
    );
    closed
}

#[test]
fn a_frame_over_the_line_limit_is_closed_with_1009_after_an_error() {
    let big = frame(TEXT, true, &vec![b'x'; 70 * 1024], MASK);
    let (lines, code) = closed_by(big);
    assert_eq!(code, 1009);
    assert_eq!(
        lines.last().unwrap(),
        "ERROR \"message longer than 65536 bytes; closing\""
    );
}

#[test]
fn violations_close_with_their_codes() {
    let binary = frame(OpCode::Data(Data::Binary), true, b"LIST", MASK);
    let unmasked = frame(TEXT, true, b"LIST_CONVERSATIONS", None);
    let not_utf8 = frame(TEXT, true, b"SEND_MESSAGE \xff", MASK);
    let stray = frame(OpCode::Data(Data::Continue), true, b"x", MASK);
    for (bytes, want, error) in [
        (binary, 1003, "binary messages are not accepted"),
        (unmasked, 1002, "client frames must be masked"),
        (not_utf8, 1007, "not UTF-8"),
        (stray, 1002, "continuation frame with no message"),
    ] {
        let (lines, code) = closed_by(bytes);
        assert_eq!(code, want, "{error}");
        assert!(lines.last().unwrap().contains(error), "{lines:?}");
    }
}

#[test]
fn the_close_handshake_is_answered_with_the_same_code_and_the_user_goes_offline() {
    let server = Server::start(&["--presence-interval-ms", "20"]);
    let mut web = WsClient::user(server.http(), "leaver");
    let mut tcp = server.user("stayer");
    web.socket
        .send(tungstenite::Message::Close(Some(
            tungstenite::protocol::CloseFrame {
                code: 1001.into(),
                reason: "tab closed".into(),
            },
        )))
        .unwrap();
    let (_, code) = web.until_close();
    assert_eq!(code, 1001, "the client's own code, echoed");
    tcp.recv_until("leaver offline", |l| {
        l.starts_with("ONLINE_USERS ") && !l.contains("leaver")
    });
}

#[test]
fn goodbye_closes_with_1000_and_a_shutdown_with_1001_after_the_notice() {
    let mut server = Server::start(&[]);
    let mut leaving = WsClient::user(server.http(), "a");
    leaving.send("GOODBYE");
    assert_eq!(leaving.until_close().1, 1000);
    let mut staying = WsClient::user(server.http(), "b");
    server.signal(libc::SIGTERM);
    let (lines, code) = staying.until_close();
    assert_eq!(lines.last().unwrap(), "ERROR \"server shutting down\"");
    assert_eq!(code, 1001);
    assert!(server.wait_exit().success());
}

#[test]
fn an_unregistered_websocket_times_out_with_1008() {
    let server = Server::start(&["--register-timeout-ms", "100"]);
    let mut web = WsClient::connect(server.http());
    let (lines, code) = web.until_close();
    assert_eq!(lines, ["ERROR \"registration timeout; closing\""]);
    assert_eq!(code, 1008);
}

#[test]
fn a_frame_that_stalls_is_closed_by_the_line_deadline() {
    let server = Server::start(&["--line-timeout-ms", "100"]);
    let mut web = WsClient::user(server.http(), "slow");
    let whole = frame(TEXT, true, b"LIST_CONVERSATIONS", MASK);
    web.send_raw(&whole[..5]);
    let (lines, code) = web.until_close();
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("ERROR \"line not finished"),
        "{lines:?}"
    );
    assert_eq!(code, 1008);
}

#[test]
fn upgrades_from_other_origins_are_refused_unless_allowed() {
    let server = Server::start(&["--allow-origin", "https://friend.example"]);
    let http = server.http();
    assert_eq!(
        WsClient::connect_from(http, Some("http://evil.example")).err(),
        Some(403)
    );
    let own = format!("http://{http}");
    for origin in [own.as_str(), "https://friend.example"] {
        assert!(
            WsClient::connect_from(http, Some(origin)).is_ok(),
            "{origin}"
        );
    }
}
