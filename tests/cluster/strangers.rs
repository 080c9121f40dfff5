//! A user outside a conversation, on a node that mirrors it or holds one of its
//! invitations, can neither join, speak in, nor leave it, nor hear it: the node's copy of
//! the conversation gives a stranger nothing Redis would not.

use crate::common::Client;
use crate::{cluster, members_map, user_at};

/// `mallory` tries everything on conversation 1, and is refused each time.
fn refused_everything(mallory: &mut Client) {
    for (line, refusal) in [
        ("JOIN [1]", "JOIN: not invited to conversation 1"),
        (
            "SEND_MESSAGE [1,\"x\"]",
            "SEND_MESSAGE: not a member of conversation 1",
        ),
        ("LEAVE [1]", "LEAVE: not a member of conversation 1"),
    ] {
        mallory.send(line);
        assert_eq!(
            mallory.recv_skipping_presence(),
            format!("ERROR \"{refusal}\"")
        );
    }
}

#[test]
fn a_stranger_on_a_node_that_mirrors_a_conversation_gets_nothing_of_it() {
    let server = cluster(2, &[]);
    let [a, b] = server.node_addrs()[..] else {
        panic!("two nodes");
    };
    let mut alice = user_at(a, "alice");
    let mut bob = user_at(b, "bob");
    let mut strangers = [user_at(a, "mallory"), user_at(b, "trudy")];
    alice.send("INVITE [\"bob\"]");
    assert_eq!(alice.recv_skipping_presence(), "INVITATION [1,\"alice\"]");
    assert_eq!(bob.recv_skipping_presence(), "INVITATION [1,\"alice\"]");
    // Node A mirrors conversation 1; node B holds bob's invitation to it.
    for stranger in &mut strangers {
        refused_everything(stranger);
    }

    bob.send("JOIN [1]");
    let both = members_map(1, &["alice", "bob"]);
    for member in [&mut alice, &mut bob] {
        member.recv_until("two members", |l| l == both);
    }
    // Now both nodes mirror it.
    for stranger in &mut strangers {
        refused_everything(stranger);
    }
    alice.send("SEND_MESSAGE [1,\"private\"]");
    bob.recv_until("the message", |l| l == "MESSAGE [1,\"alice\",\"private\"]");
    for stranger in &mut strangers {
        assert!(stranger.sync().is_empty(), "a stranger heard something");
    }
}
