//! `--metrics`: a real server's `/metrics`, scraped over plain HTTP and parsed by a strict
//! OpenMetrics parser (openmetrics-parser, not the crate that wrote the text), must count
//! what the test did.
#![cfg(feature = "metrics")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use common::discovery::{announce_flags, fresh_group, Ear};
use common::{Client, Server, PATIENCE};
use openmetrics_parser::openmetrics::parse_openmetrics;
use openmetrics_parser::{MetricsExposition, OpenMetricsType, OpenMetricsValue};

type Exposition = MetricsExposition<OpenMetricsType, OpenMetricsValue>;

/// A server with `/metrics` on a free port, and that port (from its log line).
fn server(flags: &[&str]) -> (Server, SocketAddr) {
    let flags = [&["--metrics", "127.0.0.1:0", "--http", "off"], flags].concat();
    let server = Server::start(&flags);
    let line = server.wait_log("metrics at http://");
    let addr = line.rsplit("http://").next().unwrap();
    let addr = addr.trim().trim_end_matches("/metrics");
    let addr = addr.parse().expect("address in the metrics line");
    (server, addr)
}

/// One HTTP request: the status, the headers' text and the body. The server closes after
/// its answer, so the answer is everything read until the end.
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics listener");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer, then the end");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    (
        status.expect("a status"),
        head.to_string(),
        body.to_string(),
    )
}

/// `GET /metrics`, parsed.
fn scrape(addr: SocketAddr) -> Exposition {
    let (status, head, body) = request(addr, "GET", "/metrics");
    assert_eq!(status, 200, "{head}");
    let content_type = "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8";
    assert!(head.contains(content_type), "{head}");
    parse_openmetrics(&body).unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{body}"))
}

/// The value of the sample of `family` whose labels include `labels`.
fn value(exposition: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let metrics = exposition
        .families
        .get(family)
        .unwrap_or_else(|| panic!("no family {family}"));
    let sample = metrics.iter_samples().find(|sample| {
        let set = sample.get_labelset().expect("a label set");
        let set: Vec<(&String, &String)> = set.iter().collect();
        (labels.iter()).all(|(k, v)| set.iter().any(|(sk, sv)| sk == k && sv == v))
    });
    match sample.map(|s| &s.value) {
        Some(OpenMetricsValue::Counter(counter)) => counter.value.as_f64(),
        Some(OpenMetricsValue::Gauge(gauge)) => gauge.as_f64(),
        other => panic!("{family} {labels:?}: {other:?}"),
    }
}

/// Scrapes until `done` holds (a close is settled in a later pass than the event that
/// caused it), and returns that scrape.
fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let exposition = scrape(addr);
        if done(&exposition) {
            return exposition;
        }
        assert!(Instant::now() < deadline, "never saw {what}");
    }
}

/// Sends `line` and counts its bytes (newline included).
fn send(client: &mut Client, sent: &mut usize, line: &str) {
    client.send(line);
    *sent += line.len() + 1;
}

#[test]
fn a_scrape_counts_what_the_chat_did() {
    let (server, metrics) = server(&[]);
    let mut sent = 0;
    let (mut alice, mut bob) = (server.client(), server.client());
    send(&mut alice, &mut sent, "REGISTER [\"alice\"]");
    alice.expect("ONLINE_USERS ");
    send(&mut bob, &mut sent, "REGISTER [\"bob\"]");
    bob.expect("ONLINE_USERS ");
    send(&mut alice, &mut sent, "INVITE [\"bob\"]");
    bob.recv_until("the invitation", |l| l.starts_with("INVITATION [1,"));
    send(&mut bob, &mut sent, "JOIN [1]");
    // Bob is a member before alice speaks: lines of two connections that arrive in one pass
    // may be served in either order (on poll(2) they are).
    alice.recv_until("bob joined", |l| {
        l.starts_with("CONVERSATIONS ") && l.contains("bob")
    });
    for i in 0..3 {
        send(
            &mut alice,
            &mut sent,
            &format!("SEND_MESSAGE [1,\"hello {i}\"]"),
        );
    }
    send(&mut bob, &mut sent, "NONSENSE");
    send(&mut bob, &mut sent, "");
    for client in [&mut alice, &mut bob] {
        let last = "MESSAGE [1,\"alice\",\"hello 2\"]";
        client.recv_until("the last message", |l| l == last);
        // A round trip: everything before it has been handled.
        sent += "LIST_CONVERSATIONS\n".len();
        client.sync();
    }

    let m = scrape(metrics);
    let lines_in = |command| value(&m, "imchat_lines_in", &[("command", command)]);
    assert_eq!(lines_in("REGISTER"), 2.0);
    assert_eq!(lines_in("INVITE"), 1.0);
    assert_eq!(lines_in("JOIN"), 1.0);
    assert_eq!(lines_in("SEND_MESSAGE"), 3.0);
    assert_eq!(lines_in("LIST_CONVERSATIONS"), 2.0);
    assert_eq!(lines_in("unknown"), 1.0);
    assert_eq!(lines_in("empty"), 1.0);
    let lines_out = |command| value(&m, "imchat_lines_out", &[("command", command)]);
    assert_eq!(lines_out("MESSAGE"), 6.0, "three messages to two members");
    assert_eq!(lines_out("INVITATION"), 2.0, "to the inviter and to bob");
    assert_eq!(lines_out("ERROR"), 1.0);
    assert_eq!(value(&m, "imchat_received_bytes", &[]), sent as f64);
    assert_eq!(value(&m, "imchat_users", &[]), 2.0);
    assert_eq!(value(&m, "imchat_conversations", &[]), 1.0);
    let connections = |transport, state| {
        let labels = [("transport", transport), ("state", state)];
        value(&m, "imchat_connections", &labels)
    };
    assert_eq!(connections("lines", "registered"), 2.0);
    assert_eq!(connections("lines", "unregistered"), 0.0);
    // The scrape sees itself, as a connection of its own kind, not as a chat connection.
    assert_eq!(connections("metrics", "unregistered"), 1.0);
    assert!(m.families.contains_key("imchat_pass_duration_seconds"));

    // Bob leaves by closing, alice by GOODBYE.
    drop(bob);
    alice.send("GOODBYE");
    alice.expect_closed();
    drop(alice);
    let closes = |m: &Exposition, reason| value(m, "imchat_closes", &[("reason", reason)]);
    let m = scrape_until(metrics, "both closes", |m| {
        closes(m, "closed") == 1.0 && closes(m, "goodbye") == 1.0
    });
    assert_eq!(value(&m, "imchat_users", &[]), 0.0);
    assert_eq!(value(&m, "imchat_conversations", &[]), 0.0);
    assert_eq!(connections_of(&m, "lines"), 0.0);
    // Scrapes close too, but they are not the chat's closes: they are counted as scrapes.
    assert_eq!(closes(&m, "served"), 0.0);
    assert!(value(&m, "imchat_scrapes", &[]) >= 2.0);
}

/// Open connections of one transport, whatever their state.
fn connections_of(m: &Exposition, transport: &str) -> f64 {
    ["unregistered", "registered", "closing"]
        .iter()
        .map(|state| {
            let labels = [("transport", transport), ("state", *state)];
            value(m, "imchat_connections", &labels)
        })
        .sum()
}

#[test]
fn only_get_metrics_gets_the_text() {
    let (_server, metrics) = server(&[]);
    let (status, _, body) = request(metrics, "GET", "/");
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = request(metrics, "GET", "/metrics/other");
    assert_eq!(status, 404);
    let (status, head, _) = request(metrics, "POST", "/metrics");
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET"), "{head}");
    // A refused request is no scrape.
    assert_eq!(value(&scrape(metrics), "imchat_scrapes", &[]), 1.0);
}

#[test]
fn a_full_server_refuses_and_counts_it_and_a_scrape_then_gets_503() {
    let (server, metrics) = server(&["--max-connections", "2"]);
    let _alice = server.user("alice");
    let bob = server.user("bob");
    let mut carol = server.client();
    carol.expect_line("ERROR \"server full\"");
    // The metrics listener's connections count against --max-connections too.
    let (status, head, _) = request(metrics, "GET", "/metrics");
    assert_eq!(status, 503, "{head}");
    drop(bob);
    let deadline = Instant::now() + PATIENCE;
    while request(metrics, "GET", "/metrics").0 != 200 {
        assert!(Instant::now() < deadline, "bob's slot never came free");
    }
    let m = scrape(metrics);
    // Carol, and at least the scrape refused above (more if bob's slot took a while).
    assert!(value(&m, "imchat_refusals", &[("reason", "full")]) >= 2.0);
}

#[test]
fn a_scrape_during_a_flood_is_answered() {
    let (server, metrics) = server(&["--max-line-rate", "off"]);
    let mut flooder = server.user("flooder");
    // Its answers are read on another thread, so it never becomes a slow reader.
    let mut sender = flooder.sender();
    const LINES: usize = 100_000;
    let flood = std::thread::spawn(move || {
        for _ in 0..LINES {
            sender.send("LIST_CONVERSATIONS");
        }
    });
    let drain = std::thread::spawn(move || {
        for _ in 0..LINES {
            flooder.expect("CONVERSATIONS ");
        }
        flooder
    });
    // Scrapes while the flood goes on: each is answered, whole and well-formed.
    let mut seen = 0.0;
    while !flood.is_finished() {
        let m = scrape(metrics);
        let now = value(&m, "imchat_lines_in", &[("command", "LIST_CONVERSATIONS")]);
        assert!(now >= seen, "a counter never goes back: {now} after {seen}");
        seen = now;
    }
    flood.join().unwrap();
    drain.join().unwrap();
    let m = scrape(metrics);
    let handled = value(&m, "imchat_lines_in", &[("command", "LIST_CONVERSATIONS")]);
    assert_eq!(handled, LINES as f64);
}

#[test]
fn discovery_is_counted_when_announcing() {
    let group = fresh_group();
    let ear = Ear::join(group);
    let flags = announce_flags(group, "lab");
    let (_server, metrics) = server(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    ear.announce_from("lab");
    ear.send(b"WHO {}");
    ear.send(&imchat::discovery::request());
    let counter = |m: &Exposition, name| value(m, name, &[]);
    let m = scrape_until(metrics, "the REQUEST and the junk", |m| {
        counter(m, "imchat_discovery_requests") == 1.0
            && counter(m, "imchat_discovery_malformed") == 1.0
    });
    assert!(counter(&m, "imchat_announcements") >= 1.0);
}

/// What an open network adds: TLS connections, TLS failures, wrong passwords and
/// per-address refusals, each counted.
#[cfg(feature = "tls")]
#[test]
fn tls_wrong_passwords_and_per_address_refusals_are_counted() {
    use common::tls::{Certs, TlsClient};
    let certs = Certs::localhost();
    let password = common::TempFile::write("metrics-password", "sesame\n");
    let tls = certs.server_flags();
    let mut flags: Vec<&str> = tls.iter().map(String::as_str).collect();
    let password_path = password.path().to_str().unwrap();
    flags.extend(["--password-file", password_path]);
    flags.extend(["--max-connections-per-ip", "2", "--limit-loopback"]);
    let (server, metrics) = server(&flags);

    let mut ann = TlsClient::connect(server.addr, &certs).expect("TLS handshake");
    ann.send("REGISTER [\"ann\",\"here\",{\"password\":\"guess\"}]");
    assert_eq!(ann.recv(), "ERROR \"REGISTER: wrong password\"");
    ann.send("REGISTER [\"ann\",\"here\",{\"password\":\"sesame\"}]");
    ann.wait_for("ONLINE_USERS ");
    // Two open from 127.0.0.1 (ann, and a second not yet in its handshake, TLS all the
    // same): the third is refused.
    let second = TcpStream::connect(server.addr).unwrap();
    let mut third = TcpStream::connect(server.addr).unwrap();
    third.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = third.read_to_end(&mut Vec::new());
    let m = scrape_until(metrics, "the refusal", |m| {
        value(m, "imchat_refusals", &[("reason", "per_address")]) == 1.0
    });
    assert_eq!(value(&m, "imchat_tls_connections", &[]), 2.0);
    drop(second);
    scrape_until(metrics, "the second connection gone", |m| {
        value(m, "imchat_tls_connections", &[]) == 1.0
    });
    // Not TLS on the TLS port: a TLS failure, closed.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    plain.write_all(b"REGISTER [\"bob\"]\n").unwrap();
    let _ = plain.read_to_end(&mut Vec::new());
    drop(plain);
    let m = scrape_until(metrics, "the TLS failure", |m| {
        value(m, "imchat_closes", &[("reason", "tls_failed")]) == 1.0
    });
    assert_eq!(value(&m, "imchat_wrong_passwords", &[]), 1.0);
    assert_eq!(value(&m, "imchat_users", &[]), 1.0);
    assert_eq!(
        value(&m, "imchat_refusals", &[("reason", "per_address")]),
        1.0
    );
}

#[test]
fn the_redis_engine_shows_its_link_and_the_other_nodes_users() {
    let flags = ["--metrics", "127.0.0.1:0", "--http", "off"];
    let mut cluster = Server::start_cluster(2, &flags);
    let line = cluster.wait_log("metrics at http://");
    let addr = line.rsplit("http://").next().unwrap();
    let addr: SocketAddr = addr.trim().trim_end_matches("/metrics").parse().unwrap();
    let nodes = cluster.node_addrs();
    let mut alice = Client::connect(nodes[0]);
    alice.send("REGISTER [\"alice\"]");
    alice.expect("ONLINE_USERS ");
    let mut bob = Client::connect(nodes[1]);
    bob.send("REGISTER [\"bob\"]");
    bob.expect("ONLINE_USERS ");
    let m = scrape_until(addr, "bob, on the other node", |m| {
        value(m, "imchat_remote_users", &[]) == 1.0
    });
    assert_eq!(value(&m, "imchat_engine_connected", &[]), 1.0);
    assert_eq!(value(&m, "imchat_users", &[]), 1.0, "this node's own");
    assert_eq!(value(&m, "imchat_engine_failures", &[]), 0.0);

    cluster.redis().kill();
    let m = scrape_until(addr, "the link lost", |m| {
        value(m, "imchat_engine_connected", &[]) == 0.0
    });
    assert!(value(&m, "imchat_engine_failures", &[]) >= 1.0);
    assert_eq!(value(&m, "imchat_remote_users", &[]), 0.0, "unknown now");
    drop(alice);
}
