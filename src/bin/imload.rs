//! `imload`: many simulated chat clients from one thread, against imserver, Redis or an
//! IRC server. See `docs/benchmarks.md` for how the project uses it, and
//! [`imchat::load`] for how it works.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use imchat::load::{self, parse_ip_range, Settings, Target};
use imchat::protocol::PresenceMode;

// Every default below is read from `Settings::default()`, so the library and the command
// line cannot disagree.

/// Many simulated chat clients from one thread, against imserver, Redis or an IRC server.
///
/// N clients in conversations of K members send on a clock (open loop). Prints progress once a second on stderr, and a final table (latency percentiles,
/// delivered rates, loss, duplicates, reordering) on stdout. Exits non-zero if the server
/// is unreachable or the run loses a message.
#[derive(Debug, Parser)]
#[command(name = "imload", version)]
struct Args {
    /// The server under load.
    #[arg(long, default_value_t = Settings::default().server)]
    server: SocketAddr,
    /// Which protocol the server speaks.
    #[arg(long, value_enum, default_value_t = TargetArg::from(Settings::default().target))]
    target: TargetArg,
    /// Simulated clients, one connection each.
    #[arg(long, default_value_t = Settings::default().clients, value_name = "N")]
    clients: usize,
    /// Members per conversation: N/K conversations (the last takes the remainder).
    #[arg(long, default_value_t = Settings::default().members, value_name = "K")]
    members: usize,
    /// Message text length; at least the stamp (about 30 bytes).
    #[arg(long, default_value_t = Settings::default().size, value_name = "BYTES")]
    size: usize,
    /// Messages offered per second, all clients together.
    #[arg(long, default_value_t = Settings::default().rate, value_name = "MSGS_PER_S")]
    rate: f64,
    /// Measured sending time.
    #[arg(long, default_value_t = Settings::default().duration, value_name = "S")]
    duration: f64,
    /// Sending time before measuring starts.
    #[arg(long, default_value_t = Settings::default().warmup, value_name = "S")]
    warmup: f64,
    /// New connections per second during setup.
    #[arg(long, default_value_t = Settings::default().connect_rate, value_name = "N_PER_S")]
    connect_rate: f64,
    /// Local addresses to connect from, for more connections than one address has ports
    /// (for example 127.0.0.1-127.0.0.8).
    #[arg(long, value_name = "RANGE", value_parser = |s: &str| parse_ip_range(s).map(IpRange))]
    source_ips: Option<IpRange>,
    /// Presence mode the im clients register with.
    #[arg(long, value_enum, default_value_t = PresenceArg::from(Settings::default().presence))]
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

/// `--target`: [`Target`] as clap sees it (the library does not depend on clap).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    Im,
    Redis,
    Irc,
}

impl From<TargetArg> for Target {
    fn from(arg: TargetArg) -> Target {
        match arg {
            TargetArg::Im => Target::Im,
            TargetArg::Redis => Target::Redis,
            TargetArg::Irc => Target::Irc,
        }
    }
}

/// The other way, for the default.
impl From<Target> for TargetArg {
    fn from(target: Target) -> TargetArg {
        match target {
            Target::Im => TargetArg::Im,
            Target::Redis => TargetArg::Redis,
            Target::Irc => TargetArg::Irc,
        }
    }
}

/// `--presence`: [`PresenceMode`] as clap sees it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum PresenceArg {
    None,
    Changes,
    Full,
}

impl From<PresenceArg> for PresenceMode {
    fn from(arg: PresenceArg) -> PresenceMode {
        match arg {
            PresenceArg::None => PresenceMode::None,
            PresenceArg::Changes => PresenceMode::Changes,
            PresenceArg::Full => PresenceMode::Full,
        }
    }
}

/// The other way, for the default.
impl From<PresenceMode> for PresenceArg {
    fn from(mode: PresenceMode) -> PresenceArg {
        match mode {
            PresenceMode::None => PresenceArg::None,
            PresenceMode::Changes => PresenceArg::Changes,
            PresenceMode::Full => PresenceArg::Full,
        }
    }
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
        target: args.target.into(),
        clients: args.clients,
        members: args.members,
        size: args.size,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        connect_rate: args.connect_rate,
        source_ips: args.source_ips.map(|r| r.0).unwrap_or_default(),
        presence: args.presence.into(),
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
