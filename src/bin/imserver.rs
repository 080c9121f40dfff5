//! `imserver`: the IM server. See `README.md` for the flags and `docs/architecture.md` for
//! how it works.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use imchat::protocol::Password;
use imchat::server::engine::EngineChoice;
use imchat::server::{self, logging, AnnounceConfig, Config, LineRate, RateFlag};

// Every default below is read from `Config::default()`, so the library and the command
// line cannot disagree.

/// An instant-messaging server on one thread and one poll loop.
///
/// Logs go to standard error, never standard output. Which are shown: `--log-level` if
/// given, else the level in RUST_LOG (`RUST_LOG=warn`), else info. Other crates' lines
/// (mio's) stay at warn unless RUST_LOG names them (`RUST_LOG=mio=trace`); RUST_LOG's
/// `module=level` directives apply to the modules they name. `--trace` is shown at any level.
///
/// SIGINT or SIGTERM: every connection is sent `ERROR "server shutting down"` and closed;
/// the server exits 0 once they are gone, or 2 s later if a client does not read.
#[derive(Debug, Parser)]
#[command(name = "imserver", version)]
struct Args {
    /// Address to listen on, host:port; a name is resolved at start and the server listens
    /// on every address it resolves to (`localhost:6666` serves 127.0.0.1 and ::1 when both
    /// are localhost; with port 0 they share one port; one the machine lacks is skipped).
    /// `0.0.0.0:6666` or `[::]:6666` serves other machines.
    #[arg(long, default_value = imchat::protocol::DEFAULT_ADDR, value_name = "HOST:PORT",
          value_parser = imchat::addr::resolve_all)]
    // Spelled out so that clap takes the list as one value (its parser's), not as a flag
    // given many times.
    listen: ::std::vec::Vec<SocketAddr>,
    /// Where to serve the chat page and its WebSocket (`/ws`), host:port, or `off`. Like
    /// --listen, a name is served on every address it resolves to.
    #[cfg(feature = "web")]
    #[arg(long, default_value = imchat::server::web::DEFAULT_HTTP_ADDR, value_name = "HOST:PORT|off",
          value_parser = http_addrs)]
    http: ::std::vec::Vec<SocketAddr>,
    /// An origin (`https://chat.example.org`) whose pages may open a WebSocket besides the
    /// server's own page; may be given more than once. Others are refused with 403.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Announce this server on the LAN: multicast `ANNOUNCE` now, about every 10 s, and in
    /// answer to `REQUEST` (`imclient --discover`), at most once a second (docs/protocol.md,
    /// "Finding a server").
    #[arg(long)]
    announce: bool,
    /// The multicast group and port of --announce.
    #[arg(long, default_value = imchat::discovery::DEFAULT_GROUP, value_name = "ADDR:PORT",
          value_parser = imchat::discovery::parse_group, requires = "announce")]
    announce_group: SocketAddrV4,
    /// The address of the interface --announce sends and listens on [default: the one the
    /// routing table picks for the group].
    #[arg(
        long,
        default_value = "0.0.0.0",
        value_name = "ADDR",
        hide_default_value = true,
        requires = "announce"
    )]
    announce_interface: Ipv4Addr,
    /// The server's name in its announcements [default: the machine's host name].
    #[arg(long, value_parser = imchat::discovery::check_server_name, requires = "announce")]
    name: Option<String>,
    /// Presence changes are coalesced and broadcast at most this often.
    #[arg(long, default_value_t = Config::default().presence_interval_ms, value_name = "MS")]
    presence_interval_ms: u64,
    /// Longest line accepted, in bytes; a longer one closes the connection.
    #[arg(long, default_value_t = Config::default().max_line, value_name = "BYTES")]
    max_line: usize,
    /// Output queued for one connection before it is dropped as a slow reader.
    #[arg(long, default_value_t = Config::default().max_output, value_name = "BYTES")]
    max_output: usize,
    /// Output queued for all connections together; past it, the connections with the most
    /// unread output are dropped first. At least --max-output.
    #[arg(long, default_value_t = Config::default().max_output_total, value_name = "BYTES")]
    max_output_total: usize,
    /// Members one conversation may have; an INVITE leaves out names past the room.
    #[arg(long, default_value_t = Config::default().max_members, value_name = "N")]
    max_members: usize,
    /// Connections open at once; one more is told "server full" and closed.
    #[arg(long, default_value_t = Config::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Unregistered connections are closed after this long.
    #[arg(long, default_value_t = Config::default().register_timeout_ms, value_name = "MS")]
    register_timeout_ms: u64,
    /// A line not finished this long after its first byte closes the connection.
    #[arg(long, default_value_t = Config::default().line_timeout_ms, value_name = "MS")]
    line_timeout_ms: u64,
    /// Lines per second one connection may send after its burst, or `off`. A connection
    /// over it is not read until it may send again: nothing is dropped. Use `off` for
    /// benchmarks and load tests.
    #[arg(long, default_value_t = RateFlag(Config::default().max_line_rate.map(|r| r.per_sec)),
          value_name = "N|off")]
    max_line_rate: RateFlag,
    /// Lines one connection may send at once before its rate applies.
    #[arg(long, default_value_t = Config::default().max_line_rate.unwrap_or_default().burst, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    line_burst: u32,
    /// Which of the server's own log lines are shown [default: info, or RUST_LOG's level]:
    /// off (none); error (none of its own: fatal errors are printed whatever the level);
    /// warn (limits hit: file limit, output bound, accept paused, an address banned); info
    /// (listening, connect, register, disconnect, shutdown); debug (per connection: each
    /// command's name and size, never its text; failed reads and writes); trace (the same
    /// as debug: the server has no trace lines of its own; the loop's steps are --trace).
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<log::LevelFilter>,
    /// The teaching trace: log every step of the event loop as it happens, at any level (for
    /// learning how it works). The only log that may show what clients send.
    #[arg(long)]
    trace: bool,
    /// Speak TLS on every --listen and --http address, with this certificate chain (PEM;
    /// the operator's, e.g. Let's Encrypt's fullchain.pem). Needs --tls-key.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// With TLS on, also listen for protocol lines WITHOUT TLS here (like --listen, a name
    /// is served on every address it resolves to): for bots and load tests on this machine.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "HOST:PORT", requires = "tls_cert",
          value_parser = imchat::addr::resolve_all)]
    listen_plain: Option<::std::vec::Vec<SocketAddr>>,
    /// Only clients that know this password may register: the file's contents, one trailing
    /// newline taken off (a file, so it never shows in `ps`). REGISTER must then carry
    /// {"password": "..."} in its options; the third wrong one closes the connection, and
    /// 20 from one address within a minute ban the address for a minute.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Connections open at once from one address (IPv6: one /64); one more is told "too
    /// many connections from your address" and closed. 0: no cap. Loopback is exempt
    /// unless --limit-loopback.
    #[arg(long, default_value_t = Config::default().max_connections_per_ip, value_name = "N")]
    max_connections_per_ip: usize,
    /// Hold loopback clients (127.0.0.0/8, ::1) to --max-connections-per-ip and to the
    /// wrong-password bans too; by default they are exempt, so local load tests and bots
    /// keep working.
    #[arg(long)]
    limit_loopback: bool,
    /// Serve OpenMetrics text at http://HOST:PORT/metrics (for Prometheus), on a listener
    /// of its own; off unless given. Like --listen, a name is served on every address it
    /// resolves to. Keep it off the open network: it shows how busy the server is.
    #[cfg(feature = "metrics")]
    #[arg(long, value_name = "HOST:PORT", value_parser = imchat::addr::resolve_all)]
    metrics: Option<::std::vec::Vec<SocketAddr>>,
    /// Where the state nodes share lives: `memory` (this process alone), or
    /// `redis://HOST:PORT`, a Redis 7 server that several imserver nodes share to form one
    /// chat (the `engine` feature; docs/architecture.md, "The Redis engine").
    #[arg(long, default_value = "memory", value_name = "memory|redis://HOST:PORT",
          value_parser = EngineChoice::parse)]
    engine: EngineChoice,
    /// With `--engine redis`: how long this node's users stay online in Redis after its
    /// last lease refresh. A node killed without goodbye loses its users this long after.
    #[arg(long, default_value_t = server::DEFAULT_LEASE_MS, value_name = "MS")]
    lease_ms: u64,
}

/// `--http`: `off`, or the addresses a host:port resolves to.
#[cfg(feature = "web")]
fn http_addrs(value: &str) -> Result<Vec<SocketAddr>, String> {
    if value == "off" {
        return Ok(Vec::new());
    }
    imchat::addr::resolve_all(value)
}

/// The shortest `--lease-ms` taken: refreshed every third, a lease needs room for a few
/// of the loop's timer ticks and a round trip to Redis.
const MIN_LEASE_MS: u64 = 300;

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = logging::init(args.log_level, args.trace) {
        eprintln!("imserver: cannot start logging: {e}");
        return ExitCode::FAILURE;
    }
    let password = match Password::from_flag(args.password_file.as_deref()) {
        Ok(password) => password,
        Err(why) => {
            eprintln!("imserver: {why}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        listen: args.listen,
        presence_interval_ms: args.presence_interval_ms.max(1),
        max_line: args.max_line.max(1),
        max_output: args.max_output,
        // Below one connection's allowance, a single broadcast could be over the bound with
        // nobody's queue to drop, and every line would look for one.
        max_output_total: args.max_output_total.max(args.max_output),
        max_members: args.max_members.max(1),
        max_connections: args.max_connections,
        register_timeout_ms: args.register_timeout_ms,
        line_timeout_ms: args.line_timeout_ms,
        max_line_rate: args.max_line_rate.0.map(|per_sec| LineRate {
            per_sec,
            burst: args.line_burst,
        }),
        #[cfg(feature = "web")]
        http: args.http,
        #[cfg(feature = "web")]
        allow_origins: args.allow_origin,
        #[cfg(not(feature = "web"))]
        http: Vec::new(),
        #[cfg(not(feature = "web"))]
        allow_origins: Vec::new(),
        announce: args.announce.then(|| AnnounceConfig {
            group: args.announce_group,
            interface: args.announce_interface,
            name: args.name.unwrap_or_else(imchat::discovery::host_name),
        }),
        trace: args.trace,
        #[cfg(feature = "tls")]
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| server::TlsFiles { cert, key }),
        #[cfg(not(feature = "tls"))]
        tls: None,
        #[cfg(feature = "tls")]
        listen_plain: args.listen_plain.unwrap_or_default(),
        #[cfg(not(feature = "tls"))]
        listen_plain: Vec::new(),
        password,
        max_connections_per_ip: args.max_connections_per_ip,
        limit_loopback: args.limit_loopback,
        #[cfg(feature = "metrics")]
        metrics: args.metrics.unwrap_or_default(),
        #[cfg(not(feature = "metrics"))]
        metrics: Vec::new(),
        engine: args.engine,
        // A lease shorter than a few passes would be lost to any busy moment.
        lease_ms: args.lease_ms.max(MIN_LEASE_MS),
    };
    raise_file_limit(config.max_connections);
    let server = match server::Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            // The error names the address that could not be bound.
            eprintln!("imserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imserver: event loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Descriptors the server needs besides its connections: standard streams, the poll, the
/// listener, the signal pipe, and a margin.
const SPARE_DESCRIPTORS: u64 = 32;

/// Raises the soft limit on open files towards what `--max-connections` needs (never past
/// the hard limit), as Redis does for `maxclients`: the default soft limit of 1024 would
/// otherwise cap a server meant for tens of thousands of connections. If the hard limit is
/// lower, say so: connections beyond it wait in the kernel's queue.
fn raise_file_limit(max_connections: usize) {
    let wanted = max_connections as u64 + SPARE_DESCRIPTORS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; nothing else is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < wanted {
        let raised = libc::rlimit {
            rlim_cur: wanted.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    if limit.rlim_cur < wanted {
        log::warn!(
            "open file limit is {}: fewer than --max-connections {max_connections} can be served at once",
            limit.rlim_cur
        );
    }
}
