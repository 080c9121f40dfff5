//! Helpers for the unit tests of the dispatch table and the handlers: a chat and its
//! outboxes with no sockets, users registered through `dispatch`, and what each connection
//! was sent read back as lines.

use super::chat::{Chat, Limits};
use super::dispatch::{dispatch, Ctx, Effect};
use super::engine::Engine;
use super::outboxes::{Outboxes, DEFAULT_MAX_OUTPUT_TOTAL};
use super::stats::Stats;

/// The chat and its outboxes, as the loop holds them, minus the sockets.
pub struct World {
    pub chat: Chat,
    pub engine: Engine,
    pub out: Outboxes,
    /// The server's password (`--password-file`); none by default.
    pub password: Option<crate::protocol::Password>,
    pub stats: Stats,
    next_key: usize,
}

impl Default for World {
    fn default() -> World {
        World::with_limits(Limits::default(), DEFAULT_MAX_OUTPUT_TOTAL)
    }
}

impl World {
    /// A world with these limits: members per conversation, and all queued output.
    pub fn with_limits(limits: Limits, max_output_total: usize) -> World {
        World {
            chat: Chat::new(limits),
            engine: Engine::Memory,
            out: Outboxes::new(false, max_output_total),
            password: None,
            stats: Stats::default(),
            next_key: 0,
        }
    }

    /// A new connection's key.
    pub fn connect(&mut self) -> usize {
        let key = self.next_key;
        self.next_key += 1;
        self.out.open(key, crate::buffer::Wire::Lines);
        key
    }

    /// Dispatches one line from `key`.
    pub fn dispatch(&mut self, key: usize, line: &str) -> Effect {
        let mut ctx = Ctx {
            chat: &mut self.chat,
            engine: &mut self.engine,
            generation: 0,
            out: &mut self.out,
            password: self.password.as_ref(),
            stats: &mut self.stats,
        };
        dispatch(&mut ctx, key, line)
    }

    /// Everything queued for `key`, as lines. Like the loop's passes before it sleeps, the
    /// owed maps are encoded first and every invitation to an ended conversation lapses.
    pub fn drain(&mut self, key: usize) -> Vec<String> {
        self.chat.send_owed_maps(&mut self.out);
        self.chat.lapse_invitations(usize::MAX);
        let mut bytes = Vec::new();
        if let Some(written) = self.out.write(key, &mut bytes) {
            written.unwrap();
        }
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A connection that registered as `name`; its answer is drained.
    pub fn user(&mut self, name: &str) -> usize {
        self.register(register_line(name, None))
    }

    /// A connection that registered as `name` with these options (a JSON object).
    pub fn user_with(&mut self, name: &str, options: &str) -> usize {
        self.register(register_line(name, Some(options)))
    }

    fn register(&mut self, line: String) -> usize {
        let key = self.connect();
        let effect = self.dispatch(key, &line);
        assert_eq!(effect, Effect::Registered, "{line}");
        self.drain(key);
        key
    }

    /// Takes a user offline, as the loop does when its connection closes.
    pub fn retire(&mut self, key: usize) {
        self.engine.retire(&mut self.chat, &mut self.out, key);
    }

    /// The presence broadcast, as the timer runs it.
    pub fn broadcast(&mut self) {
        self.chat.broadcast_presence(&mut self.out);
    }
}

/// `REGISTER` for `name`, with its options if any.
fn register_line(name: &str, options: Option<&str>) -> String {
    match options {
        None => format!("REGISTER [\"{name}\"]"),
        Some(options) => format!("REGISTER [\"{name}\",null,{options}]"),
    }
}
