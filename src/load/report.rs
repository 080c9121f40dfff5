//! What a run shows: a progress line once a second, and the final [`Report`], written as
//! JSON; `text.rs` prints both for people.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::series::Second;
use super::stats::Stats;

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
    /// imload's version, when the run started (RFC 3339, UTC) and what it ran against.
    pub imload_version: &'static str,
    pub timestamp: String,
    pub server: String,
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
    /// The server's CPU time in the measured window (`--server-pid`, Linux), and that
    /// divided by the window's deliveries to other members (the senders' echoes are in
    /// the time too, as in `scripts/bench-peers.sh`); `None` when not measured.
    pub server_cpu_measured_s: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
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
            latency_corrected_us: Percentiles::of(&stats.corrected),
            latency_uncorrected_us: Percentiles::of(&stats.uncorrected),
            per_second: stats.series.finish(),
            corrected: stats.corrected.clone(),
        }
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
    /// (`--server-pid`, Linux); `None` when not measured.
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
