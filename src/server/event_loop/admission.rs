//! The loop's side of who may join (the rules, pure, are in `server/admission/`): the
//! decision at accept, and the wrong passwords the `REGISTER` handler reports, which only
//! the loop can pin to a connection and an address.

use std::net::SocketAddr;

use log::warn;

use super::{Kind, Reason, Server};
use crate::buffer::Wire;
use crate::server::admission::{
    key_of, Refused, Slot, BAN_WINDOW_MS, MAX_FAILURES, MAX_WRONG_PASSWORDS_PER_CONNECTION,
};

impl Server {
    /// Whether a connection just accepted from `addr` may stay: not when the server is full,
    /// its address has its share open, or its address is banned. Let in, it is counted under
    /// its address (the slot it returns goes back to the admission when it is removed).
    pub(super) fn admit(
        &mut self,
        addr: SocketAddr,
        wire: Wire,
        now: u64,
    ) -> Result<Option<Slot>, Refused> {
        if self.conns.len() >= self.config.max_connections {
            return Err(Refused::Full);
        }
        // A scrape is the operator's, on a listener of its own: it takes a slot, but no
        // share of its address (a Prometheus beside a chat client on one address), and a
        // ban for wrong passwords is about the chat.
        #[cfg(feature = "metrics")]
        if wire == Wire::Metrics {
            return Ok(None);
        }
        let _ = wire;
        let key = key_of(addr.ip(), self.config.limit_loopback);
        self.admission.admit(key, now)
    }

    /// `REGISTER` carried a wrong password or none (its `ERROR` is queued): counted for the
    /// connection, which the last allowed one closes (after that `ERROR`), and for its
    /// address, which enough of them ban.
    pub(super) fn wrong_password(&mut self, key: usize, now: u64) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.wrong_passwords = conn.wrong_passwords.saturating_add(1);
        self.stats.wrong_passwords += 1;
        let (wrong, address) = (conn.wrong_passwords, conn.address);
        if let Some(banned) = self.admission.wrong_password(address, now) {
            if self.log.allow(Kind::Banned, now) {
                let s = BAN_WINDOW_MS / 1000;
                warn!("banned {banned} for {s} s: {MAX_FAILURES} wrong passwords within {s} s");
            }
        }
        if wrong >= MAX_WRONG_PASSWORDS_PER_CONNECTION {
            self.close(key, Reason::WrongPasswords);
        }
    }
}
