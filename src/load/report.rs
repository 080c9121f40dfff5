//! What a run shows: a progress line once a second, and the final [`Report`], printed as
//! a table and written as JSON.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stats::Stats;

/// One progress line's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub elapsed_s: f64,
    pub connected: usize,
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    pub p99_us: u64,
    pub errors: u64,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:6.1}s connected {:>6}  sent/s {:>9.0}  delivered/s {:>10.0}  p99 {:>8.3} ms  errors {}",
            self.elapsed_s,
            self.connected,
            self.sent_per_s,
            self.delivered_per_s,
            self.p99_us as f64 / 1000.0,
            self.errors
        )
    }
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
    #[serde(flatten)]
    pub header: ReportHeader,
    /// Whether the sender receives its own messages (then `echoes` counts them apart).
    pub sender_echo: bool,
    pub sent: u64,
    /// Deliveries to members other than the sender that should have happened.
    pub expected: u64,
    pub delivered: u64,
    pub echoes: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub strays: u64,
    pub errors: u64,
    pub closed_by_server: u64,
    pub error_samples: Vec<String>,
    /// Deliveries to other members per second, and their bytes, in the measured window.
    pub delivered_per_s: f64,
    pub delivered_bytes_per_s: f64,
    pub message_bytes: u64,
    pub presence_bytes: u64,
    pub other_bytes: u64,
    pub latency_corrected_us: Percentiles,
    pub latency_uncorrected_us: Percentiles,
}

impl Report {
    pub fn new(stats: &Stats, header: ReportHeader, expected: u64, expected_echoes: u64) -> Report {
        let measured_s = header.measured_s.max(f64::MIN_POSITIVE);
        let received = stats.delivered + stats.echoes;
        Report {
            header,
            sender_echo: expected_echoes > 0,
            sent: stats.sent,
            expected,
            delivered: stats.delivered,
            echoes: stats.echoes,
            lost: (expected + expected_echoes).saturating_sub(received),
            duplicates: stats.duplicates,
            reordered: stats.reordered,
            strays: stats.strays,
            errors: stats.errors,
            closed_by_server: stats.closed,
            error_samples: stats.error_samples.clone(),
            delivered_per_s: stats.delivered_measured as f64 / measured_s,
            delivered_bytes_per_s: stats.message_bytes_measured as f64 / measured_s,
            message_bytes: stats.message_bytes,
            presence_bytes: stats.presence_bytes,
            other_bytes: stats.other_bytes,
            latency_corrected_us: Percentiles::of(&stats.corrected),
            latency_uncorrected_us: Percentiles::of(&stats.uncorrected),
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
    pub measured_s: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        writeln!(
            f,
            "target {}  clients {}  members {}  size {} B  offered {:.0} msgs/s  measured {:.1} s",
            self.header.target,
            self.header.clients,
            self.header.members,
            self.header.size,
            self.header.offered_rate,
            self.header.measured_s
        )?;
        writeln!(f, "| latency (ms) | p50 | p90 | p99 | p99.9 | max |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|")?;
        for (name, p) in [
            ("corrected", &self.latency_corrected_us),
            ("uncorrected", &self.latency_uncorrected_us),
        ] {
            writeln!(
                f,
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                ms(p.p50),
                ms(p.p90),
                ms(p.p99),
                ms(p.p999),
                ms(p.max)
            )?;
        }
        writeln!(
            f,
            "delivered {:.0} msgs/s, {:.0} bytes/s (to members other than the sender)",
            self.delivered_per_s, self.delivered_bytes_per_s
        )?;
        writeln!(
            f,
            "sent {}  delivered {} of {}  sender echoes {}  lost {}  duplicates {}  reordered {}  strays {}",
            self.sent, self.delivered, self.expected, self.echoes, self.lost, self.duplicates, self.reordered, self.strays
        )?;
        writeln!(
            f,
            "bytes received: messages {}  presence {}  other {}",
            self.message_bytes, self.presence_bytes, self.other_bytes
        )?;
        write!(
            f,
            "errors {}  closed by server {}",
            self.errors, self.closed_by_server
        )?;
        for sample in &self.error_samples {
            write!(f, "\n  error: {sample}")?;
        }
        Ok(())
    }
}
