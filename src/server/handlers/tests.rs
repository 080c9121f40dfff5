//! The handlers, driven through the dispatch table with no sockets: what each peer would
//! be sent is read back from its outbox.

use crate::server::chat::{Chat, ChatLimits};
use crate::server::dispatch::dispatch;
use crate::server::presence;
use crate::server::test_support::{chat, drain, user};
use crate::server::Reason;

/// Conversation 1 with alice and bob as members and carol invited; every line so far
/// drained.
fn alice_bob_and_invited_carol(chat: &mut Chat) -> [usize; 3] {
    let alice = user(chat, "alice");
    let bob = user(chat, "bob");
    let carol = user(chat, "carol");
    dispatch(chat, alice, "INVITE [\"bob\",\"carol\"]");
    dispatch(chat, bob, "JOIN [1]");
    for key in [alice, bob, carol] {
        drain(chat, key);
    }
    [alice, bob, carol]
}

#[test]
fn register_answers_by_presence_mode() {
    let mut chat = chat();
    user(&mut chat, "alice");
    let bot = chat.connect();
    dispatch(
        &mut chat,
        bot,
        "REGISTER [\"bot\",null,{\"presence\":\"none\"}]",
    );
    assert_eq!(
        drain(&mut chat, bot),
        ["ONLINE_USERS {\"bot\":\"available\"}"]
    );
    let watcher = chat.connect();
    dispatch(
        &mut chat,
        watcher,
        "REGISTER [\"w\",\"away\",{\"presence\":\"changes\"}]",
    );
    assert_eq!(
        drain(&mut chat, watcher),
        ["ONLINE_USERS {\"alice\":\"available\",\"bot\":\"available\",\"w\":\"away\"}"]
    );
}

#[test]
fn invite_creates_a_conversation_and_reports_who_was_left_out() {
    let mut chat = chat();
    let alice = user(&mut chat, "alice");
    let bob = user(&mut chat, "bob");
    dispatch(
        &mut chat,
        alice,
        "INVITE [\"BOB\",\"bob\",\"nobody\",\"alice\"]",
    );
    assert_eq!(
        drain(&mut chat, alice),
        [
            "INVITATION [1,\"alice\"]",
            "ERROR \"INVITE: not invited: nobody (not online), alice (yourself)\""
        ]
    );
    assert_eq!(
        drain(&mut chat, bob),
        ["INVITATION [1,\"alice\"]"],
        "once, despite two spellings"
    );
    dispatch(&mut chat, alice, "INVITE []");
    assert_eq!(
        drain(&mut chat, alice),
        ["INVITATION [2,\"alice\"]"],
        "pending, ids grow"
    );
    dispatch(&mut chat, alice, "LIST_CONVERSATIONS");
    assert_eq!(
        drain(&mut chat, alice),
        ["CONVERSATIONS {\"1\":[\"alice\"],\"2\":[\"alice\"]}"]
    );
}

#[test]
fn join_needs_an_invitation_and_tells_every_member() {
    let mut chat = chat();
    let alice = user(&mut chat, "alice");
    let bob = user(&mut chat, "bob");
    let carol = user(&mut chat, "carol");
    dispatch(&mut chat, alice, "INVITE [\"bob\"]");
    drain(&mut chat, alice);
    drain(&mut chat, bob);
    dispatch(&mut chat, carol, "JOIN [1]");
    dispatch(&mut chat, carol, "JOIN [99]");
    assert_eq!(
        drain(&mut chat, carol),
        [
            "ERROR \"JOIN: not invited to conversation 1\"",
            "ERROR \"JOIN: not invited to conversation 99\""
        ]
    );
    dispatch(&mut chat, bob, "join [1]");
    let members = "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}";
    assert_eq!(drain(&mut chat, alice), [members]);
    assert_eq!(drain(&mut chat, bob), [members]);
    dispatch(&mut chat, alice, "JOIN [1]");
    assert_eq!(
        drain(&mut chat, alice),
        [members],
        "the inviter's own JOIN changes nothing"
    );
    assert!(drain(&mut chat, bob).is_empty());
}

#[test]
fn messages_reach_every_member_once_in_one_order() {
    let mut chat = chat();
    let [alice, bob, carol] = alice_bob_and_invited_carol(&mut chat);
    dispatch(&mut chat, bob, "SEND_MESSAGE [1,\"one\"]");
    dispatch(&mut chat, alice, "SEND_MESSAGE [1,\"two\"]");
    dispatch(
        &mut chat,
        carol,
        "SEND_MESSAGE [1,\"invited is not joined\"]",
    );
    let expected = [
        "MESSAGE [1,\"bob\",\"one\"]",
        "MESSAGE [1,\"alice\",\"two\"]",
    ];
    assert_eq!(drain(&mut chat, alice), expected);
    assert_eq!(drain(&mut chat, bob), expected);
    assert_eq!(
        drain(&mut chat, carol),
        ["ERROR \"SEND_MESSAGE: not a member of conversation 1\""]
    );
}

#[test]
fn the_last_leave_ends_the_conversation_and_its_invitations() {
    let mut chat = chat();
    let [alice, bob, carol] = alice_bob_and_invited_carol(&mut chat);
    dispatch(&mut chat, alice, "LEAVE [1]");
    assert_eq!(drain(&mut chat, bob), ["CONVERSATIONS {\"1\":[\"bob\"]}"]);
    assert_eq!(drain(&mut chat, alice), ["CONVERSATIONS {}"]);
    dispatch(&mut chat, alice, "LEAVE [1]");
    assert_eq!(
        drain(&mut chat, alice),
        ["ERROR \"LEAVE: not a member of conversation 1\""]
    );
    dispatch(&mut chat, bob, "LEAVE [1]");
    assert_eq!(drain(&mut chat, bob), ["CONVERSATIONS {}"]);
    dispatch(&mut chat, carol, "JOIN [1]");
    assert_eq!(
        drain(&mut chat, carol),
        ["ERROR \"JOIN: not invited to conversation 1\""]
    );
    assert!(chat.conversations.is_empty());
    assert!(
        chat.user(carol).unwrap().invited.is_empty(),
        "the lapsed invitation is gone"
    );
}

#[test]
fn retiring_a_user_cleans_up_after_it() {
    let mut chat = chat();
    let alice = user(&mut chat, "alice");
    let bob = user(&mut chat, "bob");
    dispatch(&mut chat, alice, "INVITE [\"bob\"]");
    dispatch(&mut chat, bob, "JOIN [1]");
    dispatch(&mut chat, bob, "INVITE [\"alice\"]");
    drain(&mut chat, alice);
    drain(&mut chat, bob);
    dispatch(&mut chat, bob, "GOODBYE");
    assert_eq!(chat.closing_reason(bob), Some(Reason::Goodbye));
    chat.retire(bob);
    assert_eq!(
        drain(&mut chat, alice),
        ["CONVERSATIONS {\"1\":[\"alice\"]}"]
    );
    assert!(
        drain(&mut chat, bob).is_empty(),
        "no map for the one who left"
    );
    assert!(
        !chat.conversations.contains_key(&2),
        "bob's own conversation ended with him"
    );
    assert!(chat.user(alice).unwrap().invited.is_empty());
    let newcomer = user(&mut chat, "BOB");
    assert!(chat.is_registered(newcomer), "the name is free again");
}

#[test]
fn a_peer_that_does_not_read_is_dropped_at_the_output_limit() {
    let mut chat = Chat::new(ChatLimits { max_output: 100 }, false);
    let alice = user(&mut chat, "alice");
    let bob = user(&mut chat, "bob");
    dispatch(&mut chat, alice, "INVITE [\"bob\"]");
    dispatch(&mut chat, bob, "JOIN [1]");
    drain(&mut chat, alice);
    for _ in 0..5 {
        dispatch(&mut chat, alice, "SEND_MESSAGE [1,\"0123456789\"]");
        drain(&mut chat, alice);
    }
    assert!(!chat.enforce_output_limit(alice), "alice reads");
    assert_eq!(
        chat.closing_reason(bob),
        None,
        "a burst alone is no offence"
    );
    assert!(chat.enforce_output_limit(bob));
    assert_eq!(chat.closing_reason(bob), Some(Reason::SlowReader));
    assert_eq!(
        chat.outbox(bob).unwrap().queued(),
        0,
        "its queue is freed at once"
    );
    assert_eq!(chat.closing_reason(alice), None);
}

#[test]
fn presence_changes_are_coalesced_and_net() {
    let mut chat = chat();
    let watcher = chat.connect();
    dispatch(
        &mut chat,
        watcher,
        "REGISTER [\"w\",null,{\"presence\":\"changes\"}]",
    );
    let full = user(&mut chat, "full");
    presence::broadcast(&mut chat);
    drain(&mut chat, watcher);
    drain(&mut chat, full);

    let ghost = user(&mut chat, "ghost");
    chat.retire(ghost);
    dispatch(&mut chat, full, "STATUS [\"away\"]");
    dispatch(&mut chat, full, "STATUS [\"available\"]");
    presence::broadcast(&mut chat);
    assert!(
        drain(&mut chat, watcher).is_empty(),
        "came and went, changed and back: nothing"
    );

    dispatch(&mut chat, full, "STATUS [\"away\"]");
    let carol = user(&mut chat, "carol");
    presence::broadcast(&mut chat);
    assert_eq!(
        drain(&mut chat, watcher),
        ["PRESENCE {\"carol\":\"available\",\"full\":\"away\"}"]
    );
    assert_eq!(
        drain(&mut chat, full),
        ["ONLINE_USERS {\"carol\":\"available\",\"full\":\"away\",\"w\":\"available\"}"]
    );
    chat.retire(carol);
    presence::broadcast(&mut chat);
    assert_eq!(drain(&mut chat, watcher), ["PRESENCE {\"carol\":null}"]);
    presence::broadcast(&mut chat);
    assert!(
        drain(&mut chat, watcher).is_empty(),
        "nothing changed, nothing sent"
    );
}

#[test]
fn conversation_limit_per_user_is_enforced() {
    let mut chat = chat();
    let alice = user(&mut chat, "alice");
    for _ in 0..crate::server::MAX_CONVERSATIONS_PER_USER {
        dispatch(&mut chat, alice, "INVITE []");
    }
    drain(&mut chat, alice);
    dispatch(&mut chat, alice, "INVITE []");
    assert_eq!(
        drain(&mut chat, alice),
        ["ERROR \"INVITE: in too many conversations (limit 1024)\""]
    );
}
