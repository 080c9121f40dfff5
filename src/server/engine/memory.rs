//! The memory engine: the node's own [`Chat`] is the whole truth, so every question is
//! answered at once, and a command never waits.

use std::collections::HashSet;

use crate::buffer::Line;
use crate::protocol::{cmd, encode, ConvId};
use crate::server::chat::{Chat, User};
use crate::server::dispatch::handlers::check_room;
use crate::server::dispatch::{Effect, LeftOut, Outcome, Refusal};
use crate::server::outboxes::Outboxes;

/// `REGISTER`: the name must not be online (under the name rule).
pub fn register(chat: &mut Chat, out: &mut Outboxes, key: usize, user: User) -> Outcome {
    if chat.find_user(&user.name).is_some() {
        return Err(Refusal::NameTaken(user.name.to_string()));
    }
    Ok(super::welcome(chat, out, key, user))
}

/// `INVITE`: a new conversation with `me` as its first member and as many of `names` as
/// can be invited; `INVITATION` to the inviter and each invitee, the others reported.
pub fn invite(chat: &mut Chat, out: &mut Outboxes, me: usize, names: Vec<String>) -> Outcome {
    let room = chat.limits().max_members.saturating_sub(1);
    let mut invitees: Vec<usize> = Vec::new();
    let mut seen = HashSet::new();
    let mut left_out = Vec::new();
    for name in names {
        match chat.find_user(&name) {
            Some(key) if key == me => left_out.push((name, LeftOut::Yourself)),
            Some(key) if !seen.insert(key) => {}
            Some(key) if !chat.may_be_invited(key) => {
                left_out.push((name, LeftOut::TooManyInvitations))
            }
            Some(_) if invitees.len() == room => left_out.push((name, LeftOut::Full)),
            Some(key) => invitees.push(key),
            None => left_out.push((name, LeftOut::NotOnline)),
        }
    }
    let id = chat.create_conversation(me, &invitees);
    let invitation = Line::from(encode(cmd::INVITATION, &(id, chat.name(me))));
    out.send(me, &invitation);
    for key in invitees {
        out.send(key, &invitation);
    }
    if left_out.is_empty() {
        Ok(Effect::Continue)
    } else {
        Err(Refusal::LeftOut(left_out))
    }
}

/// `JOIN` by a user not yet a member: it needs an invitation, and room for one more.
pub fn join(chat: &mut Chat, out: &mut Outboxes, me: usize, id: ConvId) -> Outcome {
    if chat.conversation(id).is_none() || !chat.is_invited(me, id) {
        return Err(Refusal::NotInvited(id));
    }
    check_room(chat, me)?;
    chat.join(me, id, out);
    Ok(Effect::Continue)
}

/// `SEND_MESSAGE` by a member: `MESSAGE` to every member, the sender included.
pub fn send_message(chat: &Chat, out: &mut Outboxes, me: usize, id: ConvId, text: &str) -> Outcome {
    chat.deliver(id, chat.name(me), text, out);
    Ok(Effect::Continue)
}
