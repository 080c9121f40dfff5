//! What the nodes leave in Redis: their functions, and once a chat's users are gone, no
//! conversation or user keys (only the id counter); and `--engine` values that cannot
//! work stop `imserver` at start, saying why.

use std::process::{Command, Stdio};

use crate::{cluster, conversation, user_at, wait_online};

#[test]
fn the_nodes_load_their_versioned_function_library() {
    let mut server = cluster(1, &[]);
    let listed = server
        .redis()
        .command(&["FUNCTION", "LIST", "LIBRARYNAME", "imchat_v1"]);
    let lines: Vec<&str> = listed.lines().collect();
    for name in [
        "imchat_v1",
        "imchat_v1_register",
        "imchat_v1_send",
        "imchat_v1_node_lease",
    ] {
        assert!(lines.contains(&name), "{name} missing from:\n{listed}");
    }
}

#[test]
fn redis_keeps_no_conversation_or_user_keys_once_everyone_has_left() {
    let mut server = cluster(3, &[]);
    let addrs = server.node_addrs();
    // Never invited to anything, so it owns no key of its own but its entry online.
    let mut watcher = user_at(addrs[0], "watcher");
    let mut clients = conversation(&addrs, &["alice", "bob", "carol"]);
    let mut dave = user_at(addrs[1], "dave");
    let mut erin = user_at(addrs[2], "erin");
    // Conversation 2: carol joins; dave and erin never do, and leave invited.
    clients[1].send("INVITE [\"carol\",\"dave\",\"erin\"]");
    clients[1].recv_until("its invitation", |l| l == "INVITATION [2,\"bob\"]");
    for invitee in [&mut clients[2], &mut dave, &mut erin] {
        invitee.recv_until("the invitation", |l| l == "INVITATION [2,\"bob\"]");
    }
    clients[2].send("JOIN [2]");
    clients[2].recv_until("two conversations", |l| {
        l.starts_with("CONVERSATIONS {") && l.contains("\"2\":")
    });
    clients[0].send("SEND_MESSAGE [1,\"hi\"]");
    for client in &mut clients {
        client.recv_until("the message", |l| l == "MESSAGE [1,\"alice\",\"hi\"]");
    }

    // Every way out: LEAVE then GOODBYE, GOODBYE as a member, a closed connection as a
    // member and as an invitee, GOODBYE as an invitee.
    let [mut alice, mut bob, carol] = <[_; 3]>::try_from(clients).ok().unwrap();
    bob.send("LEAVE [1]");
    bob.send("GOODBYE");
    alice.send("GOODBYE");
    erin.send("GOODBYE");
    drop((carol, dave));
    for client in [&mut alice, &mut bob, &mut erin] {
        client.expect_closed();
    }
    // Each user's departure is published once Redis has taken it out of everything.
    wait_online(&mut watcher, "{\"watcher\":\"available\"}");

    let redis = server.redis();
    assert_eq!(redis.command(&["KEYS", "im:user:*"]), "");
    assert_eq!(redis.command(&["KEYS", "im:conv:*"]), "im:conv:seq");
    assert_eq!(redis.command(&["HKEYS", "im:online"]), "watcher");
}

#[test]
fn an_engine_that_cannot_work_stops_imserver_at_start_saying_why() {
    for (engine, says) in [
        ("postgres://x", "unknown engine \"postgres://x\""),
        ("redis://no-such-host.invalid:1", "no-such-host.invalid"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_imserver"))
            .args(["--listen", "127.0.0.1:0", "--engine", engine])
            .stdin(Stdio::null())
            .output()
            .expect("run imserver");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{engine}: {stderr}");
        assert!(stderr.contains(says), "{engine}: {stderr}");
    }
}
