//! One conversation: its members in join order, indexed so that a join, a leave and a
//! membership test each cost O(log members) or less, whatever the size of the conversation,
//! and the users it invited.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A conversation.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Each member's place in the join order.
    place: HashMap<usize, u64>,
    /// The members (connection keys) by place: iterating gives the join order, the inviter
    /// first, as `CONVERSATIONS` lists them.
    order: BTreeMap<u64, usize>,
    /// The place the next member takes.
    next_place: u64,
    /// Connections invited when it was created and not joined since (at most
    /// `--max-members` − 1), so that their invitations lapse when it ends. An invitee going
    /// offline is not taken out: its user's own `invited` set is what says who is invited,
    /// so a disconnect costs nothing here, and a key reused by a new user finds nothing to
    /// lapse.
    invited: HashSet<usize>,
}

impl Conversation {
    /// A conversation whose only member is `first`, with `invitees` invited.
    pub fn new(first: usize, invitees: &[usize]) -> Conversation {
        let mut conv = Conversation {
            invited: invitees.iter().copied().collect(),
            ..Conversation::default()
        };
        conv.add_member(first);
        conv
    }

    pub fn is_member(&self, key: usize) -> bool {
        self.place.contains_key(&key)
    }

    pub fn is_empty(&self) -> bool {
        self.place.is_empty()
    }

    /// The members, in join order.
    pub fn members(&self) -> impl Iterator<Item = usize> + '_ {
        self.order.values().copied()
    }

    /// The connections invited and not joined (some may have gone offline since).
    pub fn invitees(&self) -> impl Iterator<Item = usize> + '_ {
        self.invited.iter().copied()
    }

    /// Turns `key`'s invitation (if any) into membership, at the end of the join order.
    pub fn add_member(&mut self, key: usize) {
        self.invited.remove(&key);
        if !self.place.contains_key(&key) {
            self.place.insert(key, self.next_place);
            self.order.insert(self.next_place, key);
            self.next_place += 1;
        }
    }

    /// Puts `new` in `old`'s place in the join order (a member going offline that stays
    /// as a proxy until Redis says it left: `mirror.rs`).
    pub fn replace_member(&mut self, old: usize, new: usize) {
        if let Some(place) = self.place.remove(&old) {
            self.place.insert(new, place);
            self.order.insert(place, new);
        }
    }

    pub fn remove_member(&mut self, key: usize) {
        if let Some(place) = self.place.remove(&key) {
            self.order.remove(&place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_join_order_through_leaves_and_rejoins() {
        let mut conv = Conversation::new(7, &[3, 5, 9]);
        conv.add_member(5);
        conv.add_member(3);
        assert_eq!(conv.invitees().collect::<Vec<_>>(), [9]);
        conv.remove_member(5);
        conv.add_member(5);
        conv.add_member(3);
        assert_eq!(conv.members().collect::<Vec<_>>(), [7, 3, 5]);
    }
}
