//! What a handler receives and returns: its context, its effect on the connection, and the
//! typed refusals that become `ERROR` lines.

use std::fmt;

use crate::names::BadName;
use crate::protocol::ConvId;

use crate::server::chat::Chat;
use crate::server::outboxes::Outboxes;

/// What a handler may touch: the chat, and the outboxes to queue lines on. No socket.
pub struct Ctx<'a> {
    pub chat: &'a mut Chat,
    pub out: &'a mut Outboxes,
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

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::protocol::MAX_STATUS_CHARS;
        match self {
            Refusal::UnknownCommand => f.write_str("unknown command"),
            Refusal::NotRegistered => f.write_str("not registered"),
            Refusal::BadArguments { why, usage } => write!(f, "{why}; expected {usage}"),
            Refusal::AlreadyRegistered => f.write_str("already registered"),
            Refusal::BadName(why) => write!(f, "bad name: {why}"),
            Refusal::BadStatus => write!(
                f,
                "bad status: 1 to {MAX_STATUS_CHARS} characters, no control characters"
            ),
            Refusal::NameTaken(name) => write!(f, "name {name} is taken"),
            Refusal::TooManyConversations { limit } => {
                write!(f, "in too many conversations (limit {limit})")
            }
            Refusal::NotInvited(id) => write!(f, "not invited to conversation {id}"),
            Refusal::NotMember(id) => write!(f, "not a member of conversation {id}"),

            Refusal::LeftOut(names) => {
                f.write_str("not invited: ")?;
                for (i, (name, why)) in names.iter().enumerate() {
                    let why = match why {
                        LeftOut::NotOnline => "not online",
                        LeftOut::Yourself => "yourself",
                        LeftOut::TooManyInvitations => "too many pending invitations",
                        LeftOut::Full => "conversation full",
                    };
                    let comma = if i == 0 { "" } else { ", " };
                    write!(f, "{comma}{name} ({why})")?;
                }
                Ok(())
            }
        }
    }
}
