//! The flush: phase 4 of a pass, the only place queued output reaches a socket.

use log::debug;

use crate::buffer::Flushed;

use super::lifecycle::State;
use super::{Reason, Server};

impl Server {
    /// Phase 4: write every outbox with queued output until it is empty or `WouldBlock`.
    /// First the maps owed in this pass are encoded into their places, and connections
    /// dropped for the bound on all queued output start closing.
    pub(super) fn flush_dirty(&mut self) {
        self.chat.send_owed_maps(&mut self.out);
        for key in self.out.take_evicted() {
            self.stats.slow_readers += 1;
            self.abandon(key, Reason::SlowReader);
        }
        for key in self.out.take_dirty() {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let queued = self.out.queued(key);
            let Some(written) = self.out.write(key, &mut conn.stream) else {
                continue;
            };
            // Over TLS, records the socket did not take wait in rustls: written here too,
            // and a socket that will not take them waits for a writable event.
            let written = written.and_then(|flushed| {
                let blocked = conn.stream.write_records()?;
                Ok(Flushed {
                    blocked: flushed.blocked || blocked,
                    ..flushed
                })
            });
            let blocked = match written {
                Ok(Flushed { written, blocked }) => {
                    self.stats.wrote(written, conn.transport.is_scrape());
                    let how = if blocked { ", then would block" } else { "" };
                    let trace = self.config.trace;
                    trace!(
                        trace,
                        "conn {key}: flush wrote {written} of {queued} bytes{how}"
                    );
                    blocked
                }
                Err(e) => {
                    debug!("conn {key}: write failed: {e}");
                    self.abandon(key, Reason::after_error(&e));
                    continue;
                }
            };
            // A client that does not read must not hold the server's memory. Checked after
            // the write, not while queueing, so a healthy reader that gets a burst in one
            // pass is not mistaken for a slow one. Only while open: a closing connection's
            // queue no longer grows, and its linger deadline bounds how long it is kept.
            if blocked && conn.state == State::Open && self.out.queued(key) > self.config.max_output
            {
                self.stats.slow_readers += 1;
                self.close(key, Reason::SlowReader);
                continue;
            }
            if !blocked && conn.state != State::Open {
                // Its last output is written: its closing can move on.
                self.settling.insert(key);
            }
            self.out.release(key);
            conn.write_blocked = blocked;
        }
    }
}
