//! A set of connection keys, kept in the order they were first added.
//!
//! The loop keeps its work lists as sets, not lists: "connections to serve", "connections
//! with output to write", "connections whose closing must advance". Adding a connection that
//! is already in a set does nothing, so however many events name it, a connection is served
//! once per pass: fairness is a property of the data structure, not of care at each push.

/// Keys in insertion order, each at most once. Keys are slab keys: small and dense, so
/// membership is one flag per key.
#[derive(Debug, Default)]
pub struct KeySet {
    /// Keys in the order they were added. A key removed meanwhile stays here and is skipped,
    /// or keeps its place if it is added again.
    order: Vec<usize>,
    /// `member[key]`: whether `key` is in the set.
    member: Vec<bool>,
    /// How many keys are in the set.
    len: usize,
}

impl KeySet {
    /// Adds `key`; returns `false` if it was already in.
    pub fn insert(&mut self, key: usize) -> bool {
        if key >= self.member.len() {
            self.member.resize(key + 1, false);
        }
        if self.member[key] {
            return false;
        }
        self.member[key] = true;
        self.order.push(key);
        self.len += 1;
        true
    }

    /// Takes `key` out, if it is in.
    pub fn remove(&mut self, key: usize) {
        if let Some(flag) = self.member.get_mut(key).filter(|flag| **flag) {
            *flag = false;
            self.len -= 1;
        }
    }

    pub fn contains(&self, key: usize) -> bool {
        self.member.get(key).is_some_and(|&flag| flag)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the set and returns its keys in insertion order, each once.
    pub fn take(&mut self) -> Vec<usize> {
        let mut keys = std::mem::take(&mut self.order);
        keys.retain(|&key| std::mem::replace(&mut self.member[key], false));
        self.len = 0;
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_added_many_times_comes_out_once_in_first_order() {
        let mut set = KeySet::default();
        for key in [3, 1, 3, 3, 0, 1] {
            set.insert(key);
        }
        assert_eq!(set.take(), [3, 1, 0]);
        assert!(set.is_empty());
        assert!(set.take().is_empty(), "taking empties it");
    }

    #[test]
    fn removed_keys_are_skipped_and_may_come_back() {
        let mut set = KeySet::default();
        set.insert(2);
        set.insert(5);
        set.remove(2);
        set.remove(7);
        set.insert(2);
        set.insert(2);
        assert_eq!(set.take(), [2, 5], "once, at its first place");
    }

    #[test]
    fn any_sequence_yields_each_member_once() {
        // A small deterministic generator: no test dependency needed for this.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut set = KeySet::default();
        let mut model = std::collections::BTreeSet::new();
        for _ in 0..10_000 {
            let key = (next() % 32) as usize;
            match next() % 5 {
                0 => {
                    set.remove(key);
                    model.remove(&key);
                }
                1 => {
                    let mut taken = set.take();
                    assert_eq!(taken.len(), model.len());
                    taken.sort_unstable();
                    assert_eq!(taken, model.iter().copied().collect::<Vec<_>>());
                    model.clear();
                }
                _ => assert_eq!(set.insert(key), model.insert(key)),
            }
            assert_eq!(set.is_empty(), model.is_empty());
        }
    }
}
