//! The questions a node asks Redis for its users' commands. Each handler has checked what
//! the node can check alone; what needs every node's agreement is one function call
//! (`functions.lua`), and the command waits for its answer (`answers.rs`) unless nothing
//! depends on it (a status, a retirement).

use crate::names::name_key;
use crate::protocol::ConvId;
use crate::server::chat::{Chat, User};
use crate::server::dispatch::{Effect, Outcome, Refusal};
use crate::server::outboxes::Outboxes;

use super::{Pending, Redis, Sender};
use crate::server::chat::MAX_PENDING_INVITATIONS;

impl Redis {
    /// `REGISTER`: Redis decides whether the name is free on every node.
    pub fn register(&mut self, me: Sender, user: User) -> Outcome {
        let node = self.node_id()?;
        // The name key is computed here once, and kept for the user's later requests.
        let key = name_key(&user.name).map_err(Refusal::BadName)?.into_owned();
        let (name, status) = (user.name.to_string(), user.status.to_string());
        let args = [
            node.as_bytes(),
            key.as_bytes(),
            name.as_bytes(),
            status.as_bytes(),
        ];
        let pending = Pending::Register {
            me,
            user,
            key: Box::from(key.as_str()),
        };
        self.fcall("register", &args, pending);
        Ok(Effect::Wait)
    }

    /// `STATUS`: published to every node; this node applies it itself at once.
    pub fn set_status(&mut self, chat: &Chat, me: usize, status: &str) {
        let (Ok(node), Some((_, key))) = (self.node_id(), self.user_key(chat, me)) else {
            return;
        };
        let args = [node.as_bytes(), key.as_bytes(), status.as_bytes()];
        self.fcall("status", &args, Pending::Done);
    }

    /// A user of this node goes offline: Redis takes it out of its conversations (their
    /// members hear it leave in Redis's order), and its name is free on every node.
    /// Without a link, it only leaves this node's mirrors.
    pub fn retire(&mut self, chat: &mut Chat, out: &mut Outboxes, key: usize) {
        let Some(user) = chat.user(key) else {
            return;
        };
        let joined: Vec<ConvId> = user.joined.iter().copied().collect();
        if self.node.is_some() && self.keys.contains_key(&key) {
            self.retire_key(key);
            chat.retire_to_proxy(key, out);
        } else {
            self.keys.remove(&key);
            chat.retire(key, out);
        }
        for id in joined {
            self.sweep(chat, id);
        }
    }

    /// Frees the name of connection `key`'s user in Redis (also one whose connection went
    /// away while its `REGISTER` was in flight).
    pub fn retire_key(&mut self, key: usize) {
        let (Ok(node), Some(name_key)) = (self.node_id(), self.keys.remove(&key)) else {
            return;
        };
        let args = [node.as_bytes(), name_key.as_bytes()];
        self.fcall("retire", &args, Pending::Done);
    }

    /// `INVITE`: first a new conversation id, so that this node subscribes to its channel
    /// before anyone can join it; the invitation itself follows (`answers.rs`).
    pub fn invite(&mut self, me: Sender, names: Vec<String>) -> Outcome {
        self.node_id()?;
        // A name the rule refuses is no one's: an empty key, which Redis finds offline.
        let names = (names.into_iter())
            .map(|name| {
                let key = name_key(&name).map(|k| k.into_owned()).unwrap_or_default();
                (name, key)
            })
            .collect();
        self.send(&[b"INCR", b"im:conv:seq"], Pending::ConvId { me, names });
        Ok(Effect::Wait)
    }

    /// The second half of `INVITE`, once the id is known.
    pub(super) fn invite_with(
        &mut self,
        chat: &Chat,
        me: Sender,
        id: ConvId,
        names: &[(String, String)],
    ) {
        let (Ok(node), Some((_, key))) = (self.node_id(), self.user_key(chat, me.key)) else {
            return self.answer(
                me,
                crate::protocol::cmd::INVITE,
                Err(Refusal::EngineUnavailable),
            );
        };
        self.subscribe(id);
        *self.joining.entry(id).or_default() += 1;
        let (id_text, room) = (
            id.to_string(),
            self.max_members.saturating_sub(1).to_string(),
        );
        let max = MAX_PENDING_INVITATIONS.to_string();
        let mut args: Vec<&[u8]> = vec![
            node.as_bytes(),
            id_text.as_bytes(),
            key.as_bytes(),
            room.as_bytes(),
            max.as_bytes(),
        ];
        for (name, key) in names {
            args.extend([name.as_bytes(), key.as_bytes()]);
        }
        self.fcall("invite", &args, Pending::Invite { me, id });
    }

    /// `JOIN` from a user not a member yet: Redis checks the invitation. The channel is
    /// subscribed first, on this same link, so no event after the join passes this node by.
    pub fn join(&mut self, chat: &Chat, me: Sender, id: ConvId) -> Outcome {
        let node = self.node_id()?;
        crate::server::dispatch::handlers::check_room(chat, me.key)?;
        let Some((_, key)) = self.user_key(chat, me.key) else {
            return Err(Refusal::NotRegistered);
        };
        self.subscribe(id);
        *self.joining.entry(id).or_default() += 1;
        let id_text = id.to_string();
        let args = [node.as_bytes(), id_text.as_bytes(), key.as_bytes()];
        self.fcall("join", &args, Pending::Join { me, id });
        Ok(Effect::Wait)
    }

    /// `SEND_MESSAGE` from a member: Redis checks the membership and publishes the message
    /// on the conversation's channel; every node delivers it to its members from there,
    /// this one to the sender too.
    pub fn send_message(&mut self, chat: &Chat, me: Sender, id: ConvId, text: &str) -> Outcome {
        self.node_id()?;
        let Some((name, key)) = self.user_key(chat, me.key) else {
            return Err(Refusal::NotRegistered);
        };
        let id_text = id.to_string();
        let args = [
            id_text.as_bytes(),
            key.as_bytes(),
            name.as_bytes(),
            text.as_bytes(),
        ];
        let command = crate::protocol::cmd::SEND_MESSAGE;
        self.fcall("send", &args, Pending::Member { me, id, command });
        Ok(Effect::Wait)
    }

    /// `LEAVE` from a member: Redis takes it out; the members hear from the channel.
    pub fn leave(&mut self, chat: &Chat, me: Sender, id: ConvId) -> Outcome {
        let node = self.node_id()?;
        let Some((_, key)) = self.user_key(chat, me.key) else {
            return Err(Refusal::NotRegistered);
        };
        let id_text = id.to_string();
        let args = [node.as_bytes(), id_text.as_bytes(), key.as_bytes()];
        let command = crate::protocol::cmd::LEAVE;
        self.fcall("leave", &args, Pending::Member { me, id, command });
        Ok(Effect::Wait)
    }

    /// `LIST_CONVERSATIONS`: answered once a `PING` comes back, so that the map holds
    /// every change Redis made before the request (another node's user who left just
    /// before is no longer in it).
    pub fn list_conversations(&mut self, me: Sender) -> Outcome {
        self.node_id()?;
        self.send(&[b"PING"], Pending::List { me });
        Ok(Effect::Wait)
    }

    /// This node's id as text, or the refusal every command gets while it has none.
    fn node_id(&self) -> Result<String, Refusal> {
        self.node.clone().ok_or(Refusal::EngineUnavailable)
    }

    fn subscribe(&mut self, id: ConvId) {
        if self.subscribed.insert(id) {
            let channel = format!("im:conv:{id}");
            self.link.command(&[b"SUBSCRIBE", channel.as_bytes()]);
        }
    }

    /// Stops mirroring `id` if no member of it is here any more, and leaves its channel
    /// unless a join of this node's is on its way.
    pub(super) fn sweep(&mut self, chat: &mut Chat, id: ConvId) {
        if chat.mirrors(id) && !chat.has_local_members(id) {
            chat.drop_mirror(id);
        }
        let joining = self.joining.get(&id).copied().unwrap_or(0);
        if !chat.mirrors(id) && joining == 0 && self.subscribed.remove(&id) {
            let channel = format!("im:conv:{id}");
            self.link.command(&[b"UNSUBSCRIBE", channel.as_bytes()]);
        }
    }

    /// One fewer join or invitation of this node's on its way to `id`.
    pub(super) fn joined(&mut self, id: ConvId) {
        if let Some(count) = self.joining.get_mut(&id) {
            *count -= 1;
            if *count == 0 {
                self.joining.remove(&id);
            }
        }
    }
}

impl Redis {
    /// A user's name, and its name key as `REGISTER` computed it (the name rule is not
    /// run again per message).
    fn user_key(&self, chat: &Chat, me: usize) -> Option<(String, String)> {
        let name = &chat.user(me)?.name;
        let key = self.keys.get(&me)?;
        Some((name.to_string(), key.to_string()))
    }
}
