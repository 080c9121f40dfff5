//! The IM protocol's messages, both directions (see `docs/protocol.md`).
//!
//! A message is one line: a command word, then optionally one space and one JSON value.
//! This module knows the words and the JSON shapes; it does no I/O. The server decodes
//! requests in the server's dispatch table and encodes replies with [`encode`]; clients
//! build requests with [`Request::encode`] and read replies with [`Reply::parse`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::password::Password;

/// Conversation ids: positive, never reused while the server runs.
pub type ConvId = u64;

/// The port of the course's IM server, kept as the default: where `imserver` listens and
/// where `imclient` and `imload` connect unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6666";

/// Longest request line the server accepts by default (`imserver --max-line`), in bytes,
/// newline not counted. It is part of the contract, not a server detail: the server closes
/// a connection that sends a longer line, so a client that caps its own requests at this
/// size refuses a too-long message locally instead of losing its connection. 64 KiB is far
/// more than anyone types, and small enough that a sender who never ends a line costs the
/// server little memory.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Names are 1 to this many characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Statuses are 1 to this many characters.
pub const MAX_STATUS_CHARS: usize = 64;
/// The status of a user who registered without one.
pub const DEFAULT_STATUS: &str = "available";

/// Command words, client to server.
pub mod cmd {
    pub const REGISTER: &str = "REGISTER";
    pub const STATUS: &str = "STATUS";
    pub const GOODBYE: &str = "GOODBYE";
    pub const INVITE: &str = "INVITE";
    pub const LIST_CONVERSATIONS: &str = "LIST_CONVERSATIONS";
    pub const JOIN: &str = "JOIN";
    pub const SEND_MESSAGE: &str = "SEND_MESSAGE";
    pub const LEAVE: &str = "LEAVE";
    /// Server to client.
    pub const ONLINE_USERS: &str = "ONLINE_USERS";
    pub const PRESENCE: &str = "PRESENCE";
    pub const INVITATION: &str = "INVITATION";
    pub const CONVERSATIONS: &str = "CONVERSATIONS";
    pub const MESSAGE: &str = "MESSAGE";
    pub const ERROR: &str = "ERROR";
    /// Server to client, `{"conversations":"changes"}` mode only.
    pub const MEMBERS: &str = "MEMBERS";
    pub const JOINED: &str = "JOINED";
    pub const LEFT: &str = "LEFT";
}

/// How a user hears about other users coming, going and changing status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceMode {
    /// A full `ONLINE_USERS` snapshot after every change (the course behaviour).
    #[default]
    Full,
    /// One snapshot at registration, then `PRESENCE` with only what changed.
    Changes,
    /// Nothing but the registration answer (bots, load generators).
    None,
}

/// How a member hears about the members of its conversations changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationsMode {
    /// Its complete `CONVERSATIONS` map after every change (the course behaviour).
    #[default]
    Full,
    /// Only what changed: `MEMBERS` for a conversation it joins, then `JOINED` and `LEFT`
    /// naming one member each.
    Changes,
}

/// The optional third element of `REGISTER`; each option left out keeps its default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<PresenceMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationsMode>,
    /// The server's password (`imserver --password-file`); a server without one ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
}

/// Splits a line into its command word and its arguments (the text after the first
/// space), trimming surrounding whitespace. `None` for an empty or blank line.
pub fn split_command(line: &str) -> Option<(&str, Option<&str>)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    Some(match line.split_once(' ') {
        Some((word, args)) => (word, Some(args.trim_start())),
        None => (line, None),
    })
}

/// Encodes one line: `WORD`, a space and compact JSON, and the newline. Compact JSON
/// escapes every newline in strings, so a message never spans lines.
pub fn encode(word: &str, args: &impl Serialize) -> Vec<u8> {
    let mut line = Vec::with_capacity(word.len() + 32);
    line.extend_from_slice(word.as_bytes());
    line.push(b' ');
    // Serializing plain data (strings, numbers, maps with string or integer keys) into a
    // Vec cannot fail.
    let _ = serde_json::to_writer(&mut line, args);
    line.push(b'\n');
    line
}

/// Encodes an `ERROR` line.
pub fn encode_error(text: &str) -> Vec<u8> {
    encode(cmd::ERROR, &text)
}

/// A request, client to server, as a client builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Register {
        name: String,
        status: Option<String>,
        presence: Option<PresenceMode>,
        /// For a server started with `--password-file`.
        password: Option<Password>,
    },
    Status(String),
    Goodbye,
    Invite(Vec<String>),
    ListConversations,
    Join(ConvId),
    SendMessage(ConvId, String),
    Leave(ConvId),
}

impl Request {
    /// The request as one line, newline included.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Register {
                name,
                status,
                presence,
                password,
            } => {
                let status = status.as_deref().unwrap_or(DEFAULT_STATUS);
                let options = RegisterOptions {
                    presence: *presence,
                    conversations: None,
                    password: password.clone(),
                };
                if options == RegisterOptions::default() {
                    encode(cmd::REGISTER, &(name, status))
                } else {
                    encode(cmd::REGISTER, &(name, status, options))
                }
            }
            Request::Status(status) => encode(cmd::STATUS, &(status,)),
            Request::Goodbye => format!("{}\n", cmd::GOODBYE).into_bytes(),
            Request::Invite(names) => encode(cmd::INVITE, names),
            Request::ListConversations => format!("{}\n", cmd::LIST_CONVERSATIONS).into_bytes(),
            Request::Join(id) => encode(cmd::JOIN, &(id,)),
            Request::SendMessage(id, text) => encode(cmd::SEND_MESSAGE, &(id, text)),
            Request::Leave(id) => encode(cmd::LEAVE, &(id,)),
        }
    }
}

/// A reply, server to client, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Every online user and their status.
    OnlineUsers(BTreeMap<String, String>),
    /// Users whose status changed; `None`: went offline.
    Presence(BTreeMap<String, Option<String>>),
    /// Invited to a conversation, by a user (oneself, for one's own `INVITE`).
    Invitation {
        conv: ConvId,
        from: String,
    },
    /// The receiver's conversations and their members in join order.
    Conversations(BTreeMap<ConvId, Vec<String>>),
    Message {
        conv: ConvId,
        from: String,
        text: String,
    },
    Error(String),
    /// `{"conversations":"changes"}` mode: the members of a conversation one just joined.
    Members {
        conv: ConvId,
        members: Vec<String>,
    },
    /// `{"conversations":"changes"}` mode: a member joined one of one's conversations.
    Joined {
        conv: ConvId,
        name: String,
    },
    /// `{"conversations":"changes"}` mode: a member left (oneself, after one's `LEAVE`).
    Left {
        conv: ConvId,
        name: String,
    },
}

/// A line from the server that is not a reply of this protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReply(pub String);

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected line from server: {}", self.0)
    }
}

impl std::error::Error for BadReply {}

impl Reply {
    /// Parses one line (without its newline). Never panics, whatever the line.
    pub fn parse(line: &str) -> Result<Reply, BadReply> {
        let bad = || BadReply(line.chars().take(200).collect());
        let (word, args) = split_command(line).ok_or_else(bad)?;
        let args = args.ok_or_else(bad)?;
        fn json<'a, T: Deserialize<'a>>(args: &'a str) -> Option<T> {
            serde_json::from_str(args).ok()
        }
        let reply = match word {
            cmd::ONLINE_USERS => json(args).map(Reply::OnlineUsers),
            cmd::PRESENCE => json(args).map(Reply::Presence),
            cmd::INVITATION => json(args).map(|(conv, from)| Reply::Invitation { conv, from }),
            cmd::CONVERSATIONS => json(args).map(Reply::Conversations),
            cmd::MESSAGE => {
                json(args).map(|(conv, from, text)| Reply::Message { conv, from, text })
            }
            cmd::ERROR => json(args).map(Reply::Error),
            cmd::MEMBERS => json(args).map(|(conv, members)| Reply::Members { conv, members }),
            cmd::JOINED => json(args).map(|(conv, name)| Reply::Joined { conv, name }),
            cmd::LEFT => json(args).map(|(conv, name)| Reply::Left { conv, name }),
            _ => None,
        };
        reply.ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_address_needs_no_lookup() {
        // imserver and imload take it as a socket address, not a host name to resolve.
        let addr: std::net::SocketAddr = DEFAULT_ADDR.parse().unwrap();
        assert!(
            addr.ip().is_loopback(),
            "serving other machines is a choice"
        );
    }

    #[test]
    fn split_takes_the_first_space_only() {
        assert_eq!(split_command("GOODBYE"), Some(("GOODBYE", None)));
        assert_eq!(
            split_command("SEND_MESSAGE [1,\"a b\"]"),
            Some(("SEND_MESSAGE", Some("[1,\"a b\"]")))
        );
        assert_eq!(split_command("  JOIN   [2] "), Some(("JOIN", Some("[2]"))));
        assert_eq!(split_command(" \t "), None);
    }

    #[test]
    fn requests_encode_as_the_contract_shows() {
        let reg = Request::Register {
            name: "alice".into(),
            status: None,
            presence: None,
            password: None,
        };
        assert_eq!(reg.encode(), b"REGISTER [\"alice\",\"available\"]\n");
        let reg = Request::Register {
            name: "bot".into(),
            status: Some("busy".into()),
            presence: Some(PresenceMode::None),
            password: None,
        };
        assert_eq!(
            reg.encode(),
            b"REGISTER [\"bot\",\"busy\",{\"presence\":\"none\"}]\n"
        );
        let reg = Request::Register {
            name: "carol".into(),
            status: None,
            presence: None,
            password: Some(Password::new("s3\"cret")),
        };
        assert_eq!(
            reg.encode(),
            b"REGISTER [\"carol\",\"available\",{\"password\":\"s3\\\"cret\"}]\n"
        );
        assert_eq!(Request::Goodbye.encode(), b"GOODBYE\n");
        assert_eq!(Request::Join(7).encode(), b"JOIN [7]\n");
        assert_eq!(
            Request::SendMessage(7, "two\nlines".into()).encode(),
            b"SEND_MESSAGE [7,\"two\\nlines\"]\n"
        );
        assert_eq!(
            Request::Invite(vec!["bob".into()]).encode(),
            b"INVITE [\"bob\"]\n"
        );
    }

    #[test]
    fn replies_parse_and_junk_does_not() {
        assert_eq!(
            Reply::parse("MESSAGE [7,\"alice\",\"hi all\"]"),
            Ok(Reply::Message {
                conv: 7,
                from: "alice".into(),
                text: "hi all".into()
            })
        );
        assert_eq!(
            Reply::parse("CONVERSATIONS {\"7\":[\"alice\",\"bob\"]}"),
            Ok(Reply::Conversations(BTreeMap::from([(
                7,
                vec!["alice".to_string(), "bob".to_string()]
            )])))
        );
        assert_eq!(
            Reply::parse("PRESENCE {\"bob\":\"away\",\"carol\":null}"),
            Ok(Reply::Presence(BTreeMap::from([
                ("bob".to_string(), Some("away".to_string())),
                ("carol".to_string(), None)
            ])))
        );
        for junk in [
            "",
            "MESSAGE",
            "MESSAGE [1]",
            "NOPE {}",
            "ERROR 5",
            "INVITATION [-1,\"a\"]",
        ] {
            assert!(Reply::parse(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn conversation_maps_encode_ids_as_string_keys() {
        let map = BTreeMap::from([(7u64, vec!["alice"]), (12, vec![])]);
        assert_eq!(
            encode(cmd::CONVERSATIONS, &map),
            b"CONVERSATIONS {\"7\":[\"alice\"],\"12\":[]}\n"
        );
    }
}
