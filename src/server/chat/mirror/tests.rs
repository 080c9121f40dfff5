//! A node's mirrors of conversations that span nodes, and its view of other nodes' users,
//! driven as the Redis engine drives them, with no Redis: the events are called in the
//! order a conversation's channel would bring them.

use crate::server::test_support::World;

/// "alice" and "carol" on this node (carol in changes mode), mirroring conversation 7
/// with "bob" of another node between them.
fn mirrored(w: &mut World) -> (usize, usize) {
    let alice = w.user("alice");
    let carol = w.user_with("carol", r#"{"conversations":"changes"}"#);
    let names = ["alice", "bob", "carol"].map(String::from);
    w.chat.mirror(7, &names);
    (alice, carol)
}

#[test]
fn a_mirror_lists_every_member_in_join_order_and_knows_which_are_here() {
    let mut w = World::default();
    let (alice, _) = mirrored(&mut w);
    w.dispatch(alice, "LIST_CONVERSATIONS");
    assert_eq!(
        w.drain(alice),
        [r#"CONVERSATIONS {"7":["alice","bob","carol"]}"#]
    );
    assert!(w.chat.has_local_members(7));
}

#[test]
fn members_elsewhere_joining_and_leaving_are_heard_in_each_mode() {
    let mut w = World::default();
    let (alice, carol) = mirrored(&mut w);
    w.chat.mirror_join(7, "dave", &mut w.out);
    assert_eq!(
        w.drain(alice),
        [r#"CONVERSATIONS {"7":["alice","bob","carol","dave"]}"#]
    );
    assert_eq!(w.drain(carol), [r#"JOINED [7,"dave"]"#]);
    w.chat.mirror_leave(7, "bob", &mut w.out);
    assert_eq!(
        w.drain(alice),
        [r#"CONVERSATIONS {"7":["alice","carol","dave"]}"#]
    );
    assert_eq!(w.drain(carol), [r#"LEFT [7,"bob"]"#]);
    // A name that is no member changes nothing.
    w.chat.mirror_leave(7, "zed", &mut w.out);
    assert!(w.drain(alice).is_empty());
}

#[test]
fn a_message_is_delivered_to_the_members_here_the_sender_anywhere() {
    let mut w = World::default();
    let (alice, carol) = mirrored(&mut w);
    let eve = w.user("eve");
    w.chat.deliver(7, "bob", "hi", &mut w.out);
    for member in [alice, carol] {
        assert_eq!(w.drain(member), [r#"MESSAGE [7,"bob","hi"]"#]);
    }
    assert!(w.drain(eve).is_empty(), "not a member");
    // A conversation this node does not mirror has nobody here to deliver to.
    w.chat.deliver(8, "bob", "hi", &mut w.out);
    assert!(w.drain(alice).is_empty());
}

#[test]
fn a_user_going_offline_stays_a_member_until_its_leave_comes_in_order() {
    let mut w = World::default();
    let (alice, carol) = mirrored(&mut w);
    w.chat.retire_to_proxy(alice, &mut w.out);
    // Messages published before its leave still come, and carol hears them first.
    w.chat.deliver(7, "alice", "bye", &mut w.out);
    assert_eq!(w.drain(carol), [r#"MESSAGE [7,"alice","bye"]"#]);
    w.chat.mirror_leave(7, "alice", &mut w.out);
    assert_eq!(w.drain(carol), [r#"LEFT [7,"alice"]"#]);
    // The last member here leaving: nothing of the mirror is left to keep.
    w.chat.leave(carol, 7, &mut w.out);
    assert_eq!(
        w.drain(carol),
        [r#"LEFT [7,"carol"]"#],
        "changes mode: its own leave"
    );
    assert!(!w.chat.has_local_members(7));
    w.chat.drop_mirror(7);
    assert!(!w.chat.mirrors(7));
    w.dispatch(carol, "LIST_CONVERSATIONS");
    assert_eq!(w.drain(carol), ["CONVERSATIONS {}"]);
}

#[test]
fn a_proxy_goes_with_the_last_mirror_it_is_in() {
    let mut w = World::default();
    let (_, _) = mirrored(&mut w);
    let names = ["alice", "bob"].map(String::from);
    w.chat.mirror(8, &names);
    let bob = w.chat.conversation(7).unwrap().members().nth(1).unwrap();
    assert_eq!(w.chat.name(bob), "bob");
    w.chat.drop_mirror(7);
    assert_eq!(w.chat.name(bob), "bob", "still in 8");
    w.chat.mirror_leave(8, "bob", &mut w.out);
    assert_eq!(w.chat.name(bob), "", "in no mirror: gone");
}

#[test]
fn other_nodes_users_are_listed_and_their_changes_coalesced_like_ours() {
    let mut w = World::default();
    let alice = w.user("alice");
    w.chat.remote_presence("Bob", Some("away"));
    w.chat.remote_presence("zed", Some("available"));
    // Our own name is ours: an event claiming it changes nothing here.
    w.chat.remote_presence("ALICE", None);
    w.broadcast();
    assert_eq!(
        w.drain(alice),
        [r#"ONLINE_USERS {"alice":"available","Bob":"away","zed":"available"}"#]
    );
    w.chat.remote_presence("zed", None);
    w.chat.remote_presence("zed", Some("available"));
    w.broadcast();
    assert!(w.drain(alice).is_empty(), "gone and back in one interval");
    w.chat.forget_remote_users();
    w.broadcast();
    assert_eq!(w.drain(alice), [r#"ONLINE_USERS {"alice":"available"}"#]);
    assert_eq!(w.chat.remote_user_count(), 0);
}
