//! The chat page as a person uses it, through the DOM hooks the page promises (issue 10's
//! contract: `#connection[data-state]`, `#users li[data-name]`, `.invitation[data-conv]`,
//! `section.conversation[data-conv]`...). Every action is a real click or real typing; every
//! wait polls the DOM until it shows what the test expects.

use serde_json::{json, Value};

use crate::common::Server;
use crate::driver::Browser;

/// WebDriver's key code for Enter.
pub const ENTER: &str = "\u{E007}";

/// One browser with the page that `server` serves, loaded.
pub struct Page {
    pub browser: Browser,
    /// The name this page signed in with (for failure messages and self checks).
    pub name: String,
}

impl Page {
    /// A browser on the server's page, not signed in yet.
    pub fn load(server: &Server, label: &str) -> Page {
        let browser = Browser::start(label);
        browser.goto(&format!("http://{}/", server.http()));
        let page = Page {
            browser,
            name: String::new(),
        };
        page.wait_state("signed-out");
        page
    }

    /// A browser on the server's page, signed in as `name` with the default status.
    pub fn signed_in(server: &Server, name: &str) -> Page {
        let mut page = Page::load(server, name);
        page.sign_in(name, None);
        page.wait_state("connected");
        page
    }

    /// Types a name (and a status, if given) into the sign-in form and presses Enter.
    pub fn sign_in(&mut self, name: &str, status: Option<&str>) {
        self.name = name.to_string();
        self.browser.label = name.to_string();
        if let Some(status) = status {
            self.browser.fill("#status", status);
        }
        self.browser.fill("#name", name);
        self.browser.fill_more("#name", ENTER);
    }

    /// Waits until the connection banner's `data-state` is `state`.
    pub fn wait_state(&self, state: &str) {
        self.browser.wait_for(
            &format!("#connection[data-state={state}]"),
            "return document.querySelector('#connection').dataset.state === arguments[0];",
            vec![json!(state)],
        );
    }

    /// Waits until `name` is listed among the online users with `status`.
    pub fn wait_user(&self, name: &str, status: &str) {
        self.browser.wait_for(
            &format!("{name} listed as {status:?}"),
            "const li = [...document.querySelectorAll('#users li')]
                 .find(li => li.dataset.name === arguments[0]);
             return !!li && li.querySelector('.status').textContent === arguments[1]
                 && li.querySelector('.name').textContent === arguments[0];",
            vec![json!(name), json!(status)],
        );
    }

    /// The names in the online-users list, in the page's order.
    pub fn users(&self) -> Vec<String> {
        strings(self.browser.js(
            "return [...document.querySelectorAll('#users li')].map(li => li.dataset.name);",
            vec![],
        ))
    }

    /// Ticks the given users and clicks "start": an INVITE. Returns the id of the
    /// conversation the page opened for it.
    pub fn invite(&self, names: &[&str]) -> String {
        let before = self.tabs();
        for name in names {
            self.wait_user_listed(name);
            self.browser
                .click(&format!("#users li[data-name=\"{name}\"] input.pick"));
        }
        self.browser.click("#start");
        // The new tab comes last. (Looking for an id not seen before would not do: after a
        // server restart ids start again, and the page renames the ended pane's.)
        let id = self.browser.wait_for(
            "a new conversation tab",
            "const tabs = document.querySelectorAll('#tabs .tab');
             return tabs.length > arguments[0] ? tabs[tabs.length - 1].dataset.conv : null;",
            vec![json!(before.len())],
        );
        id.as_str().expect("a conversation id").to_string()
    }

    fn wait_user_listed(&self, name: &str) {
        self.browser.wait_for(
            &format!("{name} in the online users"),
            "return [...document.querySelectorAll('#users li')]
                 .some(li => li.dataset.name === arguments[0]);",
            vec![json!(name)],
        );
    }

    /// The `data-conv` of every conversation tab.
    pub fn tabs(&self) -> Vec<String> {
        strings(self.browser.js(
            "return [...document.querySelectorAll('#tabs .tab')].map(t => t.dataset.conv);",
            vec![],
        ))
    }

    /// Waits for an invitation from `from` and returns its conversation id.
    pub fn wait_invitation(&self, from: &str) -> String {
        let id = self.browser.wait_for(
            &format!("an invitation from {from}"),
            "const i = [...document.querySelectorAll('#invitations .invitation')]
                 .find(i => i.querySelector('.from').textContent === arguments[0]);
             return i ? i.dataset.conv : null;",
            vec![json!(from)],
        );
        id.as_str().expect("a conversation id").to_string()
    }

    /// The ids of the invitations shown.
    pub fn invitations(&self) -> Vec<String> {
        strings(self.browser.js(
            "return [...document.querySelectorAll('#invitations .invitation')]
                 .map(i => i.dataset.conv);",
            vec![],
        ))
    }

    pub fn accept(&self, id: &str) {
        self.browser.click(&format!(
            "#invitations .invitation[data-conv=\"{id}\"] button.accept"
        ));
    }

    pub fn decline(&self, id: &str) {
        self.browser.click(&format!(
            "#invitations .invitation[data-conv=\"{id}\"] button.decline"
        ));
    }

    /// Waits until conversation `id` lists exactly `members` (in any order).
    pub fn wait_members(&self, id: &str, members: &[&str]) {
        self.browser.wait_for(
            &format!("conversation {id} with members {members:?}"),
            "const pane = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"]`);
             if (!pane) return false;
             const names = [...pane.querySelectorAll('ul.members li')].map(li => li.textContent).sort();
             return JSON.stringify(names) === JSON.stringify([...arguments[1]].sort());",
            vec![json!(id), json!(members)],
        );
    }

    /// Whether conversation `id`'s "pending" line is shown.
    pub fn pending_shown(&self, id: &str) -> bool {
        self.browser.js(
            "const p = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"] .pending`);
             return !!p && !p.hidden && p.getClientRects().length > 0;",
            vec![json!(id)],
        ) == json!(true)
    }

    /// Shows conversation `id` (clicks its tab), types `text` into its box and presses Enter.
    pub fn say(&self, id: &str, text: &str) {
        self.browser
            .click(&format!("#tabs .tab[data-conv=\"{id}\"]"));
        let input = format!("#panes section.conversation[data-conv=\"{id}\"] input.compose-text");
        self.browser.fill(&input, text);
        self.browser.fill_more(&input, ENTER);
    }

    /// The messages of conversation `id`, as (sender, text), in the page's order.
    pub fn transcript(&self, id: &str) -> Vec<(String, String)> {
        let value = self.browser.js(
            "const pane = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"]`);
             return pane ? [...pane.querySelectorAll('ol.transcript li.message')].map(li =>
                 [li.querySelector('span.from').textContent, li.querySelector('span.text').textContent]) : null;",
            vec![json!(id)],
        );
        serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("{}: no transcript for conversation {id}: {e}", self.name))
    }

    /// Waits until conversation `id` shows a message `text` from `from`, then returns the
    /// whole transcript.
    pub fn wait_message(&self, id: &str, from: &str, text: &str) -> Vec<(String, String)> {
        self.browser.wait_for(
            &format!("{from}: {text:?} in conversation {id}"),
            "const pane = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"]`);
             return !!pane && [...pane.querySelectorAll('ol.transcript li.message')].some(li =>
                 li.querySelector('span.from').textContent === arguments[1]
                 && li.querySelector('span.text').textContent === arguments[2]);",
            vec![json!(id), json!(from), json!(text)],
        );
        self.transcript(id)
    }

    /// The `.notice` lines of conversation `id`.
    pub fn notices(&self, id: &str) -> Vec<String> {
        strings(self.browser.js(
            "const pane = document.querySelector(`#panes section.conversation[data-conv=\"${arguments[0]}\"]`);
             return pane ? [...pane.querySelectorAll('ol.transcript .notice')].map(n => n.textContent) : [];",
            vec![json!(id)],
        ))
    }

    /// Clicks conversation `id`'s leave button.
    pub fn leave(&self, id: &str) {
        self.browser
            .click(&format!("#tabs .tab[data-conv=\"{id}\"]"));
        self.browser.click(&format!(
            "#panes section.conversation[data-conv=\"{id}\"] button.leave"
        ));
    }

    /// Types a new status into the status form and presses Enter.
    pub fn set_status(&self, status: &str) {
        self.browser.fill("#my-status", status);
        self.browser.fill_more("#my-status", ENTER);
    }

    /// Whether the element matching `css` exists and is shown.
    pub fn shown(&self, css: &str) -> bool {
        self.browser.js(
            "const e = document.querySelector(arguments[0]);
             return !!e && !e.hidden && e.getClientRects().length > 0;",
            vec![json!(css)],
        ) == json!(true)
    }

    /// The text of the element matching `css` (`null` if there is none).
    pub fn text(&self, css: &str) -> Value {
        self.browser.js(
            "const e = document.querySelector(arguments[0]); return e && e.textContent;",
            vec![json!(css)],
        )
    }
}

/// A JSON array of strings as a vector.
fn strings(value: Value) -> Vec<String> {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("expected a list of strings, got {value}: {e}"))
}
