//! Where the chat's shared state lives: the engine.
//!
//! One node alone keeps everything in its own memory (the [`Engine::Memory`] engine, the
//! default, which needs nothing else). Several nodes form one chat through Redis
//! (`--engine redis://HOST:PORT`, the `engine` feature): the state every node must agree on
//! (which names are online, and their statuses; conversations, members and invitations)
//! lives in Redis, and every decision that reads and writes it runs inside Redis,
//! atomically, as one of the node's Redis Functions.
//!
//! Handlers do not know which engine runs: they check what a node can check alone (the
//! arguments, the password, the name rule, whether the sender is a member of a
//! conversation its node holds), then ask the engine. The memory engine answers
//! at once. The Redis engine sends the question and answers [`Effect::Wait`]: the
//! connection reads no further line (its later lines wait in its buffer, in order) until
//! Redis's answer comes back and the loop resumes it, while every other connection goes on.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the interface: [`Engine`], its choice on the command line ([`EngineChoice`]) |
//! | `memory.rs` | the memory engine: the node's own [`Chat`] is the whole truth |
//! | `redis/` | the Redis engine: its connection in the loop, its requests and their answers, its functions |

mod memory;
#[cfg(feature = "engine")]
pub mod redis;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::protocol::ConvId;
use crate::server::chat::{Chat, User};
use crate::server::dispatch::{Effect, Outcome};
use crate::server::outboxes::Outboxes;

/// Which engine `--engine` chose.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// Everything in this process's memory: one node.
    #[default]
    Memory,
    /// Shared state in the Redis server at this address (resolved once, at start), as
    /// typed (`redis://HOST:PORT`).
    Redis { addr: SocketAddr, url: String },
}

impl EngineChoice {
    /// Parses `--engine`: `memory`, or `redis://HOST:PORT` (the port defaults to 6379). The
    /// name is resolved here, once: a lookup later would block the loop.
    pub fn parse(text: &str) -> Result<EngineChoice, String> {
        if text == "memory" {
            return Ok(EngineChoice::Memory);
        }
        let Some(rest) = text.strip_prefix("redis://") else {
            return Err(format!(
                "unknown engine {text:?}: `memory`, or `redis://HOST:PORT`"
            ));
        };
        if !cfg!(feature = "engine") {
            return Err(
                "the Redis engine needs the `engine` feature, which this build lacks".into(),
            );
        }
        let host_port = rest.trim_end_matches('/');
        let with_port = if host_port
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            host_port.to_string()
        } else {
            format!("{host_port}:6379")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{text}: {e}"))?
            .next()
            .ok_or_else(|| format!("{text}: the name resolves to no address"))?;
        Ok(EngineChoice::Redis {
            addr,
            url: text.to_string(),
        })
    }
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineChoice::Memory => f.write_str("memory"),
            EngineChoice::Redis { url, .. } => f.write_str(url),
        }
    }
}

/// The engine a server runs on. Its methods are the interface the handlers and the loop
/// use; each engine implements them in its own module.
#[derive(Debug)]
pub enum Engine {
    Memory,
    #[cfg(feature = "engine")]
    Redis(Box<redis::Redis>),
}

/// The connection a command came from: its key and its generation, so that an answer that
/// comes back later is never given to a newer connection that took the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    pub key: usize,
    pub generation: u64,
}

impl Engine {
    /// `REGISTER` for a user whose name, status and password the handler has checked: the
    /// name must still be free, on every node.
    pub fn register(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        user: User,
    ) -> Outcome {
        match self {
            Engine::Memory => memory::register(chat, out, me.key, user),
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.register(me, user),
        }
    }

    /// `STATUS`, checked: everyone hears within one presence interval.
    pub fn set_status(&mut self, chat: &mut Chat, me: usize, status: String) {
        #[cfg(feature = "engine")]
        if let Engine::Redis(redis) = self {
            redis.set_status(chat, me, &status);
        }
        chat.set_status(me, status);
    }

    /// Takes a connection's user (if it has one) offline: the loop calls it once per
    /// connection, when it settles the connection's closing.
    pub fn retire(&mut self, chat: &mut Chat, out: &mut Outboxes, key: usize) {
        match self {
            Engine::Memory => chat.retire(key, out),
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.retire(chat, out, key),
        }
    }

    /// `INVITE [names]` from a user with room for one more conversation.
    pub fn invite(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        names: Vec<String>,
    ) -> Outcome {
        match self {
            Engine::Memory => memory::invite(chat, out, me.key, names),
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.invite(me, names),
        }
    }

    /// `LIST_CONVERSATIONS`: the sender's map.
    pub fn list_conversations(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
    ) -> Outcome {
        match self {
            Engine::Memory => {
                chat.send_conversations(me.key, out);
                Ok(Effect::Continue)
            }
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.list_conversations(me),
        }
    }

    /// `JOIN [id]` from a user not yet a member of `id`.
    pub fn join(&mut self, chat: &mut Chat, out: &mut Outboxes, me: Sender, id: ConvId) -> Outcome {
        match self {
            Engine::Memory => memory::join(chat, out, me.key, id),
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.join(chat, me, id),
        }
    }

    /// `SEND_MESSAGE [id, text]` from a member of `id`.
    pub fn send_message(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        id: ConvId,
        text: &str,
    ) -> Outcome {
        match self {
            Engine::Memory => memory::send_message(chat, out, me.key, id, text),
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.send_message(chat, me, id, text),
        }
    }

    /// `LEAVE [id]` from a member of `id`.
    pub fn leave(
        &mut self,
        chat: &mut Chat,
        out: &mut Outboxes,
        me: Sender,
        id: ConvId,
    ) -> Outcome {
        match self {
            Engine::Memory => {
                chat.leave(me.key, id, out);
                Ok(Effect::Continue)
            }
            #[cfg(feature = "engine")]
            Engine::Redis(redis) => redis.leave(chat, me, id),
        }
    }
}

/// A user is in: it joins the chat on this node and is answered `ONLINE_USERS` (naming
/// itself alone in presence mode `none`). The last step of `REGISTER` on every engine.
pub fn welcome(chat: &mut Chat, out: &mut Outboxes, key: usize, user: User) -> Effect {
    let presence = user.presence;
    chat.add_user(key, user);
    let answer = match presence {
        crate::protocol::PresenceMode::None => chat.online_users_self_only(key),
        _ => Some(chat.online_users()),
    };
    if let Some(line) = answer {
        out.send(key, &line);
    }
    Effect::Registered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_choices_parse_and_bad_ones_say_why() {
        assert_eq!(EngineChoice::parse("memory"), Ok(EngineChoice::Memory));
        let bad = EngineChoice::parse("postgres://x").unwrap_err();
        assert!(bad.contains("unknown engine"), "{bad}");
        if cfg!(feature = "engine") {
            let choice = EngineChoice::parse("redis://127.0.0.1:7000").unwrap();
            let EngineChoice::Redis { addr, url } = choice else {
                panic!("not redis");
            };
            assert_eq!(addr, "127.0.0.1:7000".parse().unwrap());
            assert_eq!(url, "redis://127.0.0.1:7000");
            let default_port = EngineChoice::parse("redis://127.0.0.1").unwrap();
            assert!(
                matches!(default_port, EngineChoice::Redis { addr, .. } if addr.port() == 6379)
            );
        }
    }
}
