//! Invitations on a page: accepted, declined, and none shown for one's own.

use crate::common::person::{conv_id, Person};
use crate::page::Page;
use crate::server;

/// carol (imclient) invites bob; returns the conversation id.
fn carol_invites_bob(carol: &mut Person) -> String {
    carol.type_line("/invite bob");
    let line = carol.wait_for("a started conversation", |l| {
        l.ends_with("* you started this conversation")
    });
    conv_id(&line).to_string()
}

#[test]
fn an_invitation_is_accepted_or_declined_and_none_is_shown_for_your_own() {
    let server = server();
    let bob = Page::signed_in(&server, "bob");
    let mut carol = Person::join(&server, "carol");
    bob.wait_user("carol", "available");

    // Accepted: bob's page joins, the invitation goes, the pane lists both members.
    let first = carol_invites_bob(&mut carol);
    assert_eq!(bob.wait_invitation("carol"), first);
    bob.accept(&first);
    bob.wait_members(&first, &["carol", "bob"]);
    carol.wait(&format!("[{first}] * bob joined"));
    assert!(
        bob.invitations().is_empty(),
        "accepted invitation still shown"
    );

    // Declined: the invitation goes, no pane opens, and the inviter is still alone.
    let second = carol_invites_bob(&mut carol);
    assert_eq!(bob.wait_invitation("carol"), second);
    bob.decline(&second);
    bob.browser.wait_for(
        "the declined invitation to go",
        "return !document.querySelector('#invitations .invitation');",
        vec![],
    );
    carol.type_line(&format!("/{second} anyone?"));
    carol.type_line(&format!("/{first} still here"));
    bob.wait_message(&first, "carol", "still here");
    assert_eq!(
        bob.tabs(),
        [first.as_str()],
        "a pane opened for the declined one"
    );
    carol.type_line("/list");
    let pending = format!("[{second}] * members: carol (pending)");
    carol.wait_for(&pending, |l| l.starts_with(&pending));

    // bob's own invitation: a pending pane, no accept/decline for himself.
    let third = bob.invite(&["carol"]);
    bob.wait_members(&third, &["bob"]);
    assert!(
        bob.pending_shown(&third),
        "no pending state for bob's invitation"
    );
    assert!(
        bob.invitations().is_empty(),
        "bob is shown his own invitation"
    );
    carol.wait(&format!(
        "[{third}] * invited by bob; type /join {third} to accept"
    ));
    carol.type_line(&format!("/join {third}"));
    bob.wait_members(&third, &["bob", "carol"]);
    assert!(
        !bob.pending_shown(&third),
        "still pending after carol joined"
    );
}
