//! The handlers, driven through the dispatch table with no sockets: what each peer would
//! be sent is read back from its outbox.

use crate::server::dispatch::Effect;
use crate::server::test_support::World;

/// Conversation 1 with alice and bob as members and carol invited; every line so far
/// drained.
fn alice_bob_and_invited_carol(w: &mut World) -> [usize; 3] {
    let alice = w.user("alice");
    let bob = w.user("bob");
    let carol = w.user("carol");
    w.dispatch(alice, "INVITE [\"bob\",\"carol\"]");
    w.dispatch(bob, "JOIN [1]");
    for key in [alice, bob, carol] {
        w.drain(key);
    }
    [alice, bob, carol]
}

#[test]
fn register_answers_by_presence_mode() {
    let mut w = World::default();
    w.user("alice");
    let bot = w.connect();
    w.dispatch(bot, "REGISTER [\"bot\",null,{\"presence\":\"none\"}]");
    assert_eq!(w.drain(bot), ["ONLINE_USERS {\"bot\":\"available\"}"]);
    let watcher = w.connect();
    w.dispatch(
        watcher,
        "REGISTER [\"w\",\"away\",{\"presence\":\"changes\"}]",
    );
    assert_eq!(
        w.drain(watcher),
        ["ONLINE_USERS {\"alice\":\"available\",\"bot\":\"available\",\"w\":\"away\"}"]
    );
}

#[test]
fn invite_creates_a_conversation_and_reports_who_was_left_out() {
    let mut w = World::default();
    let alice = w.user("alice");
    let bob = w.user("bob");
    w.dispatch(alice, "INVITE [\"BOB\",\"bob\",\"nobody\",\"alice\"]");
    assert_eq!(
        w.drain(alice),
        [
            "INVITATION [1,\"alice\"]",
            "ERROR \"INVITE: not invited: nobody (not online), alice (yourself)\""
        ]
    );
    assert_eq!(
        w.drain(bob),
        ["INVITATION [1,\"alice\"]"],
        "once, despite two spellings"
    );
    w.dispatch(alice, "INVITE []");
    assert_eq!(
        w.drain(alice),
        ["INVITATION [2,\"alice\"]"],
        "pending, ids grow"
    );
    w.dispatch(alice, "LIST_CONVERSATIONS");
    assert_eq!(
        w.drain(alice),
        ["CONVERSATIONS {\"1\":[\"alice\"],\"2\":[\"alice\"]}"]
    );
}

#[test]
fn join_needs_an_invitation_and_tells_every_member() {
    let mut w = World::default();
    let alice = w.user("alice");
    let bob = w.user("bob");
    let carol = w.user("carol");
    w.dispatch(alice, "INVITE [\"bob\"]");
    w.drain(alice);
    w.drain(bob);
    w.dispatch(carol, "JOIN [1]");
    w.dispatch(carol, "JOIN [99]");
    assert_eq!(
        w.drain(carol),
        [
            "ERROR \"JOIN: not invited to conversation 1\"",
            "ERROR \"JOIN: not invited to conversation 99\""
        ]
    );
    w.dispatch(bob, "join [1]");
    let members = "CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}";
    assert_eq!(w.drain(alice), [members]);
    assert_eq!(w.drain(bob), [members]);
    w.dispatch(alice, "JOIN [1]");
    assert_eq!(
        w.drain(alice),
        [members],
        "the inviter's own JOIN changes nothing"
    );
    assert!(w.drain(bob).is_empty());
}

#[test]
fn messages_reach_every_member_once_in_one_order() {
    let mut w = World::default();
    let [alice, bob, carol] = alice_bob_and_invited_carol(&mut w);
    w.dispatch(bob, "SEND_MESSAGE [1,\"one\"]");
    w.dispatch(alice, "SEND_MESSAGE [1,\"two\"]");
    w.dispatch(carol, "SEND_MESSAGE [1,\"invited is not joined\"]");
    let expected = [
        "MESSAGE [1,\"bob\",\"one\"]",
        "MESSAGE [1,\"alice\",\"two\"]",
    ];
    assert_eq!(w.drain(alice), expected);
    assert_eq!(w.drain(bob), expected);
    assert_eq!(
        w.drain(carol),
        ["ERROR \"SEND_MESSAGE: not a member of conversation 1\""]
    );
}

#[test]
fn the_last_leave_ends_the_conversation_and_its_invitations() {
    let mut w = World::default();
    let [alice, bob, carol] = alice_bob_and_invited_carol(&mut w);
    w.dispatch(alice, "LEAVE [1]");
    assert_eq!(w.drain(bob), ["CONVERSATIONS {\"1\":[\"bob\"]}"]);
    assert_eq!(w.drain(alice), ["CONVERSATIONS {}"]);
    w.dispatch(alice, "LEAVE [1]");
    assert_eq!(
        w.drain(alice),
        ["ERROR \"LEAVE: not a member of conversation 1\""]
    );
    w.dispatch(bob, "LEAVE [1]");
    assert_eq!(w.drain(bob), ["CONVERSATIONS {}"]);
    w.dispatch(carol, "JOIN [1]");
    assert_eq!(
        w.drain(carol),
        ["ERROR \"JOIN: not invited to conversation 1\""]
    );
    assert!(w.chat.conversation(1).is_none());
    assert!(
        w.chat.user(carol).unwrap().invited.is_empty(),
        "the lapsed invitation is gone"
    );
}

#[test]
fn retiring_a_user_cleans_up_after_it() {
    let mut w = World::default();
    let alice = w.user("alice");
    let bob = w.user("bob");
    w.dispatch(alice, "INVITE [\"bob\"]");
    w.dispatch(bob, "JOIN [1]");
    w.dispatch(bob, "INVITE [\"alice\"]");
    w.drain(alice);
    w.drain(bob);
    assert_eq!(w.dispatch(bob, "GOODBYE"), Effect::Close);
    w.retire(bob);
    assert_eq!(w.drain(alice), ["CONVERSATIONS {\"1\":[\"alice\"]}"]);
    assert!(w.drain(bob).is_empty(), "no map for the one who left");
    assert!(
        w.chat.conversation(2).is_none(),
        "bob's own conversation ended with him"
    );
    assert!(w.chat.user(alice).unwrap().invited.is_empty());
    let newcomer = w.user("BOB");
    assert!(w.chat.is_registered(newcomer), "the name is free again");
}

#[test]
fn presence_changes_are_coalesced_and_net() {
    let mut w = World::default();
    let watcher = w.connect();
    w.dispatch(watcher, "REGISTER [\"w\",null,{\"presence\":\"changes\"}]");
    let full = w.user("full");
    w.broadcast();
    w.drain(watcher);
    w.drain(full);

    let ghost = w.user("ghost");
    w.retire(ghost);
    w.dispatch(full, "STATUS [\"away\"]");
    w.dispatch(full, "STATUS [\"available\"]");
    w.broadcast();
    assert!(
        w.drain(watcher).is_empty(),
        "came and went, changed and back: nothing"
    );

    w.dispatch(full, "STATUS [\"away\"]");
    let carol = w.user("carol");
    w.broadcast();
    assert_eq!(
        w.drain(watcher),
        ["PRESENCE {\"carol\":\"available\",\"full\":\"away\"}"]
    );
    assert_eq!(
        w.drain(full),
        ["ONLINE_USERS {\"carol\":\"available\",\"full\":\"away\",\"w\":\"available\"}"]
    );
    w.retire(carol);
    w.broadcast();
    assert_eq!(w.drain(watcher), ["PRESENCE {\"carol\":null}"]);
    w.broadcast();
    assert!(w.drain(watcher).is_empty(), "nothing changed, nothing sent");
}

#[test]
fn conversation_limit_per_user_is_enforced() {
    let mut w = World::default();
    let alice = w.user("alice");
    for _ in 0..crate::server::MAX_CONVERSATIONS_PER_USER {
        w.dispatch(alice, "INVITE []");
    }
    w.drain(alice);
    w.dispatch(alice, "INVITE []");
    assert_eq!(
        w.drain(alice),
        ["ERROR \"INVITE: in too many conversations (limit 1024)\""]
    );
}
