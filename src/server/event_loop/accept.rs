//! Accepting connections: the last phase of a pass, so a slot freed in the pass is usable
//! at once.

use std::io::{self, ErrorKind};

use log::{debug, info, warn};
use mio::{Interest, Token};

use crate::buffer::ReadBuf;
use crate::protocol::encode_error;

use super::lifecycle::State;
use super::{Conn, Kind, Server, Timer};
use crate::server::line_rate::Bucket;

/// When accept fails for lack of file descriptors, try again after this long (or as soon as
/// a connection closes), instead of spinning on an accept that keeps failing.
const ACCEPT_RETRY_MS: u64 = 100;

/// Where accepting stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accept {
    /// The listener said `WouldBlock` last time: wait for its next event.
    Idle,
    /// The listener reported connections: accept them in this pass.
    Ready,
    /// Out of file descriptors: the waiting connections stay in the kernel's queue until
    /// the retry timer fires or a connection closes.
    Paused,
    /// Paused, and now worth another try.
    Retry,
}

impl Accept {
    /// The listener's readiness event. While paused, it changes nothing: the retry does.
    pub(super) fn listener_ready(&mut self) {
        if *self == Accept::Idle {
            *self = Accept::Ready;
        }
    }

    /// A descriptor may be free again (a connection closed, or the retry timer fired).
    pub(super) fn retry(&mut self) {
        if *self == Accept::Paused {
            *self = Accept::Retry;
        }
    }
}

impl Server {
    /// Phase 6: accept until `WouldBlock`, if the listener has connections waiting.
    pub(super) fn accept_pending(&mut self, now: u64) {
        if !matches!(self.accept, Accept::Ready | Accept::Retry) {
            return;
        }
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let (mut socket, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.accept = Accept::Idle;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // Retrying at once would fail again and spin the loop. Logged once per
                    // episode: a retry that fails again says nothing new.
                    if self.accept == Accept::Ready && self.log.allow(Kind::AcceptPaused, now) {
                        warn!("accept paused: {e}; resuming when a connection closes");
                    }
                    self.accept = Accept::Paused;
                    self.wheel.insert(now + ACCEPT_RETRY_MS, Timer::AcceptRetry);
                    return;
                }
                Err(e) => {
                    // For example a connection reset while queued: that one only.
                    debug!("accept failed: {e}");
                    continue;
                }
            };
            if self.accept == Accept::Retry {
                if self.log.allow(Kind::AcceptPaused, now) {
                    info!("accept resumed");
                }
                self.accept = Accept::Ready;
            }
            if self.conns.len() >= self.config.max_connections {
                // A fresh socket's send buffer is empty, so this short line fits in one
                // write; if it does not, the client just sees the close.
                let _ = io::Write::write(&mut socket, &encode_error("server full"));
                if self.log.allow(Kind::Refused, now) {
                    info!("refused {addr}: server full");
                }
                continue;
            }
            let key = self.conns.vacant_entry().key();
            let registry = self.poll.registry();
            if let Err(e) = registry.register(&mut socket, Token(key), Interest::READABLE) {
                if self.log.allow(Kind::PollRegisterFailed, now) {
                    warn!("register {addr} failed: {e}");
                }
                continue;
            }
            // Replies are small and latency matters more than packet count.
            let _ = socket.set_nodelay(true);
            let generation = self.next_generation;
            self.next_generation += 1;
            let deadline = now + self.config.register_timeout_ms;
            let timer = self
                .wheel
                .insert(deadline, Timer::RegisterDeadline { key, generation });
            self.conns.insert(Conn {
                socket,
                input: ReadBuf::new(),
                generation,
                state: State::Open,
                // Registering reports what it sent before it was accepted as an event.
                readable: false,
                wants_write: false,
                deadline: Some(timer),
                bucket: Bucket::full(self.config.max_line_rate.unwrap_or_default(), now),
                throttled: false,
                line_since: None,
                line_timer: None,
            });
            self.out.open(key);
            trace!(self.config.trace, "accept {addr} as conn {key}");
            if self.log.allow(Kind::Connect, now) {
                info!("connect {addr} (conn {key})");
            }
        }
    }
}

/// The process or the system is out of file descriptors (or of memory for sockets).
fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
