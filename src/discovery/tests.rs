use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

fn lab() -> Announce {
    Announce {
        name: "lab".into(),
        version: "0.1.0".into(),
        users: 3,
        plain: vec!["0.0.0.0:6666".parse().unwrap()],
        web: vec!["192.0.2.7:6680".parse().unwrap()],
    }
}

#[test]
fn an_announce_is_one_line_that_reads_back_the_same() {
    let datagram = lab().encode();
    assert_eq!(
        String::from_utf8(datagram.clone()).unwrap(),
        "ANNOUNCE {\"name\":\"lab\",\"version\":\"0.1.0\",\"users\":3,\
         \"plain\":[\"0.0.0.0:6666\"],\"web\":[\"192.0.2.7:6680\"]}\n"
    );
    assert_eq!(parse(&datagram), Ok(Datagram::Announce(lab())));
    // Without its newline, and with the address lists it lacks left out.
    let bare = Announce {
        web: Vec::new(),
        ..lab()
    };
    let text = String::from_utf8(bare.encode()).unwrap();
    assert!(!text.contains("web"), "{text}");
    assert_eq!(
        parse(text.trim_end().as_bytes()),
        Ok(Datagram::Announce(bare))
    );
}

#[test]
fn a_later_version_may_add_fields() {
    let text = r#"ANNOUNCE {"name":"a","version":"9","users":0,"plain":["10.0.0.1:1"],"tls":["10.0.0.1:2"]}"#;
    let Ok(Datagram::Announce(announce)) = parse(text.as_bytes()) else {
        panic!("not read");
    };
    assert_eq!(announce.plain, vec!["10.0.0.1:1".parse().unwrap()]);
}

#[test]
fn requests_are_the_word_and_an_optional_object() {
    assert_eq!(request(), b"REQUEST {}\n");
    for ok in [
        "REQUEST {}\n",
        "REQUEST {}",
        "REQUEST",
        "REQUEST {\"filter\":1}",
    ] {
        assert_eq!(parse(ok.as_bytes()), Ok(Datagram::Request), "{ok:?}");
    }
}

#[test]
fn anything_else_is_malformed_and_says_why() {
    let long = format!("REQUEST {{\"pad\":\"{}\"}}", "x".repeat(MAX_DATAGRAM));
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"\n", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b"HELLO {}", "unknown command"),
        (b"request {}", "unknown command"),
        (b"REQUEST []", "REQUEST: not a JSON object"),
        (b"REQUEST {", "REQUEST: not a JSON object"),
        (b"REQUEST {}\nREQUEST {}\n", "more than one line"),
        (b"ANNOUNCE", "ANNOUNCE: not an announcement"),
        (
            b"ANNOUNCE {\"name\":\"a\"}",
            "ANNOUNCE: not an announcement",
        ),
        (
            b"ANNOUNCE {\"name\":\"a\",\"version\":\"1\",\"users\":-1}",
            "ANNOUNCE: not an announcement",
        ),
        (long.as_bytes(), "longer than 1024 bytes"),
    ];
    for (datagram, why) in cases {
        assert_eq!(
            parse(datagram),
            Err(*why),
            "{:?}",
            String::from_utf8_lossy(datagram)
        );
    }
}

#[test]
fn unspecified_addresses_stand_for_the_sender() {
    let from = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
    let seen = lab().seen_from(from);
    assert_eq!(seen.plain, vec![SocketAddr::new(from, 6666)]);
    assert_eq!(seen.web, vec!["192.0.2.7:6680".parse().unwrap()], "kept");
}

#[test]
fn groups_are_ipv4_multicast_with_a_port() {
    assert_eq!(
        parse_group(DEFAULT_GROUP).unwrap().to_string(),
        DEFAULT_GROUP
    );
    assert!(parse_group(DEFAULT_GROUP).unwrap().ip().is_multicast());
    for bad in [
        "10.0.0.1:6666",
        "239.1.1.1:0",
        "[ff02::1]:6666",
        "239.1.1.1",
        "nonsense",
    ] {
        assert!(parse_group(bad).is_err(), "{bad}");
    }
}

#[test]
fn server_names_are_short_and_printable() {
    assert_eq!(check_server_name("lab 3").as_deref(), Ok("lab 3"));
    assert!(check_server_name("").is_err());
    assert!(check_server_name(&"x".repeat(MAX_SERVER_NAME + 1)).is_err());
    assert!(check_server_name("a\u{1b}[2Jb").is_err());
    assert!(check_server_name(&host_name()).is_ok());
}

#[test]
fn the_largest_announce_fits_a_datagram() {
    // The longest name, the largest count and four of the longest addresses of each kind.
    let v6: SocketAddr = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
        .parse()
        .unwrap();
    let announce = Announce {
        name: "x".repeat(MAX_SERVER_NAME),
        version: env!("CARGO_PKG_VERSION").into(),
        users: u64::MAX,
        plain: vec![v6; 4],
        web: vec![v6; 4],
    };
    assert!(
        announce.encode().len() <= MAX_DATAGRAM,
        "{}",
        announce.encode().len()
    );
}

#[test]
fn sockets_joined_on_loopback_hear_each_other_and_themselves() {
    // A group of this test's own: a port no other socket on 127.0.0.1 holds right now.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let group = SocketAddrV4::new(Ipv4Addr::new(239, 255, 66, 67), port);
    let loopback = Ipv4Addr::LOCALHOST;
    let (a, b) = (
        join(group, loopback).unwrap(),
        join(group, loopback).unwrap(),
    );
    for socket in [&a, &b] {
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
    }
    a.send_to(&request(), group).unwrap();
    let mut buf = [0u8; MAX_DATAGRAM];
    for socket in [&b, &a] {
        let (n, from) = socket.recv_from(&mut buf).expect("multicast on loopback");
        assert_eq!(parse(&buf[..n]), Ok(Datagram::Request));
        assert_eq!(
            from,
            SocketAddr::from((loopback, port)),
            "sent from the group's port"
        );
    }
}
