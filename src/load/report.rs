//! What a run shows: a progress line once a second, and the final [`Report`], written as
//! JSON; `text.rs` prints both for people.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::nodes::{server_clients, sum_all, Node, ServerClients, ServerProcess};
use super::series::Second;
use super::stats::Stats;

/// The CPU share (of one core) from which a process is taken to be the limit of a run.
/// Not 1.0: a saturated single-threaded process still spends a few percent waiting
/// (scheduling, a poll that finds nothing yet, clock-tick rounding of `/proc` times), and
/// the rate it delivers is already its ceiling. Far enough above what a run below its
/// limit shows (its loop sleeps between events) that a busy-but-keeping-up process is
/// not called saturated.
pub const SATURATED_SHARE: f64 = 0.95;

/// Which side limited a run: what its delivered rate is a measurement of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// The server used at least [`SATURATED_SHARE`] of its core and imload did not: the
    /// rate is the server's limit.
    Server,
    /// Both did: the rate is a lower bound on the server's limit, not the limit. On one
    /// machine's loopback imload's system calls mirror the server's (every line the server
    /// writes, imload reads; every message imload writes, the server reads), so with a core
    /// each, both tend to saturate together; `--procs` gives imload more cores.
    Both,
    /// imload did (and the server did not): the rate is imload's limit, not the server's.
    Generator,
    /// Neither: the rate is what was offered, not anyone's limit.
    Neither,
    /// imload was not saturated and the server's CPU was not measured (`--server-pid`).
    Unknown,
}

/// Classifies a run by its CPU shares in the measured window. A rate is the server's
/// limit only when the server was saturated and imload was not: a busy loop's cost per
/// delivery falls as its load rises (more lines per system call), so a server at its full
/// core behind a saturated generator may still deliver more when offered more.
pub fn bound(server_share: Option<f64>, imload_share: f64) -> Bound {
    let imload_saturated = imload_share >= SATURATED_SHARE;
    match server_share {
        Some(server) if server >= SATURATED_SHARE && imload_saturated => Bound::Both,
        Some(server) if server >= SATURATED_SHARE => Bound::Server,
        _ if imload_share >= SATURATED_SHARE => Bound::Generator,
        Some(_) => Bound::Neither,
        None => Bound::Unknown,
    }
}

/// One progress line's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub elapsed_s: f64,
    /// `setup`, `warmup`, `measured`, `drain` or `holding`.
    pub phase: &'static str,
    pub connected: usize,
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    /// p99 of the corrected latency so far in the measured window; `None` before it.
    pub p99_us: Option<u64>,
    pub errors: u64,
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub count: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Percentiles {
        let q = |q| h.value_at_quantile(q);
        Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max(),
            count: h.len(),
        }
    }
}

/// The outcome of a run, as printed and as written with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// imload's version, when the run started (RFC 3339, UTC) and what it ran against:
    /// the server's address, or with several (`--server A,B,C`) all of them joined by
    /// commas.
    pub imload_version: &'static str,
    pub timestamp: String,
    pub server: String,
    /// Every server, with how many clients connected to it.
    pub servers: Vec<ServerClients>,
    /// imload processes that made the run (`--procs`; 1 unless asked).
    pub procs: usize,
    #[serde(flatten)]
    pub header: ReportHeader,
    #[serde(flatten)]
    pub held: Held,
    /// Whether the sender receives its own messages (then `echoes` counts them apart).
    pub sender_echo: bool,
    /// Messages sent: all, those due during the warmup, those due in the measured window.
    pub sent: u64,
    pub sent_warmup: u64,
    pub sent_measured: u64,
    /// Deliveries to members other than the sender that should have happened.
    pub expected: u64,
    /// Deliveries to members other than the sender: all, those that arrived during the
    /// warmup, in the measured window, and after sending stopped.
    pub delivered: u64,
    pub delivered_warmup: u64,
    pub delivered_measured: u64,
    pub delivered_after: u64,
    pub echoes: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub strays: u64,
    pub errors: u64,
    pub closed_by_server: u64,
    pub error_samples: Vec<String>,
    /// Messages sent per second, deliveries to other members per second, and their
    /// bytes, in the measured window.
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    pub delivered_bytes_per_s: f64,
    pub message_bytes: u64,
    pub presence_bytes: u64,
    pub other_bytes: u64,
    /// The server's CPU time in the measured window (`--server-pid`, Linux; with several
    /// processes, their sum), and that divided by the window's deliveries to other members
    /// (the senders' echoes are in the time too, as in `scripts/bench-peers.sh`); `None`
    /// when not measured.
    pub server_cpu_measured_s: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
    /// imload's own CPU time in the measured window (getrusage, user and system; summed
    /// over its processes), and that per delivery to other members (`None` without one).
    pub imload_cpu_s: f64,
    pub imload_cpu_us_per_delivery: Option<f64>,
    /// CPU time over the window's wall time: imload's busiest process (0..1, one thread
    /// each), and the server's processes summed (`None` when not measured; several may
    /// use more than one core together).
    pub imload_cpu_share: f64,
    pub server_cpu_share: Option<f64>,
    /// Which side limited the run (see [`bound`]), from imload's share and the busiest
    /// server process's: one node at its core limits a run whose clients it shares.
    pub bound: Bound,
    /// Each process of `--server-pid`, in its order: its own CPU and memory, of which the
    /// server fields above are the sums. Empty without `--server-pid`.
    pub server_processes: Vec<ServerProcess>,
    pub latency_corrected_us: Percentiles,
    pub latency_uncorrected_us: Percentiles,
    /// The measured window second by second.
    pub per_second: Vec<Second>,
    /// The corrected latencies themselves, for `--hgrm`.
    #[serde(skip)]
    pub corrected: Histogram<u64>,
}

impl Report {
    pub fn new(
        stats: &mut Stats,
        header: ReportHeader,
        held: Held,
        expected: u64,
        expected_echoes: u64,
    ) -> Report {
        let measured_s = header.measured_s.max(f64::MIN_POSITIVE);
        let received = stats.delivered + stats.echoes;
        Report {
            imload_version: env!("CARGO_PKG_VERSION"),
            timestamp: String::new(),
            server: String::new(),
            servers: Vec::new(),
            procs: 1,
            header,
            held,
            sender_echo: expected_echoes > 0,
            sent: stats.sent,
            sent_warmup: stats.sent_warmup,
            sent_measured: stats.sent_measured,
            expected,
            delivered: stats.delivered,
            delivered_warmup: stats.delivered_warmup,
            delivered_measured: stats.delivered_measured,
            delivered_after: stats.delivered - stats.delivered_warmup - stats.delivered_measured,
            echoes: stats.echoes,
            lost: (expected + expected_echoes).saturating_sub(received),
            duplicates: stats.duplicates,
            reordered: stats.reordered,
            strays: stats.strays,
            errors: stats.errors,
            closed_by_server: stats.closed,
            error_samples: stats.error_samples.clone(),
            sent_per_s: stats.sent_measured as f64 / measured_s,
            delivered_per_s: stats.delivered_measured as f64 / measured_s,
            delivered_bytes_per_s: stats.message_bytes_measured as f64 / measured_s,
            message_bytes: stats.message_bytes,
            presence_bytes: stats.presence_bytes,
            other_bytes: stats.other_bytes,
            server_cpu_measured_s: None,
            server_cpu_us_per_delivery: None,
            imload_cpu_s: 0.0,
            imload_cpu_us_per_delivery: None,
            imload_cpu_share: 0.0,
            server_cpu_share: None,
            bound: Bound::Unknown,
            server_processes: Vec::new(),
            latency_corrected_us: Percentiles::of(&stats.corrected),
            latency_uncorrected_us: Percentiles::of(&stats.uncorrected),
            per_second: stats.series.finish(),
            corrected: stats.corrected.clone(),
        }
    }

    /// Names the run's servers with their clients, and `--server-pid`'s processes with
    /// their memory before and after (kB, in `pids`' order); [`Report::set_cpu`] adds
    /// their CPU.
    pub fn set_servers(
        &mut self,
        nodes: &[Node],
        clients: usize,
        pids: &[u32],
        rss_kb: [&[Option<u64>]; 2],
    ) {
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
        self.server = addrs.join(",");
        self.servers = server_clients(nodes, clients);
        let rss = |end: usize, i: usize| rss_kb[end].get(i).copied().flatten();
        self.server_processes = (pids.iter().enumerate())
            .map(|(i, &pid)| ServerProcess {
                pid,
                cpu_measured_s: None,
                cpu_share: None,
                rss_kb_before: rss(0, i),
                rss_kb_after: rss(1, i),
            })
            .collect();
    }

    /// Fills in the CPU fields from the measured window's CPU times, seconds: each server
    /// process's (`--server-pid`'s order; `None` where not measured) and one imload
    /// process's, over `window_s` of wall time.
    pub fn set_cpu(&mut self, window_s: f64, server_each: &[Option<f64>], imload_s: f64) {
        let window_s = window_s.max(f64::MIN_POSITIVE);
        let server_s = sum_all(server_each);
        for (process, cpu) in self.server_processes.iter_mut().zip(server_each) {
            process.cpu_measured_s = *cpu;
            process.cpu_share = cpu.map(|cpu| cpu / window_s);
        }
        let per_delivery = |cpu: f64| {
            (self.delivered_measured > 0).then(|| cpu * 1e6 / self.delivered_measured as f64)
        };
        self.server_cpu_measured_s = server_s;
        self.server_cpu_us_per_delivery = server_s.and_then(per_delivery);
        self.imload_cpu_s = imload_s;
        self.imload_cpu_us_per_delivery = per_delivery(imload_s);
        // One thread uses one core at most; more is the two clocks disagreeing by a hair.
        self.imload_cpu_share = (imload_s / window_s).min(1.0);
        // Not capped: a server with threads of its own, or several, may use more than a
        // core.
        self.server_cpu_share = server_s.map(|cpu| cpu / window_s);
        let busiest = server_s.and(server_each.iter().flatten().copied().reduce(f64::max));
        self.bound = bound(busiest.map(|cpu| cpu / window_s), self.imload_cpu_share);
    }

    /// Whether the run delivered everything, once, with no error.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.strays == 0
            && self.errors == 0
            && self.closed_by_server == 0
    }
}

/// The settings a report repeats.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReportHeader {
    pub target: &'static str,
    /// Whether the clients spoke TLS to the server (`--tls`).
    pub tls: bool,
    pub clients: usize,
    pub members: usize,
    pub size: usize,
    pub offered_rate: f64,
    pub warmup_s: f64,
    pub measured_s: f64,
}

/// The connections themselves: what an `--idle` run measures, and any run reports.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Held {
    pub idle: bool,
    /// Seconds from start until every client was logged in (and, unless idle, had joined);
    /// `None` if setup never finished.
    pub setup_s: Option<f64>,
    /// Connections still open at the end, and for how long they were all up (seconds
    /// from the end of setup to the end of the run).
    pub connections_held: usize,
    pub held_s: f64,
    /// The server's resident memory before the first connection and at the end, kB
    /// (`--server-pid`, Linux; with several processes, their sum, and `server_pid` the
    /// first of them); `None` when not measured.
    pub server_pid: Option<u32>,
    pub server_rss_kb_before: Option<u64>,
    pub server_rss_kb_after: Option<u64>,
}

impl Held {
    /// The server's memory growth per held connection, bytes, when it was measured.
    pub fn rss_bytes_per_connection(&self) -> Option<f64> {
        let (before, after) = (self.server_rss_kb_before?, self.server_rss_kb_after?);
        let grown = after as f64 - before as f64;
        (self.connections_held > 0).then(|| grown * 1024.0 / self.connections_held as f64)
    }
}

#[cfg(test)]
impl Report {
    /// A report of a run that delivered `delivered` messages in a measured window of
    /// `measured_s` seconds, nothing else set.
    pub fn sample(delivered: u64, measured_s: f64, server_pid: Option<u32>) -> Report {
        let mut stats = Stats::new();
        stats.delivered = delivered;
        stats.delivered_measured = delivered;
        let header = ReportHeader {
            target: "im",
            tls: false,
            clients: 10,
            members: 10,
            size: 64,
            offered_rate: 1000.0,
            warmup_s: 1.0,
            measured_s,
        };
        let held = Held {
            idle: false,
            setup_s: Some(0.1),
            connections_held: 10,
            held_s: measured_s,
            server_pid,
            server_rss_kb_before: None,
            server_rss_kb_after: None,
        };
        Report::new(&mut stats, header, held, delivered, 0)
    }
}

#[cfg(test)]
mod tests;
