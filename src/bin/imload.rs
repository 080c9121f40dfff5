//! `imload`: many simulated chat clients from one thread, against imserver, Redis or an
//! IRC server. See `docs/benchmarks.md` for how the project uses it, and
//! [`imchat::load`] for how it works.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use imchat::cli::{Server, TlsArgs};
use imchat::load::{self, parse_ip_range, write_hgrm, Node, Report, Settings, Share, Target};
use imchat::protocol::{Password, PresenceMode};

// Every default below is read from `Settings::default()`, so the library and the command
// line cannot disagree.

/// Many simulated chat clients from one thread, against imserver, Redis or an IRC server.
///
/// N clients in conversations of K members send on a clock (open loop). Prints progress
/// once a second on stderr, and a final report (latency percentiles, the warmup's and the
/// measured window's counts and rates, loss, duplicates, reordering) on stdout, or on
/// stderr when `--json -` or `--hgrm -` takes stdout. Exits 1 if the server is unreachable
/// or the run loses a message, 2 for a bad flag.
#[derive(Debug, Parser)]
#[command(name = "imload", version)]
struct Args {
    /// The server under load, host:port; a name is resolved once, at start, and the first
    /// address it resolves to is used. For `--target ws`, imserver's `--http` address.
    /// Several, comma-separated (A,B,C: the nodes of one chat), share the clients
    /// round-robin: client i connects to server i mod n, so a conversation's members are
    /// on different nodes. [default: 127.0.0.1:6666; with --target ws, 127.0.0.1:6680]
    #[arg(long, value_name = "HOST:PORT[,...]", value_parser = parse_servers)]
    server: Option<Servers>,
    /// Which protocol the server speaks: `ws` is imserver's over WebSocket (one text frame
    /// per line; needs the `web` feature, on by default).
    #[arg(long, value_enum, default_value_t = TargetArg::from(Settings::default().target))]
    target: TargetArg,
    /// `--tls` (`--target im` only): every client speaks TLS, and the report says so.
    #[command(flatten)]
    tls: TlsArgs,
    /// Simulated clients, one connection each.
    #[arg(long, default_value_t = Settings::default().clients, value_name = "N")]
    clients: usize,
    /// Members per conversation, at most N: N/K conversations (the last takes the
    /// remainder).
    #[arg(long, default_value_t = Settings::default().members, value_name = "K")]
    members: usize,
    /// Message text length; at least the stamp every message carries (about 30 bytes; a
    /// smaller size is refused with the minimum for the run's settings).
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
    /// Also write the report as JSON to this file; `-` is stdout (the table then goes
    /// to stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the corrected latency's whole distribution in HdrHistogram's
    /// percentile-distribution format (as wrk2's --u_latency; values in ms) to this file;
    /// `-` is stdout.
    #[arg(long, value_name = "FILE")]
    hgrm: Option<PathBuf>,
    /// Connect and register the clients, then hold them until interrupted (SIGINT,
    /// SIGTERM); the report then says how many were held, how long setup took and, with
    /// --server-pid, what they cost the server in memory.
    #[arg(long)]
    idle: bool,
    /// The server's process id: its resident memory (VmRSS in /proc/PID/status, Linux) is
    /// read before connecting and at the end, and the growth is reported; its CPU time
    /// (/proc/PID/stat) is read at the start and the end of the measured window, and the
    /// report gives it per delivery. Several, comma-separated (the nodes of a multi-node
    /// run): the report sums them, and lists each.
    #[arg(long, value_name = "PID[,...]", value_parser = parse_pids)]
    server_pid: Option<Pids>,
    /// Run as N processes (not threads), for machines with more cores than one imload
    /// can use: each takes its share of the clients in whole conversations and of
    /// --rate, all start sending at one instant, and one report merges theirs (counts
    /// added, latency histograms merged). At most the number of conversations; not with
    /// --idle.
    #[arg(long, default_value_t = 1, value_name = "N")]
    procs: usize,
    /// The server's password, for an imserver started with --password-file: the file's
    /// contents, one trailing newline taken off (--target im and ws).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Internal to --procs: this process runs share I of the run.
    #[arg(long, hide = true, value_name = "I")]
    proc_index: Option<usize>,
    /// Internal to --procs: the parent's process id, for the clients' names.
    #[arg(long, hide = true, value_name = "PID")]
    proc_run: Option<u32>,
}

/// Whether an output flag names stdout.
fn is_stdout(path: &Option<PathBuf>) -> bool {
    path.as_deref() == Some(Path::new("-"))
}

/// Writes one output of the run to `path`, or to stdout for `-`.
fn write_out(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let result = if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        write(&mut out).and_then(|()| out.flush())
    } else {
        std::fs::File::create(path).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out).and_then(|()| out.flush())
        })
    };
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the report's JSON and distribution where asked.
fn write_outputs(args: &Args, report: &Report) -> Result<(), String> {
    if let Some(path) = &args.json {
        write_out(path, |out| {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        })?;
    }
    if let Some(path) = &args.hgrm {
        write_out(path, |out| write_hgrm(&report.corrected, out))?;
    }
    Ok(())
}

/// Exits 2 with clap's usage message, as for any bad flag.
fn usage_error(message: impl std::fmt::Display) -> ! {
    Args::command()
        .error(ErrorKind::ValueValidation, message)
        .exit()
}

/// The addresses of `--source-ips` (one value, so clap does not take it for a list).
#[derive(Debug, Clone)]
struct IpRange(Vec<std::net::IpAddr>);

/// The servers of `--server`, each resolved once, in the order given.
#[derive(Debug, Clone)]
struct Servers(Vec<Server>);

/// The process ids of `--server-pid`, in the order given.
#[derive(Debug, Clone)]
struct Pids(Vec<u32>);

/// Splits a comma-separated flag value; an empty element (`A,,B`, a trailing comma) is a
/// mistake, said with its place, not skipped.
fn list<T>(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    let one = items.len() == 1;
    (items.iter().enumerate())
        .map(|(i, item)| match item {
            _ if one => parse(item),
            &"" => Err(format!("{text:?}: item {} of the list is empty", i + 1)),
            _ => parse(item).map_err(|why| format!("item {} of {text:?}: {why}", i + 1)),
        })
        .collect()
}

fn parse_servers(text: &str) -> Result<Servers, String> {
    list(text, Server::parse).map(Servers)
}

fn parse_pids(text: &str) -> Result<Pids, String> {
    let pid = |item: &str| {
        item.parse::<u32>()
            .map_err(|_| format!("{item:?} is not a process id"))
    };
    list(text, pid).map(Pids)
}

/// `--target`: [`Target`] as clap sees it (the library does not depend on clap).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum TargetArg {
    Im,
    Redis,
    Irc,
    Ws,
}

impl From<TargetArg> for Target {
    fn from(arg: TargetArg) -> Target {
        match arg {
            TargetArg::Im => Target::Im,
            TargetArg::Redis => Target::Redis,
            TargetArg::Irc => Target::Irc,
            TargetArg::Ws => Target::Ws,
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
            Target::Ws => TargetArg::Ws,
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

/// The command line of the child that runs `share` of a `--procs` run: this imload with
/// the same flags, and the share's hidden ones.
fn share_command(share: &Share) -> Command {
    // Our own executable; if it cannot be named, the name we were started by.
    let exe = std::env::current_exe()
        .unwrap_or_else(|_| std::env::args_os().next().unwrap_or_default().into());
    let mut command = Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .args(["--proc-index", &share.index.to_string()])
        .args(["--proc-run", &share.run.to_string()]);
    command
}

/// A child of `--procs`: runs its share, writes its part as one JSON line on stdout.
fn run_share(settings: &Settings, share: Option<&Share>) -> ExitCode {
    let Some(share) = share else {
        eprintln!("imload: --proc-index is past --procs");
        return ExitCode::from(2);
    };
    let part = match load::run_share(settings, share) {
        Ok(part) => part,
        Err(e) => {
            eprintln!("imload: process {} of {}: {e}", share.index, share.procs);
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &part)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "imload: process {}: cannot write its report: {e}",
                share.index
            );
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if is_stdout(&args.json) && is_stdout(&args.hgrm) {
        usage_error("--json - and --hgrm - cannot both take stdout");
    }
    let server_pids = args.server_pid.clone().map(|p| p.0).unwrap_or_default();
    for &pid in &server_pids {
        if load::rss_kb(pid).is_none() {
            usage_error(format!(
                "--server-pid {pid}: cannot read its memory (no such process, or no /proc/{pid}/status)"
            ));
        }
    }
    let target = Target::from(args.target);
    let servers = (args.server.clone().map(|s| s.0))
        .unwrap_or_else(|| vec![Server::from(target.default_server())]);
    let servers: Vec<Node> = (servers.iter())
        .map(|server| Node {
            addr: server.addr,
            // Each certificate must carry the name of its own address as typed.
            tls: (args.tls.client_tls(&server.typed)).unwrap_or_else(|why| usage_error(why)),
        })
        .collect();
    // Said once, by the parent of a --procs run.
    let remote = servers.iter().filter(|n| !n.addr.ip().is_loopback());
    for node in remote.filter(|_| args.proc_index.is_none()) {
        eprintln!(
            "imload: note: {} is not a loopback address; load only servers you run",
            node.addr
        );
    }
    let settings = Settings {
        servers,
        target,
        clients: args.clients,
        members: args.members,
        size: args.size,
        rate: args.rate,
        duration: args.duration,
        warmup: args.warmup,
        connect_rate: args.connect_rate,
        source_ips: args.source_ips.clone().map(|r| r.0).unwrap_or_default(),
        presence: args.presence.into(),
        idle: args.idle,
        progress: true,
        server_pids,
        password: Password::from_flag(args.password_file.as_deref())
            .unwrap_or_else(|why| usage_error(why)),
    };
    if let Err(why) = settings.check() {
        usage_error(why);
    }
    // Checked here too, so that a split that cannot be made exits 2 like any bad flag.
    let shares = load::split(&settings, args.procs, args.proc_run.unwrap_or(0))
        .unwrap_or_else(|why| usage_error(why));
    if let Some(index) = args.proc_index {
        return run_share(&settings, shares.get(index));
    }
    let result = if args.procs > 1 {
        load::run_procs(&settings, args.procs, share_command)
    } else {
        load::run(&settings)
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            eprintln!("imload: {e}");
            return ExitCode::FAILURE;
        }
    };
    // stdout carries one thing: the JSON or the distribution if asked there, else the
    // table.
    if is_stdout(&args.json) || is_stdout(&args.hgrm) {
        eprintln!("{report}");
    } else {
        println!("{report}");
    }
    if let Err(e) = write_outputs(&args, &report) {
        eprintln!("imload: {e}");
        return ExitCode::FAILURE;
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
