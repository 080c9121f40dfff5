//! The chat itself: users, conversations, invitations and the outbox of every connection.
//!
//! Nothing here touches a socket. Handlers change this state and append encoded lines to
//! outboxes; the event loop (`event_loop.rs`) later writes the outboxes to the sockets.
//! That split is what lets the dispatch table be unit-tested with no network at all.
//!
//! Connections are known by their key in [`Chat::peers`], which the event loop keeps equal
//! to the key of the socket in its own slab (both are inserted and removed together).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use log::info;
use slab::Slab;

use crate::buffer::{Line, Outbox, SpareQueues};
use crate::protocol::{cmd, encode, encode_error, ConvId, PresenceMode, DEFAULT_STATUS};

use super::presence::PresenceLog;
use super::reason::Reason;

/// One connection, as the protocol sees it.
#[derive(Debug, Default)]
pub struct Peer {
    /// Lines waiting to be written to this connection.
    out: Outbox,
    /// Whether this peer is on [`Chat::dirty`] already.
    dirty: bool,
    /// Set once `REGISTER` succeeds.
    pub user: Option<User>,
    /// Set when the connection starts closing; it reads nothing after that.
    pub closing: Option<Reason>,
}

/// A registered user.
#[derive(Debug)]
pub struct User {
    /// Shared with the key of [`Chat::names`] when the name is already lower case: one
    /// allocation instead of two, for every one of tens of thousands of users.
    pub name: Rc<str>,
    /// Most users keep the default status, which then costs no allocation.
    pub status: Cow<'static, str>,
    pub presence: PresenceMode,
    /// Conversations joined, in joining order.
    pub joined: Vec<ConvId>,
    /// Conversations invited to and not joined yet.
    pub invited: Vec<ConvId>,
}

/// A conversation.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Peer keys of the members, in join order (the inviter first).
    pub members: Vec<usize>,
    /// Peer keys holding a pending invitation.
    pub invited: Vec<usize>,
}

/// The limits the chat enforces itself.
#[derive(Debug, Clone, Copy)]
pub struct ChatLimits {
    /// Bytes that may wait in one outbox; past it the connection is dropped as a slow reader.
    pub max_output: usize,
}

/// The whole protocol state of the server.
#[derive(Debug)]
pub struct Chat {
    pub peers: Slab<Peer>,
    /// Online users: lower-cased name (names are unique case-insensitively) to peer key.
    /// Ordered, so `ONLINE_USERS` lists users in a stable order.
    pub names: BTreeMap<Rc<str>, usize>,
    pub conversations: HashMap<ConvId, Conversation>,
    /// The last conversation id handed out; ids start at 1 and are never reused.
    last_conv: ConvId,
    /// Presence changes not yet broadcast.
    pub presence: PresenceLog,
    /// Peers with output to write; the loop drains this before it sleeps.
    dirty: Vec<usize>,
    /// Peers that started closing since the loop last looked.
    closing: Vec<usize>,
    /// Outbox storage handed on from connections whose output was all written.
    spare_queues: SpareQueues,
    limits: ChatLimits,
    /// Log each queued line (`--trace`).
    pub trace: bool,
}

impl User {
    /// A new user with no conversations. The default status is not copied.
    pub fn new(name: &str, status: String, presence: PresenceMode) -> User {
        let status = if status == DEFAULT_STATUS {
            Cow::Borrowed(DEFAULT_STATUS)
        } else {
            Cow::Owned(status)
        };
        User {
            name: Rc::from(name),
            status,
            presence,
            joined: Vec::new(),
            invited: Vec::new(),
        }
    }
}

impl Chat {
    pub fn new(limits: ChatLimits, trace: bool) -> Chat {
        Chat {
            peers: Slab::new(),
            names: BTreeMap::new(),
            conversations: HashMap::new(),
            last_conv: 0,
            presence: PresenceLog::default(),
            dirty: Vec::new(),
            closing: Vec::new(),
            spare_queues: SpareQueues::default(),
            limits,
            trace,
        }
    }

    /// Adds a connection; returns its key.
    pub fn connect(&mut self) -> usize {
        self.peers.insert(Peer::default())
    }

    /// Queues a line for one peer and marks it for flushing.
    pub fn send(&mut self, key: usize, line: &Line) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        if peer.closing.is_some_and(|reason| !reason.flushes()) {
            return;
        }
        peer.out
            .push_reusing(Rc::clone(line), &mut self.spare_queues);
        trace!(self.trace, "conn {key}: queued {} bytes", line.len());
        self.mark_dirty(key);
    }

    /// Puts a peer with queued output on the list the loop flushes before it sleeps. Every
    /// path that queues output goes through here, or the connection would stall.
    pub fn mark_dirty(&mut self, key: usize) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        if !peer.dirty && !peer.out.is_empty() {
            peer.dirty = true;
            self.dirty.push(key);
        }
    }

    /// Queues an `ERROR` line.
    pub fn send_error(&mut self, key: usize, text: &str) {
        self.send(key, &Line::from(encode_error(text)));
    }

    /// Drops a peer whose queue is past the output limit even after the loop wrote all the
    /// kernel would take: a client that does not read must not hold the server's memory.
    /// Checked after flushing, not while queueing, so a healthy reader that receives a
    /// burst in one pass is not mistaken for a slow one. Returns whether it was dropped.
    pub fn enforce_output_limit(&mut self, key: usize) -> bool {
        let over = self
            .peers
            .get(key)
            .is_some_and(|p| p.out.queued() > self.limits.max_output);
        if over {
            self.close(key, Reason::SlowReader);
        }
        over
    }

    /// Marks a peer closing (the first reason wins). The loop cleans up at its next safe
    /// point, so a handler can close any connection without invalidating what the loop is
    /// iterating over.
    pub fn close(&mut self, key: usize, reason: Reason) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        if peer.closing.is_none() {
            peer.closing = Some(reason);
            if !reason.flushes() {
                peer.out.clear();
            }
            self.closing.push(key);
        }
    }

    /// Closes a peer whose socket failed: what is queued can never be written, so it is
    /// dropped at once instead of being waited for.
    pub fn abandon(&mut self, key: usize, reason: Reason) {
        if let Some(peer) = self.peers.get_mut(key) {
            peer.out.clear();
        }
        self.close(key, reason);
    }

    /// Peers that started closing since the last call.
    pub fn take_closing(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.closing)
    }

    /// Peers with output queued since the last call.
    pub fn take_dirty(&mut self) -> Vec<usize> {
        let dirty = std::mem::take(&mut self.dirty);
        for &key in &dirty {
            if let Some(peer) = self.peers.get_mut(key) {
                peer.dirty = false;
            }
        }
        dirty
    }

    /// After a flush: an outbox with nothing left gives its storage to the spares.
    pub fn release_outbox(&mut self, key: usize) {
        if let Some(peer) = self.peers.get_mut(key) {
            peer.out.release_if_empty(&mut self.spare_queues);
        }
    }

    /// The outbox of a peer, for the loop to write to its socket.
    pub fn outbox(&mut self, key: usize) -> Option<&mut Outbox> {
        self.peers.get_mut(key).map(|peer| &mut peer.out)
    }

    /// Whether a peer has started closing (and so reads nothing more).
    pub fn is_closing(&self, key: usize) -> bool {
        self.closing_reason(key).is_some()
    }

    pub fn closing_reason(&self, key: usize) -> Option<Reason> {
        self.peers.get(key)?.closing
    }

    pub fn is_registered(&self, key: usize) -> bool {
        self.peers.get(key).is_some_and(|peer| peer.user.is_some())
    }

    /// The user on a peer, if registered.
    pub fn user(&self, key: usize) -> Option<&User> {
        self.peers.get(key)?.user.as_ref()
    }

    pub fn user_mut(&mut self, key: usize) -> Option<&mut User> {
        self.peers.get_mut(key)?.user.as_mut()
    }

    /// The peer of the online user whose name matches `name` without regard to case.
    pub fn find_user(&self, name: &str) -> Option<usize> {
        self.names.get(name.to_lowercase().as_str()).copied()
    }

    /// The name of a registered peer ("" for one that is not).
    pub fn name(&self, key: usize) -> &str {
        self.user(key).map_or("", |user| &user.name)
    }

    /// A new conversation id: positive and never reused.
    pub fn next_conv_id(&mut self) -> ConvId {
        self.last_conv += 1;
        self.last_conv
    }

    /// Brings a user online on a peer.
    pub fn add_user(&mut self, key: usize, user: User) {
        info!(
            "register {} (conn {key}, presence {:?})",
            user.name, user.presence
        );
        self.presence.changed(&user.name, None);
        let lower = user.name.to_lowercase();
        let name_key = if *lower == *user.name {
            Rc::clone(&user.name)
        } else {
            Rc::from(lower)
        };
        self.names.insert(name_key, key);
        if let Some(peer) = self.peers.get_mut(key) {
            peer.user = Some(user);
        }
    }

    /// Sends a peer its complete `CONVERSATIONS` map: the conversations it has joined, each
    /// with its members' names in join order.
    pub fn send_conversations(&mut self, key: usize) {
        let Some(user) = self.user(key) else { return };
        let map: BTreeMap<ConvId, Vec<&str>> = user
            .joined
            .iter()
            .filter_map(|id| {
                let conv = self.conversations.get(id)?;
                Some((*id, conv.members.iter().map(|&m| self.name(m)).collect()))
            })
            .collect();
        let line = Line::from(encode(cmd::CONVERSATIONS, &map));
        self.send(key, &line);
    }

    /// Takes a member out of a conversation. The remaining members hear the new member
    /// list; when the last member leaves, the conversation ends and its pending invitations
    /// lapse.
    pub fn leave_conversation(&mut self, key: usize, id: ConvId) {
        if let Some(user) = self.user_mut(key) {
            user.joined.retain(|&c| c != id);
        }
        let Some(conv) = self.conversations.get_mut(&id) else {
            return;
        };
        conv.members.retain(|&m| m != key);
        if conv.members.is_empty() {
            let ended = self.conversations.remove(&id).unwrap_or_default();
            for invitee in ended.invited {
                if let Some(user) = self.user_mut(invitee) {
                    user.invited.retain(|&c| c != id);
                }
            }
            return;
        }
        for member in conv.members.clone() {
            self.send_conversations(member);
        }
    }

    /// Takes a user offline: leaves every conversation, drops its invitations and records
    /// the presence change. Called once per connection, at the loop's safe point.
    pub fn retire(&mut self, key: usize) {
        let Some(user) = self.peers.get_mut(key).and_then(|peer| peer.user.take()) else {
            return;
        };
        // The user is already off the peer, and each conversation drops it before telling
        // the others, so the member lists they receive no longer name it.
        for id in &user.joined {
            self.leave_conversation(key, *id);
        }
        for id in &user.invited {
            if let Some(conv) = self.conversations.get_mut(id) {
                conv.invited.retain(|&k| k != key);
            }
        }
        self.names.remove(user.name.to_lowercase().as_str());
        self.presence.changed(&user.name, Some(&user.status));
    }

    /// Forgets a closed connection entirely.
    pub fn remove(&mut self, key: usize) {
        self.retire(key);
        if self.peers.contains(key) {
            self.peers.remove(key);
        }
    }
}
