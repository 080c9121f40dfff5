//! Users on other nodes (the Redis engine). This node knows them by name and status only:
//! enough for `ONLINE_USERS` and `PRESENCE`, which every node encodes for its own users.
//! Their changes come from Redis's presence channel, and are logged for the next broadcast
//! like the changes of this node's own users, so a burst of them still costs one message
//! per interval.

use std::rc::Rc;

use crate::names::name_key;

use super::{Chat, Online};

impl Chat {
    /// Another node's user came online or changed status (`Some`), or went offline
    /// (`None`). A name this node holds itself is left alone: Redis gives each name to one
    /// node at a time, and this node's own changes are applied as they are made.
    pub fn remote_presence(&mut self, name: &str, status: Option<&str>) {
        let Ok(key) = name_key(name) else {
            return;
        };
        if matches!(self.names.get(&*key), Some(Online::Here(_))) {
            return;
        }
        self.forget_remote(&key);
        if let Some(status) = status {
            self.presence.changed(name, None);
            let remote = Online::There {
                name: Rc::from(name),
                status: Box::from(status),
            };
            self.names.insert(Rc::from(key), remote);
        }
    }

    /// Every other node's user at once, as Redis lists them when this node connects: the
    /// users known before are replaced (each difference is a presence change).
    pub fn set_remote_users<'a>(&mut self, users: impl Iterator<Item = (&'a str, &'a str)>) {
        self.forget_remote_users();
        for (name, status) in users {
            self.remote_presence(name, Some(status));
        }
    }

    /// Forgets every other node's user (the link to Redis is lost: they are unknown now).
    pub fn forget_remote_users(&mut self) {
        let keys: Vec<Rc<str>> = (self.names.iter())
            .filter(|(_, online)| matches!(online, Online::There { .. }))
            .map(|(key, _)| Rc::clone(key))
            .collect();
        for key in keys {
            self.forget_remote(&key);
        }
    }

    /// How many users of other nodes this node knows.
    pub fn remote_user_count(&self) -> usize {
        self.names.len() - self.users.len()
    }

    /// Takes the remote user under this name key out, logging the change.
    fn forget_remote(&mut self, key: &str) {
        if let Some(Online::There { name, status }) = self.names.get(key) {
            self.presence.changed(name, Some(status));
            self.names.remove(key);
        }
    }
}
