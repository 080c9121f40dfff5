//! Presence across nodes, in its three modes: a user's arrival, status and departure on
//! one node reach the users of every other node as their mode says, and a `REGISTER`
//! answer names the users of every node.

use std::collections::BTreeMap;

use crate::common::Client;
use crate::{cluster, user_at, wait_online};

#[test]
fn presence_reaches_every_node_in_each_users_mode() {
    let server = cluster(3, &[]);
    let [a, b, c] = server.node_addrs()[..] else {
        panic!("three nodes");
    };
    let mut full = user_at(a, "f");
    let mut none = Client::connect(a);
    none.send("REGISTER [\"n\",\"available\",{\"presence\":\"none\"}]");
    none.expect_line("ONLINE_USERS {\"n\":\"available\"}");
    let mut bob = user_at(b, "b");

    // Every registration before this one was published before Redis decided this one:
    // node C knows them all when it answers.
    let mut changes = Client::connect(c);
    changes.send("REGISTER [\"c\",\"available\",{\"presence\":\"changes\"}]");
    changes.expect_line(
        "ONLINE_USERS {\"b\":\"available\",\"c\":\"available\",\"f\":\"available\",\"n\":\"available\"}",
    );

    bob.send("STATUS [\"away\"]");
    wait_online(
        &mut full,
        "{\"b\":\"away\",\"c\":\"available\",\"f\":\"available\",\"n\":\"available\"}",
    );
    // The first change set after its answer: the changes of that whole interval on its
    // node (its own arrival, the others' it was told of in its answer: the same bytes go
    // to every user), b's new status among them.
    let line = changes.recv_until("b's new status", |l| {
        l.starts_with("PRESENCE ") && l.contains("\"b\":\"away\"")
    });
    let changed: BTreeMap<String, Option<String>> =
        serde_json::from_str(&line["PRESENCE ".len()..]).expect("a JSON object");
    for (name, status) in &changed {
        let now = if name == "b" { "away" } else { "available" };
        assert_eq!(status.as_deref(), Some(now), "{line}");
    }

    drop(bob); // no GOODBYE: a closed connection counts as one
    wait_online(
        &mut full,
        "{\"c\":\"available\",\"f\":\"available\",\"n\":\"available\"}",
    );
    changes.recv_until("b gone", |l| l == "PRESENCE {\"b\":null}");

    // The none-mode user's node broadcast all that to its full-mode neighbour already:
    // the none-mode user heard nothing but its own answer.
    none.send("LIST_CONVERSATIONS");
    none.expect_line("CONVERSATIONS {}");
}
