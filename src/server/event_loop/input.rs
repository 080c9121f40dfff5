//! Serving input: phase 2 of a pass, the only place a connection's socket is read (while it
//! is open), and the two limits on how it sends: its line rate and its line deadline.
//!
//! * **Line rate.** Each line served spends a token of the connection's bucket
//!   (`line_rate.rs`). Out of tokens, it is *throttled*: it leaves the ready set, its input
//!   stays where it is (in its buffer and in the kernel), and one `Unthrottle` timer on the
//!   wheel puts it back when its next token is due. Its `readable` flag is kept, so bytes
//!   the kernel announced before are still read then: the events are edge-triggered and
//!   will not be repeated.
//! * **Line deadline.** A line must arrive within `--line-timeout-ms` of its first byte.
//!   `line_since` says when the unfinished line in the buffer was first seen, and is
//!   cleared when a line is served. One `LineDeadline` timer per connection is enough: when
//!   it fires it looks at `line_since` and either closes the connection, or waits for the
//!   deadline of a newer unfinished line, or (between lines) goes away. So a connection
//!   whose every read ends mid-line arms at most one timer per timeout, not one per read.

use std::io::ErrorKind;

use log::debug;

use crate::buffer::{Drain, Got};

use super::lifecycle::State;
use super::transport::{self, Unit, Violation};
use super::{dispatch, Ctx, Reason, Server, Timer, MAX_BYTES_PER_WAKE, MAX_FRAMES_PER_WAKE};

impl Server {
    /// Phase 2: every ready connection, once; those that spent their budget stay ready.
    pub(super) fn serve_ready(&mut self, now: u64) {
        for key in self.ready.take() {
            if self.serve(key, now) {
                self.ready.insert(key);
            }
            // Reading TLS makes records (the handshake's, and the lines written while it
            // went on, once it ends): the flush writes them.
            if self.conns.get(key).is_some_and(|c| c.stream.owes_records()) {
                self.out.mark_writable(key);
            }
        }
    }

    /// Phase 2 for one connection: handle buffered lines, read more when none is complete,
    /// until `WouldBlock`, end of stream, closing, or the line budget or the tokens are
    /// spent. Returns `true` if the budget ran out with input possibly left.
    fn serve(&mut self, key: usize, now: u64) -> bool {
        let (max_line, trace, rate) = (
            self.config.max_line,
            self.config.trace,
            self.config.max_line_rate,
        );
        if let (Some(conn), Some(rate)) = (self.conns.get_mut(key), rate) {
            conn.bucket.refill(rate, now);
        }
        let (mut handled, mut bytes) = (0, 0);
        loop {
            // A connection waiting for the engine's answer reads no further line: its
            // order is kept, and the answer resumes it (`engine.rs`).
            let Some(conn) = self
                .conns
                .get_mut(key)
                .filter(|c| c.state == State::Open && !c.waiting)
            else {
                return false;
            };
            if handled == MAX_FRAMES_PER_WAKE || bytes >= MAX_BYTES_PER_WAKE {
                return true;
            }
            if rate.is_some() && !conn.bucket.has_token() {
                self.throttle(key, now);
                return false;
            }
            // Buffered lines first, and read only when no line is complete: the buffer then
            // never holds much more than one line limit plus one read.
            let unit = transport::next_unit(
                &mut conn.transport,
                &mut conn.input,
                max_line,
                #[cfg(feature = "web")]
                &self.site,
            );
            match unit {
                Ok(Some(unit)) => {
                    handled += 1;
                    bytes += unit.len();
                    conn.bucket.spend();
                    match unit {
                        Unit::Line(line) => {
                            conn.line_since = None;
                            trace!(trace, "conn {key}: frame complete ({} bytes)", line.len());
                            let mut ctx = Ctx {
                                chat: &mut self.chat,
                                engine: &mut self.engine,
                                generation: conn.generation,
                                out: &mut self.out,
                                password: self.config.password.as_ref(),
                                stats: &mut self.stats,
                            };
                            let effect = dispatch::dispatch(&mut ctx, key, line);
                            self.apply(key, effect, now);
                        }
                        #[cfg(feature = "metrics")]
                        Unit::Scrape(ask) => self.on_scrape(key, ask),
                        #[cfg(feature = "web")]
                        unit => {
                            let event = super::web::Event::of(unit);
                            // Between messages (not within a fragmented one), the line
                            // deadline starts again.
                            if !conn.transport.has_partial() {
                                conn.line_since = None;
                            }
                            self.on_web(key, event);
                        }
                    }
                }
                Ok(None) if conn.readable => {
                    match conn.input.read_some(&mut conn.stream, &mut self.spare) {
                        Ok(Got { n: 0, .. }) => {
                            trace!(trace, "conn {key}: readable, end of stream");
                            self.close(key, Reason::Closed);
                        }
                        Ok(got) => {
                            self.stats.read(got.n, conn.transport.is_scrape());
                            trace!(trace, "conn {key}: readable, read {} bytes", got.n);
                            // On epoll a short read drained the socket: the read after it
                            // would only say `WouldBlock`, and new bytes raise a new edge.
                            if conn.stream.drain(Drain::after(conn.closed)).ends_at(got) {
                                conn.readable = false;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            (conn.readable, conn.closed) = (false, false);
                            self.line_pending(key, now);
                            return false;
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == ErrorKind::InvalidData && conn.stream.is_tls() => {
                            // Not TLS, or a failed handshake: rustls has queued an alert,
                            // which is all this connection is sent before it closes.
                            debug!("conn {key}: TLS failed: {e}");
                            self.out.discard(key);
                            self.out.mark_writable(key);
                            self.close(key, Reason::TlsFailed);
                        }
                        Err(e) => {
                            debug!("conn {key}: read failed: {e}");
                            self.abandon(key, Reason::after_error(&e));
                        }
                    }
                }
                Ok(None) => {
                    // Drained at a short read, no read after the last line handed the
                    // buffer on: an idle connection must hold none.
                    conn.input.release_if_empty(&mut self.spare);
                    self.line_pending(key, now);
                    return false;
                }
                Err(violation) => self.violation(key, violation),
            }
        }
    }

    /// Input that breaks its framing: the connection is told why, in its transport's way,
    /// and closed.
    fn violation(&mut self, key: usize, violation: Violation) {
        debug!("conn {key}: framing violation: {violation}");
        match violation {
            #[cfg(feature = "web")]
            Violation::Http(refusal) => {
                self.out
                    .send_raw(key, &crate::server::web::refusal(refusal));
            }
            #[cfg(feature = "web")]
            Violation::WebSocket(e) => {
                self.out.send_error(key, &format!("{violation}; closing"));
                self.set_close_code(key, e.close_code());
            }
            Violation::Line(_) => self.out.send_error(key, &format!("{violation}; closing")),
        }
        self.close(key, Reason::Violation);
    }

    /// Out of tokens: not served again until the `Unthrottle` timer (one at a time) says a
    /// token is due. Readiness events meanwhile only keep `readable` set.
    fn throttle(&mut self, key: usize, now: u64) {
        let Some(rate) = self.config.max_line_rate else {
            return;
        };
        let Some(conn) = self.conns.get_mut(key).filter(|c| !c.throttled) else {
            return;
        };
        conn.throttled = true;
        let at = now + conn.bucket.ms_until_token(rate);
        let generation = conn.generation;
        trace!(
            self.config.trace,
            "conn {key}: out of line tokens until {at} ms"
        );
        self.wheel.insert(at, Timer::Unthrottle { key, generation });
    }

    /// The `Unthrottle` timer: a token is due, so the connection is served again.
    pub(super) fn unthrottle(&mut self, key: usize, generation: u64) {
        if !self.is_current(key, generation) {
            return;
        }
        let conn = &mut self.conns[key];
        conn.throttled = false;
        if conn.state == State::Open {
            self.ready.insert(key);
        }
    }

    /// Serving stopped with no complete line buffered: if part of one is, its deadline
    /// runs from now (unless it was already running), and a timer is armed if none is.
    fn line_pending(&mut self, key: usize, now: u64) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let partial = !conn.input.is_empty() || conn.transport.has_partial();
        if !partial || conn.line_since.is_some() {
            return;
        }
        conn.line_since = Some(now);
        if conn.line_timer.is_none() {
            let at = now + self.config.line_timeout_ms;
            let generation = conn.generation;
            conn.line_timer = Some(
                self.wheel
                    .insert(at, Timer::LineDeadline { key, generation }),
            );
        }
    }

    /// The `LineDeadline` timer: closes the connection if its unfinished line started too
    /// long ago, waits for the deadline of a newer one, or, between lines, goes away.
    pub(super) fn line_deadline(&mut self, key: usize, generation: u64, now: u64) {
        if !self.is_current(key, generation) {
            return;
        }
        let timeout = self.config.line_timeout_ms;
        let conn = &mut self.conns[key];
        conn.line_timer = None;
        let Some(since) = conn.line_since.filter(|_| conn.state == State::Open) else {
            return;
        };
        if now >= since + timeout {
            debug!("conn {key}: line not finished after {timeout} ms");
            let text = format!("line not finished within {}; closing", duration(timeout));
            self.out.send_error(key, &text);
            self.close(key, Reason::LineTimeout);
        } else {
            let timer = Timer::LineDeadline { key, generation };
            conn.line_timer = Some(self.wheel.insert(since + timeout, timer));
        }
    }
}

/// A duration as a client reads it: whole seconds when it is some.
fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}
