//! The server killed and started again on the same addresses: the page says the connection
//! was lost, marks its conversations ended, reconnects by itself and signs in again.

use serde_json::json;

use crate::common::person::Person;
use crate::page::Page;
use crate::{server, server_at};

#[test]
fn the_page_comes_back_after_the_server_is_killed_and_restarted() {
    let server = server();
    let (listen, http) = (server.addr.to_string(), server.http().to_string());
    let alice = Page::signed_in(&server, "alice");
    let mut bob = Person::join(&server, "bob");
    alice.wait_user("bob", "available");
    let id = alice.invite(&["bob"]);
    bob.wait(&format!(
        "[{id}] * invited by alice; type /join {id} to accept"
    ));
    bob.type_line(&format!("/join {id}"));
    alice.wait_members(&id, &["alice", "bob"]);
    bob.type_line(&format!("/{id} before the crash"));
    alice.wait_message(&id, "bob", "before the crash");

    // SIGKILL: no shutdown notice, the connection just ends.
    drop(server);
    alice.wait_state("lost");
    let banner = alice.text("#connection");
    assert!(
        banner.as_str().unwrap().contains("Connection lost"),
        "banner says {banner}"
    );
    alice.browser.wait_for(
        "the conversation marked ended",
        "const pane = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"]`);
         return !!pane && [...pane.querySelectorAll('.notice')]
             .some(n => n.textContent.includes('conversation ended'));",
        vec![json!(id)],
    );
    assert_eq!(alice.notices(&id), ["conversation ended (connection lost)"]);
    // Still readable, no longer writable.
    assert_eq!(
        alice.transcript(&id),
        [("bob".to_string(), "before the crash".to_string())]
    );
    let compose_disabled = alice.browser.js(
        "return document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"] input.compose-text`).disabled;",
        vec![json!(id)],
    );
    assert_eq!(
        compose_disabled,
        json!(true),
        "the ended conversation still takes text"
    );

    // The same addresses: the page reconnects to where it was loaded from.
    let server = server_at(&listen, &http);
    alice.wait_state("connected");
    // Signed in again under the same name, as the server sees it.
    let mut watcher = server.client();
    watcher.send("REGISTER [\"watcher\"]");
    let online = watcher.expect("ONLINE_USERS ");
    assert!(online.contains("\"alice\""), "alice not back: {online}");
    assert_eq!(alice.text("#me"), "alice");

    // Chatting again with bob, whose imclient came back by itself. The new server numbers
    // conversations from 1 again, so the new one may have the old one's id.
    alice.wait_user("bob", "available");
    let again = alice.invite(&["bob"]);
    bob.wait(&format!(
        "[{again}] * invited by alice; type /join {again} to accept"
    ));
    bob.type_line(&format!("/join {again}"));
    alice.wait_members(&again, &["alice", "bob"]);
    bob.type_line(&format!("/{again} after the restart"));
    alice.wait_message(&again, "bob", "after the restart");
    // Two panes: the old one as it was (ended, its transcript kept), and the new one.
    let panes = alice.browser.js(
        "return [...document.querySelectorAll('#panes section.conversation')].map(p => [
             [...p.querySelectorAll('li.message .text')].map(t => t.textContent),
             [...p.querySelectorAll('.notice')].map(n => n.textContent)]);",
        vec![],
    );
    assert_eq!(
        panes,
        json!([
            [
                ["before the crash"],
                ["conversation ended (connection lost)"]
            ],
            [["after the restart"], []]
        ])
    );
}
