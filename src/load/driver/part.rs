//! `--procs`: one process's side of a shared run. Its clients are a [`Share`] of the
//! whole run's; once they have all joined it says `ready` on stdout, and waits for the
//! parent's `start <µs since the UNIX epoch>` on stdin: the common instant from which every
//! process sends, warms up and measures. At the end it writes its [`Part`] as one JSON line
//! on stdout. Its stdin closing (the parent is gone) ends its run: no process of a run
//! outlives the parent.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::UNIX_EPOCH;

use mio::unix::SourceFd;
use mio::{Interest, Poll};

use super::super::im::Im;
use super::super::irc::Irc;
use super::super::merge::{recorded, Counts, Part, PartSecond};
use super::super::proto::Protocol;
use super::super::redis::Redis;
use super::super::split::Share;
use super::super::{LoadError, Settings, Target};
use super::{Driver, STDIN};

/// Bytes of stdin held while waiting for a whole line: the start line is some 25 bytes,
/// so anything longer is not the parent's and is dropped.
const MAX_INPUT: usize = 256;

/// Runs share `share` of the run `whole` describes, as one of `--procs` processes.
pub fn run_share(whole: &Settings, share: &Share) -> Result<Part, LoadError> {
    let settings = share.settings(whole);
    settings.check().map_err(LoadError::Settings)?;
    match settings.target {
        Target::Im | Target::Ws => {
            Driver::new(Im::of(&settings), &settings, Some(share))?.run_part()
        }
        Target::Redis => Driver::new(Redis, &settings, Some(share))?.run_part(),
        Target::Irc => Driver::new(Irc, &settings, Some(share))?.run_part(),
    }
}

/// The wait for the common start.
#[derive(Debug, Default)]
pub(super) struct Gate {
    /// Whether `ready` was written.
    ready: bool,
    /// The common start, µs on this run's clock, once the parent sent it.
    start_us: Option<u64>,
    /// Bytes of stdin read and not yet a whole line.
    input: Vec<u8>,
}

/// Watches stdin (the parent's pipe) in `poll`, without blocking the loop on it.
pub(super) fn watch_stdin(poll: &Poll) -> io::Result<()> {
    let fd = io::stdin().as_raw_fd();
    // SAFETY: fcntl on our own stdin with valid flags; it touches no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    poll.registry()
        .register(&mut SourceFd(&fd), STDIN, Interest::READABLE)
}

impl<P: Protocol> Driver<P> {
    fn run_part(mut self) -> Result<Part, LoadError> {
        let now = self.run_loop()?;
        Ok(self.part(now))
    }

    /// Every client has joined: when sending starts. At once for a run of one process;
    /// one of `--procs` says it is ready (once), and starts at the parent's instant, or
    /// `None` until the parent has sent it.
    pub(super) fn start_us(&mut self, now: u64) -> Result<Option<u64>, LoadError> {
        let Some(gate) = &mut self.gate else {
            return Ok(Some(now));
        };
        if !gate.ready {
            gate.ready = true;
            let mut out = io::stdout().lock();
            writeln!(out, "ready")
                .and_then(|()| out.flush())
                .map_err(|e| LoadError::Procs(format!("cannot tell the parent: {e}")))?;
        }
        Ok(gate.start_us.map(|start| start.max(now)))
    }

    /// The parent wrote, or closed our stdin (then the run ends as if interrupted).
    pub(super) fn on_stdin(&mut self) -> Result<(), LoadError> {
        let started_us = self
            .started_wall
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let Some(gate) = &mut self.gate else {
            return Ok(());
        };
        let mut buf = [0u8; 64];
        loop {
            match io::stdin().lock().read(&mut buf) {
                Ok(0) => {
                    self.interrupted = true;
                    return Ok(());
                }
                Ok(n) => gate.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.interrupted = true;
                    return Ok(());
                }
            }
        }
        let Some(end) = gate.input.iter().position(|&b| b == b'\n') else {
            if gate.input.len() > MAX_INPUT {
                gate.input.clear();
            }
            return Ok(());
        };
        let line = String::from_utf8_lossy(&gate.input[..end]).into_owned();
        gate.input.drain(..=end);
        if gate.start_us.is_some() {
            return Ok(());
        }
        let unix_us = line
            .strip_prefix("start ")
            .and_then(|us| us.trim().parse::<u128>().ok())
            .ok_or_else(|| {
                LoadError::Procs(format!("not a start line from the parent: {line:?}"))
            })?;
        // The parent's wall-clock instant on this run's monotonic clock (whose origin is
        // `started_wall`): from here on no process reads the wall clock again.
        gate.start_us = Some(unix_us.saturating_sub(started_us) as u64);
        Ok(())
    }

    /// What the parent merges: the counts, the histograms' recorded values, the series.
    fn part(&mut self, now: u64) -> Part {
        let report = self.report(now);
        let latencies = self.stats.series.take_latencies();
        let per_second = report.per_second.iter().zip(latencies);
        Part {
            counts: Counts::of(&self.stats),
            error_samples: self.stats.error_samples.clone(),
            expected: self.expected,
            expected_echoes: self.expected_echoes,
            setup_s: report.held.setup_s,
            connections_held: report.held.connections_held,
            held_s: report.held.held_s,
            measured_s: report.header.measured_s,
            corrected: recorded(&self.stats.corrected),
            uncorrected: recorded(&self.stats.uncorrected),
            per_second: per_second
                .map(|(s, latency)| PartSecond {
                    second: s.second,
                    sent: s.sent,
                    delivered: s.delivered,
                    latency,
                })
                .collect(),
            imload_cpu_s: report.imload_cpu_s,
            imload_cpu_share: report.imload_cpu_share,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::split::split;
    use super::super::super::Settings;
    use super::super::names;

    #[test]
    fn shares_name_their_clients_as_one_process_would() {
        let whole = Settings {
            clients: 25,
            members: 10,
            ..Settings::default()
        };
        let shares = split(&whole, 3, 4242).unwrap();
        let joined: Vec<String> = shares
            .iter()
            .flat_map(|s| names(s.first, s.clients, s.run))
            .collect();
        assert_eq!(joined, names(0, 25, 4242));
        let mut unique = joined.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25);
    }
}
