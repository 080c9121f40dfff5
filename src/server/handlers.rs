//! The command handlers, one per row of the dispatch table.
//!
//! Each one receives arguments that are already decoded and a sender that is already
//! allowed to send the command (see `dispatch.rs`). None of them touches a socket: they
//! change the [`Chat`] and queue encoded lines. A line meant for several peers is encoded
//! once and the same bytes are queued for each.

use std::rc::Rc;

use crate::buffer::Line;
use crate::protocol::{
    cmd, encode, PresenceMode, DEFAULT_STATUS, MAX_NAME_CHARS, MAX_STATUS_CHARS,
};

use super::chat::{Chat, Conversation, User};
use super::dispatch::{Args, Flow};

/// Conversations one user may be in at once, counting those it created. Every conversation
/// costs memory and a line of each `CONVERSATIONS` map the user receives; without a cap one
/// client could loop on `INVITE []` until the server runs out of memory.
pub const MAX_CONVERSATIONS_PER_USER: usize = 1024;

type Outcome = Result<Flow, String>;

/// The shape did not match the handler: only possible if the table is wrong.
fn wrong_shape() -> Outcome {
    Err("internal error: unexpected argument shape".to_string())
}

fn valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&chars)
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_status(status: &str) -> bool {
    let chars = status.chars().count();
    (1..=MAX_STATUS_CHARS).contains(&chars) && !status.chars().any(char::is_control)
}

fn check_status(status: &str) -> Result<(), String> {
    if valid_status(status) {
        Ok(())
    } else {
        Err(format!(
            "bad status: 1 to {MAX_STATUS_CHARS} characters, no control characters"
        ))
    }
}

/// `REGISTER [name, status, options]`: come online, and get `ONLINE_USERS` at once.
pub fn register(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::Register {
        name,
        status,
        presence,
    } = args
    else {
        return wrong_shape();
    };
    if chat.is_registered(me) {
        return Err("already registered".to_string());
    }
    if !valid_name(&name) {
        return Err(format!(
            "bad name: 1 to {MAX_NAME_CHARS} characters, no spaces or control characters"
        ));
    }
    let status = status.unwrap_or_else(|| DEFAULT_STATUS.to_string());
    check_status(&status)?;
    if chat.find_user(&name).is_some() {
        return Err(format!("name {name} is taken"));
    }
    chat.add_user(me, User::new(&name, status, presence));
    let answer = match presence {
        PresenceMode::None => chat.online_users_self_only(me),
        _ => Some(chat.online_users()),
    };
    if let Some(line) = answer {
        chat.send(me, &line);
    }
    Ok(Flow::Continue)
}

/// `STATUS [status]`: change one's status; everyone hears within one presence interval.
pub fn status(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::Text(status) = args else {
        return wrong_shape();
    };
    check_status(&status)?;
    let Some(user) = chat.user_mut(me) else {
        return wrong_shape();
    };
    let old = std::mem::replace(&mut user.status, status.into());
    let name = Rc::clone(&user.name);
    chat.presence.changed(&name, Some(&old));
    Ok(Flow::Continue)
}

/// `GOODBYE`: what is queued is written, then the connection closes; the loop then takes
/// the user out of its conversations.
pub fn goodbye(_chat: &mut Chat, _me: usize, _args: Args) -> Outcome {
    Ok(Flow::Close)
}

/// `INVITE [name, ...]`: a new conversation with the sender as first member; `INVITATION`
/// to the sender and each invitee. Names that cannot be invited are reported in one
/// `ERROR`, after the conversation is created with the others.
pub fn invite(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::Names(names) = args else {
        return wrong_shape();
    };
    let Some(user) = chat.user(me) else {
        return wrong_shape();
    };
    if user.joined.len() >= MAX_CONVERSATIONS_PER_USER {
        return Err(format!(
            "in too many conversations (limit {MAX_CONVERSATIONS_PER_USER})"
        ));
    }
    let inviter = user.name.clone();
    let mut invitees: Vec<usize> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for name in names {
        match chat.find_user(&name) {
            Some(key) if key == me => refused.push(format!("{name} (yourself)")),
            Some(key) => {
                if !invitees.contains(&key) {
                    invitees.push(key);
                }
            }
            None => refused.push(format!("{name} (not online)")),
        }
    }
    let id = chat.next_conv_id();
    for &key in &invitees {
        if let Some(user) = chat.user_mut(key) {
            user.invited.push(id);
        }
    }
    if let Some(user) = chat.user_mut(me) {
        user.joined.push(id);
    }
    let conversation = Conversation {
        members: vec![me],
        invited: invitees,
    };
    let invitation = Line::from(encode(cmd::INVITATION, &(id, &*inviter)));
    chat.send(me, &invitation);
    for &key in &conversation.invited {
        chat.send(key, &invitation);
    }
    chat.conversations.insert(id, conversation);
    if refused.is_empty() {
        Ok(Flow::Continue)
    } else {
        Err(format!("not invited: {}", refused.join(", ")))
    }
}

/// `LIST_CONVERSATIONS`: the sender's `CONVERSATIONS` map, and nobody else's.
pub fn list_conversations(chat: &mut Chat, me: usize, _args: Args) -> Outcome {
    chat.send_conversations(me);
    Ok(Flow::Continue)
}

/// `JOIN [id]`: accept an invitation; every member then gets the new member list. A member
/// joining again (the inviter, say) changes nothing and just gets its map.
pub fn join(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::Conv(id) = args else {
        return wrong_shape();
    };
    let not_invited = || format!("not invited to conversation {id}");
    let Some(conv) = chat.conversations.get_mut(&id) else {
        return Err(not_invited());
    };
    if conv.members.contains(&me) {
        chat.send_conversations(me);
        return Ok(Flow::Continue);
    }
    if !conv.invited.contains(&me) {
        return Err(not_invited());
    }
    let Some(user) = chat.user_mut(me) else {
        return wrong_shape();
    };
    if user.joined.len() >= MAX_CONVERSATIONS_PER_USER {
        return Err(format!(
            "in too many conversations (limit {MAX_CONVERSATIONS_PER_USER})"
        ));
    }
    user.invited.retain(|&c| c != id);
    user.joined.push(id);
    let Some(conv) = chat.conversations.get_mut(&id) else {
        return Err(not_invited());
    };
    conv.invited.retain(|&k| k != me);
    conv.members.push(me);
    for member in conv.members.clone() {
        chat.send_conversations(member);
    }
    Ok(Flow::Continue)
}

/// `SEND_MESSAGE [id, text]`: `MESSAGE` to every member, the sender included, in the order
/// the server accepts them: all members see one order.
pub fn send_message(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::ConvText(id, text) = args else {
        return wrong_shape();
    };
    let Some(conv) = chat
        .conversations
        .get_mut(&id)
        .filter(|c| c.members.contains(&me))
    else {
        return Err(format!("not a member of conversation {id}"));
    };
    // Borrow the member list out of the conversation while queueing, instead of cloning
    // it: this is the hot path, once per message. Queueing never touches conversations.
    let members = std::mem::take(&mut conv.members);
    let line = Line::from(encode(cmd::MESSAGE, &(id, chat.name(me), &text)));
    for &member in &members {
        chat.send(member, &line);
    }
    if let Some(conv) = chat.conversations.get_mut(&id) {
        conv.members = members;
    }
    Ok(Flow::Continue)
}

/// `LEAVE [id]`: the remaining members and the leaver each get their updated map.
pub fn leave(chat: &mut Chat, me: usize, args: Args) -> Outcome {
    let Args::Conv(id) = args else {
        return wrong_shape();
    };
    if !chat
        .conversations
        .get(&id)
        .is_some_and(|c| c.members.contains(&me))
    {
        return Err(format!("not a member of conversation {id}"));
    }
    chat.leave_conversation(me, id);
    chat.send_conversations(me);
    Ok(Flow::Continue)
}

#[cfg(test)]
mod tests;
