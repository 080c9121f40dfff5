use std::net::{SocketAddr, SocketAddrV4};

use super::*;

fn group() -> SocketAddrV4 {
    "239.255.66.66:6666".parse().unwrap()
}

fn from() -> SocketAddr {
    "192.0.2.9:6666".parse().unwrap()
}

fn server(name: &str, users: u64, plain: &[&str]) -> Announce {
    Announce {
        name: name.into(),
        version: "0.1.0".into(),
        users,
        plain: plain.iter().map(|a| a.parse().unwrap()).collect(),
        web: Vec::new(),
    }
}

fn heard(datagrams: &[Vec<u8>]) -> Heard {
    let mut heard = Heard::default();
    for datagram in datagrams {
        heard.hear(datagram, from(), false);
    }
    heard
}

#[test]
fn announces_are_kept_sorted_and_requests_and_garbage_skipped() {
    let heard = heard(&[
        discovery::request(),
        server("lab", 2, &["192.0.2.1:6666"]).encode(),
        b"ANNOUNCE {\"name\":3}\n".to_vec(),
        b"HELLO {}\n".to_vec(),
        vec![0xff; 10],
        server("attic", 0, &["192.0.2.2:6666"]).encode(),
    ]);
    let names: Vec<_> = heard.servers().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["attic", "lab"]);
    assert_eq!(heard.not_listed, 0);
}

#[test]
fn one_server_heard_twice_is_listed_once_with_its_latest_count() {
    let heard = heard(&[
        server("lab", 2, &["192.0.2.1:6666"]).encode(),
        server("lab", 5, &["192.0.2.1:6666"]).encode(),
    ]);
    assert_eq!(heard.servers(), [server("lab", 5, &["192.0.2.1:6666"])]);
}

#[test]
fn two_servers_on_one_machine_are_two_servers() {
    // Same sender, same name even: different ports make different servers.
    let heard = heard(&[
        server("lab", 1, &["0.0.0.0:6666"]).encode(),
        server("lab", 1, &["0.0.0.0:6667"]).encode(),
        server("lab2", 1, &["0.0.0.0:6666"]).encode(),
    ]);
    assert_eq!(heard.servers().len(), 3);
}

#[test]
fn an_unspecified_address_is_the_senders() {
    let heard = heard(&[server("lab", 1, &["0.0.0.0:6666", "[::]:6667"]).encode()]);
    assert_eq!(
        heard.servers()[0].plain,
        [
            "192.0.2.9:6666".parse().unwrap(),
            "192.0.2.9:6667".parse().unwrap()
        ] as [SocketAddr; 2]
    );
}

#[test]
fn loopback_addresses_count_only_when_heard_from_this_machine() {
    let datagram = server("lab", 1, &["127.0.0.1:6666", "192.0.2.9:6666"]).encode();
    let mut remote = Heard::default();
    remote.hear(&datagram, from(), false);
    assert_eq!(
        remote.servers()[0].plain,
        ["192.0.2.9:6666".parse().unwrap()] as [SocketAddr; 1],
        "another machine's loopback is not ours to connect to"
    );
    let mut local = Heard::default();
    local.hear(&datagram, "127.0.0.1:6666".parse().unwrap(), true);
    assert_eq!(local.servers()[0].plain.len(), 2);
    // A server on another machine that listens on loopback only cannot be picked.
    let only_loopback = server("shy", 0, &["127.0.0.1:6666"]).encode();
    remote.hear(&only_loopback, from(), false);
    let shy = remote
        .servers()
        .into_iter()
        .find(|s| s.name == "shy")
        .unwrap();
    assert!(
        describe(&shy).contains("no address reachable from here"),
        "{}",
        describe(&shy)
    );
}

#[test]
fn a_flood_of_servers_is_counted_beyond_the_bound() {
    let mut heard = Heard::default();
    for i in 0..MAX_LISTED + 5 {
        heard.hear(
            &server(&format!("s{i:03}"), 0, &["192.0.2.1:1"]).encode(),
            from(),
            false,
        );
    }
    // A server already listed is still updated.
    heard.hear(&server("s000", 7, &["192.0.2.1:1"]).encode(), from(), false);
    assert_eq!(heard.servers().len(), MAX_LISTED);
    assert_eq!(heard.servers()[0].users, 7);
    assert_eq!(heard.not_listed, 5);
    let listing = listing(&heard.servers(), heard.not_listed, group());
    let n = listing.lines.len();
    assert_eq!(
        listing.lines[n - 2],
        format!("* 5 more ANNOUNCEs not listed (at most {MAX_LISTED} servers are)")
    );
    assert_eq!(
        listing.lines[n - 1],
        format!("* connect to which? (1-{MAX_LISTED})")
    );
}

#[test]
fn nobody_answering_fails_with_the_group_named() {
    assert_eq!(
        listing(&[], 0, group()),
        Listing {
            lines: vec!["! no server answered on 239.255.66.66:6666 within 1 s \
                 (is one started with --announce?)"
                .into()],
            next: Next::Fail,
        }
    );
}

#[test]
fn one_server_is_connected_to() {
    let lab = server("lab", 2, &["127.0.0.1:40123", "10.0.0.1:40123"]);
    assert_eq!(
        listing(&[lab], 0, group()),
        Listing {
            lines: vec!["* found lab at 127.0.0.1:40123 (2 users online)".into()],
            next: Next::Connect("127.0.0.1:40123".parse().unwrap()),
        }
    );
    let alone = server("lab", 1, &["127.0.0.1:40123"]);
    assert_eq!(
        listing(&[alone], 0, group()).lines,
        ["* found lab at 127.0.0.1:40123 (1 user online)"]
    );
}

#[test]
fn a_server_without_a_plain_address_is_shown_but_not_picked() {
    let mut web = server("web", 0, &[]);
    web.web = vec!["127.0.0.1:8080".parse().unwrap()];
    assert_eq!(
        listing(std::slice::from_ref(&web), 0, group()),
        Listing {
            lines: vec![
                "* found web (0 users online): web page only (http://127.0.0.1:8080/), \
                 imclient needs a plain address"
                    .into(),
                "! no server to connect to".into()
            ],
            next: Next::Fail,
        }
    );
    let bare = server("bare", 0, &[]);
    assert_eq!(
        describe(&bare),
        "bare (0 users online): no address reachable from here (a server on loopback serves \
         its own machine only)"
    );
    let both = [bare.clone(), web.clone()];
    assert_eq!(listing(&both, 0, group()).next, Next::Fail);

    let lab = server("lab", 3, &["127.0.0.1:40123"]);
    let servers = [lab, web];
    assert_eq!(
        listing(&servers, 0, group()),
        Listing {
            lines: vec![
                "* found 2 servers:".into(),
                "  1. lab at 127.0.0.1:40123 (3 users online)".into(),
                "  2. web (0 users online): web page only (http://127.0.0.1:8080/), \
                 imclient needs a plain address"
                    .into(),
                "* connect to which? (1-2)".into(),
            ],
            next: Next::Ask,
        }
    );
    assert_eq!(
        choose(Some("2"), &servers),
        Err(
            "! web cannot be picked: web page only (http://127.0.0.1:8080/), \
             imclient needs a plain address"
                .into()
        )
    );
}

#[test]
fn the_choice_is_a_number_in_range() {
    let servers = [
        server("a", 0, &["127.0.0.1:1"]),
        server("b", 0, &["127.0.0.1:2"]),
    ];
    assert_eq!(
        choose(Some("2"), &servers),
        Ok("127.0.0.1:2".parse().unwrap())
    );
    assert_eq!(
        choose(Some(" 1 \r"), &servers),
        Ok("127.0.0.1:1".parse().unwrap())
    );
    for bad in ["0", "3", "", "b", "-1", "1.", "99999999999999999999999"] {
        assert_eq!(
            choose(Some(bad), &servers),
            Err(format!("! not a choice: \"{bad}\" (1-2 picks a server)")),
            "{bad:?}"
        );
    }
    assert_eq!(
        choose(Some("\u{1b}[2J"), &servers),
        Err("! not a choice: \"\\u{1b}[2J\" (1-2 picks a server)".into())
    );
    assert_eq!(
        choose(None, &servers),
        Err("! no server chosen (end of input)".into())
    );
}

#[test]
fn names_from_the_network_cannot_drive_the_terminal() {
    let evil = server("\u{1b}[2Jlab\n", 1, &["127.0.0.1:1"]);
    assert_eq!(
        describe(&evil),
        "\\u{1b}[2Jlab\\n at 127.0.0.1:1 (1 user online)"
    );
}

#[test]
fn this_machine_is_what_a_socket_can_be_bound_to() {
    assert!(is_this_machine("127.0.0.1".parse().unwrap()));
    // TEST-NET-1 (RFC 5737): no machine has it.
    assert!(!is_this_machine("192.0.2.9".parse().unwrap()));
}
