//! A node going away: killed with -9 (no goodbye: its lease ends, and the other nodes take
//! its users offline), or stopped with SIGTERM (its users are signed off at once).

use crate::common::Client;
use crate::{cluster, conversation, members_map, user_at};

/// Reads until every line of `wanted` has come, in any order (the map and the presence
/// snapshot come from different channels of Redis, on the node's own schedule).
fn wait_for_all(client: &mut Client, wanted: &[&str]) {
    let mut missing: Vec<&str> = wanted.to_vec();
    while !missing.is_empty() {
        let line = client.recv_until(&format!("{missing:?}"), |l| missing.contains(&l));
        missing.retain(|w| *w != line);
    }
}

#[test]
fn a_node_killed_with_9_loses_its_users_once_its_lease_ends() {
    let mut server = cluster(3, &["--lease-ms", "1000"]);
    let addrs = server.node_addrs();
    let mut clients = conversation(&addrs, &["alice", "bob", "carol"]);
    let doomed = &mut server.others()[1];
    doomed.signal(libc::SIGKILL);
    assert!(!doomed.wait_exit().success());

    // Its users go offline on every node within the harness's patience (the lease, 1 s,
    // and a refresh of another node's; not asserted as a time).
    let both = "ONLINE_USERS {\"alice\":\"available\",\"bob\":\"available\"}";
    let map = members_map(1, &["alice", "bob"]);
    for client in &mut clients[..2] {
        wait_for_all(client, &[both, &map]);
    }
    // And its name is free on the nodes that are left.
    user_at(addrs[0], "carol");
}

#[test]
fn sigterm_signs_a_nodes_users_off_at_once_for_the_other_nodes() {
    // A lease of a minute: only the node's goodbye can free the name within the test.
    let mut server = cluster(2, &["--lease-ms", "60000"]);
    let [a, b] = server.node_addrs()[..] else {
        panic!("two nodes");
    };
    let mut clients = conversation(&[a, b], &["watcher", "alice"]);
    let stopped = &mut server.others()[0];
    stopped.signal(libc::SIGTERM);
    assert_eq!(
        clients[1].expect_closed().last().map(String::as_str),
        Some("ERROR \"server shutting down\"")
    );
    // It exits once Redis has taken its users and its lease: the name is free now.
    assert_eq!(stopped.wait_exit().code(), Some(0));
    let _alice = user_at(a, "ALICE");

    wait_for_all(
        &mut clients[0],
        &[
            &members_map(1, &["watcher"]),
            "ONLINE_USERS {\"ALICE\":\"available\",\"watcher\":\"available\"}",
        ],
    );
}
