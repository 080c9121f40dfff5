//! Two pages and one `imclient` in one conversation: every message once, in one order
//! everywhere; a status change seen by the others; leaving a conversation, and closing
//! the page.

use crate::common::person::Person;
use crate::page::Page;
use crate::server;

/// alice and bob on pages, carol in imclient, all three in one conversation that alice
/// started from her page; returns its id.
fn three_in_one_conversation(server: &crate::common::Server) -> (Page, Page, Person, String) {
    let alice = Page::signed_in(server, "alice");
    let bob = Page::signed_in(server, "bob");
    let mut carol = Person::join(server, "carol");
    let id = alice.invite(&["bob", "carol"]);
    // Nobody has joined yet: pending.
    alice.wait_members(&id, &["alice"]);
    assert!(
        alice.pending_shown(&id),
        "no pending state before anyone joined"
    );

    assert_eq!(bob.wait_invitation("alice"), id);
    bob.accept(&id);
    alice.wait_members(&id, &["alice", "bob"]);
    assert!(!alice.pending_shown(&id), "still pending after bob joined");
    assert!(
        bob.invitations().is_empty(),
        "the accepted invitation is still shown"
    );

    carol.wait(&format!(
        "[{id}] * invited by alice; type /join {id} to accept"
    ));
    carol.type_line(&format!("/join {id}"));
    carol.wait(&format!("[{id}] * members: alice, bob, carol"));
    alice.wait_members(&id, &["alice", "bob", "carol"]);
    bob.wait_members(&id, &["alice", "bob", "carol"]);
    (alice, bob, carol, id)
}

/// The messages of conversation `id` on an imclient's screen, as (sender, text).
fn screen_messages(person: &Person, id: &str) -> Vec<(String, String)> {
    let prefix = format!("[{id}] ");
    person
        .screen
        .iter()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter(|rest| !rest.starts_with("* "))
        .map(|rest| {
            let (from, text) = rest.split_once(": ").expect("sender: text");
            (from.to_string(), text.to_string())
        })
        .collect()
}

#[test]
fn two_pages_and_an_imclient_see_every_message_once_in_one_order() {
    let server = server();
    let (alice, bob, mut carol, id) = three_in_one_conversation(&server);

    // Sent from all three without waiting in between: the server alone decides the order,
    // and each page shows its own lines only when the server echoes them.
    alice.say(&id, "one, from alice");
    carol.type_line(&format!("/{id} two, from carol"));
    bob.say(&id, "three, from bob");
    alice.say(&id, "four, from alice");
    carol.type_line(&format!("/{id} five, from carol"));
    bob.say(&id, "six, from bob");
    // In whatever order the server chose, then one more line: whatever came before it on
    // a connection (a duplicate, say) has arrived by the time it is seen.
    let message = format!("[{id}] ");
    for _ in 0..6 {
        carol.wait_for("a message", |l| {
            l.starts_with(&message) && !l[message.len()..].starts_with("* ")
        });
    }
    carol.type_line(&format!("/{id} last, from carol"));
    carol.wait(&format!("[{id}] carol: last, from carol"));
    let on_alice = alice.wait_message(&id, "carol", "last, from carol");
    let on_bob = bob.wait_message(&id, "carol", "last, from carol");
    let on_carol = screen_messages(&carol, &id);

    assert_eq!(on_carol.len(), 7, "carol's screen: {on_carol:?}");
    assert_eq!(on_alice, on_carol, "alice's page and carol's screen differ");
    assert_eq!(on_bob, on_carol, "bob's page and carol's screen differ");
    // Each sender's own lines in the order they were sent.
    for who in ["alice", "bob", "carol"] {
        let own: Vec<&str> = on_carol
            .iter()
            .filter(|(from, _)| from == who)
            .map(|(_, text)| text.split(',').next().unwrap())
            .collect();
        let sent: &[&str] = match who {
            "alice" => &["one", "four"],
            "bob" => &["three", "six"],
            _ => &["two", "five", "last"],
        };
        assert_eq!(own, sent, "{who}'s messages out of order");
    }
}

#[test]
fn a_status_change_is_seen_by_the_others() {
    let server = server();
    let mut alice = Page::load(&server, "alice");
    alice.sign_in("alice", Some("at lunch"));
    alice.wait_state("connected");
    let bob = Page::signed_in(&server, "bob");
    let mut carol = Person::join(&server, "carol");

    // The status typed at sign-in, seen by a page and by imclient; nobody lists themself.
    bob.wait_user("alice", "at lunch");
    carol.wait_for("alice at lunch", |l| l.contains("alice (at lunch)"));
    alice.wait_user("bob", "available");
    alice.wait_user("carol", "available");
    assert!(
        !alice.users().contains(&"alice".to_string()),
        "alice lists herself"
    );
    assert_eq!(alice.text("#me"), "alice");

    // A page's change, seen by the other page and by imclient.
    bob.set_status("in a meeting");
    alice.wait_user("bob", "in a meeting");
    carol.wait("* bob is now in a meeting");

    // imclient's change, seen by both pages.
    carol.type_line("/status away");
    carol.wait("* you are now away");
    alice.wait_user("carol", "away");
    bob.wait_user("carol", "away");
}

#[test]
fn leaving_closes_the_pane_and_the_others_see_it() {
    let server = server();
    let (alice, bob, mut carol, id) = three_in_one_conversation(&server);

    bob.leave(&id);
    bob.browser.wait_for(
        "bob's tab and pane to close",
        "return !document.querySelector(`#tabs [data-conv=\"${arguments[0]}\"], #panes [data-conv=\"${arguments[0]}\"]`);",
        vec![serde_json::json!(id)],
    );
    carol.wait(&format!("[{id}] * bob left"));
    alice.wait_members(&id, &["alice", "carol"]);

    // The conversation goes on without bob.
    alice.say(&id, "bob has gone");
    carol.wait(&format!("[{id}] alice: bob has gone"));
    assert!(bob.tabs().is_empty(), "bob's page shows {:?}", bob.tabs());
}

#[test]
fn closing_the_page_says_goodbye() {
    let server = server();
    let alice = Page::signed_in(&server, "alice");
    let mut bob = Person::join(&server, "bob");
    alice.wait_user("bob", "available");

    // Leaving the page (as closing its tab does) fires pagehide.
    alice.browser.goto("about:blank");
    bob.wait("* alice went offline");
    // GOODBYE, not just a closed socket.
    let line = server.wait_log("disconnect alice ");
    assert!(line.ends_with(": goodbye"), "{line}");
}
