//! Table-based dispatch (the course's "table-based dispatch" idiom, seed 004).
//!
//! Each row of [`COMMANDS`] says what a command is called, whether the sender must have
//! registered, what shape its arguments have, and which handler runs it. [`dispatch`] does
//! every check once, in that order, before the handler sees anything: a handler only ever
//! receives well-formed, typed arguments from a connection allowed to send them.
//!
//! Every handler has the same signature ([`Handler`]): it changes the [`Chat`], queues lines
//! on outboxes, and returns what the connection does next, or the text of an `ERROR`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{cmd, split_command, ConvId, PresenceMode, RegisterOptions};

use super::chat::Chat;
use super::handlers;
use super::reason::Reason;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Write what is queued, then close (`GOODBYE`).
    Close,
}

/// A handler: the chat, the sender's key, its decoded arguments. `Err` carries the text of
/// the `ERROR` sent back; the dispatcher prefixes the command name.
pub type Handler = fn(&mut Chat, usize, Args) -> Result<Flow, String>;

/// The argument shapes, decoded with serde before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No arguments (absent, `null` or `[]`).
    Nothing,
    /// `[name]`, `[name, status]` or `[name, status, {"presence": mode}]`.
    Register,
    /// `[text]`.
    Text,
    /// `[name, ...]`, possibly empty.
    Names,
    /// `[conversation id]`.
    Conv,
    /// `[conversation id, text]`.
    ConvText,
}

/// Decoded arguments, one variant per [`Shape`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Nothing,
    Register {
        name: String,
        status: Option<String>,
        presence: PresenceMode,
    },
    Text(String),
    Names(Vec<String>),
    Conv(ConvId),
    ConvText(ConvId, String),
}

/// One row of the command table.
pub struct Command {
    pub name: &'static str,
    pub needs_registration: bool,
    pub shape: Shape,
    /// The arguments as shown in the `ERROR` for malformed ones.
    pub usage: &'static str,
    pub handler: Handler,
}

/// Every command a client may send.
pub const COMMANDS: &[Command] = &[
    Command {
        name: cmd::REGISTER,
        needs_registration: false,
        shape: Shape::Register,
        usage: "[\"name\", \"status\"] or [\"name\", \"status\", {\"presence\": \"full\"|\"changes\"|\"none\"}]",
        handler: handlers::register,
    },
    Command {
        name: cmd::STATUS,
        needs_registration: true,
        shape: Shape::Text,
        usage: "[\"status\"]",
        handler: handlers::status,
    },
    Command {
        name: cmd::GOODBYE,
        needs_registration: false,
        shape: Shape::Nothing,
        usage: "no arguments",
        handler: handlers::goodbye,
    },
    Command {
        name: cmd::INVITE,
        needs_registration: true,
        shape: Shape::Names,
        usage: "[\"name\", ...]",
        handler: handlers::invite,
    },
    Command {
        name: cmd::LIST_CONVERSATIONS,
        needs_registration: true,
        shape: Shape::Nothing,
        usage: "no arguments",
        handler: handlers::list_conversations,
    },
    Command {
        name: cmd::JOIN,
        needs_registration: true,
        shape: Shape::Conv,
        usage: "[conversation id]",
        handler: handlers::join,
    },
    Command {
        name: cmd::SEND_MESSAGE,
        needs_registration: true,
        shape: Shape::ConvText,
        usage: "[conversation id, \"text\"]",
        handler: handlers::send_message,
    },
    Command {
        name: cmd::LEAVE,
        needs_registration: true,
        shape: Shape::Conv,
        usage: "[conversation id]",
        handler: handlers::leave,
    },
];

/// The row for a command word, matched case-insensitively.
pub fn lookup(word: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(word))
}

/// Runs one line from connection `me`: an empty line is ignored, anything wrong is answered
/// with an `ERROR` naming the command, and the connection stays open unless the command
/// closes it.
pub fn dispatch(chat: &mut Chat, me: usize, line: &str) {
    let Some((word, args)) = split_command(line) else {
        return;
    };
    let Some(command) = lookup(word) else {
        // Echo at most a short, upper-cased prefix of an unknown word.
        let shown: String = word
            .chars()
            .take(32)
            .collect::<String>()
            .to_ascii_uppercase();
        chat.send_error(me, &format!("{shown}: unknown command"));
        return;
    };
    if command.needs_registration && !chat.is_registered(me) {
        chat.send_error(me, &format!("{}: not registered", command.name));
        return;
    }
    let args = match command.shape.decode(args) {
        Ok(args) => args,
        Err(why) => {
            let usage = command.usage;
            chat.send_error(me, &format!("{}: {why}; expected {usage}", command.name));
            return;
        }
    };
    trace!(chat.trace, "conn {me}: dispatch {}", command.name);
    match (command.handler)(chat, me, args) {
        Ok(Flow::Continue) => {}
        Ok(Flow::Close) => chat.close(me, Reason::Goodbye),
        Err(text) => chat.send_error(me, &format!("{}: {text}", command.name)),
    }
}

impl Shape {
    /// Decodes the text after the command word into this shape.
    pub fn decode(self, args: Option<&str>) -> Result<Args, String> {
        if self == Shape::Nothing {
            return match args.map(str::trim) {
                None | Some("null") | Some("[]") => Ok(Args::Nothing),
                Some(_) => Err("takes no arguments".to_string()),
            };
        }
        let args = args.ok_or("missing arguments")?;
        Ok(match self {
            Shape::Nothing => Args::Nothing,
            Shape::Register => decode_register(args)?,
            Shape::Text => Args::Text(json::<(String,)>(args)?.0),
            Shape::Names => Args::Names(json(args)?),
            Shape::Conv => Args::Conv(json::<(ConvId,)>(args)?.0),
            Shape::ConvText => {
                let (id, text) = json(args)?;
                Args::ConvText(id, text)
            }
        })
    }
}

fn json<T: DeserializeOwned>(args: &str) -> Result<T, String> {
    serde_json::from_str(args).map_err(|e| format!("bad arguments ({e})"))
}

/// `REGISTER` takes one to three elements, so it is decoded element by element.
fn decode_register(args: &str) -> Result<Args, String> {
    let items: Vec<Value> = json(args)?;
    let mut items = items.into_iter();
    let (Some(Value::String(name)), status, options, None) =
        (items.next(), items.next(), items.next(), items.next())
    else {
        return Err("bad arguments".to_string());
    };
    let status = match status {
        None | Some(Value::Null) => None,
        Some(Value::String(status)) => Some(status),
        Some(_) => return Err("bad arguments (the status must be a string)".to_string()),
    };
    let presence = match options {
        None => PresenceMode::default(),
        Some(options) => {
            RegisterOptions::deserialize(options)
                .map_err(|e| format!("bad presence option ({e})"))?
                .presence
        }
    };
    Ok(Args::Register {
        name,
        status,
        presence,
    })
}

#[cfg(test)]
mod tests;
