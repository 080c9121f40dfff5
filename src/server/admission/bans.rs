//! Wrong passwords per address, and the bans they earn. Pure: time is the loop's `now`,
//! passed in, so the tests run a minute in a microsecond.
//!
//! An address's failures are counted in a window that opens at its first wrong password
//! and lasts [`BAN_WINDOW_MS`]; the [`MAX_FAILURES`]th within it bans the address for
//! [`BAN_WINDOW_MS`] from then. Windows are fixed, not sliding (one record per address
//! instead of a timestamp per failure): no address is banned without 20 failures within
//! a minute, and none gets more than 19 tries in a window without one.
//!
//! Each record is forgotten when its window or its ban ends. The records to forget are
//! found in a queue in expiry order, so expiring costs O(1) per record, never a scan of the
//! table; a record's expiry that moves (a ban) is queued again and its earlier entry
//! skipped when it comes up.

use std::collections::{HashMap, VecDeque};

use super::AddrKey;

/// Wrong passwords from one address within a window that earn a ban. Enough for a whole
/// classroom behind one NAT mistyping it, a few times each, over a minute; a guesser gets
/// at most 19 guesses a minute from one address.
pub const MAX_FAILURES: u32 = 20;

/// How long a window of failures lasts, and how long a ban lasts: a minute each, as the
/// issue asks. One length for both keeps the expiry queue in order of expiry (every
/// record's expiry is `now` plus the same amount when it is queued).
pub const BAN_WINDOW_MS: u64 = 60_000;

/// Addresses whose failures are remembered at once. Each costs about 100 bytes (the
/// record, its slot in the table and up to two entries in the queue), so the table stays
/// under about 1 MB. When it is full, a new address's first failure makes room by
/// forgetting the record that would have expired first (its window or ban ends early):
/// by then the guesses come from 10,000 networks at once, a spread no per-address rule
/// can stop, and the server's memory stays bounded.
pub const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// What is remembered of one address.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// When the window, or the ban, ends and the record is forgotten.
    expires: u64,
    /// Failures in this window.
    failures: u32,
    banned: bool,
}

/// The failure records, and their expiry order.
#[derive(Debug)]
pub struct Bans {
    records: HashMap<AddrKey, Record>,
    /// `(address, expiry)` in expiry order; an entry whose expiry is no longer its record's
    /// is stale and skipped.
    expiries: VecDeque<(AddrKey, u64)>,
    capacity: usize,
}

impl Default for Bans {
    fn default() -> Bans {
        Bans::with_capacity(MAX_TRACKED_ADDRESSES)
    }
}

impl Bans {
    /// A table of at most `capacity` addresses (tests use a small one).
    pub fn with_capacity(capacity: usize) -> Bans {
        Bans {
            records: HashMap::new(),
            expiries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Whether `key` is banned at `now`.
    pub fn is_banned(&mut self, key: AddrKey, now: u64) -> bool {
        self.expire(now);
        self.records.get(&key).is_some_and(|record| record.banned)
    }

    /// A wrong password from `key` at `now`. `true` when it starts a ban: the one time
    /// the ban is worth a log line. Failures during a ban change nothing.
    pub fn wrong_password(&mut self, key: AddrKey, now: u64) -> bool {
        self.expire(now);
        if !self.records.contains_key(&key) && self.records.len() >= self.capacity {
            self.forget_first();
        }
        let expires = now + BAN_WINDOW_MS;
        let record = self.records.entry(key).or_insert_with(|| {
            self.expiries.push_back((key, expires));
            Record {
                expires,
                failures: 0,
                banned: false,
            }
        });
        if record.banned {
            return false;
        }
        record.failures += 1;
        if record.failures < MAX_FAILURES {
            return false;
        }
        record.banned = true;
        // Banned in the very millisecond its window opened: its entry already says when.
        // Queued once per expiry, a record's earlier entries are all ahead of its current
        // one, so the queue holds at most two per record.
        if record.expires != expires {
            record.expires = expires;
            self.expiries.push_back((key, expires));
        }
        true
    }

    /// Addresses remembered now (for the tests' check of the bound).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.records.len()
    }

    /// Forgets every record whose window or ban is over by `now`.
    fn expire(&mut self, now: u64) {
        while let Some(&(key, at)) = self.expiries.front() {
            if at > now {
                return;
            }
            self.expiries.pop_front();
            self.forget_if_current(key, at);
        }
    }

    /// Forgets the record that expires first, to make room.
    fn forget_first(&mut self) {
        while let Some((key, at)) = self.expiries.pop_front() {
            if self.forget_if_current(key, at) {
                return;
            }
        }
    }

    /// Forgets `key`'s record if `at` is still its expiry (else the entry was stale).
    fn forget_if_current(&mut self, key: AddrKey, at: u64) -> bool {
        let current = self.records.get(&key).is_some_and(|r| r.expires == at);
        if current {
            self.records.remove(&key);
        }
        current
    }

    /// Entries in the expiry queue (for the tests' check that it stays bounded).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.expiries.len()
    }
}
