//! The command handlers, one per row of the dispatch table.
//!
//! Each one receives its own typed arguments and a sender that is already allowed to send
//! the command (see `mod.rs`). None of them touches a socket: they change the chat and
//! queue encoded lines. A line meant for several connections is encoded once and the same
//! bytes are queued for each.

use crate::names::name_key;
use crate::protocol::{ConversationsMode, DEFAULT_STATUS, MAX_STATUS_CHARS};

use super::args::{Conv, ConvText, Names, NoArgs, Register, Status};
use super::command::{Ctx, Effect, Outcome, Refusal};
use crate::server::chat::{Chat, User};
use crate::server::engine::Sender;

/// Conversations one user may be in at once, counting those it created. Every conversation
/// costs memory and a line of each `CONVERSATIONS` map the user receives; without a cap one
/// client could loop on `INVITE []` until the server runs out of memory.
pub const MAX_CONVERSATIONS_PER_USER: usize = 1024;

fn check_status(status: &str) -> Result<(), Refusal> {
    let chars = status.chars().count();
    if (1..=MAX_STATUS_CHARS).contains(&chars) && !status.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Refusal::BadStatus)
    }
}

/// Whether `me` may be in one more conversation.
pub(crate) fn check_room(chat: &Chat, me: usize) -> Result<(), Refusal> {
    match chat.user(me) {
        Some(user) if user.joined.len() < MAX_CONVERSATIONS_PER_USER => Ok(()),
        _ => Err(Refusal::TooManyConversations {
            limit: MAX_CONVERSATIONS_PER_USER,
        }),
    }
}

/// `REGISTER [name, status, options]`: come online, and get `ONLINE_USERS` at once. On a
/// server with a password the password is checked first, so that a client without it
/// learns nothing else (not even whether a name is taken).
pub fn register(ctx: &mut Ctx, me: usize, args: Register) -> Outcome {
    let Register {
        name,
        status,
        presence,
        conversations,
        password,
    } = args;
    if ctx.chat.is_registered(me) {
        return Err(Refusal::AlreadyRegistered);
    }
    if let Some(secret) = ctx.password {
        if !password.is_some_and(|given| secret.matches(given.expose())) {
            return Err(Refusal::WrongPassword);
        }
    }
    name_key(&name).map_err(Refusal::BadName)?;
    let status = status.unwrap_or_else(|| DEFAULT_STATUS.to_string());
    check_status(&status)?;
    let me = sender(ctx, me);
    let user = User::new(&name, status, presence, conversations);
    ctx.engine.register(ctx.chat, ctx.out, me, user)
}

/// `STATUS [status]`: change one's status; everyone hears within one presence interval.
pub fn status(ctx: &mut Ctx, me: usize, args: Status) -> Outcome {
    check_status(&args.status)?;
    ctx.engine.set_status(ctx.chat, me, args.status);
    Ok(Effect::Continue)
}

/// `GOODBYE`: what is queued is written, then the connection closes; the loop then takes
/// the user out of its conversations.
pub fn goodbye(_ctx: &mut Ctx, _me: usize, _args: NoArgs) -> Outcome {
    Ok(Effect::Close)
}

/// `INVITE [name, ...]`: a new conversation with the sender as first member; `INVITATION`
/// to the sender and each invitee. Names that cannot be invited are reported in one
/// `ERROR`, after the conversation is created with the others. A conversation never
/// outgrows `--max-members`: names past the room it has are left out as well.
pub fn invite(ctx: &mut Ctx, me: usize, args: Names) -> Outcome {
    check_room(ctx.chat, me)?;
    let me = sender(ctx, me);
    ctx.engine.invite(ctx.chat, ctx.out, me, args.names)
}

/// `LIST_CONVERSATIONS`: the sender's `CONVERSATIONS` map, and nobody else's.
pub fn list_conversations(ctx: &mut Ctx, me: usize, _args: NoArgs) -> Outcome {
    let me = sender(ctx, me);
    ctx.engine.list_conversations(ctx.chat, ctx.out, me)
}

/// `JOIN [id]`: accept an invitation; every member then hears of it. A member joining
/// again (the inviter, say) changes nothing and just gets its map (or the member list).
pub fn join(ctx: &mut Ctx, me: usize, Conv { id }: Conv) -> Outcome {
    if ctx
        .chat
        .conversation(id)
        .is_some_and(|conv| conv.is_member(me))
    {
        match ctx.chat.user(me).map(|user| user.conversations) {
            Some(ConversationsMode::Changes) => ctx.chat.send_members(me, id, ctx.out),
            _ => ctx.chat.send_conversations(me, ctx.out),
        }
        return Ok(Effect::Continue);
    }
    let me = sender(ctx, me);
    ctx.engine.join(ctx.chat, ctx.out, me, id)
}

/// `SEND_MESSAGE [id, text]`: `MESSAGE` to every member, the sender included, in the order
/// the server accepts them: all members see one order.
pub fn send_message(ctx: &mut Ctx, me: usize, ConvText { id, text }: ConvText) -> Outcome {
    if !ctx.chat.conversation(id).is_some_and(|c| c.is_member(me)) {
        return Err(Refusal::NotMember(id));
    }
    let me = sender(ctx, me);
    ctx.engine.send_message(ctx.chat, ctx.out, me, id, &text)
}

/// `LEAVE [id]`: the remaining members and the leaver each hear of it.
pub fn leave(ctx: &mut Ctx, me: usize, Conv { id }: Conv) -> Outcome {
    if !ctx.chat.conversation(id).is_some_and(|c| c.is_member(me)) {
        return Err(Refusal::NotMember(id));
    }
    let me = sender(ctx, me);
    ctx.engine.leave(ctx.chat, ctx.out, me, id)
}

/// The sender as the engine knows it: its key and generation.
fn sender(ctx: &Ctx, key: usize) -> Sender {
    Sender {
        key,
        generation: ctx.generation,
    }
}

#[cfg(test)]
mod tests;
