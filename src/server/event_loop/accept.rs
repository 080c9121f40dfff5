//! Accepting, the last phase of a pass, so a slot freed in the pass is usable at once;
//! every listener (`listen.rs`) with connections waiting is served in each pass. A new
//! connection is admitted (`admission.rs`), or refused at no more cost than the accept,
//! and gets its stream: plain, or TLS over it.

use std::io::{self, ErrorKind};

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Token};

use crate::buffer::{ReadBuf, Wire};
use crate::protocol::encode_error;

use super::lifecycle::{State, DISCARD_CHUNK};
use super::stream::Stream;
use super::transport::Transport;
use super::{Conn, Kind, Server, Timer};
use crate::server::admission::Refused;
use crate::server::line_rate::Bucket;
#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// When accept fails for lack of file descriptors, try again after this long (or as soon as
/// a connection closes), instead of spinning on an accept that keeps failing.
const ACCEPT_RETRY_MS: u64 = 100;

/// Where accepting stands (for all listeners together: descriptors are the process's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Accept {
    /// Accepting from every listener that has connections waiting.
    Running,
    /// Out of file descriptors: the waiting connections stay in the kernel's queues until
    /// the retry timer fires or a connection closes.
    Paused,
    /// Paused, and now worth another try.
    Retry,
}

impl Accept {
    /// A descriptor may be free again (a connection closed, or the retry timer fired).
    pub(super) fn retry(&mut self) {
        if *self == Accept::Paused {
            *self = Accept::Retry;
        }
    }
}

impl Server {
    /// Phase 6: every listener with connections waiting, each until `WouldBlock`.
    pub(super) fn accept_pending(&mut self, now: u64) {
        if self.accept == Accept::Paused {
            return;
        }
        for i in 0..self.listeners.len() {
            if self.listeners[i].waiting {
                self.accept_from(i, now);
            }
            if self.accept == Accept::Paused {
                return;
            }
        }
        // Every listener is drained: a retry is over even if it found nobody waiting.
        self.accept = Accept::Running;
    }

    /// Accepts from listener `i` until `WouldBlock` or out of descriptors.
    fn accept_from(&mut self, i: usize, now: u64) {
        loop {
            let (mut socket, addr) = match self.listeners[i].socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.listeners[i].waiting = false;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // Retrying at once would fail again and spin the loop. Logged once per
                    // episode: a retry that fails again says nothing new.
                    if self.accept == Accept::Running && self.log.allow(Kind::AcceptPaused, now) {
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
                self.accept = Accept::Running;
            }
            let wire = self.listeners[i].wire;
            let address = match self.admit(addr, wire, now) {
                Ok(address) => address,
                Err(why) => {
                    refuse(&mut socket, wire, why, self.listeners[i].tls);
                    self.stats.refused(why);
                    // A ban was logged once, when it began: a banned guesser reconnecting
                    // in a loop writes nothing more.
                    if why != Refused::Banned && self.log.allow(Kind::Refused, now) {
                        info!("refused {addr}: {why}");
                    }
                    continue;
                }
            };
            // Replies are small and latency matters more than packet count.
            let _ = socket.set_nodelay(true);
            let Some(mut stream) = self.stream(i, socket, now) else {
                self.admission.release(address);
                continue;
            };
            let key = self.conns.vacant_entry().key();
            // Both interests, once, for the connection's whole life: a writable edge comes
            // only when a full send buffer drains, so it costs nothing until a write meets
            // `WouldBlock`, and no `reregister` (a system call) is ever needed to ask for it.
            let registry = self.poll.registry();
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = registry.register(stream.tcp(), Token(key), interest) {
                if self.log.allow(Kind::PollRegisterFailed, now) {
                    warn!("register {addr} failed: {e}");
                }
                self.admission.release(address);
                continue;
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            let deadline = now + self.config.register_timeout_ms;
            let timer = self
                .wheel
                .insert(deadline, Timer::RegisterDeadline { key, generation });
            self.conns.insert(Conn {
                stream,
                input: ReadBuf::new(),
                transport: Transport::starting(wire),
                generation,
                state: State::Open,
                // Registering reports what it sent before it was accepted as an event.
                readable: false,
                closed: false,
                write_blocked: false,
                deadline: Some(timer),
                bucket: Bucket::full(self.config.max_line_rate.unwrap_or_default(), now),
                throttled: false,
                waiting: false,
                line_since: None,
                line_timer: None,
                address,
                wrong_passwords: 0,
            });
            self.out.open(key, wire);
            trace!(self.config.trace, "accept {addr} as conn {key}");
            // Scrapes (every 15 s or so) are not the chat's news: not logged at info.
            let scrape = self.conns.get(key).is_some_and(|c| c.transport.is_scrape());
            if !scrape && self.log.allow(Kind::Connect, now) {
                info!("connect {addr} (conn {key})");
            }
        }
    }
}

impl Server {
    /// A new connection's stream: TLS over it if listener `i` speaks TLS. `None` if rustls
    /// could not start a session (it is logged, and the connection dropped).
    fn stream(&mut self, i: usize, socket: mio::net::TcpStream, now: u64) -> Option<Stream> {
        #[cfg(feature = "tls")]
        if let Some(config) = self.tls.as_ref().filter(|_| self.listeners[i].tls) {
            return match rustls::ServerConnection::new(config.clone()) {
                Ok(session) => Some(Stream::Tls(Box::new(TlsStream::new(socket, session)))),
                Err(e) => {
                    if self.log.allow(Kind::PollRegisterFailed, now) {
                        warn!("TLS session could not start: {e}");
                    }
                    None
                }
            };
        }
        let _ = (i, now);
        Some(Stream::Plain(socket))
    }
}

/// Turns away a connection just accepted: it is told `why` in its listener's form (an
/// `ERROR` line, or an HTTP answer; nothing on a TLS listener) and closed. Costs no more than the accept did: no
/// slot, no buffer, no timer.
fn refuse(socket: &mut TcpStream, wire: Wire, why: Refused, tls: bool) {
    // A fresh socket's send buffer is empty, so this short answer fits in one write; if it
    // does not, the client just sees the close. A TLS client is only closed: a refusal
    // must cost no handshake.
    if !tls {
        let _ = io::Write::write(socket, &refusal_answer(wire, why));
    }
    // What the client already sent (a browser's request) is read away, so that closing
    // sends a FIN and not a reset that could destroy the answer.
    let _ = io::Read::read(socket, &mut [0; DISCARD_CHUNK]);
    let _ = socket.shutdown(std::net::Shutdown::Write);
}

/// What a refused connection is told, in its listener's form: a full server is 503 over
/// HTTP, an address over its share 429 (Too Many Requests).
fn refusal_answer(wire: Wire, why: Refused) -> crate::buffer::Line {
    #[cfg(feature = "web")]
    if wire == Wire::Http {
        use crate::server::web::{refusal, Refusal};
        return refusal(match why {
            Refused::Full => Refusal::Full,
            Refused::PerAddress | Refused::Banned => Refusal::TooMany,
        });
    }
    #[cfg(feature = "metrics")]
    if wire == Wire::Metrics {
        return crate::server::metrics::refusal(503);
    }
    let _ = wire;
    encode_error(why.text()).into()
}

/// The process or the system is out of file descriptors (or of memory for sockets).
fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
