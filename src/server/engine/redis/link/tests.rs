//! The link against a socket that plays Redis: commands go out in RESP3 as redis-protocol
//! encodes them, and frames come back whole however the bytes are cut.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use mio::{Events, Poll, Token};
use redis_protocol::resp3::types::OwnedFrame;

use super::Link;

/// Polls until the link has seen a writable event and finished connecting.
fn connected(poll: &mut Poll, link: &mut Link) {
    let mut events = Events::with_capacity(8);
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if events.iter().any(|e| e.is_writable()) {
            link.on_writable().unwrap();
            if !link.write_blocked {
                return;
            }
        }
    }
    panic!("the link never connected");
}

/// A link connected to a socket that plays Redis: the poll, the link, and the peer's end.
fn linked() -> (Poll, Link, TcpStream) {
    let redis = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut poll = Poll::new().unwrap();
    let mut link = Link::new(redis.local_addr().unwrap());
    link.connect(poll.registry(), Token(1)).unwrap();
    let (peer, _) = redis.accept().unwrap();
    connected(&mut poll, &mut link);
    (poll, link, peer)
}

/// Waits for the next readable event (at most 10 s).
fn readable(poll: &mut Poll) {
    let mut events = Events::with_capacity(8);
    for _ in 0..100 {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if events.iter().any(|e| e.is_readable()) {
            return;
        }
    }
    panic!("nothing to read");
}

/// Reads from the link until a frame is complete.
fn next(poll: &mut Poll, link: &mut Link) -> OwnedFrame {
    loop {
        link.read().unwrap();
        if let Some(frame) = link.next_frame().unwrap() {
            return frame;
        }
        readable(poll);
    }
}

#[test]
fn commands_go_out_as_resp_arrays_and_frames_come_back_whole() {
    let (mut poll, mut link, mut peer) = linked();

    link.command(&[b"FCALL", b"imchat_v1_send", b"0", b"hi\r\nthere"]);
    assert!(link.wants_flush());
    link.flush().unwrap();
    let expected =
        b"*4\r\n$5\r\nFCALL\r\n$14\r\nimchat_v1_send\r\n$1\r\n0\r\n$9\r\nhi\r\nthere\r\n";
    let mut got = vec![0; expected.len()];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, expected, "{}", String::from_utf8_lossy(&got));

    // An answer and a push, cut in the middle of the push's bulk string.
    let reply = b"+OK\r\n>3\r\n$7\r\nmessage\r\n$11\r\nim:presence\r\n$5\r\nhello\r\n";
    let (first, rest) = reply.split_at(30);
    peer.write_all(first).unwrap();
    assert_eq!(
        next(&mut poll, &mut link),
        OwnedFrame::SimpleString {
            data: b"OK".to_vec(),
            attributes: None
        }
    );
    assert_eq!(
        link.next_frame().unwrap(),
        None,
        "the push is not complete yet"
    );
    peer.write_all(rest).unwrap();
    let OwnedFrame::Push { data, .. } = next(&mut poll, &mut link) else {
        panic!("not a push");
    };
    assert_eq!(data.len(), 3);
}

#[test]
fn bytes_that_are_not_resp_break_the_link_and_a_closed_peer_is_seen() {
    let (mut poll, mut link, mut peer) = linked();
    peer.write_all(b"?what\r\n").unwrap();
    readable(&mut poll);
    link.read().unwrap();
    assert!(link.next_frame().is_err(), "not RESP");
    drop(peer);
    readable(&mut poll);
    assert!(!link.read().unwrap(), "end of stream seen");
}
