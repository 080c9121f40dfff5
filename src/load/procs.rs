//! `--procs N`: the parent of a run shared between N imload processes, for machines with
//! more cores than one imload can use (each process is one thread on one loop).
//!
//! The parent starts N children (imload itself, told which [`Share`] is theirs), each with
//! a pipe on its stdin and one on its stdout. Each child connects and sets up its clients,
//! then writes `ready`. Once all are ready, the parent writes every child the same
//! `start <µs since the UNIX epoch>`, [`START_MARGIN_US`] ahead: sending, the warmup and
//! the measured window are then the same instants in every process. Each child ends by
//! writing its [`Part`] (one JSON line); the parent merges them (see `merge.rs`) into the
//! report one process would have written.
//!
//! The parent reads `--server-pid`'s processes itself, around the common window. A child that fails
//! fails the run (its error is on the shared stderr); the parent then kills the others.
//! SIGINT and SIGTERM are forwarded to the children, which end the run as one process
//! would (early, with a report, once sending has started). A child whose stdin closes (the
//! parent is gone) ends its run too.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::merge::{merge, Part};
use super::nodes::sum_all;
use super::report::{bound, Held, Report, ReportHeader};
use super::rss::cpu_spent;
use super::split::{split, Share};
use super::text::rfc3339;
use super::{cpu_s, rss_kb, LoadError, Settings};

/// How far ahead of "all ready" the common start is: time for N start lines to reach N
/// processes and be read, so that the instant is still ahead of every one of them, yet
/// short next to any run.
const START_MARGIN_US: u64 = 50_000;

/// Bytes of one child's output held at most. A part holds every second's distinct
/// latencies (a few thousand histogram buckets at most, tens of kB a second): this allows
/// runs of hours, and stops a runaway child from taking the parent's memory.
const MAX_PART_BYTES: usize = 256 << 20;

const SIGNALS: Token = Token(usize::MAX);

/// One child.
struct Proc {
    share: Share,
    child: Child,
    /// Kept open until the run ends: the child ends its run when it closes.
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// Output read and not yet a whole line.
    input: Vec<u8>,
    ready: bool,
    part: Option<Part>,
}

/// Runs `settings` as `procs` processes; `command` makes the command line of the child
/// that runs a share (imload itself, with the share's hidden flags).
pub fn run_procs(
    settings: &Settings,
    procs: usize,
    command: impl Fn(&Share) -> Command,
) -> Result<Report, LoadError> {
    settings.check().map_err(LoadError::Settings)?;
    let shares = split(settings, procs, std::process::id()).map_err(LoadError::Settings)?;
    let started_wall = SystemTime::now();
    let pids = &settings.server_pids;
    let rss_before_kb: Vec<Option<u64>> = pids.iter().map(|&p| rss_kb(p)).collect();
    let mut children = Vec::with_capacity(procs);
    let mut result = spawn(&shares, &command, &mut children)
        .and_then(|()| Parent::new(settings, &mut children)?.wait());
    if result.is_err() {
        for proc in &mut children {
            let _ = proc.child.kill();
        }
    }
    for proc in &mut children {
        if let Err(e) = proc.child.wait() {
            result = result.and(Err(LoadError::Procs(format!(
                "cannot wait for a process: {e}"
            ))));
        }
    }
    let (server_cpu_s, rss_after_kb) = result?;
    let parts: Vec<Part> = children.into_iter().filter_map(|p| p.part).collect();
    let merged = merge(&parts);
    let header = ReportHeader {
        target: settings.target.name(),
        tls: settings.tls(),
        clients: settings.clients,
        members: settings.members.min(settings.clients),
        size: settings.size,
        offered_rate: settings.rate,
        warmup_s: settings.warmup,
        measured_s: merged.measured_s,
    };
    let held = Held {
        idle: false,
        setup_s: merged.setup_s,
        connections_held: merged.connections_held,
        held_s: merged.held_s,
        server_pid: pids.first().copied(),
        server_rss_kb_before: sum_all(&rss_before_kb),
        server_rss_kb_after: sum_all(&rss_after_kb),
    };
    let mut stats = merged.stats();
    let (expected, echoes) = (merged.expected, merged.expected_echoes);
    let mut report = Report::new(&mut stats, header, held, expected, echoes);
    report.timestamp = rfc3339(started_wall);
    let rss = [&rss_before_kb[..], &rss_after_kb[..]];
    report.set_servers(&settings.servers, settings.clients, pids, rss);
    report.procs = procs;
    let server_cpu = cpu_spent(&server_cpu_s);
    report.set_cpu(merged.measured_s, &server_cpu, merged.imload_cpu_s);
    // The busiest process, not the sum, says whether imload was the limit.
    report.imload_cpu_share = merged.imload_cpu_share;
    report.bound = bound(report.server_cpu_share, report.imload_cpu_share);
    Ok(report)
}

/// Starts a child per share, its stdout non-blocking for the parent's poll.
fn spawn(
    shares: &[Share],
    command: &impl Fn(&Share) -> Command,
    children: &mut Vec<Proc>,
) -> Result<(), LoadError> {
    let failed = |e: io::Error| LoadError::Procs(format!("cannot start a process: {e}"));
    for share in shares {
        let mut child = command(share)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(failed)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(failed(io::Error::other("no pipes")));
        };
        let fd = stdout.as_raw_fd();
        // SAFETY: fcntl on a pipe we own, with valid flags; it touches no memory.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        let set =
            flags >= 0 && unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } >= 0;
        children.push(Proc {
            share: share.clone(),
            child,
            stdin,
            stdout,
            input: Vec::new(),
            ready: false,
            part: None,
        });
        if !set {
            return Err(failed(io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The parent's loop: the children's stdout and the signals, in one poll.
struct Parent<'a> {
    settings: &'a Settings,
    children: &'a mut [Proc],
    poll: Poll,
    signals: Signals,
    /// When the measured window starts and sending ends, once the start is set.
    window: Option<(Instant, Instant)>,
    /// Each server process's CPU time at the start and the end of the measured window,
    /// and how many of the two reads were made (a read may find nothing).
    server_cpu_s: [Vec<Option<f64>>; 2],
    server_reads: usize,
    /// Each server process's resident memory at the end of sending, with every
    /// connection held.
    rss_after_kb: Vec<Option<u64>>,
    interrupted: bool,
}

impl<'a> Parent<'a> {
    fn new(settings: &'a Settings, children: &'a mut [Proc]) -> Result<Parent<'a>, LoadError> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        for (i, proc) in children.iter().enumerate() {
            let fd = proc.stdout.as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), Token(i), Interest::READABLE)?;
        }
        Ok(Parent {
            settings,
            children,
            poll,
            signals,
            window: None,
            server_cpu_s: Default::default(),
            server_reads: 0,
            rss_after_kb: Vec::new(),
            interrupted: false,
        })
    }

    /// Until every child has written its part: the server's CPU time around the window,
    /// and its memory at the end of sending.
    #[allow(clippy::type_complexity)]
    fn wait(mut self) -> Result<([Vec<Option<f64>>; 2], Vec<Option<u64>>), LoadError> {
        let mut events = Events::with_capacity(self.children.len() + 1);
        while self.children.iter().any(|p| p.part.is_none()) {
            let timeout = self
                .next_server_read()
                .map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
            for event in events.iter() {
                match event.token() {
                    SIGNALS => self.forward_signals(),
                    Token(i) => self.read(i)?,
                }
            }
            self.start_when_ready()?;
            self.read_server();
        }
        Ok((self.server_cpu_s, self.rss_after_kb))
    }

    /// Passes SIGINT and SIGTERM on to every child: they end the run as one process would.
    fn forward_signals(&mut self) {
        for signal in self.signals.pending() {
            self.interrupted = true;
            for proc in self.children.iter() {
                // SAFETY: kill(2) with our own child's pid and a valid signal.
                unsafe { libc::kill(proc.child.id() as libc::pid_t, signal) };
            }
        }
    }

    /// Reads what child `i` wrote: `ready`, then its part.
    fn read(&mut self, i: usize) -> Result<(), LoadError> {
        let procs = self.children.len();
        let Some(proc) = self.children.get_mut(i) else {
            return Ok(());
        };
        let name = format!("process {} of {procs}", proc.share.index);
        let mut buf = [0u8; 64 * 1024];
        let mut closed = false;
        loop {
            match proc.stdout.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) if proc.input.len() + n > MAX_PART_BYTES => {
                    return Err(LoadError::Procs(format!(
                        "{name} wrote more than {MAX_PART_BYTES} bytes"
                    )));
                }
                Ok(n) => proc.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(LoadError::Procs(format!("cannot read {name}: {e}"))),
            }
        }
        while let Some(end) = proc.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = proc.input.drain(..=end).collect();
            let line = &line[..end];
            if line == b"ready" {
                proc.ready = true;
            } else {
                let part = serde_json::from_slice(line)
                    .map_err(|e| LoadError::Procs(format!("{name} wrote a bad report: {e}")))?;
                proc.part = Some(part);
            }
        }
        if closed && proc.part.is_none() {
            let status = proc
                .child
                .wait()
                .map_or("unknown".into(), |s| s.to_string());
            return Err(LoadError::Procs(format!(
                "{name} failed ({status}); the run is stopped"
            )));
        }
        Ok(())
    }

    /// Once every child is ready, sends all of them the common start.
    fn start_when_ready(&mut self) -> Result<(), LoadError> {
        if self.window.is_some() || !self.children.iter().all(|p| p.ready) {
            return Ok(());
        }
        let margin = Duration::from_micros(START_MARGIN_US);
        let (now, now_wall) = (Instant::now(), SystemTime::now());
        let start_wall = now_wall.duration_since(UNIX_EPOCH).unwrap_or_default() + margin;
        let start = now + margin;
        for proc in self.children.iter_mut() {
            let line = format!("start {}\n", start_wall.as_micros());
            proc.stdin.write_all(line.as_bytes()).map_err(|e| {
                LoadError::Procs(format!("cannot start process {}: {e}", proc.share.index))
            })?;
        }
        let s = |secs: f64| Duration::from_secs_f64(secs);
        let measure = start + s(self.settings.warmup);
        self.window = Some((measure, measure + s(self.settings.duration)));
        if self.settings.progress {
            eprintln!(
                "{} processes have set up {} clients; sending",
                self.children.len(),
                self.settings.clients
            );
        }
        Ok(())
    }

    /// When the server is to be read next, if it is.
    fn next_server_read(&self) -> Option<Instant> {
        let (measure, end) = self.window?;
        if self.settings.server_pids.is_empty() {
            return None;
        }
        [measure, end].get(self.server_reads).copied()
    }

    /// Reads the server's CPU time as the window starts and ends (or a signal ends it).
    fn read_server(&mut self) {
        let pids = &self.settings.server_pids;
        let (Some((measure, end)), false) = (self.window, pids.is_empty()) else {
            return;
        };
        let cpu = || pids.iter().map(|&pid| cpu_s(pid)).collect();
        let now = Instant::now();
        if self.server_reads == 0 && self.interrupted && now < measure {
            // Stopped before the window: nothing to measure, as in one process.
            self.server_reads = 2;
        }
        if self.server_reads == 0 && now >= measure {
            self.server_cpu_s[0] = cpu();
            self.server_reads = 1;
        }
        if self.server_reads == 1 && (now >= end || self.interrupted) {
            self.server_cpu_s[1] = cpu();
            self.rss_after_kb = pids.iter().map(|&pid| rss_kb(pid)).collect();
            self.server_reads = 2;
        }
    }
}
