//! Helpers for the unit tests of the dispatch table and the handlers: a chat with no
//! sockets, peers registered through `dispatch`, and their outboxes read back as lines.

use super::chat::{Chat, ChatLimits};
use super::dispatch::dispatch;

pub fn chat() -> Chat {
    Chat::new(
        ChatLimits {
            max_output: 1 << 20,
        },
        false,
    )
}

/// Everything queued for `key`, as lines.
pub fn drain(chat: &mut Chat, key: usize) -> Vec<String> {
    let mut bytes = Vec::new();
    if let Some(out) = chat.outbox(key) {
        out.flush_to(&mut bytes).unwrap();
    }
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A connected peer that registered as `name`; its answer is drained.
pub fn user(chat: &mut Chat, name: &str) -> usize {
    let key = chat.connect();
    dispatch(chat, key, &format!("REGISTER [\"{name}\"]"));
    assert!(chat.is_registered(key), "{name} registered");
    drain(chat, key);
    key
}
