//! Scripted conversations, one per command group, against a real server. Presence is
//! broadcast every 50 ms here, so tests that wait for it finish quickly.

mod common;

use common::{assert_one_order, transcripts, Client, Server};

fn server() -> Server {
    Server::start(&["--presence-interval-ms", "50"])
}

/// Waits for the `ONLINE_USERS` snapshot that equals `expected`.
fn wait_online(client: &mut Client, expected: &str) {
    let want = format!("ONLINE_USERS {expected}");
    client.recv_until(&want, |l| l == want);
}

/// Alice invites the others into conversation 1 and they all join; every line up to the
/// complete member list is consumed.
fn conversation(server: &Server, names: &[&str]) -> Vec<Client> {
    let mut clients: Vec<Client> = names.iter().map(|n| server.user(n)).collect();
    let invitees: Vec<String> = names[1..].iter().map(|n| format!("\"{n}\"")).collect();
    clients[0].send(&format!("INVITE [{}]", invitees.join(",")));
    // One after the other, so the join order (and so the member order) is known.
    for client in &mut clients[1..] {
        client.recv_until("the invitation", |l| {
            l == format!("INVITATION [1,\"{}\"]", names[0])
        });
        client.send("JOIN [1]");
        client.recv_until("its membership", |l| l.starts_with("CONVERSATIONS "));
    }
    // The last to join has just seen the full list; everyone else catches up to it.
    let members: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let full = format!("CONVERSATIONS {{\"1\":[{}]}}", members.join(","));
    let last = clients.len() - 1;
    for client in &mut clients[..last] {
        client.recv_until("the full member list", |l| l == full);
    }
    clients
}

#[test]
fn register_and_presence() {
    let server = server();
    let mut alice = server.client();
    alice.send("REGISTER [\"alice\",\"at lunch\"]");
    alice.expect_line("ONLINE_USERS {\"alice\":\"at lunch\"}");
    let mut bob = server.user("bob");
    wait_online(&mut alice, "{\"alice\":\"at lunch\",\"bob\":\"available\"}");

    let mut taken = server.client();
    taken.send("REGISTER [\"BOB\"]");
    taken.expect_line("ERROR \"REGISTER: name BOB is taken\"");

    bob.send("STATUS [\"away\"]");
    wait_online(&mut alice, "{\"alice\":\"at lunch\",\"bob\":\"away\"}");
    wait_online(&mut bob, "{\"alice\":\"at lunch\",\"bob\":\"away\"}");

    drop(bob);
    wait_online(&mut alice, "{\"alice\":\"at lunch\"}");
    taken.send("REGISTER [\"BOB\"]");
    taken.expect("ONLINE_USERS ");
}

#[test]
fn presence_modes_changes_and_none() {
    let server = server();
    let mut watcher = server.client();
    watcher.send("REGISTER [\"watcher\",\"available\",{\"presence\":\"changes\"}]");
    watcher.expect_line("ONLINE_USERS {\"watcher\":\"available\"}");
    let mut bot = server.client();
    bot.send("REGISTER [\"bot\",\"busy\",{\"presence\":\"none\"}]");
    bot.expect_line("ONLINE_USERS {\"bot\":\"busy\"}");
    // The watcher's own arrival may fall in the same interval: coalesced into one line.
    watcher.recv_until("the bot arriving", |l| {
        l == "PRESENCE {\"bot\":\"busy\"}"
            || l == "PRESENCE {\"bot\":\"busy\",\"watcher\":\"available\"}"
    });

    let mut carol = server.user("carol");
    watcher.recv_until("carol arriving", |l| {
        l == "PRESENCE {\"carol\":\"available\"}"
    });
    carol.send("GOODBYE");
    carol.expect_closed();
    watcher.recv_until("carol leaving", |l| l == "PRESENCE {\"carol\":null}");

    let mut bad = server.client();
    bad.send("REGISTER [\"dave\",\"x\",{\"presence\":\"loud\"}]");
    assert!(bad.recv().starts_with("ERROR \"REGISTER: bad options"));
    bad.send("LIST_CONVERSATIONS");
    bad.expect_line("ERROR \"LIST_CONVERSATIONS: not registered\"");

    // The bot heard nothing but its own answer through all that.
    assert!(bot.sync().is_empty());
    bot.send("GOODBYE");
    assert!(bot.expect_closed().is_empty());
}

#[test]
fn invite_and_join() {
    let server = server();
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    let mut carol = server.user("carol");
    alice.send("INVITE [\"bob\",\"carol\",\"zed\"]");
    alice.expect_line("INVITATION [1,\"alice\"]");
    alice.expect_line("ERROR \"INVITE: not invited: zed (not online)\"");
    bob.recv_until("the invitation", |l| l == "INVITATION [1,\"alice\"]");
    carol.recv_until("the invitation", |l| l == "INVITATION [1,\"alice\"]");

    bob.send("JOIN [1]");
    for client in [&mut alice, &mut bob] {
        client.recv_until("two members", |l| {
            l == "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}"
        });
    }
    bob.send("JOIN [1]");
    bob.recv_until("the same list", |l| {
        l == "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}"
    });
    carol.send("JOIN [1]");
    let three = "CONVERSATIONS {\"1\":[\"alice\",\"bob\",\"carol\"]}";
    for client in [&mut alice, &mut bob, &mut carol] {
        client.recv_until("three members in join order", |l| l == three);
    }
    carol.send("JOIN [2]");
    carol.recv_until("a refusal", |l| {
        l == "ERROR \"JOIN: not invited to conversation 2\""
    });

    alice.send("INVITE []");
    alice.recv_until("a pending conversation", |l| {
        l == "INVITATION [2,\"alice\"]"
    });
}

#[test]
fn messages_have_one_order_for_every_member() {
    let server = server();
    let mut clients = conversation(&server, &["alice", "bob", "carol"]);
    let per_sender = 300;
    // Alice and bob talk at once; their lines interleave at the server in some order.
    let mut alice_tx = clients[0].sender();
    let mut bob_tx = clients[1].sender();
    for i in 0..per_sender {
        alice_tx.send(&format!("SEND_MESSAGE [1,\"a{i}\"]"));
        bob_tx.send(&format!("SEND_MESSAGE [1,\"b{i}\"]"));
    }
    let transcripts = transcripts(&mut clients, 2 * per_sender);
    for sender in ["alice", "bob"] {
        let letter = &sender[..1];
        let expected: Vec<String> = (0..per_sender)
            .map(|i| format!("MESSAGE [1,\"{sender}\",\"{letter}{i}\"]"))
            .collect();
        assert_one_order(&transcripts, sender, &expected);
    }
}

#[test]
fn message_text_survives_json_escapes_and_unicode() {
    let server = server();
    let mut clients = conversation(&server, &["alice", "bob"]);
    clients[0].send("SEND_MESSAGE [1,\"line\\nbreak \\\"quoted\\\" caf\u{e9} \u{1f600} \\u0007\"]");
    let expected =
        "MESSAGE [1,\"alice\",\"line\\nbreak \\\"quoted\\\" caf\u{e9} \u{1f600} \\u0007\"]";
    clients[1].recv_until("the message", |l| l == expected);
}

#[test]
fn leave_and_last_leave() {
    let server = server();
    let mut clients = conversation(&server, &["alice", "bob"]);
    let mut carol = server.user("carol");
    clients[1].send("INVITE [\"carol\"]");
    carol.recv_until("bob's invitation", |l| l == "INVITATION [2,\"bob\"]");

    clients[0].send("LEAVE [1]");
    clients[0].recv_until("its own empty map", |l| l == "CONVERSATIONS {}");
    clients[1].recv_until("bob alone", |l| {
        l == "CONVERSATIONS {\"1\":[\"bob\"],\"2\":[\"bob\"]}"
    });
    clients[0].send("SEND_MESSAGE [1,\"still here?\"]");
    clients[0].recv_until("a refusal", |l| {
        l == "ERROR \"SEND_MESSAGE: not a member of conversation 1\""
    });

    clients[1].send("LEAVE [2]");
    clients[1].recv_until("one left", |l| l == "CONVERSATIONS {\"1\":[\"bob\"]}");
    carol.send("JOIN [2]");
    carol.recv_until("the lapsed invitation", |l| {
        l == "ERROR \"JOIN: not invited to conversation 2\""
    });

    clients[1].send("LEAVE [1]");
    clients[1].recv_until("nothing left", |l| l == "CONVERSATIONS {}");
    clients[1].send("INVITE []");
    clients[1].recv_until("a new id, never reused", |l| l == "INVITATION [3,\"bob\"]");
}

#[test]
fn goodbye_and_disconnect_clean_up() {
    let server = server();
    let mut clients = conversation(&server, &["alice", "bob", "carol"]);
    let mut carol = clients.pop().unwrap();
    let mut bob = clients.pop().unwrap();
    let mut alice = clients.pop().unwrap();

    bob.send("GOODBYE");
    assert!(bob
        .expect_closed()
        .iter()
        .all(|l| l.starts_with("ONLINE_USERS")));
    let without_bob = "CONVERSATIONS {\"1\":[\"alice\",\"carol\"]}";
    alice.recv_until("bob gone", |l| l == without_bob);
    carol.recv_until("bob gone", |l| l == without_bob);
    wait_online(
        &mut alice,
        "{\"alice\":\"available\",\"carol\":\"available\"}",
    );

    drop(carol);
    alice.recv_until("carol gone", |l| l == "CONVERSATIONS {\"1\":[\"alice\"]}");
    wait_online(&mut alice, "{\"alice\":\"available\"}");
    // In a cluster (`IMCHAT_TEST_NODES`) each was the first connection of its node.
    let carol = server.wait_log_any("disconnect carol (conn ");
    assert!(carol.ends_with("): closed"), "{carol}");
    let bob = server.wait_log_any("disconnect bob (conn ");
    assert!(bob.ends_with("): goodbye"), "{bob}");
}

#[test]
fn nobody_learns_about_conversations_they_are_not_in() {
    let server = server();
    let mut clients = conversation(&server, &["alice", "bob"]);
    let mut eve = server.user("eve");
    clients[0].send("SEND_MESSAGE [1,\"secret\"]");
    clients[1].recv_until("the secret", |l| l == "MESSAGE [1,\"alice\",\"secret\"]");
    clients[0].send("LEAVE [1]");
    clients[1].recv_until("alice gone", |l| l == "CONVERSATIONS {\"1\":[\"bob\"]}");
    // Everything queued for eve before this round trip arrives first: nothing did.
    assert_eq!(eve.sync(), Vec::<String>::new());
    eve.send("LIST_CONVERSATIONS");
    eve.recv_until("her own (empty) map", |l| l == "CONVERSATIONS {}");
    eve.send("SEND_MESSAGE [1,\"hi?\"]");
    eve.recv_until("a refusal", |l| {
        l == "ERROR \"SEND_MESSAGE: not a member of conversation 1\""
    });
    eve.send("LEAVE [1]");
    eve.recv_until("a refusal", |l| {
        l == "ERROR \"LEAVE: not a member of conversation 1\""
    });
}

#[test]
fn changes_mode_members_hear_only_what_changed_and_a_conversation_stays_within_max_members() {
    let server = Server::start(&["--presence-interval-ms", "50", "--max-members", "3"]);
    let mut alice = server.user("alice");
    let mut bob = server.client();
    bob.send("REGISTER [\"bob\",null,{\"conversations\":\"changes\"}]");
    bob.expect("ONLINE_USERS ");
    let mut carol = server.client();
    carol.send("REGISTER [\"carol\",null,{\"presence\":\"none\",\"conversations\":\"changes\"}]");
    carol.expect_line("ONLINE_USERS {\"carol\":\"available\"}");
    let mut dave = server.user("dave");

    alice.send("INVITE [\"bob\",\"carol\",\"dave\"]");
    assert_eq!(alice.recv_skipping_presence(), "INVITATION [1,\"alice\"]");
    assert_eq!(
        alice.recv_skipping_presence(),
        "ERROR \"INVITE: not invited: dave (conversation full)\""
    );
    assert_eq!(bob.recv_skipping_presence(), "INVITATION [1,\"alice\"]");
    carol.expect_line("INVITATION [1,\"alice\"]");

    bob.send("JOIN [1]");
    assert_eq!(
        bob.recv_skipping_presence(),
        "MEMBERS [1,[\"alice\",\"bob\"]]"
    );
    assert_eq!(
        alice.recv_skipping_presence(),
        "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}"
    );
    carol.send("JOIN [1]");
    carol.expect_line("MEMBERS [1,[\"alice\",\"bob\",\"carol\"]]");
    assert_eq!(bob.recv_skipping_presence(), "JOINED [1,\"carol\"]");
    bob.send("LEAVE [1]");
    assert_eq!(bob.recv_skipping_presence(), "LEFT [1,\"bob\"]");
    carol.expect_line("LEFT [1,\"bob\"]");
    dave.send("JOIN [1]");
    assert_eq!(
        dave.recv_skipping_presence(),
        "ERROR \"JOIN: not invited to conversation 1\""
    );
    assert!(carol.sync().is_empty(), "carol heard nothing else");
}
