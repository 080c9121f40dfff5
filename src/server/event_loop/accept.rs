//! Listening and accepting. The server listens on every address `--listen` resolved to,
//! one listener each; accepting is the last phase of a pass, so a slot freed in the pass is
//! usable at once, and every listener with connections waiting is served in each pass.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Poll, Token};

use crate::buffer::{ReadBuf, Wire};
use crate::protocol::encode_error;

use super::announce::ANNOUNCER;
use super::lifecycle::{State, DISCARD_CHUNK};
use super::stream::Stream;
use super::transport::Transport;
use super::{Config, Conn, Kind, Server, Timer};
use crate::server::admission::Refused;
use crate::server::line_rate::Bucket;
#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// When accept fails for lack of file descriptors, try again after this long (or as soon as
/// a connection closes), instead of spinning on an accept that keeps failing.
const ACCEPT_RETRY_MS: u64 = 100;

/// With port 0 and several addresses, every listener takes the port the first one got (one
/// server, one port); if another process holds that port on a later address, binding starts
/// over with a fresh port, at most this many times. A clash needs another socket on the
/// very port the kernel just chose, so one more try almost always suffices.
const PORT_ZERO_ATTEMPTS: usize = 8;

/// Listener `i`'s token: counted down from just below [`ANNOUNCER`], far above any slab key.
fn listener_token(i: usize) -> Token {
    Token(ANNOUNCER.0 - 1 - i)
}

/// One listening socket.
#[derive(Debug)]
pub(super) struct Listener {
    socket: TcpListener,
    /// It reported connections that are not yet accepted until `WouldBlock`.
    waiting: bool,
    /// What its connections speak at first: protocol lines (`--listen`), or HTTP (`--http`).
    pub(super) wire: Wire,
    /// Its connections speak TLS first (`--tls-cert`).
    pub(super) tls: bool,
}

impl Listener {
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub(super) fn deregister(&mut self, poll: &Poll) {
        let _ = poll.registry().deregister(&mut self.socket);
    }
}

/// Binds and registers every listener: one per `--listen` address, then (the `web`
/// feature) one per `--http` address, all speaking TLS if the server has a certificate;
/// then one per `--listen-plain` address, which never does; then (the `metrics` feature)
/// one per `--metrics` address, plain HTTP.
pub(super) fn bind_all(config: &Config, poll: &Poll) -> io::Result<Vec<Listener>> {
    let tls = config.tls.is_some();
    let mut listeners = bind_listeners(&config.listen, Wire::Lines, tls)?;
    #[cfg(feature = "web")]
    listeners.extend(bind_listeners(&config.http, Wire::Http, tls)?);
    #[cfg(not(feature = "web"))]
    if !config.http.is_empty() {
        let why = "the page (--http) needs the `web` feature, which this build lacks";
        return Err(io::Error::new(ErrorKind::Unsupported, why));
    }
    listeners.extend(bind_listeners(&config.listen_plain, Wire::Lines, false)?);
    #[cfg(feature = "metrics")]
    listeners.extend(bind_listeners(&config.metrics, Wire::Metrics, false)?);
    #[cfg(not(feature = "metrics"))]
    if !config.metrics.is_empty() {
        let why = "--metrics needs the `metrics` feature, which this build lacks";
        return Err(io::Error::new(ErrorKind::Unsupported, why));
    }
    for (i, listener) in listeners.iter_mut().enumerate() {
        (poll.registry()).register(&mut listener.socket, listener_token(i), Interest::READABLE)?;
    }
    Ok(listeners)
}

/// Binds a listener on every address, in order, once each. With port 0 they share the port
/// the first one got. An address this machine does not have (a name that also resolves to
/// `::1` where IPv6 is off) is skipped with a warning while another is bound; any other
/// failure (the port in use, no permission) fails, naming the address.
fn bind_listeners(addrs: &[SocketAddr], wire: Wire, tls: bool) -> io::Result<Vec<Listener>> {
    let mut unique: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        if !unique.contains(addr) {
            unique.push(*addr);
        }
    }
    let mut attempt = 1;
    loop {
        match bind_once(&unique) {
            Err((e, i)) if i > 0 && unique[0].port() == 0 && e.kind() == ErrorKind::AddrInUse => {
                if attempt == PORT_ZERO_ATTEMPTS {
                    return Err(e);
                }
                attempt += 1;
            }
            Err((e, _)) => return Err(e),
            Ok(sockets) => {
                let listener = |socket| Listener {
                    socket,
                    waiting: false,
                    wire,
                    tls,
                };
                return Ok(sockets.into_iter().map(listener).collect());
            }
        }
    }
}

/// One try at binding every address; on failure, the error and the index that failed.
fn bind_once(addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, (io::Error, usize)> {
    let mut sockets: Vec<TcpListener> = Vec::with_capacity(addrs.len());
    let mut port = None;
    let mut skipped = None;
    for (i, addr) in addrs.iter().enumerate() {
        let mut addr = *addr;
        if addr.port() == 0 {
            addr.set_port(port.unwrap_or(0));
        }
        let (failed, not_here) = match TcpListener::bind(addr) {
            Ok(socket) => {
                port = port.or(socket.local_addr().ok().map(|a| a.port()));
                sockets.push(socket);
                continue;
            }
            Err(e) => (
                io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")),
                is_not_here(&e),
            ),
        };
        if addrs.len() == 1 || !not_here {
            return Err((failed, i));
        }
        warn!("{failed}: skipped, this machine lacks the address");
        skipped = Some((failed, i));
    }
    match skipped {
        Some(failed) if sockets.is_empty() => Err(failed),
        _ => Ok(sockets),
    }
}

/// The address is not one of this machine's, or its family is switched off.
fn is_not_here(e: &io::Error) -> bool {
    e.kind() == ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

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
    /// The addresses actually bound for the protocol over TCP (useful with port 0), one per
    /// listener; none once shutting down.
    pub fn local_addrs(&self) -> io::Result<Vec<std::net::SocketAddr>> {
        self.addrs_of(crate::buffer::Wire::Lines)
    }

    /// The addresses the page and its WebSocket are served on (`--http`).
    #[cfg(feature = "web")]
    pub fn http_addrs(&self) -> io::Result<Vec<std::net::SocketAddr>> {
        self.addrs_of(crate::buffer::Wire::Http)
    }

    fn addrs_of(&self, wire: crate::buffer::Wire) -> io::Result<Vec<std::net::SocketAddr>> {
        addrs_of(&self.listeners, wire)
    }

    /// Says where the server listens, one line per listener: protocol lines first, as
    /// `listening on ADDR` (what scripts and tests wait for), then the page.
    pub(super) fn log_listeners(&self) -> io::Result<()> {
        let tls = self.config.tls.as_ref();
        for listener in self.listeners.iter().filter(|l| l.wire == Wire::Lines) {
            let addr = listener.local_addr()?;
            match (listener.tls, tls) {
                (true, _) | (false, None) => info!("listening on {addr}"),
                (false, Some(_)) => info!("listening on {addr} without TLS (--listen-plain)"),
            }
        }
        #[cfg(feature = "web")]
        for listener in self.listeners.iter().filter(|l| l.wire == Wire::Http) {
            let scheme = if listener.tls { "https" } else { "http" };
            info!("web page at {scheme}://{}/", listener.local_addr()?);
        }
        if let Some(files) = tls {
            let cert = files.cert.display();
            info!("TLS on every --listen and --http address, with the certificate in {cert}");
        }
        Ok(())
    }

    /// Phase 1 for a listener's readiness event (`false` if `token` is no listener's). While
    /// paused it is only remembered: the retry serves it.
    pub(super) fn listener_ready(&mut self, token: Token) -> bool {
        let Some(i) = (ANNOUNCER.0 - 1)
            .checked_sub(token.0)
            .filter(|i| *i < self.listeners.len())
        else {
            return false;
        };
        self.listeners[i].waiting = true;
        true
    }

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

/// The addresses of the listeners that speak `wire` first.
pub(super) fn addrs_of(listeners: &[Listener], wire: Wire) -> io::Result<Vec<SocketAddr>> {
    (listeners.iter())
        .filter(|listener| listener.wire == wire)
        .map(Listener::local_addr)
        .collect()
}
