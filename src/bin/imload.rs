//! `imload`: many simulated chat clients from one thread, against imserver, Redis or an
//! IRC server. See `docs/benchmarks.md` for how the project uses it, and
//! [`imchat::load`] for how it works.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use imchat::load::{self, parse_ip_range, Settings, Target};
use imchat::protocol::PresenceMode;

/// Many simulated chat clients from one thread, against imserver, Redis or an IRC server.
///
/// N clients in conversations of K members send on a clock (open loop). Prints progress once a second on stderr, and a final table (latency percentiles,
/// delivered rates, loss, duplicates, reordering) on stdout. Exits non-zero if the server
/// is unreachable or the run loses a message.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server under load.
    #[arg(long, default_value = "127.0.0.1:6666")]
    server: SocketAddr,
    /// Which protocol the server speaks.
    #[arg(long, value_enum, default_value_t = TargetArg::Im)]
    target: TargetArg,
    /// Simulated clients, one connection each.
    #[arg(long, default_value_t = 100, value_name = "N")]
    clients: usize,
    /// Members per conversation: N/K conversations (the last takes the remainder).
    #[arg(long, default_value_t = 10, value_name = "K")]
    members: usize,
    /// Message text length; at least the stamp (about 30 bytes).
    #[arg(long, default_value_t = 64, value_name = "BYTES")]
    size: usize,
    /// Messages offered per second, all clients together.
    #[arg(long, default_value_t = 1000.0, value_name = "MSGS_PER_S")]
    rate: f64,
    /// Measured sending time.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    duration: f64,
    /// Sending time before measuring starts.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    warmup: f64,
    /// New connections per second during setup.
    #[arg(long, default_value_t = 5000.0, value_name = "N_PER_S")]
    connect_rate: f64,
    /// Local addresses to connect from, for more connections than one address has ports
    /// (for example 127.0.0.1-127.0.0.8).
    #[arg(long, value_name = "RANGE", value_parser = |s: &str| parse_ip_range(s).map(IpRange))]
    source_ips: Option<IpRange>,
    /// Presence mode the im clients register with.
    #[arg(long, value_enum, default_value_t = PresenceArg::None)]
    presence: PresenceArg,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Connect and register the clients, then hold them until interrupted.
    #[arg(long)]
    idle: bool,
}

/// The addresses of `--source-ips` (one value, so clap does not take it for a list).
#[derive(Debug, Clone)]
struct IpRange(Vec<std::net::IpAddr>);

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    Im,
    Redis,
    Irc,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PresenceArg {
    None,
    Changes,
    Full,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.server.ip().is_loopback() {
        eprintln!(
            "imload: note: {} is not a loopback address; load only servers you run",
            args.server
        );
    }
    let settings = Settings {
        server: args.server,
        target: match args.target {
            TargetArg::Im => Target::Im,
            TargetArg::Redis => Target::Redis,
            TargetArg::Irc => Target::Irc,
        },
        clients: args.clients,
        members: args.members,
        size: args.size,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        connect_rate: args.connect_rate,
        source_ips: args.source_ips.map(|r| r.0).unwrap_or_default(),
        presence: match args.presence {
            PresenceArg::None => PresenceMode::None,
            PresenceArg::Changes => PresenceMode::Changes,
            PresenceArg::Full => PresenceMode::Full,
        },
        idle: args.idle,
        progress: true,
    };
    let report = match load::run(&settings) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("imload: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{report}");
    if let Some(path) = &args.json {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(path, json));
        if let Err(e) = written {
            eprintln!("imload: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if !args.idle && !report.clean() {
        eprintln!(
            "imload: the run was not clean: {} lost, {} duplicates, {} strays, {} errors, {} closed by the server",
            report.lost, report.duplicates, report.strays, report.errors, report.closed_by_server
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
