//! Listening on every address a name resolved to: one listener each, one port for all with
//! port 0, and an address this machine lacks skipped while another is bound.

use std::net::{SocketAddr, TcpStream as StdStream};

use super::{config, Harness, Server};

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn every_address_gets_a_listener_and_port_zero_one_port_for_all() {
    // 127.0.0.2 is loopback too on Linux (all of 127.0.0.0/8), and IPv4 is always there.
    let listen = vec![
        addr("127.0.0.1:0"),
        addr("127.0.0.2:0"),
        addr("127.0.0.1:0"),
    ];
    let mut h = Harness::listening(listen, config());
    let bound = h.server.local_addrs().unwrap();
    assert_eq!(
        bound.len(),
        2,
        "a repeated address is bound once: {bound:?}"
    );
    assert_eq!(bound[0].port(), bound[1].port(), "one port: {bound:?}");
    assert_ne!(bound[0].port(), 0);
    let mut clients = Vec::new();
    for (i, at) in bound.iter().enumerate() {
        let mut client = h.connect_with(StdStream::connect(at).unwrap());
        client.send(&format!("REGISTER [\"user{i}\"]"));
        h.until_quiet();
        assert!(client.lines()[0].starts_with("ONLINE_USERS "), "via {at}");
        clients.push(client);
    }
    assert!(["user0", "user1"]
        .iter()
        .all(|name| h.server.chat.find_user(name).is_some()));
}

#[test]
fn an_address_this_machine_lacks_is_skipped_among_several_and_fatal_alone() {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it.
    let lacking = addr("192.0.2.1:0");
    let h = Harness::listening(vec![lacking, addr("127.0.0.1:0")], config());
    let bound = h.server.local_addrs().unwrap();
    assert_eq!(bound.len(), 1);
    assert!(bound[0].ip().is_loopback());

    let alone = Server::bind(super::Config {
        listen: vec![lacking],
        ..config()
    });
    let e = alone.err().expect("nothing to listen on");
    assert!(e.to_string().contains("cannot listen on 192.0.2.1"), "{e}");
}
