//! One name rule over every node: a name taken on one node is taken, under every spelling
//! the rule makes one name, on every other; two nodes asked for one name at once give it
//! to one user only; and `INVITE` finds a user of another node under any spelling.

use crate::common::Client;
use crate::{cluster, user_at, wait_online};

#[test]
fn a_name_taken_on_one_node_is_taken_on_the_others_under_every_spelling() {
    let server = cluster(3, &[]);
    let [a, b, c] = server.node_addrs()[..] else {
        panic!("three nodes");
    };
    let mut alice = user_at(a, "alice");
    let mut strasse = Client::connect(a);
    strasse.send("REGISTER [\"straße\",\"here\",{\"presence\":\"none\"}]");
    strasse.expect_line("ONLINE_USERS {\"straße\":\"here\"}");

    let mut taker = Client::connect(b);
    for (name, shown) in [
        ("ALICE", "ALICE"),
        ("STRASSE", "STRASSE"),
        ("Strasse", "Strasse"),
        ("\\uFF21lice", "Ａlice"), // a fullwidth A folds to a
    ] {
        taker.send(&format!("REGISTER [\"{name}\"]"));
        taker.expect_line(&format!("ERROR \"REGISTER: name {shown} is taken\""));
    }

    // INVITE finds straße on node A under another spelling, from node C.
    let mut bob = user_at(c, "bob");
    bob.send("INVITE [\"STRASSE\"]");
    assert_eq!(bob.recv_skipping_presence(), "INVITATION [1,\"bob\"]");
    strasse.expect_line("INVITATION [1,\"bob\"]");

    // Once alice is gone (her node told Redis: node C hears it), node B gives the name out.
    alice.send("GOODBYE");
    alice.expect_closed();
    wait_online(&mut bob, "{\"bob\":\"available\",\"straße\":\"here\"}");
    taker.send("REGISTER [\"ALICE\"]");
    taker.expect("ONLINE_USERS ");
}

#[test]
fn two_nodes_asked_for_one_name_at_once_give_it_to_one_user() {
    let server = cluster(2, &[]);
    let [a, b] = server.node_addrs()[..] else {
        panic!("two nodes");
    };
    for round in 0..20 {
        let mut first = Client::connect(a);
        let mut second = Client::connect(b);
        // Both requests are on their way before either answer is read; a different
        // spelling on each node, so only the name rule can make them one name.
        first.send(&format!("REGISTER [\"racer{round}\"]"));
        second.send(&format!("REGISTER [\"RACER{round}\"]"));
        let answers = [first.recv(), second.recv()];
        let won = answers
            .iter()
            .filter(|a| a.starts_with("ONLINE_USERS "))
            .count();
        let lost = answers
            .iter()
            .filter(|a| a.ends_with(" is taken\""))
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {answers:?}");
    }
}
