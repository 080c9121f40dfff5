//! What other people type is text, never markup or script; a refused name is explained
//! beside the sign-in form.

use serde_json::json;

use crate::common::person::Person;
use crate::page::Page;
use crate::server;

/// Markup that would show an image and run script if it were ever parsed as HTML.
const IMG: &str = "<img src=x onerror=alert(1)>";
const SCRIPT: &str = "<script>alert(2)</script><b>bold</b>";

#[test]
fn markup_in_messages_and_statuses_is_shown_as_text_and_never_run() {
    let server = server();
    let alice = Page::signed_in(&server, "alice");
    let mut bob = Person::join(&server, "bob");
    alice.wait_user("bob", "available");
    let id = alice.invite(&["bob"]);
    bob.wait(&format!(
        "[{id}] * invited by alice; type /join {id} to accept"
    ));
    bob.type_line(&format!("/join {id}"));
    alice.wait_members(&id, &["alice", "bob"]);

    // From someone else, from the page itself (the server's echo), and in a status.
    bob.type_line(&format!("/{id} {IMG}"));
    alice.wait_message(&id, "bob", IMG);
    alice.say(&id, SCRIPT);
    bob.wait(&format!("[{id}] alice: {SCRIPT}"));
    bob.type_line(&format!("/status {IMG}"));
    alice.wait_user("bob", IMG);
    // A last line after them all: had an image been made, its error would have fired by
    // the time this round trip is over.
    bob.type_line(&format!("/{id} done"));
    let transcript = alice.wait_message(&id, "bob", "done");

    assert_eq!(alice.browser.open_alert(), None, "a script ran");
    let made = alice.browser.js(
        "return document.querySelectorAll('#panes img, #panes script, #panes b, #users img').length;",
        vec![],
    );
    assert_eq!(made, json!(0), "markup from the network became elements");
    assert_eq!(
        transcript,
        [("bob", IMG), ("alice", SCRIPT), ("bob", "done")]
            .map(|(from, text)| (from.to_string(), text.to_string()))
    );
    assert_eq!(alice.browser.open_alert(), None, "a script ran");
}

#[test]
fn a_taken_name_is_explained_beside_the_form() {
    let server = server();
    let mut bob = server.user("bob");
    let mut page = Page::load(&server, "second bob");
    page.sign_in("bob", None);
    page.browser.wait_for(
        "the reason beside the form",
        "const e = document.querySelector('#signin-error');
         return !e.hidden && e.textContent.startsWith('REGISTER:');",
        vec![],
    );
    page.wait_state("signed-out");
    assert!(page.shown("#signin"), "the sign-in form is gone");
    assert!(!page.shown("#chat"), "the chat is shown without a name");

    // Another name is taken at once, and the explanation goes.
    page.sign_in("bobby", None);
    page.wait_state("connected");
    assert_eq!(page.text("#me"), "bobby");
    assert!(
        !page.shown("#signin-error"),
        "the old reason is still shown"
    );
    assert!(!page.shown("#signin"), "the sign-in form is still shown");
    bob.recv_until("bobby online", |l| l.contains("\"bobby\""));
}
