//! The conversations a node mirrors (the Redis engine). Redis holds every conversation;
//! a node keeps those with members on it, as a [`Conversation`] of this chat like any
//! other, so that member lists, maps and both conversation modes are encoded by the same
//! code as on one node. Members on other nodes are *proxies*: a key of their own (above
//! any connection's, so no outbox has it and nothing is ever written to it) and a name.
//!
//! The mirror changes only as Redis's events say, in Redis's order: a join, a leave, a
//! message, from the conversation's channel. An answer to this node's own `JOIN` or
//! `INVITE` creates the mirror when it has none (the events before it are already in
//! the answer's member list).

use std::collections::HashMap;
use std::rc::Rc;

use crate::buffer::Line;
use crate::names::name_key;
use crate::protocol::{cmd, encode, ConvId};

use super::{Chat, Conversation, Outboxes};

/// The first proxy key: above any slab key a connection can have, so a proxy's key is
/// never a connection's.
const PROXY_BASE: usize = 1 << 48;

/// Members on other nodes, by key, and their keys by name key. Each proxy counts the
/// mirrored conversations it is in, and goes when it is in none.
#[derive(Debug, Default)]
pub struct Proxies {
    by_key: HashMap<usize, (Rc<str>, usize)>,
    by_name: HashMap<Rc<str>, usize>,
    next: usize,
}

impl Proxies {
    pub fn name(&self, key: usize) -> &str {
        self.by_key.get(&key).map_or("", |(name, _)| name)
    }

    /// The proxy of the member named `name` (its name key `folded`), one more conversation.
    fn take(&mut self, name: &str, folded: &str) -> usize {
        if let Some(&key) = self.by_name.get(folded) {
            if let Some((_, refs)) = self.by_key.get_mut(&key) {
                *refs += 1;
            }
            return key;
        }
        let key = PROXY_BASE + self.next;
        self.next += 1;
        self.by_key.insert(key, (Rc::from(name), 1));
        self.by_name.insert(Rc::from(folded), key);
        key
    }

    /// One conversation fewer for a proxy; gone at none.
    fn give_back(&mut self, key: usize) {
        let Some((name, refs)) = self.by_key.get_mut(&key) else {
            return;
        };
        *refs -= 1;
        if *refs == 0 {
            if let Ok(folded) = name_key(name) {
                self.by_name.remove(&*folded);
            }
            self.by_key.remove(&key);
        }
    }

    fn find(&self, folded: &str) -> Option<usize> {
        self.by_name.get(folded).copied()
    }

    pub fn is_proxy(key: usize) -> bool {
        key >= PROXY_BASE
    }
}

impl Chat {
    /// Whether this node mirrors conversation `id`.
    pub fn mirrors(&self, id: ConvId) -> bool {
        self.conversations.contains_key(&id)
    }

    /// Starts mirroring `id` with these members, in join order: this node's users by
    /// their connections, the others as proxies.
    pub fn mirror(&mut self, id: ConvId, names: &[String]) {
        if self.mirrors(id) {
            return;
        }
        let mut conv = Conversation::default();
        for name in names {
            let Some(key) = self.member_key(name) else {
                continue;
            };
            if let Some(user) = self.users.get_mut(&key) {
                user.joined.insert(id);
            }
            conv.add_member(key);
        }
        self.conversations.insert(id, conv);
    }

    /// `name` joined `id` (an event): the members hear of it as on one node.
    pub fn mirror_join(&mut self, id: ConvId, name: &str, out: &mut Outboxes) {
        if !self.mirrors(id) {
            return;
        }
        let local = self.find_user(name);
        match local {
            Some(key) => self.join(key, id, out),
            None => {
                let Some(key) = self.member_key(name) else {
                    return;
                };
                if let Some(conv) = self.conversations.get_mut(&id) {
                    conv.add_member(key);
                }
                self.tell_members(id, key, cmd::JOINED, name, out);
            }
        }
    }

    /// `name` left `id` (an event, also for a user going offline).
    pub fn mirror_leave(&mut self, id: ConvId, name: &str, out: &mut Outboxes) {
        let Some(conv) = self.conversations.get(&id) else {
            return;
        };
        if let Some(key) = self.find_user(name).filter(|&key| conv.is_member(key)) {
            return self.leave(key, id, out);
        }
        let Some(key) = name_key(name).ok().and_then(|f| self.proxies.find(&f)) else {
            return;
        };
        if conv.is_member(key) {
            self.remove_member(key, name, id, out);
            self.proxies.give_back(key);
        }
    }

    /// A message in `id` (an event): encoded once, for every member here.
    pub fn deliver(&self, id: ConvId, name: &str, text: &str, out: &mut Outboxes) {
        let Some(conv) = self.conversations.get(&id) else {
            return;
        };
        let line = Line::from(encode(cmd::MESSAGE, &(id, name, text)));
        for member in conv.members().filter(|&m| !Proxies::is_proxy(m)) {
            out.send(member, &line);
        }
    }

    /// `INVITATION` to those of `names` who are this node's users.
    pub fn invite_here(&self, id: ConvId, inviter: &str, names: &[String], out: &mut Outboxes) {
        let line = Line::from(encode(cmd::INVITATION, &(id, inviter)));
        for key in names.iter().filter_map(|name| self.find_user(name)) {
            out.send(key, &line);
        }
    }

    /// Whether some member of `id` is this node's.
    pub fn has_local_members(&self, id: ConvId) -> bool {
        self.conversations
            .get(&id)
            .is_some_and(|conv| conv.members().any(|m| !Proxies::is_proxy(m)))
    }

    /// Stops mirroring `id` (no member of it is here any more).
    pub fn drop_mirror(&mut self, id: ConvId) {
        let Some(conv) = self.conversations.remove(&id) else {
            return;
        };
        for member in conv.members() {
            match self.users.get_mut(&member) {
                Some(user) => {
                    user.joined.remove(&id);
                }
                None => self.proxies.give_back(member),
            }
        }
    }

    /// A user of this node goes offline while Redis takes it out of its conversations:
    /// it stays in their mirrors as a proxy, so the members here hear it leave when
    /// Redis's events say, in Redis's order, after the messages it sent before.
    pub fn retire_to_proxy(&mut self, key: usize, out: &mut Outboxes) {
        out.forget_owed(key);
        let Some(user) = self.users.get(&key) else {
            return;
        };
        let (name, joined) = (Rc::clone(&user.name), user.joined.clone());
        let Ok(folded) = name_key(&name) else {
            return self.retire(key, out);
        };
        for id in joined {
            let proxy = self.proxies.take(&name, &folded);
            if let Some(conv) = self.conversations.get_mut(&id) {
                conv.replace_member(key, proxy);
            }
        }
        if let Some(user) = self.users.get_mut(&key) {
            user.joined.clear();
        }
        self.retire(key, out);
    }

    /// The key `name` is a member under here: its connection, or a proxy (one more
    /// conversation for it). `None` for a name the rule refuses (Redis never has one).
    fn member_key(&mut self, name: &str) -> Option<usize> {
        if let Some(key) = self.find_user(name) {
            return Some(key);
        }
        let folded = name_key(name).ok()?;
        Some(self.proxies.take(name, &folded))
    }
}

#[cfg(test)]
mod tests;
