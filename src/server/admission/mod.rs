//! Who may join: the per-address connection cap and the bans for wrong passwords. Pure: no
//! sockets, and time is the loop's `now`, passed in. The loop asks [`Admission::admit`] at
//! accept, tells [`Admission::release`] when a connection is removed, and
//! [`Admission::wrong_password`] when a `REGISTER` had the wrong one (the handler cannot
//! see addresses: it returns `Effect::WrongPassword`).
//!
//! | file | what it holds |
//! |---|---|
//! | `address.rs` | which addresses count as one ([`AddrKey`]: IPv4, IPv6 /64) and which are exempt |
//! | `bans.rs` | failure windows and bans, forgotten in expiry order |
//!
//! A connection keeps a [`Slot`] (4 bytes) naming its address's entry, not the address:
//! every idle connection pays for what it stores.

mod address;
mod bans;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;

use slab::Slab;

pub use address::{key_of, AddrKey};
pub use bans::{Bans, BAN_WINDOW_MS, MAX_FAILURES, MAX_TRACKED_ADDRESSES};

/// Default `--max-connections-per-ip`: 32. Enough for a household or a classroom behind one
/// NAT, each person with a client or two and a browser tab; far below the default
/// `--max-connections` of 10,000, so one address cannot take every slot (ngIRCd's
/// `MaxConnectionsIP` defaults to 5, for a protocol with one connection per person).
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 32;

/// Wrong passwords one connection may send: the third closes it. Two retries forgive a
/// typo; a guesser must reconnect (and so pass the per-address rules) every third guess.
pub const MAX_WRONG_PASSWORDS_PER_CONNECTION: u8 = 3;

/// Why a new connection is turned away at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `--max-connections` are open.
    Full,
    /// Its address has `--max-connections-per-ip` open.
    PerAddress,
    /// Its address is banned for wrong passwords.
    Banned,
}

impl Refused {
    /// Every reason, in declaration order (`why as usize` indexes the stats' counts).
    pub const ALL: &'static [Refused] = &[Refused::Full, Refused::PerAddress, Refused::Banned];

    /// The reason as a metrics label value.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Full => "full",
            Refused::PerAddress => "per_address",
            Refused::Banned => "banned",
        }
    }

    /// The `ERROR` text a lines connection is told.
    pub fn text(self) -> &'static str {
        match self {
            Refused::Full => "server full",
            Refused::PerAddress => "too many connections from your address",
            Refused::Banned => "too many wrong passwords from your address; try again later",
        }
    }
}

/// As the log says it (`refused ADDR: ...`).
impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Full => "server full",
            Refused::PerAddress => "too many connections from its address",
            Refused::Banned => "its address is banned for wrong passwords",
        })
    }
}

/// Where a connection's address is counted: an index into [`Admission`]'s table, non-zero so
/// that `Option<Slot>` (an exempt connection has none) is 4 bytes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(NonZeroU32);

/// One address with open connections.
#[derive(Debug)]
struct Address {
    key: AddrKey,
    open: u32,
}

/// The per-address counts of open connections, and the bans.
#[derive(Debug)]
pub struct Admission {
    /// `--max-connections-per-ip`; 0 is no cap.
    max_per_address: usize,
    /// Every address with a connection open; at most one entry per open connection, so
    /// bounded by `--max-connections`. An entry goes when its last connection does.
    addresses: Slab<Address>,
    by_key: HashMap<AddrKey, usize>,
    bans: Bans,
}

impl Admission {
    pub fn new(max_per_address: usize) -> Admission {
        Admission::with_bans(max_per_address, Bans::default())
    }

    /// With a ban table of its own (tests use a small one).
    pub fn with_bans(max_per_address: usize, bans: Bans) -> Admission {
        Admission {
            max_per_address,
            addresses: Slab::new(),
            by_key: HashMap::new(),
            bans,
        }
    }

    /// A new connection from `key` at `now` (`None`: exempt, always let in). Let in, it is
    /// counted, and its [`Slot`] must be given back to [`Admission::release`] when it goes.
    pub fn admit(&mut self, key: Option<AddrKey>, now: u64) -> Result<Option<Slot>, Refused> {
        let Some(key) = key else {
            return Ok(None);
        };
        if self.bans.is_banned(key, now) {
            return Err(Refused::Banned);
        }
        let index = match self.by_key.get(&key) {
            Some(&index) => index,
            None => {
                let index = self.addresses.insert(Address { key, open: 0 });
                self.by_key.insert(key, index);
                index
            }
        };
        let Some(slot) = slot_of(index) else {
            // Beyond 4 billion addresses open at once: uncounted rather than refused.
            self.forget_if_unused(index);
            return Ok(None);
        };
        let address = &mut self.addresses[index];
        if self.max_per_address != 0 && address.open as usize >= self.max_per_address {
            self.forget_if_unused(index);
            return Err(Refused::PerAddress);
        }
        address.open += 1;
        Ok(Some(slot))
    }

    /// A connection let in by [`Admission::admit`] is gone.
    pub fn release(&mut self, slot: Option<Slot>) {
        let Some(index) = slot.map(index_of) else {
            return;
        };
        if let Some(address) = self.addresses.get_mut(index) {
            address.open = address.open.saturating_sub(1);
            self.forget_if_unused(index);
        }
    }

    /// A wrong password from the connection holding `slot`, at `now`. The address it bans,
    /// when this failure starts a ban: the one time a ban is logged.
    pub fn wrong_password(&mut self, slot: Option<Slot>, now: u64) -> Option<AddrKey> {
        let key = self.addresses.get(index_of(slot?))?.key;
        self.bans.wrong_password(key, now).then_some(key)
    }

    /// Connections counted open from `key` (for the tests).
    #[cfg(test)]
    pub fn open_from(&self, key: AddrKey) -> u32 {
        self.by_key
            .get(&key)
            .map_or(0, |&index| self.addresses[index].open)
    }

    /// Addresses with connections open (for the tests' check that entries go).
    #[cfg(test)]
    pub fn addresses(&self) -> usize {
        self.addresses.len()
    }

    fn forget_if_unused(&mut self, index: usize) {
        if self.addresses.get(index).is_some_and(|a| a.open == 0) {
            let address = self.addresses.remove(index);
            self.by_key.remove(&address.key);
        }
    }
}

fn slot_of(index: usize) -> Option<Slot> {
    let one_based = u32::try_from(index.checked_add(1)?).ok()?;
    NonZeroU32::new(one_based).map(Slot)
}

fn index_of(slot: Slot) -> usize {
    slot.0.get() as usize - 1
}
