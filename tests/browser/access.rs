//! The page with the keyboard alone, on a phone-sized screen: every step of a chat reached
//! with Tab and done with typing and Enter, and nothing wider than the screen.

use serde_json::json;

use crate::common::person::{conv_id, Person};
use crate::page::{Page, ENTER};
use crate::server;

/// WebDriver's key code for Tab.
const TAB: &str = "\u{E004}";
/// A small phone's viewport, in CSS pixels.
const PHONE: (u32, u32) = (360, 640);
/// Tab presses allowed to reach a control: far more than the page has controls, so a
/// control that is never reached fails the test instead of looping.
const MAX_TABS: usize = 40;

/// Presses Tab until the focused element matches `css`.
fn tab_to(page: &Page, css: &str) {
    for _ in 0..MAX_TABS {
        let on = page.browser.js(
            "return document.activeElement.matches(arguments[0]);",
            vec![json!(css)],
        );
        if on == json!(true) {
            return;
        }
        page.browser.type_keys(TAB);
    }
    panic!("{css} not reached with {MAX_TABS} presses of Tab");
}

/// Nothing sticks out sideways: the page scrolls only up and down.
fn fits_the_width(page: &Page) {
    let widths = page.browser.js(
        "return [document.documentElement.scrollWidth, window.innerWidth];",
        vec![],
    );
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the page is {} px wide on a {} px screen",
        widths[0],
        widths[1]
    );
}

#[test]
fn a_chat_with_the_keyboard_alone_on_a_phone_sized_screen() {
    let server = server();
    let mut bob = Person::join(&server, "bob");
    let page = Page::load(&server, "alice");
    page.browser.resize_viewport(PHONE.0, PHONE.1);
    fits_the_width(&page);

    tab_to(&page, "#name");
    page.browser.type_keys("alice");
    page.browser.type_keys(ENTER);
    page.wait_state("connected");
    page.wait_user("bob", "available");
    fits_the_width(&page);

    bob.type_line("/invite alice");
    let id = conv_id(&bob.wait_for("started", |l| {
        l.ends_with("* you started this conversation")
    }));
    page.wait_invitation("bob");
    tab_to(
        &page,
        &format!(".invitation[data-conv=\"{id}\"] button.accept"),
    );
    page.browser.type_keys(ENTER);
    bob.wait(&format!("[{id}] * alice joined"));
    page.wait_members(&id.to_string(), &["bob", "alice"]);

    tab_to(
        &page,
        &format!("section.conversation[data-conv=\"{id}\"] input.compose-text"),
    );
    page.browser.type_keys("typed, never clicked");
    page.browser.type_keys(ENTER);
    bob.wait(&format!("[{id}] alice: typed, never clicked"));
    bob.type_line(&format!("/{id} seen on a phone"));
    page.wait_message(&id.to_string(), "bob", "seen on a phone");
    fits_the_width(&page);
}
