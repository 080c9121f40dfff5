//! The Redis engine: several nodes, one chat.
//!
//! What every node must agree on lives in Redis: which names are online, on which node, and
//! their statuses; the conversations, their members and pending invitations. Every decision
//! that reads and writes it is one of the node's Redis Functions (`functions.lua`, loaded by
//! the node each time it connects), so two nodes never both give out one name, nor accept a
//! message from someone who just left. What others must hear is published: presence on one
//! channel every node reads, a conversation's events and messages on its own channel, read
//! by the nodes with members in it, invitations on the invitees' nodes' channels. Each node
//! keeps what its users need (the other nodes' users by name and status, `chat/remote.rs`;
//! mirrors of their conversations, `chat/mirror.rs`) and encodes for them, once per node.
//!
//! A node holds its users on a lease: it refreshes the lease every third of `--lease-ms`,
//! and each refresh also takes offline a batch of the users of nodes whose lease ended (a
//! node killed with -9). The node talks to Redis over one connection (`link.rs`), where
//! answers come back in the order of the requests, and published messages (RESP3 pushes)
//! in between, in Redis's order.
//!
//! When the link breaks, or the lease ends, the node cannot know what it missed: it signs
//! every registered user out (an `ERROR` says why, and the connection closes), refuses
//! `REGISTER` until Redis is back, connects again with a growing delay, and on success
//! ends its old lease at once, so that its old names are free again for its users'
//! reconnections.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the engine's state, connecting, failing, the lease |
//! | `requests.rs` | the request each command sends, and the subscriptions they need |
//! | `answers.rs` | what answers and published messages do |
//! | `link.rs` | the socket, its buffers, RESP3 in and out |
//! | `functions.lua` | the functions, and the key layout |

mod answers;
mod link;
mod requests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use log::{info, warn};
use mio::{Registry, Token};
use redis_protocol::resp3::types::OwnedFrame;

use crate::protocol::{cmd, ConvId};
use crate::server::chat::{Chat, User};
use crate::server::dispatch::{Outcome, Refusal};

use super::Sender;
pub use link::{Link, MAX_INPUT, MAX_OUTPUT};

/// The node's functions. Their library's name carries the version (`imchat_v1`), and so
/// does every function's, so that nodes of two versions sharing a Redis never call each
/// other's.
const LIBRARY: &str = include_str!("functions.lua");

/// The channel presence changes are published on (`[node, name, status or null]`).
const PRESENCE_CHANNEL: &str = "im:presence";

/// The first delay before connecting again after a failure; it doubles at each failure in
/// a row. Short, so a Redis restart costs little.
pub const MIN_BACKOFF_MS: u64 = 100;

/// The longest delay between attempts: a Redis that is down for long is tried every few
/// seconds, not hammered.
pub const MAX_BACKOFF_MS: u64 = 5_000;

/// A token no other run of any node draws, in practice: 64 random bits (std's hasher
/// keys come from the system's random source), so a node id is unique even across a
/// Redis restarted empty, which hands out node numbers from 1 again.
fn random_token() -> String {
    use std::hash::BuildHasher;
    let bits =
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    format!("{bits:016x}")
}

/// What an answer is for, in the order the requests were sent.
#[derive(Debug)]
enum Pending {
    Hello,
    Load,
    NodeJoin,
    Online,
    /// A lease refresh (or a further batch of reaping): `MORE` asks for another batch.
    Lease,
    /// A waiting `REGISTER`: the user goes online here if Redis gives it the name.
    Register {
        me: Sender,
        user: User,
        key: Box<str>,
    },
    /// A waiting `INVITE`'s new conversation id; the invitation itself is sent next.
    ConvId {
        me: Sender,
        names: Vec<(String, String)>,
    },
    /// A waiting `INVITE`: the names left out.
    Invite {
        me: Sender,
        id: ConvId,
    },
    /// A waiting `JOIN`: the member list, or a refusal.
    Join {
        me: Sender,
        id: ConvId,
    },
    /// A waiting `LIST_CONVERSATIONS`: Redis's `PONG` says every event published before
    /// it has reached this node, so the map is as of now on every node.
    List {
        me: Sender,
    },
    /// A waiting `SEND_MESSAGE` or `LEAVE`: done, or not a member.
    Member {
        me: Sender,
        id: ConvId,
        command: &'static str,
    },
    /// Nothing waits for it (a status, a retirement, an old lease ended).
    Done,
}

/// What an answer asks of the loop.
#[derive(Debug)]
pub enum Event {
    /// The name is this user's on every node: it joins the chat here.
    Registered { me: Sender, user: User },
    /// A waiting command is answered: the connection resumes with this outcome (a
    /// refusal is sent as the `ERROR` for `command`).
    Answered {
        me: Sender,
        command: &'static str,
        outcome: Outcome,
    },
}

/// The node's side of the Redis engine.
#[derive(Debug)]
pub struct Redis {
    link: Link,
    lease_ms: u64,
    /// This node's id in Redis, once Redis gave it one over the current link.
    node: Option<String>,
    /// The id this node had before its link broke, whose lease is ended at the next connect.
    previous: Option<String>,
    pending: VecDeque<Pending>,
    /// The delay before the next attempt to connect.
    backoff_ms: u64,
    /// When the lease was last refreshed (the loop's clock).
    leased_at: u64,
    /// Events for the loop, taken by [`Redis::take_events`].
    events: Vec<Event>,
    /// The conversations whose channels this node is subscribed to.
    subscribed: HashSet<ConvId>,
    /// This node's `JOIN`s and `INVITE`s in flight, by conversation: while one is, the
    /// channel stays subscribed even with no member here, or its events would be missed.
    joining: HashMap<ConvId, u32>,
    /// Members one conversation may have (`--max-members`).
    max_members: usize,
    /// The name key of each of this node's users, by connection key, as `REGISTER`
    /// computed it: the key every later request names the user by.
    keys: HashMap<usize, Box<str>>,
    /// Times the link broke or could not be made (for `--metrics`).
    failures: u64,
    /// The lease refresh on the loop's wheel, if one is: one at a time.
    pub lease_timer: Option<crate::wheel::TimerId>,
}

impl Redis {
    pub fn new(addr: SocketAddr, lease_ms: u64, max_members: usize) -> Redis {
        Redis {
            link: Link::new(addr),
            lease_ms,
            node: None,
            previous: None,
            pending: VecDeque::new(),
            backoff_ms: MIN_BACKOFF_MS,
            leased_at: 0,
            events: Vec::new(),
            subscribed: HashSet::new(),
            joining: HashMap::new(),
            max_members,
            keys: HashMap::new(),
            failures: 0,
            lease_timer: None,
        }
    }

    pub fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    /// This node's id, while it has one.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// How often the lease is refreshed: a third of it, so two refreshes may be late.
    pub fn lease_interval_ms(&self) -> u64 {
        (self.lease_ms / 3).max(1)
    }

    /// Connects, and queues the handshake: RESP3, the functions, the presence channel, a
    /// node id, and the users already online. An old lease of this node's is ended.
    pub fn connect(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        self.link.connect(registry, token)?;
        self.send(&[b"HELLO", b"3"], Pending::Hello);
        self.send(
            &[b"FUNCTION", b"LOAD", b"REPLACE", LIBRARY.as_bytes()],
            Pending::Load,
        );
        // A subscription is answered by a push, not a reply: nothing pends for it.
        self.link
            .command(&[b"SUBSCRIBE", PRESENCE_CHANNEL.as_bytes()]);
        // The old id's lease ends first: its names are free for its users' reconnections.
        if let Some(old) = self.previous.take() {
            self.fcall("node_leave", &[old.as_bytes()], Pending::Done);
        }
        let (lease, token) = (self.lease_ms.to_string(), random_token());
        let args = [lease.as_bytes(), token.as_bytes()];
        self.fcall("node_join", &args, Pending::NodeJoin);
        self.fcall("online", &[], Pending::Online);
        Ok(())
    }

    /// The link broke (or Redis said this node's lease ended): everything in flight is
    /// lost. Waiting commands are refused, the node forgets its id and the other nodes'
    /// users, and says how long to wait before connecting again.
    pub fn fail(&mut self, registry: &Registry, chat: &mut Chat, why: &str) -> u64 {
        let addr = self.link.addr();
        let delay = self.backoff_ms;
        match self.node {
            Some(_) => warn!("engine: lost Redis at {addr} ({why}); its users are signed out; connecting again in {delay} ms"),
            None => warn!("engine: cannot reach Redis at {addr} ({why}); trying again in {delay} ms"),
        }
        self.failures += 1;
        self.link.reset(registry);
        for pending in std::mem::take(&mut self.pending) {
            let (me, command) = match pending {
                Pending::Register { me, .. } => (me, cmd::REGISTER),
                Pending::ConvId { me, .. } | Pending::Invite { me, .. } => (me, cmd::INVITE),
                Pending::Join { me, .. } => (me, cmd::JOIN),
                Pending::Member { me, command, .. } => (me, command),
                Pending::List { me } => (me, cmd::LIST_CONVERSATIONS),
                _ => continue,
            };
            self.answer(me, command, Err(Refusal::EngineUnavailable));
        }
        if let Some(node) = self.node.take() {
            self.previous = Some(node);
        }
        chat.forget_remote_users();
        self.subscribed.clear();
        self.joining.clear();
        self.backoff_ms = (self.backoff_ms * 2).min(MAX_BACKOFF_MS);
        delay
    }

    /// Redis gave this node its id: the lease runs, the node's own channel (its users'
    /// invitations) is subscribed, and the delay before reconnecting starts over.
    fn joined_as(&mut self, node: String, now: u64) {
        self.leased_at = now;
        self.backoff_ms = MIN_BACKOFF_MS;
        let channel = format!("im:node:{node}");
        self.link.command(&[b"SUBSCRIBE", channel.as_bytes()]);
        info!(
            "engine: connected to Redis at {} as node {node}",
            self.link.addr()
        );
        self.node = Some(node);
    }

    /// The lease timer. `Err`: the lease was not refreshed in time (Redis hangs): the link
    /// is to be failed.
    pub fn lease_due(&mut self, now: u64) -> Result<(), String> {
        let Some(node) = self.node.clone() else {
            return Ok(());
        };
        if now.saturating_sub(self.leased_at) > self.lease_ms {
            return Err(format!("lease not refreshed for {} ms", self.lease_ms));
        }
        let lease = self.lease_ms.to_string();
        let args = [node.as_bytes(), lease.as_bytes()];
        self.fcall("node_lease", &args, Pending::Lease);
        Ok(())
    }

    /// Ends this node's lease (on shutdown, once its users are retired).
    pub fn sign_off(&mut self) {
        if let Some(node) = self.node.take() {
            self.fcall("node_leave", &[node.as_bytes()], Pending::Done);
        }
    }

    /// Whether the link has work for the next pass without a new event: frames left over,
    /// or commands queued and not yet tried.
    pub fn link_has_work(&self) -> bool {
        self.link.readable || self.link.wants_flush()
    }

    /// The engine's state for `--metrics`.
    #[cfg(feature = "metrics")]
    pub fn state(&self, chat: &Chat) -> crate::server::metrics::EngineState {
        crate::server::metrics::EngineState {
            connected: u64::from(self.node.is_some()),
            pending: self.pending.len() as u64,
            failures: self.failures,
            remote_users: chat.remote_user_count() as u64,
        }
    }

    /// Whether requests are still unanswered.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The events the answers so far asked for.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Tells the loop a waiting command's outcome.
    fn answer(&mut self, me: Sender, command: &'static str, outcome: Outcome) {
        self.events.push(Event::Answered {
            me,
            command,
            outcome,
        });
    }

    /// Queues `FCALL imchat_v1_<name> 0 args...`, with what its answer is for.
    fn fcall(&mut self, name: &str, args: &[&[u8]], pending: Pending) {
        let function = format!("imchat_v1_{name}");
        let mut command: Vec<&[u8]> = vec![b"FCALL", function.as_bytes(), b"0"];
        command.extend_from_slice(args);
        self.send(&command, pending);
    }

    fn send(&mut self, command: &[&[u8]], pending: Pending) {
        self.link.command(command);
        self.pending.push_back(pending);
    }
}

/// What a frame is, for the teaching trace: a published message and its channel, an
/// error and its text, or an answer.
pub fn describe(frame: &OwnedFrame) -> String {
    match (frame, error_text(frame)) {
        (OwnedFrame::Push { data, .. }, _) => {
            let kind = data.first().and_then(text).unwrap_or("?");
            let channel = data.get(1).and_then(text).unwrap_or("?");
            match kind {
                "message" => format!("a message on {channel}"),
                _ => format!("{kind} {channel} (confirmed)"),
            }
        }
        (_, Some(error)) => format!("the error {error:?}"),
        _ => "an answer".to_string(),
    }
}

/// A string frame's text.
fn text(frame: &OwnedFrame) -> Option<&str> {
    match frame {
        OwnedFrame::BlobString { data, .. } | OwnedFrame::SimpleString { data, .. } => {
            std::str::from_utf8(data).ok()
        }
        _ => None,
    }
}

/// An error frame's text.
fn error_text(frame: &OwnedFrame) -> Option<String> {
    match frame {
        OwnedFrame::SimpleError { data, .. } => Some(data.clone()),
        OwnedFrame::BlobError { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
        _ => None,
    }
}

/// An aggregate frame's elements (none for any other frame).
fn items(frame: &OwnedFrame) -> &[OwnedFrame] {
    match frame {
        OwnedFrame::Array { data, .. } | OwnedFrame::Push { data, .. } => data,
        _ => &[],
    }
}
