//! What a handler receives and returns: its context, its effect on the connection, and the
//! typed refusals that become `ERROR` lines.

use std::borrow::Cow;
use std::fmt;

use crate::names::BadName;
use crate::protocol::{ConvId, Password};

use crate::server::chat::Chat;
use crate::server::engine::Engine;
use crate::server::outboxes::Outboxes;
use crate::server::stats::Stats;

/// What a handler may touch: the chat, the engine that holds what nodes share, the
/// outboxes to queue lines on, and the counters. No socket.
pub struct Ctx<'a> {
    pub chat: &'a mut Chat,
    pub engine: &'a mut Engine,
    /// The sender's generation (its key is the handler's `me`): an answer the engine gets
    /// later goes to this connection and never to a newer one on the same key.
    pub generation: u64,
    pub out: &'a mut Outboxes,
    /// The password `REGISTER` must carry (`--password-file`), if the server has one.
    pub password: Option<&'a Password>,
    pub stats: &'a mut Stats,
}

/// What the loop does with the sender after a command: the handler says, the loop does not
/// ask the chat after every line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Keep reading.
    Continue,
    /// The sender is now a user: its registration deadline is met.
    Registered,
    /// Write what is queued, then close (`GOODBYE`).
    Close,
    /// `REGISTER` had a wrong or no password (its `ERROR` is queued): the loop counts it
    /// for the connection and for its address, which the handler cannot see.
    WrongPassword,
    /// The command went to the engine (Redis): no further line of this connection is
    /// served until the answer comes back and the loop resumes it.
    Wait,
}

/// Why a command was refused. Rendered to the `ERROR` text in one place (its `Display`);
/// the dispatcher puts the command's name in front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The word names no command (the name in front is the word, cut and upper-cased).
    UnknownCommand,
    NotRegistered,
    /// The arguments do not have the command's shape.
    BadArguments {
        why: String,
        usage: &'static str,
    },
    AlreadyRegistered,
    /// The server has a password and `REGISTER` did not carry it.
    WrongPassword,
    /// The name breaks the name rule (`crate::names`), for this reason.
    BadName(BadName),
    BadStatus,
    NameTaken(String),
    /// The sender is in as many conversations as one user may be.
    TooManyConversations {
        limit: usize,
    },
    NotInvited(ConvId),
    NotMember(ConvId),
    /// The engine (Redis) cannot be reached now; the command was not done.
    EngineUnavailable,

    /// `INVITE` created the conversation without these names.
    LeftOut(Vec<(String, LeftOut)>),
}

/// Why a name given to `INVITE` was not invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    NotOnline,
    Yourself,
    /// The invitee holds as many pending invitations as one user may.
    TooManyInvitations,
    /// The conversation has no room left for another invitee (`--max-members`).
    Full,
}

/// What a handler returns.
pub type Outcome = Result<Effect, Refusal>;

/// Names an `INVITE` refusal lists before it only counts the rest ("and N more"): enough to
/// spot a typo among a few names, while a line of 20,000 empty names gets a short answer
/// instead of an `ERROR` five times its size.
pub const MAX_LISTED_NAMES: usize = 8;

/// Characters of one name the client sent that an `ERROR` echoes (the rest become "…"). A
/// valid name is never longer, so only names that are no one's are cut.
pub const MAX_ECHOED_NAME_CHARS: usize = crate::protocol::MAX_NAME_CHARS;

/// Characters of a decoding error an `ERROR` shows. serde's messages quote the offending
/// input (`invalid type: string "<60 KB>"`), so the middle is cut, keeping what went wrong
/// at the start and where it went wrong ("at line 1 column N") at the end.
pub const MAX_WHY_CHARS: usize = 160;

/// A bound on every `ERROR` line, newline included, that the caps above keep: even with
/// every echoed character at its worst JSON escape (`\u0001`, 6 bytes), 8 cut names with
/// their longest reasons come to about 1.9 KB, a cut decoding error with the longest usage to about
/// 1.2 KB; text anyone types stays under 1 KiB. A unit test holds every refusal to it, so
/// no line of input is answered with a larger one.
pub const MAX_ERROR_LINE: usize = 2048;

/// `text` cut to `max` characters from the start, "…" marking a cut.
fn cut_end(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// `text` cut to about `max` characters by taking out the middle, "…" marking the cut.
fn cut_middle(text: &str, max: usize) -> Cow<'_, str> {
    let chars = text.chars().count();
    if chars <= max {
        return Cow::Borrowed(text);
    }
    let head: String = text.chars().take(max / 2).collect();
    let tail: String = text.chars().skip(chars - max / 2).collect();
    Cow::Owned(format!("{head}…{tail}"))
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::protocol::MAX_STATUS_CHARS;
        match self {
            Refusal::UnknownCommand => f.write_str("unknown command"),
            Refusal::NotRegistered => f.write_str("not registered"),
            Refusal::BadArguments { why, usage } => {
                write!(f, "{}; expected {usage}", cut_middle(why, MAX_WHY_CHARS))
            }
            Refusal::AlreadyRegistered => f.write_str("already registered"),
            Refusal::WrongPassword => f.write_str("wrong password"),
            Refusal::BadName(why) => write!(f, "bad name: {why}"),
            Refusal::BadStatus => write!(
                f,
                "bad status: 1 to {MAX_STATUS_CHARS} characters, no control characters"
            ),
            Refusal::NameTaken(name) => {
                write!(f, "name {} is taken", cut_end(name, MAX_ECHOED_NAME_CHARS))
            }
            Refusal::TooManyConversations { limit } => {
                write!(f, "in too many conversations (limit {limit})")
            }
            Refusal::NotInvited(id) => write!(f, "not invited to conversation {id}"),
            Refusal::NotMember(id) => write!(f, "not a member of conversation {id}"),
            Refusal::EngineUnavailable => {
                f.write_str("the chat engine (Redis) is unavailable; try again shortly")
            }

            Refusal::LeftOut(names) => {
                f.write_str("not invited: ")?;
                for (i, (name, why)) in names.iter().take(MAX_LISTED_NAMES).enumerate() {
                    let why = match why {
                        LeftOut::NotOnline => "not online",
                        LeftOut::Yourself => "yourself",
                        LeftOut::TooManyInvitations => "too many pending invitations",
                        LeftOut::Full => "conversation full",
                    };
                    let comma = if i == 0 { "" } else { ", " };
                    let name = cut_end(name, MAX_ECHOED_NAME_CHARS);
                    write!(f, "{comma}{name} ({why})")?;
                }
                match names.len().saturating_sub(MAX_LISTED_NAMES) {
                    0 => Ok(()),
                    more => write!(f, ", and {more} more"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
