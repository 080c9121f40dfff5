//! The README's picture of the page, from a real run: alice's page in a conversation with
//! two imclient users, an invitation waiting and an unread message in a second
//! conversation. `cargo test` builds the scene and checks that a picture came out;
//! `scripts/screenshot.sh` runs it with `IMCHAT_SCREENSHOT` set to write docs/screenshot.png.

use std::path::PathBuf;
use std::process::Stdio;

use crate::common::person::{conv_id, Person};
use crate::common::Server;
use crate::page::Page;
use crate::server;

/// The picture's size: a laptop browser window, wide enough for the side column and the
/// conversation side by side.
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 650;

/// An imclient user with a status, signed in.
fn person(server: &Server, name: &str, status: &str) -> Person {
    let mut command = Person::command(&server.addr.to_string(), name);
    command.args(["--status", status]).stdin(Stdio::piped());
    let mut person = Person::run(name, command);
    person.wait(&format!("* registered as {name} ({status})"));
    person
}

/// Where the picture goes: `IMCHAT_SCREENSHOT` (the script sets it), else nowhere: a test
/// run must not change the repository.
fn output() -> Option<PathBuf> {
    std::env::var_os("IMCHAT_SCREENSHOT").map(PathBuf::from)
}

#[test]
fn screenshot_for_the_readme() {
    let server = server();
    let mut alice = Page::load(&server, "alice");
    alice.browser.resize_viewport(WIDTH, HEIGHT);
    alice.sign_in("alice", Some("writing the docs"));
    alice.wait_state("connected");
    let mut bob = person(&server, "bob", "at lunch");
    let mut carol = person(&server, "carol", "available");
    let mut dave = person(&server, "dave", "in a meeting");
    for (name, status) in [
        ("bob", "at lunch"),
        ("carol", "available"),
        ("dave", "in a meeting"),
    ] {
        alice.wait_user(name, status);
    }

    // A second conversation, from carol, with a message alice has not read yet.
    carol.type_line("/invite alice");
    let side = conv_id(&carol.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }))
    .to_string();
    alice.accept(&alice.wait_invitation("carol"));
    carol.wait(&format!("[{side}] * alice joined"));
    alice.wait_members(&side, &["carol", "alice"]);

    // The main one: alice invites bob and carol from the page.
    let id = alice.invite(&["bob", "carol"]);
    // One after the other, so that the members are listed in the same order every time.
    for (person, members) in [(&mut bob, "alice, bob"), (&mut carol, "alice, bob, carol")] {
        person.wait(&format!(
            "[{id}] * invited by alice; type /join {id} to accept"
        ));
        person.type_line(&format!("/join {id}"));
        person.wait(&format!("[{id}] * members: {members}"));
    }
    alice.wait_members(&id, &["alice", "bob", "carol"]);
    let lines = [
        ("alice", "Is the release still on for Friday?"),
        ("bob", "Yes, the benchmarks are done."),
        ("carol", "I'll write the notes tonight."),
        ("alice", "Great, I'm adding the screenshot now."),
    ];
    for (from, text) in lines {
        match from {
            "alice" => alice.say(&id, text),
            "bob" => bob.type_line(&format!("/{id} {text}")),
            _ => carol.type_line(&format!("/{id} {text}")),
        }
        alice.wait_message(&id, from, text);
    }
    carol.type_line(&format!("/{side} Lunch after?"));
    alice.browser.wait_for(
        "an unread count on carol's other conversation",
        "const u = document.querySelector(`#tabs .tab[data-conv=\"${arguments[0]}\"] .unread`);
         return !!u && !u.hidden && u.textContent === '1';",
        vec![serde_json::json!(side)],
    );

    // And an invitation waiting, from dave.
    dave.type_line("/invite alice");
    alice.wait_invitation("dave");
    // The focus ring of the last click would show in the picture.
    alice.browser.js("document.activeElement.blur();", vec![]);

    let png = alice.browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "Chromium gave a PNG");
    if let Some(path) = output() {
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}
