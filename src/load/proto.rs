//! What the driver needs from a protocol: the lines to log in, to join a group and to
//! send a message, and what each line from the server means.
//!
//! The driver is generic over [`Protocol`], so the same workload and the same accounting
//! run against all three servers; only the bytes on the wire differ. `--target ws` is the
//! im protocol again, its lines carried in WebSocket frames (`link.rs`, `ws/`).

use crate::protocol::PresenceMode;

/// What one line from the server means to a simulated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Part of a multi-line reply (a RESP frame); nothing to do until it is complete.
    Partial,
    /// The login was accepted.
    Registered,
    /// Invited to server-numbered conversation `conv`; `by_me` when this client invited.
    Invited { conv: u64, by_me: bool },
    /// This client is now a member of its group's conversation.
    Joined,
    /// A chat message, by its text (the payload imload stamped).
    Message(&'a str),
    /// Presence traffic: who is online.
    Presence,
    /// The server asked for an answer (IRC `PING`); these bytes are it.
    Answer(Vec<u8>),
    /// The server reported an error.
    Error(String),
    /// Anything that needs no action: acknowledgements, notices, welcome text.
    Other,
}

/// One simulated client, as a protocol sees it when it builds a line.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// This client's name (nick, user name).
    pub name: &'a str,
    /// Its group's number, from 0.
    pub group: usize,
    /// Whether it is its group's first member (the one that invites, for im).
    pub leader: bool,
}

/// A protocol the load generator speaks.
pub trait Protocol {
    /// Per-connection parsing state (a RESP frame half read, say).
    type State: Default;

    /// Whether a sender receives its own messages (im and Redis do, IRC does not). The
    /// driver expects a message at every member, or at every member but the sender.
    const ECHOES: bool;

    /// What to send on connecting, to log in.
    fn login(&self, name: &str, presence: PresenceMode) -> Vec<u8>;

    /// What to send once every member of the group is logged in, to become a member of
    /// the group's conversation (`names`: the whole group, in order). `None`: nothing
    /// (an im member waits for its invitation).
    fn form(&self, me: Member<'_>, names: &[String]) -> Option<Vec<u8>>;

    /// What to send to accept an invitation (im only).
    fn accept(&self, conv: u64) -> Vec<u8>;

    /// Appends one message line carrying `text` to conversation `conv` (the server's number
    /// for im, the group number otherwise).
    fn message(&self, conv: u64, text: &str, out: &mut Vec<u8>);

    /// Reads one line from the server. Never panics, whatever the line.
    fn parse<'a>(&self, state: &'a mut Self::State, me: &str, line: &'a str) -> Event<'a>;
}
