//! What a typed line means: a slash command, or text for the current conversation.
//!
//! Commands that only look at the client's state (`/who`, `/list`, `/switch`, `/help`)
//! answer at once; the others become requests, and their effect is shown when the server's
//! answer arrives (see `state.rs`). A message is never printed when typed: the server
//! echoes it to its sender, and that echo is the one line shown, in the order every member
//! sees.

use crate::protocol::{ConvId, Request};

use super::state::{ChatState, Output};
use super::MAX_REQUEST_BYTES;

/// `/help`, one screen line each (also the start of `imclient --help`'s long text).
pub(super) const HELP: &[&str] = &[
    "* commands:",
    "*   /who              who is online, with their status",
    "*   /status TEXT      change your status, e.g. /status away",
    "*   /invite NAME...   start a conversation with these users",
    "*   /join ID          accept the invitation to conversation ID",
    "*   /leave [ID]       leave conversation ID (default: the current one)",
    "*   /list             your conversations, their members, invitations waiting",
    "*   /switch ID, /ID   make conversation ID the current one",
    "*   /ID TEXT          say TEXT in conversation ID",
    "*   TEXT              say TEXT in the current conversation (//TEXT to start with /)",
    "*   /help             this list",
    "*   /quit             sign off (so do end of input and Ctrl-C)",
];

impl ChatState {
    /// Handles one typed line (without its newline).
    pub fn on_input(&mut self, line: &str, out: &mut Output) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let Some(command) = line.strip_prefix('/') else {
            self.say(self.current, line, out);
            return;
        };
        if command.starts_with('/') {
            self.say(self.current, command, out);
            return;
        }
        let (word, rest) = match command.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (command, ""),
        };
        if let Ok(id) = word.parse::<ConvId>() {
            if rest.is_empty() {
                self.switch(id, out);
            } else {
                self.say(Some(id), rest, out);
            }
            return;
        }
        match word {
            "help" => out.lines.extend(HELP.iter().map(|l| l.to_string())),
            "quit" | "exit" => out.quit = true,
            "who" => out.lines.push(self.who_line()),
            "list" => self.list(out),
            "status" if !rest.is_empty() => out.requests.push(Request::Status(rest.to_string())),
            "invite" if !rest.is_empty() => {
                let names = rest.split_whitespace().map(str::to_string).collect();
                out.requests.push(Request::Invite(names));
            }
            "join" => match parse_id(rest) {
                Some(id) => out.requests.push(Request::Join(id)),
                None => usage("/join ID", out),
            },
            "leave" => match if rest.is_empty() {
                self.current
            } else {
                parse_id(rest)
            } {
                Some(id) => out.requests.push(Request::Leave(id)),
                None => usage("/leave ID (no current conversation)", out),
            },
            "switch" => match parse_id(rest) {
                Some(id) => self.switch(id, out),
                None => usage("/switch ID", out),
            },
            "status" => usage("/status TEXT", out),
            "invite" => usage("/invite NAME [NAME...]", out),
            _ => out.lines.push(format!(
                "! unknown command /{word}; /help lists the commands"
            )),
        }
    }

    /// Queues `text` for conversation `id`, if it fits in one request line.
    fn say(&self, id: Option<ConvId>, text: &str, out: &mut Output) {
        let Some(id) = id else {
            out.lines.push(
                "! no current conversation: /invite NAME, /join ID or /switch ID first".into(),
            );
            return;
        };
        let request = Request::SendMessage(id, text.to_string());
        // The server closes a connection that sends a longer line, so it is refused here,
        // with an explanation, instead of costing the user their session.
        if request.encode().len() > MAX_REQUEST_BYTES + 1 {
            out.lines.push(format!(
                "! message too long: at most {MAX_REQUEST_BYTES} bytes"
            ));
            return;
        }
        out.requests.push(request);
    }

    fn switch(&mut self, id: ConvId, out: &mut Output) {
        if self.conversations.contains_key(&id) {
            self.make_current(id, out);
        } else {
            out.lines
                .push(format!("! not in conversation {id}; /list shows yours"));
        }
    }

    /// Every conversation with its members (the current one marked), then every invitation
    /// still waiting.
    fn list(&self, out: &mut Output) {
        if self.conversations.is_empty() && self.invitations.is_empty() {
            out.lines.push("* no conversations".to_string());
        }
        for &id in self.conversations.keys() {
            let mut line = self.members_line(id);
            if self.current == Some(id) {
                line.push_str(" (current)");
            }
            out.lines.push(line);
        }
        for (id, from) in &self.invitations {
            out.lines.push(format!(
                "[{id}] * invited by {}; type /join {id} to accept",
                super::state::clean(from)
            ));
        }
    }
}

fn parse_id(text: &str) -> Option<ConvId> {
    text.trim().parse().ok()
}

fn usage(text: &str, out: &mut Output) {
    out.lines.push(format!("! usage: {text}"));
}
