//! The page against a server that asks for a password (`imserver --password-file`): a
//! wrong or missing one is explained beside the sign-in form, which stays; the right one
//! signs in and chats; a reconnect sends it again, and a password the restarted server no
//! longer takes brings the form back instead of retrying.

use serde_json::json;

use crate::common::{Client, Server, TempFile};
use crate::page::Page;
use crate::PRESENCE_MS;

const PASSWORD: &str = "page-horse-41c2";
const WRONG_PASSWORD: &str = "REGISTER: wrong password";

/// A server whose password is `password`, at `listen` and `http` (`127.0.0.1:0` for free
/// ports). The file is read at start, so it may go once the server is up.
fn server_with(password: &str, listen: &str, http: &str) -> Server {
    let file = TempFile::write("browser-password", &format!("{password}\n"));
    let path = file.path().to_str().unwrap();
    let flags = ["--password-file", path, "--http", http];
    Server::start_at(
        listen,
        &[],
        &[&flags[..], &["--presence-interval-ms", PRESENCE_MS]].concat(),
    )
}

/// Signs in with this password typed into the form.
fn sign_in_with(page: &mut Page, name: &str, password: &str) {
    page.browser.fill("#password", password);
    page.sign_in(name, None);
}

/// Waits until the form says the password was wrong, with the password field cleared and
/// focused.
fn wait_wrong_password(page: &Page) {
    page.browser.wait_for(
        "the wrong password explained beside the form",
        "const e = document.querySelector('#signin-error');
         return !e.hidden && e.textContent === arguments[0];",
        vec![json!(WRONG_PASSWORD)],
    );
    page.wait_state("signed-out");
    assert!(page.shown("#signin"), "the sign-in form is gone");
    let field = page.browser.js(
        "const p = document.querySelector('#password');
         return [p.value, document.activeElement === p];",
        vec![],
    );
    assert_eq!(
        field,
        json!(["", true]),
        "the password field: [value, focused]"
    );
}

/// A line client signed in as `name` with the password, and who was online then.
fn client(server: &Server, name: &str) -> (Client, String) {
    let mut client = server.client();
    client.send(&format!(
        "REGISTER [\"{name}\",null,{{\"password\":\"{PASSWORD}\"}}]"
    ));
    let online = client.expect("ONLINE_USERS ");
    (client, online)
}

#[test]
fn a_wrong_password_stays_on_the_form_and_the_right_one_signs_in_and_chats() {
    let server = server_with(PASSWORD, "127.0.0.1:0", "127.0.0.1:0");
    let mut page = Page::load(&server, "alice");
    // Three refusals in a row: each attempt is a connection of its own, so the server's
    // close after a connection's third wrong password never cuts the page off.
    for attempt in ["guess", "", "another guess"] {
        sign_in_with(&mut page, "alice", attempt);
        wait_wrong_password(&page);
        assert!(!page.shown("#chat"), "the chat is shown without a password");
    }

    sign_in_with(&mut page, "alice", PASSWORD);
    page.wait_state("connected");
    assert!(
        !page.shown("#signin-error"),
        "the old reason is still shown"
    );
    let (mut bob, _) = client(&server, "bob");
    page.wait_user("bob", "available");
    bob.send("INVITE [\"alice\"]");
    let id = page.wait_invitation("bob");
    page.accept(&id);
    page.wait_members(&id, &["bob", "alice"]);
    page.say(&id, "in with the password");
    bob.recv_until("alice's message", |l| {
        l == format!("MESSAGE [{id},\"alice\",\"in with the password\"]")
    });
    bob.send(&format!("SEND_MESSAGE [{id},\"welcome\"]"));
    page.wait_message(&id, "bob", "welcome");
    assert!(
        !page.browser.visible_text().contains(PASSWORD),
        "the password is shown"
    );
}

#[test]
fn a_reconnect_sends_the_password_again_and_a_changed_one_brings_the_form_back() {
    let server = server_with(PASSWORD, "127.0.0.1:0", "127.0.0.1:0");
    let (listen, http) = (server.addr.to_string(), server.http().to_string());
    let mut page = Page::load(&server, "alice");
    sign_in_with(&mut page, "alice", PASSWORD);
    page.wait_state("connected");

    // Killed and started again with the same password: the page is back by itself.
    drop(server);
    page.wait_state("lost");
    let server = server_with(PASSWORD, &listen, &http);
    page.wait_state("connected");
    let (_watcher, online) = client(&server, "watcher");
    assert!(online.contains("\"alice\""), "alice not back: {online}");

    // Started again with another password: the kept one is refused, and the page asks
    // for the new one rather than trying the old one again and again.
    drop(server);
    page.wait_state("lost");
    let _server = server_with("a-new-password", &listen, &http);
    wait_wrong_password(&page);
}
