//! A node's lease when its link to Redis breaks: on reconnecting, the node ends its old
//! lease, so its old names are free at once, and must end only its own (in a Redis
//! restarted empty, node ids start over and its old id may be another node's, or its own
//! new one); and a command Redis answers "lease ended" is refused, not left waiting.

use crate::common::Client;
use crate::outages::wait_connected;
use crate::{cluster, conversation, unavailable, user_at, CONNECTED, LOST};

#[test]
fn a_node_whose_link_drops_frees_its_old_names_at_once_when_it_reconnects() {
    // A lease of a minute: only the node ending its old lease can free the names in time.
    let mut server = cluster(2, &["--lease-ms", "60000"]);
    let addrs = server.node_addrs();
    let mut clients = conversation(&addrs, &["alice", "bob"]);
    // Redis keeps every key; only the nodes' links (subscribers, unlike redis-cli) go.
    let killed = server
        .redis()
        .command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed, "2");
    for client in &mut clients {
        assert_eq!(
            client.expect_closed().last().map(String::as_str),
            Some(LOST)
        );
    }
    wait_connected(&mut server, 2);
    // Each user comes back to its own node, as a reconnecting client does.
    let mut alice = user_at(addrs[0], "alice");
    user_at(addrs[1], "bob");
    // Its old conversation ended with its members: the first of the new ones is 2.
    alice.send("INVITE [\"bob\"]");
    assert_eq!(alice.recv_skipping_presence(), "INVITATION [2,\"alice\"]");
}

#[test]
fn a_node_reconnecting_to_a_restarted_redis_keeps_its_new_lease() {
    // One node: its id in the old Redis is 1, and so is its id in the new one.
    let mut server = cluster(1, &["--lease-ms", "60000"]);
    let mut alice = server.user("alice");
    server.redis().restart();
    assert_eq!(alice.expect_closed().last().map(String::as_str), Some(LOST));
    wait_connected(&mut server, 2);
    // Ending its old lease (id 1 of the old Redis) must not end its new one (id 1 too).
    let mut again = Client::connect(server.addr);
    again.send("REGISTER [\"alice\"]");
    again.expect("ONLINE_USERS ");
}

#[test]
fn a_register_that_redis_answers_lease_ended_is_refused_not_left_waiting() {
    // A long lease: no refresh comes between the lease's end and the REGISTER.
    let mut server = cluster(1, &["--lease-ms", "60000"]);
    let line = server.wait_log(CONNECTED);
    let node = line.rsplit("as node ").next().unwrap().trim().to_string();
    // Redis ends the node's lease, as another node's refresh does once a stalled node's
    // lease has run out, while the node's link stays up.
    assert_eq!(
        server.redis().command(&["ZADD", "im:nodes", "0", &node]),
        "0"
    );
    let mut client = Client::connect(server.addr);
    client.send("REGISTER [\"alice\"]");
    client.expect_line(&unavailable("REGISTER"));
    // The node has signed off and connected again under a new lease: the name is free.
    wait_connected(&mut server, 2);
    client.send("REGISTER [\"alice\"]");
    client.expect("ONLINE_USERS ");
}
