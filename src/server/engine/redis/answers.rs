//! What comes back from Redis: answers, in the order of the requests, and published
//! messages (RESP3 pushes) in between, in Redis's order. An answer finishes the command
//! that waited for it; a message changes this node's mirrors and is delivered to its
//! users. Both arrive on the one link, so a node sees its own requests' events before
//! their answers, and everything in one order.

use redis_protocol::resp3::types::OwnedFrame;
use serde::Deserialize;

use crate::buffer::Line;
use crate::protocol::{cmd, encode, ConvId, ConversationsMode};
use crate::server::chat::Chat;
use crate::server::dispatch::{Effect, LeftOut, Refusal};
use crate::server::outboxes::Outboxes;

use super::{error_text, items, text, Pending, Redis, Sender, PRESENCE_CHANNEL};

/// One online user as `im:online` holds it.
#[derive(Debug, Deserialize)]
struct Entry {
    node: String,
    name: String,
    status: String,
}

/// An event of a conversation's channel: `["joined"|"left", id, name]` or
/// `["message", id, name, text]`.
#[derive(Debug, Deserialize)]
struct ConvEvent(String, ConvId, String, #[serde(default)] Option<String>);

/// An event of this node's channel: `["invitation", id, inviter, [names]]`.
#[derive(Debug, Deserialize)]
struct NodeEvent(String, ConvId, String, Vec<String>);

impl Redis {
    /// One frame from Redis. `Err` says why the link must be failed.
    pub fn on_frame(
        &mut self,
        frame: OwnedFrame,
        chat: &mut Chat,
        out: &mut Outboxes,
        now: u64,
    ) -> Result<(), String> {
        if let OwnedFrame::Push { data, .. } = &frame {
            self.on_push(data, chat, out);
            return Ok(());
        }
        let Some(pending) = self.pending.pop_front() else {
            return Err("an answer to no request".into());
        };
        let error = error_text(&frame);
        // Redis says this node's lease ended: its users may be someone else's now. The
        // request goes back in the queue, so that failing the link answers it with the rest.
        if let Some(why) = error.as_deref().filter(|why| why.starts_with("LOST")) {
            self.pending.push_front(pending);
            return Err(why.to_string());
        }
        match pending {
            Pending::Hello | Pending::Load => {
                if let Some(why) = error {
                    return Err(format!("Redis 7 or newer is needed: {why}"));
                }
            }
            Pending::NodeJoin => {
                let Some(node) = text(&frame).filter(|_| error.is_none()) else {
                    return Err(format!("no node id: {frame:?}"));
                };
                self.joined_as(node.to_string(), now);
            }
            Pending::Online => {
                let own = self.node.as_deref();
                let users: Vec<Entry> = (items(&frame).iter())
                    .filter_map(|e| serde_json::from_str(text(e)?).ok())
                    .filter(|e: &Entry| Some(&*e.node) != own)
                    .collect();
                chat.set_remote_users(users.iter().map(|e| (&*e.name, &*e.status)));
            }
            Pending::Lease => match (error, text(&frame)) {
                (Some(why), _) => return Err(why),
                (None, more) => {
                    self.leased_at = now;
                    if more == Some("MORE") {
                        self.fcall("reap", &[], Pending::Lease);
                    }
                }
            },
            Pending::Register { me, user, key } => match (error, text(&frame)) {
                (None, Some("OK")) => {
                    self.keys.insert(me.key, key);
                    self.events.push(super::Event::Registered { me, user });
                }
                (None, Some("TAKEN")) => {
                    let taken = Refusal::NameTaken(user.name.to_string());
                    self.answer(me, cmd::REGISTER, Err(taken));
                }
                _ => self.answer(me, cmd::REGISTER, Err(Refusal::EngineUnavailable)),
            },
            Pending::ConvId { me, names } => match frame {
                OwnedFrame::Number { data, .. } if data > 0 => {
                    self.invite_with(chat, me, data as ConvId, &names);
                }
                _ => self.answer(me, cmd::INVITE, Err(Refusal::EngineUnavailable)),
            },
            Pending::Invite { me, id } => {
                self.joined(id);
                self.invited(chat, out, me, id, error.is_none().then_some(&frame));
            }
            Pending::Join { me, id } => {
                self.joined(id);
                self.joined_answer(chat, out, me, id, error, &frame);
            }
            Pending::List { me } => {
                chat.send_conversations(me.key, out);
                self.answer(me, cmd::LIST_CONVERSATIONS, Ok(Effect::Continue));
            }
            Pending::Member { me, id, command } => {
                let outcome = match error {
                    None => Ok(Effect::Continue),
                    Some(_) => Err(Refusal::NotMember(id)),
                };
                self.answer(me, command, outcome);
            }
            Pending::Done => {}
        }
        Ok(())
    }

    /// `INVITE`'s answer: the inviter is the first member of a new mirror, and gets its
    /// `INVITATION` (the invitees got theirs from their nodes' channels).
    fn invited(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        id: ConvId,
        left: Option<&OwnedFrame>,
    ) {
        let (Some(left), Some(user)) = (left, chat.user(me.key)) else {
            self.sweep(chat, id);
            return self.answer(me, cmd::INVITE, Err(Refusal::EngineUnavailable));
        };
        let name = user.name.to_string();
        chat.mirror(id, std::slice::from_ref(&name));
        out.send(me.key, &Line::from(encode(cmd::INVITATION, &(id, &name))));
        let left_out: Vec<(String, LeftOut)> = (items(left).chunks(2))
            .filter_map(|pair| {
                let why = match text(pair.get(1)?)? {
                    "yourself" => LeftOut::Yourself,
                    "invitations" => LeftOut::TooManyInvitations,
                    "full" => LeftOut::Full,
                    _ => LeftOut::NotOnline,
                };
                Some((text(pair.first()?)?.to_string(), why))
            })
            .collect();
        let outcome = match left_out.is_empty() {
            true => Ok(Effect::Continue),
            false => Err(Refusal::LeftOut(left_out)),
        };
        self.answer(me, cmd::INVITE, outcome);
    }

    /// `JOIN`'s answer: the member list. A node with no mirror of the conversation yet
    /// starts one from it (the join's own event came before, and found nothing to change).
    fn joined_answer(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        id: ConvId,
        error: Option<String>,
        frame: &OwnedFrame,
    ) {
        if error.is_some() {
            self.sweep(chat, id);
            return self.answer(me, cmd::JOIN, Err(Refusal::NotInvited(id)));
        }
        if !chat.mirrors(id) {
            let names: Vec<String> = (items(frame).iter())
                .filter_map(|n| text(n).map(str::to_string))
                .collect();
            chat.mirror(id, &names);
            match chat.user(me.key).map(|user| user.conversations) {
                Some(ConversationsMode::Changes) => chat.send_members(me.key, id, out),
                Some(ConversationsMode::Full) => out.owe_map(me.key),
                None => {}
            }
        }
        self.sweep(chat, id);
        self.answer(me, cmd::JOIN, Ok(Effect::Continue));
    }

    /// A published message: presence, a conversation's event, or this node's invitations.
    fn on_push(&mut self, data: &[OwnedFrame], chat: &mut Chat, out: &mut Outboxes) {
        // Subscription confirmations are pushes too: `["subscribe", channel, count]`.
        let [kind, channel, payload] = data else {
            return;
        };
        let (Some("message"), Some(channel), Some(payload)) =
            (text(kind), text(channel), text(payload))
        else {
            return;
        };
        if channel == PRESENCE_CHANNEL {
            let Ok((node, name, status)) =
                serde_json::from_str::<(String, String, Option<String>)>(payload)
            else {
                return;
            };
            // This node's own changes were applied as they were made.
            if Some(&*node) != self.node.as_deref() {
                chat.remote_presence(&name, status.as_deref());
            }
        } else if channel.starts_with("im:conv:") {
            let Ok(ConvEvent(kind, id, name, message)) = serde_json::from_str(payload) else {
                return;
            };
            match (kind.as_str(), message) {
                ("message", Some(text)) => chat.deliver(id, &name, &text, out),
                ("joined", _) => chat.mirror_join(id, &name, out),
                ("left", _) => {
                    chat.mirror_leave(id, &name, out);
                    self.sweep(chat, id);
                }
                _ => {}
            }
        } else if let Ok(NodeEvent(kind, id, inviter, names)) = serde_json::from_str(payload) {
            if kind == "invitation" {
                chat.invite_here(id, &inviter, &names, out);
            }
        }
    }
}
