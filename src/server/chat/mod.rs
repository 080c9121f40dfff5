//! The chat itself: users, conversations, invitations and presence. The domain, with no
//! sockets and no outboxes of its own.
//!
//! Handlers change this state through its methods, which keep its indexes consistent (a
//! name is online exactly while its user is; a member of a conversation has it among its
//! `joined`). What others must hear (member lists, presence) is queued on the
//! [`Outboxes`] passed in; the event loop writes those later.
//!
//! Connections are known by their key, the key of the connection in the loop's slab.

mod presence;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::buffer::Line;
use crate::protocol::{cmd, encode, ConvId, PresenceMode, DEFAULT_STATUS};

use super::outboxes::Outboxes;
use presence::PresenceLog;

/// A registered user.
#[derive(Debug)]
pub struct User {
    /// Shared with the key of the name index when the name is already lower case: one
    /// allocation instead of two, for every one of tens of thousands of users.
    pub name: Rc<str>,
    /// Most users keep the default status, which then costs no allocation.
    pub status: Cow<'static, str>,
    pub presence: PresenceMode,
    /// Conversations joined, in joining order.
    pub joined: Vec<ConvId>,
    /// Conversations invited to and not joined yet.
    pub invited: Vec<ConvId>,
}

/// A conversation.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Connection keys of the members, in join order (the inviter first).
    pub members: Vec<usize>,
    /// Connection keys holding a pending invitation.
    pub invited: Vec<usize>,
}

/// The whole protocol state of the server.
#[derive(Debug, Default)]
pub struct Chat {
    /// Registered users, by connection key.
    users: HashMap<usize, User>,
    /// Online users: lower-cased name (names are unique case-insensitively) to connection
    /// key. Ordered, so `ONLINE_USERS` lists users in a stable order.
    names: BTreeMap<Rc<str>, usize>,
    conversations: HashMap<ConvId, Conversation>,
    /// The last conversation id handed out; ids start at 1 and are never reused.
    last_conv: ConvId,
    /// Presence changes not yet broadcast.
    presence: PresenceLog,
}

impl User {
    /// A new user with no conversations. The default status is not copied.
    pub fn new(name: &str, status: String, presence: PresenceMode) -> User {
        let status = if status == DEFAULT_STATUS {
            Cow::Borrowed(DEFAULT_STATUS)
        } else {
            Cow::Owned(status)
        };
        User {
            name: Rc::from(name),
            status,
            presence,
            joined: Vec::new(),
            invited: Vec::new(),
        }
    }
}

impl Chat {
    pub fn new() -> Chat {
        Chat::default()
    }

    /// The user on a connection, if it has registered.
    pub fn user(&self, key: usize) -> Option<&User> {
        self.users.get(&key)
    }

    pub fn is_registered(&self, key: usize) -> bool {
        self.users.contains_key(&key)
    }

    /// The name of a registered connection ("" for one that is not).
    pub fn name(&self, key: usize) -> &str {
        self.user(key).map_or("", |user| &user.name)
    }

    /// The connection of the online user whose name matches `name` without regard to case.
    pub fn find_user(&self, name: &str) -> Option<usize> {
        self.names.get(name.to_lowercase().as_str()).copied()
    }

    pub fn conversation(&self, id: ConvId) -> Option<&Conversation> {
        self.conversations.get(&id)
    }

    /// Brings a user online on a connection.
    pub fn add_user(&mut self, key: usize, user: User) {
        self.presence.changed(&user.name, None);
        let lower = user.name.to_lowercase();
        let name_key = if *lower == *user.name {
            Rc::clone(&user.name)
        } else {
            Rc::from(lower)
        };
        self.names.insert(name_key, key);
        self.users.insert(key, user);
    }

    /// Changes a user's status; everyone hears at the next presence broadcast.
    pub fn set_status(&mut self, key: usize, status: String) {
        if let Some(user) = self.users.get_mut(&key) {
            let old = std::mem::replace(&mut user.status, status.into());
            self.presence.changed(&user.name, Some(&old));
        }
    }

    /// Creates a conversation with `key` as its first member and `invitees` (distinct
    /// online users) invited. Returns its new id.
    pub fn create_conversation(&mut self, key: usize, invitees: Vec<usize>) -> ConvId {
        self.last_conv += 1;
        let id = self.last_conv;
        for invitee in &invitees {
            if let Some(user) = self.users.get_mut(invitee) {
                user.invited.push(id);
            }
        }
        if let Some(user) = self.users.get_mut(&key) {
            user.joined.push(id);
        }
        let conversation = Conversation {
            members: vec![key],
            invited: invitees,
        };
        self.conversations.insert(id, conversation);
        id
    }

    /// Turns `key`'s invitation to `id` into membership; every member, the newcomer
    /// included, hears the new member list.
    pub fn join(&mut self, key: usize, id: ConvId, out: &mut Outboxes) {
        let (Some(user), Some(conv)) = (self.users.get_mut(&key), self.conversations.get_mut(&id))
        else {
            return;
        };
        user.invited.retain(|&c| c != id);
        user.joined.push(id);
        conv.invited.retain(|&k| k != key);
        conv.members.push(key);
        self.tell_members(id, out);
    }

    /// Takes a member out of a conversation. The remaining members hear the new member
    /// list; when the last member leaves, the conversation ends and its pending invitations
    /// lapse.
    pub fn leave(&mut self, key: usize, id: ConvId, out: &mut Outboxes) {
        if let Some(user) = self.users.get_mut(&key) {
            user.joined.retain(|&c| c != id);
        }
        let Some(conv) = self.conversations.get_mut(&id) else {
            return;
        };
        conv.members.retain(|&m| m != key);
        if conv.members.is_empty() {
            let ended = self.conversations.remove(&id).unwrap_or_default();
            for invitee in ended.invited {
                if let Some(user) = self.users.get_mut(&invitee) {
                    user.invited.retain(|&c| c != id);
                }
            }
            return;
        }
        self.tell_members(id, out);
    }

    /// Every member of `id` gets its complete `CONVERSATIONS` map.
    fn tell_members(&self, id: ConvId, out: &mut Outboxes) {
        if let Some(conv) = self.conversations.get(&id) {
            for &member in &conv.members {
                self.send_conversations(member, out);
            }
        }
    }

    /// Sends a user its complete `CONVERSATIONS` map: the conversations it has joined, each
    /// with its members' names in join order.
    pub fn send_conversations(&self, key: usize, out: &mut Outboxes) {
        let Some(user) = self.user(key) else { return };
        let map: BTreeMap<ConvId, Vec<&str>> = user
            .joined
            .iter()
            .filter_map(|id| {
                let conv = self.conversations.get(id)?;
                Some((*id, conv.members.iter().map(|&m| self.name(m)).collect()))
            })
            .collect();
        out.send(key, &Line::from(encode(cmd::CONVERSATIONS, &map)));
    }

    /// Takes a user offline: leaves every conversation, drops its invitations and records
    /// the presence change. The loop calls it once per connection, when it settles the
    /// connection's closing.
    pub fn retire(&mut self, key: usize, out: &mut Outboxes) {
        let Some(user) = self.users.remove(&key) else {
            return;
        };
        // The user is already gone, and each conversation drops it before telling the
        // others, so the member lists they receive no longer name it.
        for &id in &user.joined {
            self.leave(key, id, out);
        }
        for id in &user.invited {
            if let Some(conv) = self.conversations.get_mut(id) {
                conv.invited.retain(|&k| k != key);
            }
        }
        self.names.remove(user.name.to_lowercase().as_str());
        self.presence.changed(&user.name, Some(&user.status));
    }

    /// Whether presence changed since the last broadcast.
    pub fn presence_changed(&self) -> bool {
        !self.presence.is_empty()
    }

    /// `ONLINE_USERS` with every online user.
    pub fn online_users(&self) -> Line {
        presence::online_users(self.names.values().filter_map(|key| {
            let user = self.users.get(key)?;
            Some((&*user.name, &*user.status))
        }))
    }

    /// `ONLINE_USERS` naming one user alone: the registration answer in `none` mode.
    pub fn online_users_self_only(&self, key: usize) -> Option<Line> {
        let user = self.user(key)?;
        Some(presence::online_users(std::iter::once((
            &*user.name,
            &*user.status,
        ))))
    }

    /// Sends the changes logged since the last call to every online user, as its presence
    /// mode asks. Net changes only; no change means no message.
    pub fn broadcast_presence(&mut self, out: &mut Outboxes) {
        let (names, users) = (&self.names, &self.users);
        let changes = self.presence.take_changes(|name| {
            let user = users.get(names.get(name.to_lowercase().as_str())?)?;
            // Exactly this name: a new user with another spelling is another change.
            (*user.name == *name).then_some(&*user.status)
        });
        if changes.is_empty() {
            return;
        }
        // Each form is encoded at most once, and only if someone wants it.
        let mut snapshot: Option<Line> = None;
        let mut delta: Option<Line> = None;
        for &key in self.names.values() {
            let Some(user) = self.users.get(&key) else {
                continue;
            };
            let line = match user.presence {
                PresenceMode::Full => snapshot.get_or_insert_with(|| self.online_users()),
                PresenceMode::Changes => delta.get_or_insert_with(|| presence::presence(&changes)),
                PresenceMode::None => continue,
            };
            out.send(key, line);
        }
    }
}
