//! Presence: who is online with which status, and how changes reach the users.
//!
//! Changes are not sent as they happen. They are logged here, and once per presence interval
//! (a timer on the wheel, set when the first change of an interval arrives) the loop calls
//! [`broadcast`]: one `ONLINE_USERS` snapshot and one `PRESENCE` change set are encoded, once
//! each, and the same bytes are queued for every recipient of that mode. A burst of
//! registrations therefore costs one snapshot per interval, not one per registration.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{Serialize, Serializer};

use crate::buffer::Line;
use crate::protocol::{cmd, encode, PresenceMode};

use super::chat::Chat;

/// Users whose presence changed since the last broadcast, each with the status it had at
/// that broadcast (`None`: it was offline).
#[derive(Debug, Default)]
pub struct PresenceLog {
    before: HashMap<String, Option<String>>,
}

impl PresenceLog {
    /// Records that `name`'s presence is changing from `before`. Only the first change in
    /// an interval records the old value: that is what the next broadcast compares with.
    pub fn changed(&mut self, name: &str, before: Option<&str>) {
        if !self.before.contains_key(name) {
            self.before
                .insert(name.to_string(), before.map(str::to_string));
        }
    }

    /// Whether anything changed since the last broadcast.
    pub fn is_empty(&self) -> bool {
        self.before.is_empty()
    }
}

/// A map serialized straight from borrowed pairs, with no intermediate map.
struct Pairs<'a, V>(&'a [(&'a str, V)]);

impl<V: Serialize> Serialize for Pairs<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl Chat {
    /// The status of the online user with exactly this name, if any.
    fn status_of(&self, name: &str) -> Option<&str> {
        let user = self.user(self.find_user(name)?)?;
        (*user.name == *name).then_some(&*user.status)
    }

    /// `ONLINE_USERS` with every online user.
    pub fn online_users(&self) -> Line {
        let pairs: Vec<(&str, &str)> = self
            .names
            .values()
            .filter_map(|&key| self.user(key))
            .map(|user| (&*user.name, &*user.status))
            .collect();
        Line::from(encode(cmd::ONLINE_USERS, &Pairs(&pairs)))
    }

    /// `ONLINE_USERS` naming one user alone: the registration answer in `none` mode.
    pub fn online_users_self_only(&self, key: usize) -> Option<Line> {
        let user = self.user(key)?;
        let pairs = [(&*user.name, &*user.status)];
        Some(Line::from(encode(cmd::ONLINE_USERS, &Pairs(&pairs))))
    }
}

/// Sends the changes logged since the last call to every online user, as its presence mode
/// asks. Net changes only: a user who came and went within one interval, or changed status
/// and back, is no change at all, and no change means no message.
pub fn broadcast(chat: &mut Chat) {
    let before = std::mem::take(&mut chat.presence.before);
    let changes: BTreeMap<String, Option<String>> = before
        .into_iter()
        .filter_map(|(name, before)| {
            let now = chat.status_of(&name).map(str::to_string);
            (now != before).then_some((name, now))
        })
        .collect();
    if changes.is_empty() {
        return;
    }
    let recipients: Vec<(usize, PresenceMode)> = chat
        .names
        .values()
        .filter_map(|&key| Some((key, chat.user(key)?.presence)))
        .collect();
    // Each form is encoded at most once, and only if someone wants it.
    let mut snapshot: Option<Line> = None;
    let mut delta: Option<Line> = None;
    for (key, mode) in recipients {
        let line = match mode {
            PresenceMode::Full => snapshot.get_or_insert_with(|| chat.online_users()).clone(),
            PresenceMode::Changes => delta
                .get_or_insert_with(|| Line::from(encode(cmd::PRESENCE, &changes)))
                .clone(),
            PresenceMode::None => continue,
        };
        chat.send(key, &line);
    }
}
