//! Joining and leaving conversations, and how members hear of it.
//!
//! A member in the default mode is sent its complete `CONVERSATIONS` map after every change
//! (the course behaviour), but not once per change: a change only marks its map as owed, at
//! the place in its outbox where the map belongs ([`Outboxes::owe_map`]), and before the
//! pass writes anything the owed maps are encoded ([`Chat::send_owed_maps`]). However many
//! members joined in the pass, a member gets one map, and members whose maps are equal (the
//! same conversations joined) share one encoding. A thousand users joining one conversation
//! in one pass therefore cost one map encoded once, not a million maps.
//!
//! A member in `{"conversations":"changes"}` mode hears only what changed: `JOINED` or
//! `LEFT` naming one member, encoded once per change and shared by every such member.

use std::collections::{BTreeSet, HashMap};

use serde::ser::{Serialize, Serializer};

use crate::buffer::Line;
use crate::protocol::{cmd, encode, ConvId, ConversationsMode};

use super::{Chat, Conversation, Outboxes};

impl Chat {
    /// Turns `key`'s invitation to `id` into membership. The other members hear of it as
    /// their mode asks; the newcomer gets its map, or in changes mode `MEMBERS` with the
    /// conversation's member list.
    pub fn join(&mut self, key: usize, id: ConvId, out: &mut Outboxes) {
        let (Some(user), Some(conv)) = (self.users.get_mut(&key), self.conversations.get_mut(&id))
        else {
            return;
        };
        user.invited.remove(&id);
        user.joined.insert(id);
        conv.add_member(key);
        let (name, mode) = (user.name.clone(), user.conversations);
        self.tell_members(id, key, cmd::JOINED, &name, out);
        match mode {
            ConversationsMode::Full => out.owe_map(key),
            ConversationsMode::Changes => self.send_members(key, id, out),
        }
    }

    /// Takes a member out of a conversation; the leaver and the remaining members hear of
    /// it as their modes ask.
    pub fn leave(&mut self, key: usize, id: ConvId, out: &mut Outboxes) {
        let Some(user) = self.users.get_mut(&key) else {
            return;
        };
        user.joined.remove(&id);
        let (name, mode) = (user.name.clone(), user.conversations);
        self.remove_member(key, &name, id, out);
        match mode {
            ConversationsMode::Full => out.owe_map(key),
            ConversationsMode::Changes => {
                out.send(key, &Line::from(encode(cmd::LEFT, &(id, &*name))));
            }
        }
    }

    /// Drops `key` (named `name`) from `id`'s members and tells the others. When the last
    /// member leaves, the conversation ends and its pending invitations lapse.
    pub(super) fn remove_member(&mut self, key: usize, name: &str, id: ConvId, out: &mut Outboxes) {
        let Some(conv) = self.conversations.get_mut(&id) else {
            return;
        };
        conv.remove_member(key);
        if conv.is_empty() {
            let ended = self.conversations.remove(&id).unwrap_or_default();
            let invitees: Vec<usize> = ended.invitees().collect();
            if !invitees.is_empty() {
                self.lapsing.push_back((id, invitees));
            }
            return;
        }
        self.tell_members(id, key, cmd::LEFT, name, out);
    }

    /// Tells every member of `id` but `except` that `name` joined or left: a map owed in
    /// full mode, `word` (`JOINED`, `LEFT`) in changes mode, encoded once for all of them.
    pub(super) fn tell_members(
        &self,
        id: ConvId,
        except: usize,
        word: &str,
        name: &str,
        out: &mut Outboxes,
    ) {
        let Some(conv) = self.conversations.get(&id) else {
            return;
        };
        let mut change: Option<Line> = None;
        for member in conv.members().filter(|&m| m != except) {
            match self.users.get(&member).map(|user| user.conversations) {
                Some(ConversationsMode::Full) => out.owe_map(member),
                Some(ConversationsMode::Changes) => {
                    let line = change.get_or_insert_with(|| Line::from(encode(word, &(id, name))));
                    out.send(member, line);
                }
                None => {}
            }
        }
    }

    /// Lets at most `budget` invitations to ended conversations lapse, oldest first.
    pub fn lapse_invitations(&mut self, mut budget: usize) {
        while budget > 0 {
            let Some((id, invitees)) = self.lapsing.front_mut() else {
                return;
            };
            let take = budget.min(invitees.len());
            for invitee in invitees.drain(invitees.len() - take..) {
                if let Some(user) = self.users.get_mut(&invitee) {
                    user.invited.remove(id);
                }
            }
            if invitees.is_empty() {
                self.lapsing.pop_front();
            }
            budget -= take;
        }
    }

    /// Whether invitations to ended conversations are still to lapse.
    pub fn has_lapsing(&self) -> bool {
        !self.lapsing.is_empty()
    }

    /// `MEMBERS [id, [names]]`: one conversation's members, for a member in changes mode.
    pub fn send_members(&self, key: usize, id: ConvId, out: &mut Outboxes) {
        if let Some(conv) = self.conversations.get(&id) {
            let line = encode(cmd::MEMBERS, &(id, MemberNames(self, conv)));
            out.send(key, &Line::from(line));
        }
    }

    /// Sends a user its complete `CONVERSATIONS` map now (the answer to its own request).
    pub fn send_conversations(&self, key: usize, out: &mut Outboxes) {
        if let Some(user) = self.user(key) {
            out.send(key, &self.encode_map(&user.joined));
        }
    }

    /// Encodes every map owed since the last call into its place. Users who joined the same
    /// conversations get the same map: it is encoded once and shared.
    pub fn send_owed_maps(&self, out: &mut Outboxes) {
        let mut encoded: HashMap<&BTreeSet<ConvId>, Line> = HashMap::new();
        for key in out.take_owed() {
            // A user retired since its map was owed needs it no more (`retire` forgets it;
            // this only keeps a stray key harmless).
            let Some(user) = self.users.get(&key) else {
                continue;
            };
            let line = encoded
                .entry(&user.joined)
                .or_insert_with(|| self.encode_map(&user.joined));
            out.fill_owed(key, line);
        }
    }

    /// `CONVERSATIONS` for this set of conversations, each with its members' names in join
    /// order, serialized straight from the chat.
    fn encode_map(&self, joined: &BTreeSet<ConvId>) -> Line {
        Line::from(encode(cmd::CONVERSATIONS, &Map(self, joined)))
    }
}

/// A `CONVERSATIONS` map, serialized with no intermediate collection.
struct Map<'a>(&'a Chat, &'a BTreeSet<ConvId>);

/// One conversation's member names, in join order.
struct MemberNames<'a>(&'a Chat, &'a Conversation);

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Map(chat, joined) = *self;
        serializer.collect_map(joined.iter().filter_map(|id| {
            let conv = chat.conversations.get(id)?;
            Some((id, MemberNames(chat, conv)))
        }))
    }
}

impl Serialize for MemberNames<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let MemberNames(chat, conv) = *self;
        serializer.collect_seq(conv.members().map(|member| chat.name(member)))
    }
}
