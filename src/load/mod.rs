//! The load generator behind `imload`: many simulated clients on one thread and one
//! `mio::Poll` loop, like the server it measures.
//!
//! | file | what it holds |
//! |---|---|
//! | `driver/` | the loop (`mod.rs`), setup: connect at a bounded rate, log in, form groups (`setup.rs`), sending on a clock and counting (`traffic.rs`), the timer for sends due within a millisecond (`wake.rs`), a `--procs` child's start and report (`part.rs`) |
//! | `proto.rs` | what the driver asks of a protocol, and the [`Event`] a server line means |
//! | `im.rs`, `redis.rs`, `irc.rs` | the three protocols: our own, Redis pub/sub (RESP3), IRC |
//! | `link.rs`, `ws/` | how lines travel: TCP, or one WebSocket text frame per line (`--target ws`: the im protocol to imserver's `--http` address) |
//! | `stats.rs` | payload stamps, loss/duplicate/reorder tracking, histograms |
//! | `report.rs` | progress lines and the final report (table and JSON) |
//! | `split.rs`, `procs.rs`, `merge.rs` | `--procs N`: the clients shared in whole groups, the processes started together, their parts merged into one report |
//! | `nodes.rs` | `--server A,B,C`: which server each client connects to (round-robin), and `--server-pid`'s processes summed |
//!
//! A run has four phases. **Setup**: open N connections at `connect_rate` (ws: each
//! upgraded to a WebSocket before anything else is sent), log each in,
//! and make groups of K members a conversation (im: the first member invites, the others
//! join; Redis: `SUBSCRIBE conv:<g>`; IRC: `JOIN #c<g>`). **Send**: from one start time,
//! message `j` is due at `start + j / rate` and goes out from client `j mod N`, whether or
//! not earlier messages have been answered (open loop). The first `warmup` seconds are not
//! measured. **Drain**: after `warmup + duration` nothing more is sent, and the run waits
//! until every message has reached every member, or [`DRAIN_PATIENCE_MS`] passes.
//! **Report**: latency percentiles, rates, bytes, and loss, duplicate and reorder counts.
//!
//! Latency is measured from the time a message was *due* (coordinated omission corrected:
//! a stalled sender does not hide the wait of the messages behind it) and, for comparison,
//! from the time the generator actually queued it (uncorrected).

mod driver;
mod hgrm;
mod im;
mod irc;
mod link;
mod merge;
mod nodes;
mod procs;
mod proto;
mod redis;
mod report;
mod rss;
mod series;
mod split;
mod stats;
mod text;
#[cfg(feature = "web")]
mod ws;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

pub use driver::{run, run_share};
pub use hgrm::write_hgrm;
pub use irc::{parse_irc, IrcLine};
pub use merge::{merge, Part};
pub use nodes::{clients_per_node, node_of, Node, ServerClients, ServerProcess};
pub use procs::run_procs;
pub use proto::Event;
pub use redis::{encode_command, Frame, RespError, RespReader};
pub use report::{Percentiles, Progress, Report};
pub use rss::{cpu_s, rss_kb};
pub use series::Second;
pub use split::{split, Share};
pub use stats::Stamp;

use crate::protocol::PresenceMode;

/// After sending stops, how long the run waits for the last deliveries. Long enough for a
/// saturated server to work off its queues, short enough that a lost message fails the run
/// promptly instead of hanging it.
pub const DRAIN_PATIENCE_MS: u64 = 10_000;

/// How long setup (connect, log in, form groups) may go without any client progressing.
/// A server that stops answering fails the run instead of hanging it; a slow one that
/// keeps registering clients (ngIRCd takes longer per user the more it has) may go on.
pub const SETUP_PATIENCE_MS: u64 = 30_000;

/// Which server the clients talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// imserver, this project's protocol.
    Im,
    /// Redis pub/sub over RESP3.
    Redis,
    /// An IRC server (tested with ngIRCd).
    Irc,
    /// imserver's protocol over WebSocket (its `--http` address, path `/ws`): the im
    /// adapter, one text frame per line. Needs the `web` feature.
    Ws,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Im => "im",
            Target::Redis => "redis",
            Target::Irc => "irc",
            Target::Ws => "ws",
        }
    }

    /// Where a server of this kind listens by default: imserver's main address, or for
    /// `ws` its `--http` address (without the `web` feature there is none; such a run is
    /// refused by [`Settings::check`]).
    pub fn default_server(self) -> SocketAddr {
        let addr = match self {
            #[cfg(feature = "web")]
            Target::Ws => crate::server::web::DEFAULT_HTTP_ADDR,
            _ => crate::protocol::DEFAULT_ADDR,
        };
        addr.parse()
            .expect("the default addresses are IP addresses and ports")
    }
}

/// Everything a run needs; `imload`'s flags map onto it one to one.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The servers under load, at least one: client `i` connects to server `i % n`
    /// ([`node_of`]), so that several nodes of one chat share the clients and the
    /// deliveries cross between them.
    pub servers: Vec<Node>,
    pub target: Target,
    /// Simulated clients, one connection each.
    pub clients: usize,
    /// Members per conversation (the last group takes the remainder).
    pub members: usize,
    /// Message text length in bytes; at least the stamp (see [`Stamp`]).
    pub size: usize,
    /// Messages offered per second, all clients together.
    pub rate: f64,
    /// Measured sending time, seconds.
    pub duration: f64,
    /// Sending time before measuring starts, seconds.
    pub warmup: f64,
    /// New connections per second during setup.
    pub connect_rate: f64,
    /// Local addresses to connect from, in turn; empty: let the kernel choose.
    pub source_ips: Vec<IpAddr>,
    /// Presence mode the im clients register with.
    pub presence: PresenceMode,
    /// Connect and log in, then hold the connections until interrupted.
    pub idle: bool,
    /// Print a progress line to stderr once a second.
    pub progress: bool,
    /// The servers' processes, when known: their resident memory is read before
    /// connecting and at the end (Linux `/proc`), for the memory a connection costs, and
    /// their CPU time at the start and the end of the measured window, for the CPU a
    /// delivery costs; the report sums them and lists each.
    pub server_pids: Vec<u32>,
    /// The server's password (imserver's `--password-file`), for the im clients' `REGISTER`.
    pub password: Option<crate::protocol::Password>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            servers: vec![Node::plain(Target::Im.default_server())],
            target: Target::Im,
            clients: 100,
            members: 10,
            size: 64,
            rate: 1000.0,
            duration: 10.0,
            warmup: 1.0,
            connect_rate: 5000.0,
            source_ips: Vec::new(),
            presence: PresenceMode::None,
            idle: false,
            progress: false,
            server_pids: Vec::new(),
            password: None,
        }
    }
}

impl Settings {
    /// Whether the clients speak TLS (`--tls`: to every server).
    pub fn tls(&self) -> bool {
        self.servers.iter().any(|node| node.tls.is_some())
    }

    /// The smallest `size` this run's messages can have: its longest stamp (see [`Stamp`]),
    /// with the largest sender number, sequence number and times (µs since sending started,
    /// the queued time with a digit to spare for a generator that falls behind) it can
    /// write. A smaller size would make every message longer than asked, so it is refused.
    pub fn min_size(&self) -> usize {
        let digits = |x: u64| x.to_string().len();
        let send_s = (self.warmup + self.duration).max(0.0);
        let window_us = (send_s * 1e6) as u64;
        let messages = (self.rate * send_s).ceil() as u64;
        let per_sender = messages.div_ceil(self.clients.max(1) as u64);
        let sender = self.clients.saturating_sub(1) as u64;
        // `s` and four fields, each followed by a dot.
        1 + digits(sender)
            + digits(per_sender)
            + digits(window_us)
            + digits(window_us.saturating_mul(10))
            + 4
    }

    /// Whether the settings describe a run, and if not, why (naming the flag and the
    /// bound). Nothing is silently raised or lowered: a run is what was asked or nothing.
    pub fn check(&self) -> Result<(), String> {
        let positive = |x: f64| x > 0.0 && x.is_finite();
        if self.clients == 0 {
            return Err("--clients must be at least 1".into());
        }
        if self.servers.is_empty() {
            return Err("--server needs at least one HOST:PORT".into());
        }
        if self.target == Target::Ws && !cfg!(feature = "web") {
            return Err(
                "--target ws needs the `web` feature, and this imload was built \
                        without it (--no-default-features)"
                    .into(),
            );
        }
        if self.tls() && self.target != Target::Im {
            return Err(format!(
                "--tls is for --target im only, not --target {}",
                self.target.name()
            ));
        }
        if self.clients > u32::MAX as usize {
            return Err(format!(
                "--clients must be at most {} (the stamp's sender is 32 bits)",
                u32::MAX
            ));
        }
        if !positive(self.connect_rate) {
            return Err("--connect-rate must be a positive number".into());
        }
        if self.members == 0 {
            return Err("--members must be at least 1".into());
        }
        // An idle run forms no groups and sends nothing: the rest does not apply.
        if self.idle {
            return Ok(());
        }
        if self.members > self.clients {
            return Err(format!(
                "--members must be at most --clients ({}), got {}",
                self.clients, self.members
            ));
        }
        if !positive(self.rate) {
            return Err("--rate must be a positive number".into());
        }
        if !positive(self.duration) {
            return Err("--duration must be a positive number of seconds".into());
        }
        if !(self.warmup >= 0.0 && self.warmup.is_finite()) {
            return Err("--warmup must be 0 or more seconds".into());
        }
        let min = self.min_size();
        if self.size < min {
            return Err(format!(
                "--size must be at least {min} for these --clients, --rate, --warmup and \
                 --duration (the stamp each message carries), got {}",
                self.size
            ));
        }
        Ok(())
    }
}

/// Why a run could not complete.
#[derive(Debug)]
pub enum LoadError {
    /// A connection to the server failed or was refused.
    Connect { addr: SocketAddr, source: io::Error },
    /// Setup stopped progressing (how many clients were ready, of how many).
    SetupTimeout {
        ready: usize,
        clients: usize,
        phase: &'static str,
    },
    /// Interrupted (SIGINT, SIGTERM) before setup finished.
    Interrupted { registered: usize, clients: usize },
    /// The server rejected a step of setup (an error line during login or joining).
    Rejected(String),
    /// The settings cannot describe a run.
    Settings(String),
    /// Polling itself failed.
    Io(io::Error),
    /// `--procs`: a process of the run failed, or could not be started or heard.
    Procs(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Connect { addr, source } => {
                write!(
                    f,
                    "cannot connect to {addr}: {source} (is the server running?)"
                )
            }
            LoadError::SetupTimeout {
                ready,
                clients,
                phase,
            } => {
                write!(
                    f,
                    "setup stalled: {ready} of {clients} clients {phase}, none since {}s",
                    SETUP_PATIENCE_MS / 1000
                )
            }
            LoadError::Interrupted {
                registered,
                clients,
            } => {
                write!(
                    f,
                    "interrupted during setup: {registered} of {clients} clients registered"
                )
            }
            LoadError::Rejected(line) => write!(f, "server rejected setup: {line}"),
            LoadError::Settings(why) => write!(f, "bad settings: {why}"),
            LoadError::Io(e) => write!(f, "event loop failed: {e}"),
            LoadError::Procs(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> LoadError {
        LoadError::Io(e)
    }
}

/// Parses `127.0.0.1-127.0.0.8` (an inclusive IPv4 range) or one address.
pub fn parse_ip_range(text: &str) -> Result<Vec<IpAddr>, String> {
    let bad = || format!("{text:?} is not an address or a range like 127.0.0.1-127.0.0.8");
    let Some((first, last)) = text.split_once('-') else {
        return Ok(vec![text.trim().parse().map_err(|_| bad())?]);
    };
    let first: std::net::Ipv4Addr = first.trim().parse().map_err(|_| bad())?;
    let last: std::net::Ipv4Addr = last.trim().parse().map_err(|_| bad())?;
    let (first, last) = (u32::from(first), u32::from(last));
    if last < first {
        return Err(bad());
    }
    // A range wider than this is surely a typo: 256 addresses already hold millions of
    // connections.
    const MAX_SOURCE_IPS: u32 = 256;
    if last - first >= MAX_SOURCE_IPS {
        return Err(format!(
            "{text:?}: at most {MAX_SOURCE_IPS} source addresses"
        ));
    }
    Ok((first..=last)
        .map(|ip| IpAddr::from(std::net::Ipv4Addr::from(ip)))
        .collect())
}

#[cfg(test)]
mod tests;
