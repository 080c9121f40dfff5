//! Order across nodes: the members of a conversation, on three nodes, see its messages in
//! the one order Redis published them; a connection whose command waits for Redis answers
//! its later lines in the order it sent them; and a waiting command holds its own
//! connection only.

use crate::common::{assert_one_order, transcripts, Client};
use crate::{cluster, conversation, user_at, wait_online};

/// Messages each sender sends, in one write.
const PER_SENDER: usize = 200;

#[test]
fn members_on_three_nodes_see_senders_of_three_nodes_in_one_order() {
    let server = cluster(3, &["--max-line-rate", "off"]);
    let names = ["alice", "bob", "carol"];
    let mut clients = conversation(&server.node_addrs(), &names);
    // Every sender's lines in one write, all three on their way before anything is read.
    for (client, name) in clients.iter_mut().zip(names) {
        let lines: String = (0..PER_SENDER)
            .map(|i| format!("SEND_MESSAGE [1,\"{name}{i}\"]\n"))
            .collect();
        client.send_raw(lines.as_bytes());
    }
    let transcripts = transcripts(&mut clients, names.len() * PER_SENDER);
    for name in names {
        let expected: Vec<String> = (0..PER_SENDER)
            .map(|i| format!("MESSAGE [1,\"{name}\",\"{name}{i}\"]"))
            .collect();
        assert_one_order(&transcripts, name, &expected);
    }
}

#[test]
fn lines_behind_a_command_waiting_for_redis_are_answered_in_order() {
    let server = cluster(2, &[]);
    let [a, b] = server.node_addrs()[..] else {
        panic!("two nodes");
    };
    let mut erin = user_at(b, "erin");
    let mut dave = Client::connect(a);
    // Each of these needs Redis; the next is read only once the one before is answered.
    dave.send_raw(
        b"REGISTER [\"dave\"]\nINVITE [\"erin\"]\nSEND_MESSAGE [1,\"hi\"]\nSTATUS [\"busy\"]\n\
          LIST_CONVERSATIONS\nGOODBYE\n",
    );
    dave.expect_line("ONLINE_USERS {\"dave\":\"available\",\"erin\":\"available\"}");
    let answers: Vec<String> = (0..3).map(|_| dave.recv_skipping_presence()).collect();
    assert_eq!(
        answers,
        [
            "INVITATION [1,\"dave\"]",
            "MESSAGE [1,\"dave\",\"hi\"]",
            "CONVERSATIONS {\"1\":[\"dave\"]}",
        ]
    );
    let rest = dave.expect_closed();
    assert!(
        rest.iter().all(|l| l.starts_with("ONLINE_USERS ")),
        "only presence after the map: {rest:?}"
    );

    assert_eq!(erin.recv_skipping_presence(), "INVITATION [1,\"dave\"]");
    // Dave's goodbye ended the conversation on every node: the invitation lapsed.
    wait_online(&mut erin, "{\"erin\":\"available\"}");
    erin.send("JOIN [1]");
    assert_eq!(
        erin.recv_skipping_presence(),
        "ERROR \"JOIN: not invited to conversation 1\""
    );
}

#[test]
fn a_command_waiting_for_redis_holds_only_its_own_connection() {
    // A long lease: the paused Redis must not cost the node its lease meanwhile.
    let mut server = cluster(1, &["--lease-ms", "60000"]);
    let mut held = server.user("held");
    held.send("INVITE []");
    assert_eq!(held.recv_skipping_presence(), "INVITATION [1,\"held\"]");
    let mut free = server.user("free");
    let mut stranger = server.client();

    // Redis answers nothing until unpaused: an answer now cannot have come from it.
    assert_eq!(
        server
            .redis()
            .command(&["CLIENT", "PAUSE", "600000", "WRITE"]),
        "OK"
    );
    held.send("SEND_MESSAGE [1,\"held up\"]");
    held.send("LIST_CONVERSATIONS");
    free.send("SEND_MESSAGE [1,\"not mine\"]");
    assert_eq!(
        free.recv_skipping_presence(),
        "ERROR \"SEND_MESSAGE: not a member of conversation 1\""
    );
    stranger.send("LIST_CONVERSATIONS");
    stranger.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");

    assert_eq!(server.redis().command(&["CLIENT", "UNPAUSE"]), "OK");
    assert_eq!(
        held.recv_skipping_presence(),
        "MESSAGE [1,\"held\",\"held up\"]"
    );
    assert_eq!(
        held.recv_skipping_presence(),
        "CONVERSATIONS {\"1\":[\"held\"]}"
    );
}
