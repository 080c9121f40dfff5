//! The IM server: one thread, one `mio::Poll` loop.
//!
//! | file | what it holds |
//! |---|---|
//! | `admission/` | who may join: the per-address cap, and bans for wrong passwords (pure) |
//! | `event_loop/` | the loop: one pass (`turn`), its phases in order, the poll timeout rule; the lifecycle of a connection; accept. The only code that touches sockets |
//! | `chat/` | users, conversations, invitations and presence: the domain, no sockets |
//! | `engine/` | where the shared state lives: this process's memory, or Redis for many nodes |
//! | `outboxes.rs` | every connection's outbox and the set of those with output to write |
//! | `dispatch/` | the command table, one argument type per row, the handlers and their effects |
//! | `keyset.rs` | the set of connection keys the loop keeps its work lists in |
//! | `loglimit.rs` | the rate limit on log lines that clients can repeat at will |
//! | `line_rate.rs` | flood control: a token bucket per connection, on lines |
//! | `reason.rs` | why a connection closes |
//! | `stats.rs` | the counters the loop bumps (lines, bytes, closes, refusals, passes) |
//! | `metrics.rs`, `metrics/` | `--metrics` (the `metrics` feature): the scrape's request (`request.rs`) and its OpenMetrics text |
//! | `logging.rs` | which log lines are shown (`--log-level`, `RUST_LOG`, `--trace`), on stderr |
//!
//! Start with `event_loop/mod.rs`: it is written to be read first.

/// Logs one step of the loop when `--trace` is on (the teaching trace); costs one branch
/// when it is off.
macro_rules! trace {
    ($on:expr, $($arg:tt)+) => {
        if $on {
            log::info!(target: "trace", $($arg)+);
        }
    };
}

mod admission;
mod chat;
mod dispatch;
pub mod engine;
mod event_loop;
mod keyset;
mod line_rate;
pub mod logging;
mod loglimit;
#[cfg(feature = "metrics")]
mod metrics;
mod outboxes;
mod reason;
pub mod stats;
#[cfg(test)]
mod test_support;
#[cfg(feature = "web")]
pub mod web;

use std::io;
use std::net::SocketAddr;

use crate::protocol::Password;

pub use admission::{
    AddrKey, BAN_WINDOW_MS, DEFAULT_MAX_CONNECTIONS_PER_IP, MAX_FAILURES, MAX_TRACKED_ADDRESSES,
    MAX_WRONG_PASSWORDS_PER_CONNECTION,
};
pub use chat::{DEFAULT_MAX_MEMBERS, MAX_PENDING_INVITATIONS};
pub use dispatch::command::{MAX_ERROR_LINE, MAX_LISTED_NAMES};
pub use dispatch::handlers::MAX_CONVERSATIONS_PER_USER;
pub use dispatch::{Command, COMMANDS};
pub use event_loop::{
    AnnounceConfig, Readiness, Server, ANNOUNCE_INTERVAL_MS, ANSWER_INTERVAL_MS,
    DATAGRAMS_PER_PASS, MAX_BYTES_PER_WAKE, MAX_FRAMES_PER_WAKE,
};
pub use line_rate::{LineRate, RateFlag, DEFAULT_LINE_BURST, DEFAULT_LINE_RATE};
pub use loglimit::{LOG_BURST, LOG_WINDOW_MS};
pub use outboxes::DEFAULT_MAX_OUTPUT_TOTAL;
pub use reason::Reason;

/// Everything the command line can set: where to listen and how (TLS), who may join, the
/// limits and intervals (the README's flags table says what each protects against), and
/// what to show (logs, metrics, announcements).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen: every address `--listen`'s name resolved to (see `Server::bind`).
    /// Loopback by default: serving other machines is a choice.
    pub listen: Vec<SocketAddr>,
    /// How often, at most, presence changes are broadcast (milliseconds).
    pub presence_interval_ms: u64,
    /// Longest line accepted, in bytes, terminator not counted.
    pub max_line: usize,
    /// Most bytes queued for one connection before it is dropped as a slow reader.
    pub max_output: usize,
    /// Most bytes queued for all connections together (distinct line bytes plus one entry
    /// per queued line); past it the connections with the most unread output are dropped.
    pub max_output_total: usize,
    /// Most members one conversation may have.
    pub max_members: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a connection may stay unregistered (milliseconds).
    pub register_timeout_ms: u64,
    /// How long a line may take to arrive once its first byte has (milliseconds).
    pub line_timeout_ms: u64,
    /// Lines a connection may send, per second and at once; `None` is no limit (for
    /// benchmarks and load tests, whose clients are meant to flood).
    pub max_line_rate: Option<LineRate>,
    /// Where to serve the page and its WebSocket (`--http`, the `web` feature); empty for
    /// none. None by default in the library (tests bind what they need); the binary's
    /// default is [`web::DEFAULT_HTTP_ADDR`].
    pub http: Vec<SocketAddr>,
    /// Origins besides the page's own whose pages may open a WebSocket (`--allow-origin`).
    pub allow_origins: Vec<String>,
    /// Announce the server on the LAN and answer who asks (`--announce`); `None`: silent.
    pub announce: Option<AnnounceConfig>,
    /// Log one line per step of the loop (the teaching trace).
    pub trace: bool,
    /// The certificate and key every listener of the chat speaks TLS with (`--tls-cert`,
    /// `--tls-key`, the `tls` feature); `None`: plain TCP.
    pub tls: Option<TlsFiles>,
    /// Where to listen for protocol lines without TLS while `tls` is on (`--listen-plain`):
    /// for bots and load tests on the same machine. Empty by default.
    pub listen_plain: Vec<SocketAddr>,
    /// The password `REGISTER` must carry (`--password-file`); `None`: anyone may join.
    pub password: Option<Password>,
    /// Connections open at once from one address (an IPv6 /64); 0 is no cap.
    pub max_connections_per_ip: usize,
    /// Hold loopback clients to the per-address cap and the bans too (`--limit-loopback`);
    /// by default they are exempt, so local load tests, bots and the test suite keep working.
    pub limit_loopback: bool,
    /// Where to serve `/metrics` (`--metrics`, the `metrics` feature); empty: nowhere, and
    /// the loop reads no clock for pass durations.
    pub metrics: Vec<SocketAddr>,
    /// Where the state nodes share lives (`--engine`): this process's memory by default,
    /// or a Redis server that several nodes share.
    pub engine: engine::EngineChoice,
    /// How long a node's registrations outlive its last lease refresh in Redis: a node
    /// killed without a goodbye loses its users this long after, at most.
    pub lease_ms: u64,
}

/// Where the server's TLS certificate chain and private key are (PEM files), read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Default `--lease-ms`: 5 s. A node refreshes its lease every third of it, so two
/// refreshes may be missed (a long pass, a slow Redis) before the node loses its users;
/// and a node killed with -9 loses them within seconds, as the issue asks.
pub const DEFAULT_LEASE_MS: u64 = 5_000;

/// Default `--line-timeout-ms`: 30 s, as long as a connection has to register. A client
/// sends a line in one go (even 64 KiB over a slow link takes seconds); one still
/// unfinished after 30 s is a peer holding a buffer of up to `--max-line` bytes open on
/// purpose (a few thousand of them dripping a
/// byte at a time would otherwise hold the server's memory, and registered connections
/// have no other deadline).
pub const DEFAULT_LINE_TIMEOUT_MS: u64 = 30_000;

/// Default `--max-output`: 8 MiB. The limit is checked after each flush, so it must hold
/// what one pass can queue for a healthy reader whose socket buffer is momentarily full:
/// one sender's pass is at most 64 lines of 64 KiB (4 MiB), and a full `ONLINE_USERS` of
/// 50,000 users is about 1.5 MB. A client that stops reading is still dropped long before
/// it costs real memory.
pub const DEFAULT_MAX_OUTPUT: usize = 8 * 1024 * 1024;

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: vec![crate::protocol::DEFAULT_ADDR
                .parse()
                .expect("DEFAULT_ADDR is an IP address and a port")],
            presence_interval_ms: 1000,
            max_line: crate::protocol::DEFAULT_MAX_LINE,
            max_output: DEFAULT_MAX_OUTPUT,
            max_output_total: DEFAULT_MAX_OUTPUT_TOTAL,
            max_members: DEFAULT_MAX_MEMBERS,
            max_connections: 10_000,
            register_timeout_ms: 30_000,
            line_timeout_ms: DEFAULT_LINE_TIMEOUT_MS,
            max_line_rate: Some(LineRate::default()),
            http: Vec::new(),
            allow_origins: Vec::new(),
            announce: None,
            trace: false,
            tls: None,
            listen_plain: Vec::new(),
            password: None,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            limit_loopback: false,
            metrics: Vec::new(),
            engine: engine::EngineChoice::Memory,
            lease_ms: DEFAULT_LEASE_MS,
        }
    }
}

/// Binds every address of `config.listen` and serves until SIGINT or SIGTERM.
pub fn serve(config: Config) -> io::Result<()> {
    Server::bind(config)?.run()
}
