//! What the chat looks like from one user's side, and how the server's replies become
//! screen lines.
//!
//! Pure: a reply goes in, screen lines come out (in [`Output`]); nothing here does I/O, so
//! every rule below is tested without a socket. Typed commands are in `commands.rs`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::protocol::{BadReply, ConvId, Reply, Request};

/// What the event loop must do after one reply or one typed line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Lines for the screen, in order, without their newline.
    pub lines: Vec<String>,
    /// Requests for the server, in order.
    pub requests: Vec<Request>,
    /// The user asked to sign off (`/quit`).
    pub quit: bool,
    /// The server refused the registration: nothing else can work, the client exits.
    pub refused: bool,
}

/// One conversation the user is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Conversation {
    /// Joined members, in join order, as the last `CONVERSATIONS` (or our own
    /// `INVITATION`) said.
    pub(super) members: Vec<String>,
    /// Someone else has been a member at some point: alone after that is "alone", not
    /// "pending".
    pub(super) others_joined: bool,
}

/// The client's view of the chat: who is online, the user's conversations, the invitations
/// waiting for an answer, and which conversation plain text goes to.
#[derive(Debug)]
pub struct ChatState {
    pub(super) me: String,
    registered: bool,
    /// Everyone online and their status, the user included (it is hidden when shown).
    users: BTreeMap<String, String>,
    pub(super) conversations: BTreeMap<ConvId, Conversation>,
    /// Invitations from others not yet accepted: conversation and who invited.
    pub(super) invitations: BTreeMap<ConvId, String>,
    pub(super) current: Option<ConvId>,
}

/// Makes text from the network safe for one screen line: control characters (newlines,
/// terminal escapes) are shown escaped, so a message can neither break the one-line-per-event
/// format nor drive the terminal.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            safe.extend(c.escape_default());
        } else {
            safe.push(c);
        }
    }
    Cow::Owned(safe)
}

impl ChatState {
    /// The state of a client that has sent `REGISTER` for `me` and awaits the answer.
    pub fn new(me: &str) -> ChatState {
        ChatState {
            me: me.to_string(),
            registered: false,
            users: BTreeMap::new(),
            conversations: BTreeMap::new(),
            invitations: BTreeMap::new(),
            current: None,
        }
    }

    /// The server has accepted the registration.
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// The user's status as the server last confirmed it, if registered.
    pub fn my_status(&self) -> Option<&str> {
        self.users.get(&self.me).map(String::as_str)
    }

    /// The connection is gone: the server forgets a user's conversations and invitations
    /// when its connection closes, so they end here too, each with a line saying `why`.
    /// What is left is the state of a client about to register again.
    pub fn connection_lost(&mut self, why: &str, out: &mut Output) {
        for id in self.conversations.keys() {
            out.lines
                .push(format!("[{id}] * conversation ended: {why}"));
        }
        for id in self.invitations.keys() {
            out.lines
                .push(format!("[{id}] * invitation dropped: {why}"));
        }
        *self = ChatState::new(&self.me);
    }

    /// Handles one line from the server. Anything the server sends, even a line that is not
    /// of the protocol, becomes at most a few screen lines; nothing here can panic.
    pub fn on_reply(&mut self, reply: Result<Reply, BadReply>, out: &mut Output) {
        match reply {
            Ok(Reply::OnlineUsers(users)) => self.on_online_users(users, out),
            Ok(Reply::Presence(changes)) => self.apply_presence(changes, out),
            Ok(Reply::Invitation { conv, from }) => self.on_invitation(conv, from, out),
            Ok(Reply::Conversations(map)) => self.on_conversations(map, out),
            Ok(Reply::Message { conv, from, text }) => {
                out.lines
                    .push(format!("[{conv}] {}: {}", clean(&from), clean(&text)));
            }
            Ok(Reply::Error(text)) => {
                // Before ONLINE_USERS, an ERROR that answers REGISTER (every ERROR names the
                // command it answers) is the refusal: name taken or invalid. Any other (server
                // full, shutting down) comes with a close, and the close decides: a client
                // that is reconnecting tries again.
                if !self.registered && text.starts_with("REGISTER:") {
                    out.refused = true;
                }
                out.lines.push(format!("! {}", clean(&text)));
            }
            // Only sent in `{"conversations":"changes"}` mode, which imclient does not ask
            // for: its screen is built from complete maps.
            Ok(Reply::Members { .. } | Reply::Joined { .. } | Reply::Left { .. }) => {}
            Err(bad) => out.lines.push(format!("! {}", clean(&bad.to_string()))),
        }
    }

    /// `* online: bob (away), carol (available)`, everyone but the user.
    pub fn who_line(&self) -> String {
        let others: Vec<String> = self
            .users
            .iter()
            .filter(|(name, _)| **name != self.me)
            .map(|(name, status)| format!("{} ({})", clean(name), clean(status)))
            .collect();
        if others.is_empty() {
            "* online: nobody else".to_string()
        } else {
            format!("* online: {}", others.join(", "))
        }
    }

    /// `[7] * members: alice, bob`, with `(pending)` while nobody else has joined yet and
    /// `(alone)` once everyone else has left.
    pub fn members_line(&self, id: ConvId) -> String {
        let Some(conv) = self.conversations.get(&id) else {
            return format!("[{id}] * not a member");
        };
        let names: Vec<Cow<'_, str>> = conv.members.iter().map(|m| clean(m)).collect();
        let alone = conv.members.iter().all(|m| *m == self.me);
        let note = match (alone, conv.others_joined) {
            (true, false) => " (pending)",
            (true, true) => " (alone)",
            (false, _) => "",
        };
        format!("[{id}] * members: {}{note}", names.join(", "))
    }

    /// Makes `id` the conversation plain text goes to, and says so.
    pub(super) fn make_current(&mut self, id: ConvId, out: &mut Output) {
        self.current = Some(id);
        out.lines.push(format!("[{id}] * now current"));
    }

    fn on_online_users(&mut self, users: BTreeMap<String, String>, out: &mut Output) {
        if self.registered {
            let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
            for name in self.users.keys().filter(|name| !users.contains_key(*name)) {
                changes.insert(name.clone(), None);
            }
            for (name, status) in users {
                if self.users.get(&name) != Some(&status) {
                    changes.insert(name, Some(status));
                }
            }
            self.apply_presence(changes, out);
            return;
        }
        self.registered = true;
        let status = users.get(&self.me).map_or("?", String::as_str);
        out.lines.push(format!(
            "* registered as {} ({})",
            clean(&self.me),
            clean(status)
        ));
        self.users = users;
        out.lines.push(self.who_line());
    }

    /// Applies changes (`None`: went offline), one screen line per user that changed.
    fn apply_presence(&mut self, changes: BTreeMap<String, Option<String>>, out: &mut Output) {
        for (name, status) in changes {
            let old = self.users.get(&name);
            let line = match (&status, old) {
                (Some(new), Some(old)) if new == old => None,
                (Some(new), _) if name == self.me => Some(format!("* you are now {}", clean(new))),
                (Some(new), Some(_)) => Some(format!("* {} is now {}", clean(&name), clean(new))),
                (Some(new), None) => {
                    Some(format!("* {} came online ({})", clean(&name), clean(new)))
                }
                (None, Some(_)) if name != self.me => {
                    Some(format!("* {} went offline", clean(&name)))
                }
                (None, _) => None,
            };
            out.lines.extend(line);
            match status {
                Some(status) => self.users.insert(name, status),
                None => self.users.remove(&name),
            };
        }
    }

    fn on_invitation(&mut self, id: ConvId, from: String, out: &mut Output) {
        if from != self.me {
            out.lines.push(format!(
                "[{id}] * invited by {}; type /join {id} to accept",
                clean(&from)
            ));
            self.invitations.insert(id, from);
            return;
        }
        // Our own INVITE: no invitation to show. The server sends no CONVERSATIONS for it,
        // so the conversation starts here, with us as its only member.
        self.conversations
            .entry(id)
            .or_insert_with(|| Conversation {
                members: vec![from],
                others_joined: false,
            });
        out.lines
            .push(format!("[{id}] * you started this conversation"));
        out.lines.push(self.members_line(id));
        self.make_current(id, out);
    }

    /// `CONVERSATIONS` is always the complete map: what is missing was left, what is new
    /// was joined, and members are compared one conversation at a time.
    fn on_conversations(&mut self, map: BTreeMap<ConvId, Vec<String>>, out: &mut Output) {
        let gone: Vec<ConvId> = self
            .conversations
            .keys()
            .filter(|id| !map.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            self.conversations.remove(&id);
            out.lines.push(format!("[{id}] * you left"));
            if self.current == Some(id) {
                self.current = None;
            }
        }
        for (id, members) in map {
            let others_now = members.iter().any(|m| *m != self.me);
            let Some(conv) = self.conversations.get_mut(&id) else {
                self.invitations.remove(&id);
                self.conversations.insert(
                    id,
                    Conversation {
                        members,
                        others_joined: others_now,
                    },
                );
                out.lines.push(format!("[{id}] * you joined"));
                out.lines.push(self.members_line(id));
                self.make_current(id, out);
                continue;
            };
            if conv.members == members {
                continue;
            }
            for name in members.iter().filter(|m| !conv.members.contains(m)) {
                out.lines.push(format!("[{id}] * {} joined", clean(name)));
            }
            for name in conv.members.iter().filter(|m| !members.contains(m)) {
                out.lines.push(format!("[{id}] * {} left", clean(name)));
            }
            conv.members = members;
            conv.others_joined |= others_now;
            out.lines.push(self.members_line(id));
        }
    }
}
