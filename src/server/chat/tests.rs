//! What a big conversation costs: maps coalesced and shared, the caps on members and
//! invitations, the changes mode, and the bound on all queued output.

use crate::line::live_bytes;
use crate::server::chat::{Limits, MAX_PENDING_INVITATIONS};
use crate::server::test_support::World;
use crate::server::MAX_CONVERSATIONS_PER_USER;

/// `alice` and `n` others invited to conversation 1; every line so far drained.
fn alice_and_invitees(w: &mut World, n: usize) -> (usize, Vec<usize>) {
    let alice = w.user("alice");
    let others: Vec<usize> = (0..n).map(|i| w.user(&format!("u{i}"))).collect();
    let names: Vec<String> = (0..n).map(|i| format!("\"u{i}\"")).collect();
    w.dispatch(alice, &format!("INVITE [{}]", names.join(",")));
    for &key in others.iter().chain([&alice]) {
        w.drain(key);
    }
    (alice, others)
}

#[test]
fn a_member_gets_one_map_per_pass_however_many_join_and_equal_maps_are_encoded_once() {
    let mut w = World::default();
    let (alice, others) = alice_and_invitees(&mut w, 200);
    let before = live_bytes();
    for &key in &others {
        w.dispatch(key, "JOIN [1]");
    }
    w.chat.send_owed_maps(&mut w.out);
    let map = {
        let names: Vec<String> = ["alice".to_string()]
            .into_iter()
            .chain((0..200).map(|i| format!("u{i}")))
            .map(|n| format!("\"{n}\""))
            .collect();
        format!("CONVERSATIONS {{\"1\":[{}]}}", names.join(","))
    };
    // 201 members hold the same map: its bytes exist once, beside one reference each.
    assert!(
        live_bytes() - before < 2 * map.len(),
        "{} bytes live for a {}-byte map",
        live_bytes() - before,
        map.len()
    );
    for key in others.into_iter().chain([alice]) {
        assert_eq!(w.drain(key), [map.as_str()], "conn {key}: one complete map");
    }
}

#[test]
fn a_map_keeps_its_place_before_lines_queued_after_the_change() {
    let mut w = World::default();
    let (alice, others) = alice_and_invitees(&mut w, 2);
    w.dispatch(others[0], "JOIN [1]");
    w.dispatch(alice, "SEND_MESSAGE [1,\"hi\"]");
    w.dispatch(others[1], "JOIN [1]");
    let map = "CONVERSATIONS {\"1\":[\"alice\",\"u0\",\"u1\"]}";
    // The joiner hears of its membership before the message, and once however many joined.
    assert_eq!(w.drain(others[0]), [map, "MESSAGE [1,\"alice\",\"hi\"]"]);
    assert_eq!(w.drain(alice), [map, "MESSAGE [1,\"alice\",\"hi\"]"]);
    assert_eq!(w.drain(others[1]), [map]);
}

#[test]
fn a_conversation_never_outgrows_max_members() {
    let mut w = World::with_limits(Limits { max_members: 3 }, usize::MAX);
    let alice = w.user("alice");
    let others: Vec<usize> = ["bob", "carol", "dave"].map(|n| w.user(n)).to_vec();
    w.dispatch(alice, "INVITE [\"bob\",\"nobody\",\"carol\",\"dave\"]");
    assert_eq!(
        w.drain(alice),
        [
            "INVITATION [1,\"alice\"]",
            "ERROR \"INVITE: not invited: nobody (not online), dave (conversation full)\""
        ]
    );
    assert!(w.drain(others[2]).is_empty(), "dave was not invited");
    for &key in &others[..2] {
        w.dispatch(key, "JOIN [1]");
    }
    assert_eq!(
        w.drain(alice),
        ["CONVERSATIONS {\"1\":[\"alice\",\"bob\",\"carol\"]}"]
    );
    w.dispatch(others[2], "JOIN [1]");
    assert_eq!(
        w.drain(others[2]),
        ["ERROR \"JOIN: not invited to conversation 1\""]
    );
}

#[test]
fn pending_invitations_per_user_are_capped() {
    let mut w = World::default();
    let victim = w.user("victim");
    let inviters = [w.user("a"), w.user("b")];
    for i in 0..MAX_PENDING_INVITATIONS {
        let inviter = inviters[i / MAX_CONVERSATIONS_PER_USER];
        w.dispatch(inviter, "INVITE [\"victim\"]");
        w.drain(inviter);
    }
    w.drain(victim);
    let late = w.user("late");
    w.dispatch(late, "INVITE [\"victim\",\"a\"]");
    let id = MAX_PENDING_INVITATIONS + 1;
    assert_eq!(
        w.drain(late),
        [
            format!("INVITATION [{id},\"late\"]"),
            "ERROR \"INVITE: not invited: victim (too many pending invitations)\"".to_string()
        ]
    );
    assert!(w.drain(victim).is_empty());
    // Accepting one makes room for the next.
    w.dispatch(victim, "JOIN [1]");
    w.dispatch(late, "INVITE [\"victim\"]");
    assert_eq!(w.drain(late), [format!("INVITATION [{},\"late\"]", id + 1)]);
}

#[test]
fn in_changes_mode_a_member_hears_only_what_changed() {
    let mut w = World::default();
    let alice = w.user("alice");
    let bob = w.connect();
    w.dispatch(
        bob,
        "REGISTER [\"bob\",null,{\"conversations\":\"changes\"}]",
    );
    let carol = w.connect();
    w.dispatch(
        carol,
        "REGISTER [\"carol\",null,{\"presence\":\"none\",\"conversations\":\"changes\"}]",
    );
    w.dispatch(alice, "INVITE [\"bob\",\"carol\"]");
    for key in [alice, bob, carol] {
        w.drain(key);
    }
    w.dispatch(bob, "JOIN [1]");
    assert_eq!(w.drain(bob), ["MEMBERS [1,[\"alice\",\"bob\"]]"]);
    assert_eq!(
        w.drain(alice),
        ["CONVERSATIONS {\"1\":[\"alice\",\"bob\"]}"]
    );
    w.dispatch(carol, "JOIN [1]");
    assert_eq!(
        w.drain(carol),
        ["MEMBERS [1,[\"alice\",\"bob\",\"carol\"]]"]
    );
    assert_eq!(w.drain(bob), ["JOINED [1,\"carol\"]"]);
    assert_eq!(
        w.drain(alice),
        ["CONVERSATIONS {\"1\":[\"alice\",\"bob\",\"carol\"]}"]
    );
    w.dispatch(bob, "LEAVE [1]");
    assert_eq!(w.drain(bob), ["LEFT [1,\"bob\"]"]);
    assert_eq!(w.drain(carol), ["LEFT [1,\"bob\"]"]);
    assert_eq!(
        w.drain(alice),
        ["CONVERSATIONS {\"1\":[\"alice\",\"carol\"]}"]
    );
    // Asked for, the complete map; joining again, the member list.
    w.dispatch(carol, "LIST_CONVERSATIONS");
    w.dispatch(carol, "JOIN [1]");
    assert_eq!(
        w.drain(carol),
        [
            "CONVERSATIONS {\"1\":[\"alice\",\"carol\"]}",
            "MEMBERS [1,[\"alice\",\"carol\"]]"
        ]
    );
    w.retire(alice);
    assert_eq!(w.drain(carol), ["LEFT [1,\"alice\"]"]);
}

#[test]
fn past_the_bound_on_all_queued_output_the_largest_unread_queue_is_dropped() {
    let bound = 64 * 1024;
    let mut w = World::with_limits(Limits::default(), live_bytes() + bound);
    let (alice, others) = alice_and_invitees(&mut w, 2);
    let [reader, sleeper] = [others[0], others[1]];
    w.dispatch(reader, "JOIN [1]");
    w.dispatch(sleeper, "JOIN [1]");
    for key in [alice, reader, sleeper] {
        w.drain(key);
    }
    let text = "x".repeat(1000);
    let mut sent = 0;
    while w.out.queued(sleeper) > 0 || sent == 0 {
        w.dispatch(alice, &format!("SEND_MESSAGE [1,\"{text}\"]"));
        sent += 1;
        // Everyone but the sleeper reads as it goes.
        assert_eq!(w.drain(alice).len(), 1);
        assert_eq!(w.drain(reader).len(), 1, "the reader missed nothing");
        assert!(sent < 1000, "the sleeper was never dropped");
    }
    assert_eq!(w.out.take_evicted(), [sleeper]);
    // Its output is gone and it takes no more: the total is back under the bound.
    w.dispatch(alice, &format!("SEND_MESSAGE [1,\"{text}\"]"));
    assert_eq!(w.out.queued(sleeper), 0);
    assert!(
        (40..80).contains(&sent),
        "dropped after {sent} messages of 1 KB for a 64 KB bound"
    );
}

#[test]
fn invitations_to_an_ended_conversation_lapse_a_budget_at_a_time() {
    let mut w = World::default();
    let (alice, others) = alice_and_invitees(&mut w, 3);
    w.dispatch(alice, "LEAVE [1]");
    assert!(w.chat.has_lapsing());
    let pending = |w: &World| {
        (others.iter())
            .filter(|&&k| !w.chat.user(k).unwrap().invited.is_empty())
            .count()
    };
    w.chat.lapse_invitations(2);
    assert_eq!(pending(&w), 1);
    // Meanwhile the invitation is worth nothing: the conversation is gone.
    let late = others
        .iter()
        .copied()
        .find(|&k| !w.chat.user(k).unwrap().invited.is_empty());
    w.dispatch(late.unwrap(), "JOIN [1]");
    w.chat.lapse_invitations(1);
    assert_eq!(pending(&w), 0);
    assert!(!w.chat.has_lapsing());
    assert_eq!(
        w.drain(late.unwrap()),
        ["ERROR \"JOIN: not invited to conversation 1\""]
    );
}
