//! Listening: one listener per address `--listen`, `--http`, `--listen-plain` and
//! `--metrics` resolved to, bound and registered when the server starts (`Server::bind`,
//! here too), and logged; each remembers what its connections speak first and whether
//! they speak TLS. Accepting from them is `accept.rs`.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Instant;

use log::{info, warn};
use mio::net::TcpListener;
use mio::{Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::buffer::{SpareBuffer, Wire};
use crate::server::admission::Admission;
use crate::server::chat::{Chat, Limits};
use crate::server::engine::Engine;
use crate::server::keyset::KeySet;
use crate::server::loglimit::LogLimit;
use crate::server::outboxes::Outboxes;
use crate::server::stats::Stats;
use crate::wheel::Wheel;

use super::accept::Accept;
use super::announce::{Announcer, ANNOUNCER};
use super::lifecycle::Run;
use super::{Config, Server, SIGNALS, TICK_MS, WHEEL_SLOTS};

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
    pub(super) socket: TcpListener,
    /// It reported connections that are not yet accepted until `WouldBlock`.
    pub(super) waiting: bool,
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

/// The engine `--engine` chose. Without the `engine` feature, `EngineChoice::parse` has
/// already refused anything but memory.
fn engine_for(config: &Config) -> Engine {
    match &config.engine {
        #[cfg(feature = "engine")]
        crate::server::engine::EngineChoice::Redis { addr, .. } => Engine::Redis(Box::new(
            crate::server::engine::redis::Redis::new(*addr, config.lease_ms, config.max_members),
        )),
        _ => Engine::Memory,
    }
}

impl Server {
    /// Binds a listener on every address of `config.listen` (see `bind_listeners` for port 0 and
    /// addresses this machine lacks) and sets up the poll, the signals and the timers.
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        #[cfg(feature = "tls")]
        let tls = match &config.tls {
            Some(files) => Some(
                crate::tls::server_config(&files.cert, &files.key)
                    .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        if config.tls.is_some() {
            let why = "TLS (--tls-cert) needs the `tls` feature, which this build lacks";
            return Err(io::Error::new(ErrorKind::Unsupported, why));
        }
        let listeners = bind_all(&config, &poll)?;
        #[cfg(feature = "web")]
        let site = crate::server::web::Site::new(&config.allow_origins, config.tls.is_some());
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let announcer = match &config.announce {
            Some(announce) => Some(Announcer::bind(announce, &listeners, &poll)?),
            None => None,
        };
        let admission = Admission::new(config.max_connections_per_ip);
        let mut server = Server {
            poll,
            listeners,
            signals,
            conns: Slab::new(),
            chat: Chat::new(Limits {
                max_members: config.max_members,
            }),
            engine: engine_for(&config),
            out: Outboxes::new(config.trace, config.max_output_total),
            spare: SpareBuffer::default(),
            wheel: Wheel::new(TICK_MS, WHEEL_SLOTS, 0),
            config,
            started: Instant::now(),
            next_generation: 0,
            ready: KeySet::default(),
            settling: KeySet::default(),
            accept: Accept::Running,
            run: Run::Serving,
            presence_timer: None,
            log: LogLimit::default(),
            log_timer: None,
            #[cfg(feature = "web")]
            site,
            #[cfg(feature = "tls")]
            tls,
            announcer,
            admission,
            stats: Stats::default(),
        };
        server.start_announcing();
        #[cfg(feature = "engine")]
        server.start_engine(0);
        Ok(server)
    }

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
}

/// The addresses of the listeners that speak `wire` first.
pub(super) fn addrs_of(listeners: &[Listener], wire: Wire) -> io::Result<Vec<SocketAddr>> {
    (listeners.iter())
        .filter(|listener| listener.wire == wire)
        .map(Listener::local_addr)
        .collect()
}
