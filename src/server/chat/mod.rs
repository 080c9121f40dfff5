//! The chat itself: users, conversations, invitations and presence. The domain, with no
//! sockets and no outboxes of its own.
//!
//! Handlers change this state through its methods, which keep its indexes consistent (a
//! name is online exactly while its user is; a member of a conversation has it among its
//! `joined`, an invitee among its `invited`). Every index is a hash or a tree, so a command
//! costs what it touches, never a scan of a conversation or of a user's list. What others
//! must hear (member lists, presence) is queued on the [`Outboxes`] passed in; the event
//! loop writes those later.
//!
//! Connections are known by their key, the key of the connection in the loop's slab.

mod conversation;
mod members;
mod mirror;
mod presence;
mod remote;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use crate::buffer::Line;
use crate::names::name_key;
use crate::protocol::{ConvId, ConversationsMode, PresenceMode, DEFAULT_STATUS};

use super::outboxes::Outboxes;
pub use conversation::Conversation;
use presence::PresenceLog;

/// Default `--max-members`: members one conversation may have (an `INVITE` invites at most
/// one fewer, so a conversation never outgrows it). In the default mode a member list goes
/// to every member on every change, so a change costs the square of the size; a thousand is
/// more than any class or group chat needs and keeps a change to a few milliseconds.
pub const DEFAULT_MAX_MEMBERS: usize = 1000;

/// Pending invitations one user may hold at once. Each costs a little memory until it is
/// accepted or lapses, and nothing else bounds how many other users may invite one user;
/// past this an inviter hears that the invitee has too many.
pub const MAX_PENDING_INVITATIONS: usize = 1024;

/// The chat's own limits (the command line sets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Members one conversation may have; `INVITE` invites at most one fewer.
    pub max_members: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_members: DEFAULT_MAX_MEMBERS,
        }
    }
}

/// A registered user.
#[derive(Debug)]
pub struct User {
    /// As its owner typed it. Shared with the key of the name index when the name is its own
    /// key (lower-case ASCII): one allocation instead of two, for every one of tens of
    /// thousands of users.
    pub name: Rc<str>,
    /// Most users keep the default status, which then costs no allocation.
    pub status: Cow<'static, str>,
    pub presence: PresenceMode,
    pub conversations: ConversationsMode,
    /// Conversations joined. Ordered, as the `CONVERSATIONS` map lists them; users with the
    /// same set receive the same map, encoded once.
    pub joined: BTreeSet<ConvId>,
    /// Conversations invited to and not joined yet.
    pub invited: HashSet<ConvId>,
}

/// Where an online user is: on a connection of this node, or (with the Redis engine) on
/// another node, known here only by its name and status (`remote.rs`).
#[derive(Debug)]
enum Online {
    Here(usize),
    There { name: Rc<str>, status: Box<str> },
}

/// The whole protocol state of the server.
#[derive(Debug, Default)]
pub struct Chat {
    limits: Limits,
    /// Registered users, by connection key.
    users: HashMap<usize, User>,
    /// Online users: the key of the name (`crate::names::name_key`; names are unique under
    /// it) to where the user is. Ordered, so `ONLINE_USERS` lists users in a stable order.
    names: BTreeMap<Rc<str>, Online>,
    conversations: HashMap<ConvId, Conversation>,
    /// The last conversation id handed out; ids start at 1 and are never reused.
    last_conv: ConvId,
    /// Presence changes not yet broadcast.
    presence: PresenceLog,
    /// Ended conversations whose invitations have still to lapse, with those invitees
    /// (some may be offline by now, their keys even reused: nothing to lapse then).
    lapsing: VecDeque<(ConvId, Vec<usize>)>,
    /// Members on other nodes of the conversations this node mirrors (the Redis engine),
    /// under keys of their own above every connection's (`mirror.rs`).
    proxies: mirror::Proxies,
}

/// The name-index key of a name `register` accepted. Such a name always has a key; the
/// fallback to the name itself only keeps `add_user` and `retire` symmetric, without a
/// panic, should a refused name ever get here.
fn index_key(name: &str) -> Cow<'_, str> {
    name_key(name).unwrap_or(Cow::Borrowed(name))
}

impl User {
    /// A new user with no conversations. The default status is not copied.
    pub fn new(
        name: &str,
        status: String,
        presence: PresenceMode,
        conversations: ConversationsMode,
    ) -> User {
        let status = if status == DEFAULT_STATUS {
            Cow::Borrowed(DEFAULT_STATUS)
        } else {
            Cow::Owned(status)
        };
        User {
            name: Rc::from(name),
            status,
            presence,
            conversations,
            joined: BTreeSet::new(),
            invited: HashSet::new(),
        }
    }
}

impl Chat {
    pub fn new(limits: Limits) -> Chat {
        Chat {
            limits,
            ..Chat::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The user on a connection, if it has registered.
    pub fn user(&self, key: usize) -> Option<&User> {
        self.users.get(&key)
    }

    pub fn is_registered(&self, key: usize) -> bool {
        self.users.contains_key(&key)
    }

    /// The name of a registered connection, or of a member on another node ("" for
    /// neither).
    pub fn name(&self, key: usize) -> &str {
        match self.user(key) {
            Some(user) => &user.name,
            None => self.proxies.name(key),
        }
    }

    /// The connection of the online user whose name is one with `name` under the name rule
    /// (`crate::names`: "STRASSE" finds "straße"). A name the rule refuses is nobody's.
    pub fn find_user(&self, name: &str) -> Option<usize> {
        match self.names.get(&*name_key(name).ok()?)? {
            Online::Here(key) => Some(*key),
            Online::There { .. } => None,
        }
    }

    pub fn conversation(&self, id: ConvId) -> Option<&Conversation> {
        self.conversations.get(&id)
    }

    /// Brings a user online on a connection.
    pub fn add_user(&mut self, key: usize, user: User) {
        self.presence.changed(&user.name, None);
        let name_key = match index_key(&user.name) {
            Cow::Borrowed(_) => Rc::clone(&user.name),
            Cow::Owned(folded) => Rc::from(folded),
        };
        self.names.insert(name_key, Online::Here(key));
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
    /// online users, other than `key`, with room for one more invitation) invited. Returns
    /// its new id.
    pub fn create_conversation(&mut self, key: usize, invitees: &[usize]) -> ConvId {
        self.last_conv += 1;
        let id = self.last_conv;
        for invitee in invitees {
            if let Some(user) = self.users.get_mut(invitee) {
                user.invited.insert(id);
            }
        }
        if let Some(user) = self.users.get_mut(&key) {
            user.joined.insert(id);
        }
        self.conversations
            .insert(id, Conversation::new(key, invitees));
        id
    }

    /// Whether `key` holds an invitation to `id`.
    pub fn is_invited(&self, key: usize, id: ConvId) -> bool {
        self.user(key)
            .is_some_and(|user| user.invited.contains(&id))
    }

    /// Whether `key` may hold one more pending invitation.
    pub fn may_be_invited(&self, key: usize) -> bool {
        self.user(key)
            .is_some_and(|user| user.invited.len() < MAX_PENDING_INVITATIONS)
    }

    /// Takes a user offline: leaves every conversation, drops its invitations and records
    /// the presence change. The loop calls it once per connection, when it settles the
    /// connection's closing.
    pub fn retire(&mut self, key: usize, out: &mut Outboxes) {
        // A map owed now was owed by others leaving in this same settle, after this user
        // closed: it is not sent (its place stays empty), as nothing after `GOODBYE` is.
        // Encoding it would cost one map per leaver when many leave at once.
        out.forget_owed(key);
        let Some(user) = self.users.remove(&key) else {
            return;
        };
        // The user is already gone, and each conversation drops it before telling the
        // others, so the member lists they receive no longer name it.
        for &id in &user.joined {
            self.remove_member(key, &user.name, id, out);
        }
        // Its invitations go with it: they were only ever in its own `invited` set.
        self.names.remove(&*index_key(&user.name));
        self.presence.changed(&user.name, Some(&user.status));
    }

    /// How many users are registered.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many conversations exist (each has at least one member: the last to leave ends it).
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// Whether presence changed since the last broadcast.
    pub fn presence_changed(&self) -> bool {
        !self.presence.is_empty()
    }

    /// `ONLINE_USERS` with every online user.
    pub fn online_users(&self) -> Line {
        presence::online_users(
            self.names
                .values()
                .filter_map(|online| self.name_status(online)),
        )
    }

    /// An online user's name and status, wherever it is.
    fn name_status<'a>(&'a self, online: &'a Online) -> Option<(&'a str, &'a str)> {
        match online {
            Online::Here(key) => {
                let user = self.users.get(key)?;
                Some((&user.name, &user.status))
            }
            Online::There { name, status } => Some((name, status)),
        }
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
        let changes = std::mem::take(&mut self.presence).take_changes(|name| {
            let (spelled, status) = self.name_status(self.names.get(&*index_key(name))?)?;
            // Exactly this name: a new user with another spelling is another change.
            (spelled == name).then_some(status)
        });
        if changes.is_empty() {
            return;
        }
        // Each form is encoded at most once, and only if someone wants it.
        let mut snapshot: Option<Line> = None;
        let mut delta: Option<Line> = None;
        for online in self.names.values() {
            let Online::Here(key) = *online else {
                continue;
            };
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
