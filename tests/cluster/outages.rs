//! Redis going away under the nodes: restarted (empty) under load, killed while commands
//! wait for it, and not there yet when a node starts. A node that loses Redis signs its users out (the `LOST` notice, then the
//! connection closes), refuses what needs Redis while it has none and keeps those
//! connections, and serves again once it is back.

use crate::common::redis::Redis;
use crate::common::{Client, Server};
use crate::{cluster, conversation, unavailable, user_at, CONNECTED, FAST_PRESENCE, LOST};

/// Messages each sender sends in one write; Redis restarts once a tenth of all of them
/// have come back (the checks hold wherever the restart falls).
const PER_SENDER: usize = 2000;

/// Waits until every node has connected to its Redis `times` times.
pub fn wait_connected(server: &mut Server, times: usize) {
    server.wait_log_times(CONNECTED, times);
    for node in server.others().iter() {
        node.wait_log_times(CONNECTED, times);
    }
}

/// `(sender, number)` of a `MESSAGE [1,"alice","alice17"]` line.
fn numbered(line: &str) -> Option<(String, usize)> {
    let text = line.strip_prefix("MESSAGE [1,\"")?.strip_suffix("\"]")?;
    let (name, text) = text.split_once("\",\"")?;
    let number = text.strip_prefix(name)?.parse().ok()?;
    Some((name.to_string(), number))
}

#[test]
fn redis_restarted_under_load_signs_users_out_and_no_message_is_doubled_or_reordered() {
    let mut server = cluster(3, &["--max-line-rate", "off"]);
    let addrs = server.node_addrs();
    let names = ["alice", "bob", "carol"];
    let mut clients = conversation(&addrs, &names);
    for (client, name) in clients.iter_mut().zip(names) {
        let lines: String = (0..PER_SENDER)
            .map(|i| format!("SEND_MESSAGE [1,\"{name}{i}\"]\n"))
            .collect();
        client.send_raw(lines.as_bytes());
    }
    // Well under way (a tenth of the messages published) when Redis restarts.
    let early: Vec<String> = (0..PER_SENDER * 3 / 10)
        .map(|_| clients[0].recv_skipping_presence())
        .collect();
    server.redis().restart();

    let mut transcripts = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        let mut lines = client.expect_closed();
        if i == 0 {
            lines.splice(0..0, early.iter().cloned());
        }
        assert_eq!(lines.last().map(String::as_str), Some(LOST), "{}", names[i]);
        let (messages, others): (Vec<String>, Vec<String>) =
            (lines.into_iter()).partition(|l| l.starts_with("MESSAGE "));
        // Besides presence, at most the refusal of the one command Redis never answered.
        let refused = unavailable("SEND_MESSAGE");
        assert!(
            (others.iter()).all(|l| l.starts_with("ONLINE_USERS ") || *l == refused || l == LOST),
            "{}: {others:?}",
            names[i]
        );
        for name in names {
            let own: Vec<usize> = (messages.iter())
                .filter_map(|l| numbered(l).filter(|(n, _)| n == name))
                .map(|(_, number)| number)
                .collect();
            let expected: Vec<usize> = (0..own.len()).collect();
            assert_eq!(own, expected, "{}'s copy of {name}'s messages", names[i]);
        }
        transcripts.push(messages);
    }
    // Each node heard a prefix of Redis's one order before it lost the link.
    let longest = transcripts.iter().map(Vec::len).max().unwrap_or(0);
    let reference = transcripts.iter().find(|t| t.len() == longest).unwrap();
    for (i, transcript) in transcripts.iter().enumerate() {
        assert_eq!(
            transcript[..],
            reference[..transcript.len()],
            "{}",
            names[i]
        );
    }

    // Back: the old names are free, and a new conversation (id 1 again, in the new Redis)
    // spans the nodes, each on a different node than before.
    wait_connected(&mut server, 2);
    let rotated = [addrs[1], addrs[2], addrs[0]];
    let mut clients = conversation(&rotated, &names);
    clients[2].send("SEND_MESSAGE [1,\"back\"]");
    for client in &mut clients {
        let line = client.recv_skipping_presence();
        assert_eq!(line, "MESSAGE [1,\"carol\",\"back\"]");
    }
}

#[test]
fn commands_waiting_when_redis_dies_are_refused_and_register_waits_for_its_return() {
    let mut server = cluster(2, &[]);
    let [a, b] = server.node_addrs()[..] else {
        panic!("two nodes");
    };
    let mut alice = user_at(a, "alice");
    alice.send("INVITE []");
    assert_eq!(alice.recv_skipping_presence(), "INVITATION [1,\"alice\"]");
    let mut newcomer = Client::connect(a);

    // Paused, Redis answers nothing: both commands are waiting for it when it dies.
    assert_eq!(
        server
            .redis()
            .command(&["CLIENT", "PAUSE", "600000", "WRITE"]),
        "OK"
    );
    alice.send("SEND_MESSAGE [1,\"lost\"]");
    newcomer.send("REGISTER [\"bob\"]");
    server.redis().kill();

    let lines = alice.expect_closed();
    let lines: Vec<&String> = (lines.iter())
        .filter(|l| !l.starts_with("ONLINE_USERS "))
        .collect();
    assert_eq!(lines, [&unavailable("SEND_MESSAGE"), &LOST.to_string()]);
    // The unregistered connection stays, and is refused again while Redis is away.
    newcomer.expect_line(&unavailable("REGISTER"));
    newcomer.send("REGISTER [\"bob\"]");
    newcomer.expect_line(&unavailable("REGISTER"));
    newcomer.send("LIST_CONVERSATIONS");
    newcomer.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");

    server.redis().restart();
    wait_connected(&mut server, 2);
    newcomer.send("REGISTER [\"alice\"]");
    newcomer.expect("ONLINE_USERS ");
    user_at(b, "bob");
}

#[test]
fn a_node_started_before_its_redis_refuses_register_until_redis_comes() {
    let mut redis = Redis::start();
    let url = redis.url();
    redis.kill(); // its port is known, and nothing listens there
    let mut flags = FAST_PRESENCE.to_vec();
    flags.extend(["--engine", &url]);
    let node = Server::start_at("127.0.0.1:0", &[], &flags);

    let mut client = Client::connect(node.addr);
    client.send("REGISTER [\"alice\"]");
    client.expect_line(&unavailable("REGISTER"));
    client.send("LIST_CONVERSATIONS");
    client.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");

    redis.restart();
    node.wait_log(CONNECTED);
    client.send("REGISTER [\"alice\"]");
    client.expect_line("ONLINE_USERS {\"alice\":\"available\"}");
}
