//! Presence: which changes are waiting for the next broadcast, and how a broadcast is
//! encoded.
//!
//! Changes are not sent as they happen. They are logged here, and once per presence interval
//! (a timer on the wheel, set when the first change of an interval arrives) the chat sends
//! one `ONLINE_USERS` snapshot and one `PRESENCE` change set, each encoded once and shared by
//! every recipient of that mode. A burst of registrations therefore costs one snapshot per
//! interval, not one per registration.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{Serialize, Serializer};

use crate::buffer::Line;
use crate::protocol::{cmd, encode};

/// The net changes of one interval: each name with its status now (`None`: offline).
pub type Changes = BTreeMap<String, Option<String>>;

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

    /// Empties the log and returns the net changes, given each name's status now. A user
    /// who came and went within one interval, or changed status and back, is no change.
    pub fn take_changes<'a>(&mut self, status_now: impl Fn(&str) -> Option<&'a str>) -> Changes {
        std::mem::take(&mut self.before)
            .into_iter()
            .filter_map(|(name, before)| {
                let now = status_now(&name).map(str::to_string);
                (now != before).then_some((name, now))
            })
            .collect()
    }
}

/// `ONLINE_USERS` with these users and statuses, serialized straight from the pairs.
pub fn online_users<'a>(users: impl Iterator<Item = (&'a str, &'a str)>) -> Line {
    let pairs: Vec<(&str, &str)> = users.collect();
    Line::from(encode(cmd::ONLINE_USERS, &Pairs(&pairs)))
}

/// `PRESENCE` with one interval's changes.
pub fn presence(changes: &Changes) -> Line {
    Line::from(encode(cmd::PRESENCE, changes))
}

/// A map serialized straight from borrowed pairs, with no intermediate map.
struct Pairs<'a, V>(&'a [(&'a str, V)]);

impl<V: Serialize> Serialize for Pairs<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
