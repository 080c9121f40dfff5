//! The memory engine: the node's own [`Chat`] is the whole truth, so every question is
//! answered at once, and a command never waits.

use crate::server::chat::{Chat, User};
use crate::server::dispatch::{Outcome, Refusal};
use crate::server::outboxes::Outboxes;

/// `REGISTER`: the name must not be online (under the name rule).
pub fn register(chat: &mut Chat, out: &mut Outboxes, key: usize, user: User) -> Outcome {
    if chat.find_user(&user.name).is_some() {
        return Err(Refusal::NameTaken(user.name.to_string()));
    }
    Ok(super::welcome(chat, out, key, user))
}
