//! Connections coming and going: accepting, closing at the safe point, and shutting down.
//!
//! These are phases 6 and 8 of the loop (see `event_loop.rs`), and the signal handler. A
//! connection is never removed where its closing is decided: a handler or an I/O error only
//! marks it closing; it leaves the chat in [`Server::retire_closing`] and its socket goes in
//! [`Server::remove_closed`], after the event batch.

use std::io::{self, ErrorKind, Read};
use std::net::Shutdown;

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::buffer::ReadBuf;
use crate::protocol::encode_error;

use super::{Io, Reason, Server, Timer};

/// How long a closing connection may take to take its last output and close its end. A
/// peer that neither reads nor closes is cut off after this.
const LINGER_MS: u64 = 5_000;

/// When accept fails for lack of file descriptors, try again after this long (or as soon as
/// a connection closes), instead of spinning on an accept that keeps failing.
const ACCEPT_RETRY_MS: u64 = 100;

/// On SIGINT or SIGTERM, how long queued output may take to drain before the server exits
/// anyway.
const SHUTDOWN_GRACE_MS: u64 = 2_000;

/// Bytes discarded per read from a closing connection (a stack buffer; never kept).
const DISCARD_CHUNK: usize = 4096;

impl Server {
    /// Whether `key` still holds the connection of this generation, and not a newer one
    /// that reused the slab key.
    pub(super) fn is_current(&self, key: usize, generation: u64) -> bool {
        self.ios
            .get(key)
            .is_some_and(|io| io.generation == generation)
    }

    /// Step 6: connections that started closing leave the chat now. Those that still have
    /// output to write get a deadline to write it.
    pub(super) fn retire_closing(&mut self, now: u64) {
        for key in self.chat.take_closing() {
            let Some(io) = self.ios.get_mut(key) else {
                continue;
            };
            let generation = io.generation;
            if let Some(timer) = io.deadline.take() {
                self.wheel.cancel(timer);
            }
            let reason = self.chat.closing_reason(key).unwrap_or(Reason::Broken);
            if reason.flushes() {
                let linger = Timer::Linger { key, generation };
                io.deadline = Some(self.wheel.insert(now + LINGER_MS, linger));
            }
            match self.chat.user(key) {
                Some(user) => info!("disconnect {} (conn {key}): {reason}", user.name),
                None => info!("disconnect conn {key}: {reason}"),
            }
            self.chat.retire(key);
            self.closing.push((key, generation));
        }
    }

    /// Step 8, first half: remove closing connections that are done. A connection that
    /// closes with output flushes it, shuts its sending side (the peer sees end of stream
    /// right after the last line) and waits for the peer's end of stream, discarding any
    /// input meanwhile. Closing a socket with unread input would send a reset, which can
    /// destroy the very `ERROR` line that explains the close.
    pub(super) fn remove_closed(&mut self) {
        let mut still_closing = Vec::new();
        for (key, generation) in std::mem::take(&mut self.closing) {
            if !self.is_current(key, generation) {
                continue;
            }
            let flushed = self.chat.outbox(key).is_none_or(|out| out.is_empty());
            let reason = self.chat.closing_reason(key).unwrap_or(Reason::Broken);
            if !reason.flushes() {
                self.remove(key);
                continue;
            }
            if !flushed {
                still_closing.push((key, generation));
                continue;
            }
            let Some(io) = self.ios.get_mut(key) else {
                continue;
            };
            if !io.shut_down {
                let _ = io.socket.shutdown(Shutdown::Write);
                io.shut_down = true;
            }
            // A server going down does not wait for every client to close its end.
            if reason == Reason::Shutdown || drain_until_end(&mut io.socket) {
                self.remove(key);
            } else {
                still_closing.push((key, generation));
            }
        }
        self.closing = still_closing;
    }

    /// Deregisters, drops and forgets one connection.
    pub(super) fn remove(&mut self, key: usize) {
        if !self.ios.contains(key) {
            return;
        }
        let mut io = self.ios.remove(key);
        let _ = self.poll.registry().deregister(&mut io.socket);
        if let Some(timer) = io.deadline.take() {
            self.wheel.cancel(timer);
        }
        let reason = self.chat.closing_reason(key).unwrap_or(Reason::Broken);
        trace!(self.config.trace, "conn {key}: close ({reason})");
        self.chat.remove(key);
        // A descriptor is free again: if accept was stalled for lack of one, resume.
        self.accept_paused = false;
    }

    /// Step 8, second half: accept until `WouldBlock`.
    pub(super) fn accept(&mut self, now: u64) {
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let (mut socket, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // The waiting connections stay in the kernel's queue; retrying at once
                    // would fail again and spin the loop. Logged once per episode.
                    if !self.accept_stalled {
                        warn!("accept paused: {e}; resuming when a connection closes");
                        self.accept_stalled = true;
                    }
                    self.accept_paused = true;
                    self.wheel.insert(now + ACCEPT_RETRY_MS, Timer::AcceptRetry);
                    return;
                }
                Err(e) => {
                    // For example a connection reset while queued: that one only.
                    debug!("accept failed: {e}");
                    continue;
                }
            };
            if self.ios.len() >= self.config.max_connections {
                // A fresh socket's send buffer is empty, so this short line fits in one
                // write; if it does not, the client just sees the close.
                let _ = io::Write::write(&mut socket, &encode_error("server full"));
                info!("refused {addr}: server full");
                continue;
            }
            if self.accept_stalled {
                info!("accept resumed");
                self.accept_stalled = false;
            }
            let key = self.ios.vacant_entry().key();
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut socket, Token(key), Interest::READABLE)
            {
                warn!("register {addr} failed: {e}");
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
            self.ios.insert(Io {
                socket,
                input: ReadBuf::new(),
                generation,
                readable: true,
                wants_write: false,
                shut_down: false,
                deadline: Some(timer),
            });
            let chat_key = self.chat.connect();
            debug_assert_eq!(chat_key, key, "the chat and the sockets share keys");
            trace!(self.config.trace, "accept {addr} as conn {key}");
            info!("connect {addr} (conn {key})");
        }
    }

    /// SIGINT or SIGTERM: stop accepting, let every connection write what is queued, and
    /// exit when all have closed or the grace period ends.
    pub(super) fn on_signal(&mut self, now: u64) {
        let signals: Vec<i32> = self.signals.pending().collect();
        if signals.is_empty() || self.shutting_down {
            return;
        }
        info!("signal {signals:?}: shutting down");
        self.shutting_down = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for (key, _) in self.ios.iter() {
            self.chat.close(key, Reason::Shutdown);
        }
        self.wheel
            .insert(now + SHUTDOWN_GRACE_MS, Timer::ShutdownDeadline);
    }
}

/// Reads and discards until `WouldBlock` (`false`) or end of stream or error (`true`).
fn drain_until_end(socket: &mut TcpStream) -> bool {
    let mut scratch = [0u8; DISCARD_CHUNK];
    loop {
        match socket.read(&mut scratch) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
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
