//! `--procs N`: what one process of a run reports to the parent ([`Part`], one JSON line on
//! its stdout), and how the parent merges the N parts into the counts of one run.
//!
//! Counts add up. Latencies are merged as distributions, never as percentiles: a
//! percentile of the whole is not an average of the parts' percentiles, so each part
//! carries its histograms' recorded values and the parent adds the histograms. The same
//! holds for every second of the `per_second` series, whose p99 is recomputed from the
//! seconds' merged values.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::series::Second;
use super::stats::{Stats, ERROR_SAMPLES};

/// A histogram's recorded values as (value, count) pairs: what travels between processes.
pub type Recorded = Vec<(u64, u64)>;

/// What one process counted: [`Stats`]' counts, its histograms, and the run's times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub counts: Counts,
    pub error_samples: Vec<String>,
    /// Deliveries that should have happened, to other members and to the senders.
    pub expected: u64,
    pub expected_echoes: u64,
    /// Seconds from the process's start to all its clients joined (`None`: never), the
    /// clients still connected at the end, and for how long after setup.
    pub setup_s: Option<f64>,
    pub connections_held: usize,
    pub held_s: f64,
    /// The measured window's length: the same instants in every process, unless a signal
    /// ended one early.
    pub measured_s: f64,
    pub corrected: Recorded,
    pub uncorrected: Recorded,
    pub per_second: Vec<PartSecond>,
    /// The process's CPU time in the measured window and its share of the window: summed
    /// and the largest, when merged (one process uses one core at most, so the busiest
    /// says whether the generator was the limit).
    #[serde(default)]
    pub imload_cpu_s: f64,
    #[serde(default)]
    pub imload_cpu_share: f64,
}

/// One second of the measured window, with its latencies' recorded values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartSecond {
    pub second: u64,
    pub sent: u64,
    pub delivered: u64,
    pub latency: Recorded,
}

/// The counters of [`Stats`] (see there for what each one counts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub sent: u64,
    pub sent_warmup: u64,
    pub sent_measured: u64,
    pub delivered: u64,
    pub delivered_warmup: u64,
    pub delivered_measured: u64,
    pub echoes: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub strays: u64,
    pub message_bytes: u64,
    pub message_bytes_measured: u64,
    pub presence_bytes: u64,
    pub other_bytes: u64,
    pub errors: u64,
    pub closed: u64,
}

impl Counts {
    pub fn of(s: &Stats) -> Counts {
        Counts {
            sent: s.sent,
            sent_warmup: s.sent_warmup,
            sent_measured: s.sent_measured,
            delivered: s.delivered,
            delivered_warmup: s.delivered_warmup,
            delivered_measured: s.delivered_measured,
            echoes: s.echoes,
            duplicates: s.duplicates,
            reordered: s.reordered,
            strays: s.strays,
            message_bytes: s.message_bytes,
            message_bytes_measured: s.message_bytes_measured,
            presence_bytes: s.presence_bytes,
            other_bytes: s.other_bytes,
            errors: s.errors,
            closed: s.closed,
        }
    }

    fn add(&mut self, o: &Counts) {
        self.sent += o.sent;
        self.sent_warmup += o.sent_warmup;
        self.sent_measured += o.sent_measured;
        self.delivered += o.delivered;
        self.delivered_warmup += o.delivered_warmup;
        self.delivered_measured += o.delivered_measured;
        self.echoes += o.echoes;
        self.duplicates += o.duplicates;
        self.reordered += o.reordered;
        self.strays += o.strays;
        self.message_bytes += o.message_bytes;
        self.message_bytes_measured += o.message_bytes_measured;
        self.presence_bytes += o.presence_bytes;
        self.other_bytes += o.other_bytes;
        self.errors += o.errors;
        self.closed += o.closed;
    }

    /// Writes the counts into `s`.
    fn set(&self, s: &mut Stats) {
        s.sent = self.sent;
        s.sent_warmup = self.sent_warmup;
        s.sent_measured = self.sent_measured;
        s.delivered = self.delivered;
        s.delivered_warmup = self.delivered_warmup;
        s.delivered_measured = self.delivered_measured;
        s.echoes = self.echoes;
        s.duplicates = self.duplicates;
        s.reordered = self.reordered;
        s.strays = self.strays;
        s.message_bytes = self.message_bytes;
        s.message_bytes_measured = self.message_bytes_measured;
        s.presence_bytes = self.presence_bytes;
        s.other_bytes = self.other_bytes;
        s.errors = self.errors;
        s.closed = self.closed;
    }
}

/// A histogram's recorded values.
pub fn recorded(h: &Histogram<u64>) -> Recorded {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// Records `values` into `h` (of the run's bounds: anything outside is clamped, so a
/// garbled part cannot fail the merge).
fn record(h: &mut Histogram<u64>, values: &Recorded) {
    for &(value, count) in values {
        h.saturating_record_n(value, count);
    }
}

/// Adds `values` to `h` as a histogram: the merge the crate defines.
fn add(h: &mut Histogram<u64>, values: &Recorded) {
    let mut other = Histogram::new_from(h);
    record(&mut other, values);
    h.add(&other)
        .expect("both histograms have the run's bounds, and values were clamped to them");
}

/// The N parts of a run as the one part a single process would have reported: counts and
/// expectations summed, histograms added (every second's apart), error samples kept up to
/// the usual few, connections summed, times the longest.
pub fn merge(parts: &[Part]) -> Part {
    let template = Stats::new().corrected;
    let mut corrected = Histogram::new_from(&template);
    let mut uncorrected = Histogram::new_from(&template);
    let mut merged = Part {
        counts: Counts::default(),
        error_samples: Vec::new(),
        expected: 0,
        expected_echoes: 0,
        setup_s: Some(0.0),
        connections_held: 0,
        held_s: 0.0,
        measured_s: 0.0,
        corrected: Vec::new(),
        uncorrected: Vec::new(),
        per_second: Vec::new(),
        imload_cpu_s: 0.0,
        imload_cpu_share: 0.0,
    };
    // Each second's histogram, by second.
    let mut seconds: Vec<(PartSecond, Histogram<u64>)> = Vec::new();
    for part in parts {
        merged.counts.add(&part.counts);
        merged
            .error_samples
            .extend(part.error_samples.iter().cloned());
        merged.expected += part.expected;
        merged.expected_echoes += part.expected_echoes;
        // The run's setup is done when the slowest process's is.
        merged.setup_s = match (merged.setup_s, part.setup_s) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        merged.connections_held += part.connections_held;
        merged.held_s = merged.held_s.max(part.held_s);
        merged.measured_s = merged.measured_s.max(part.measured_s);
        merged.imload_cpu_s += part.imload_cpu_s;
        merged.imload_cpu_share = merged.imload_cpu_share.max(part.imload_cpu_share);
        add(&mut corrected, &part.corrected);
        add(&mut uncorrected, &part.uncorrected);
        for s in &part.per_second {
            let i = s.second as usize;
            while seconds.len() <= i {
                let empty = PartSecond {
                    second: seconds.len() as u64,
                    sent: 0,
                    delivered: 0,
                    latency: Vec::new(),
                };
                seconds.push((empty, Histogram::new_from(&template)));
            }
            let (into, histogram) = &mut seconds[i];
            into.sent += s.sent;
            into.delivered += s.delivered;
            add(histogram, &s.latency);
        }
    }
    merged.error_samples.truncate(ERROR_SAMPLES);
    merged.corrected = recorded(&corrected);
    merged.uncorrected = recorded(&uncorrected);
    merged.per_second = seconds
        .into_iter()
        .map(|(s, h)| PartSecond {
            latency: recorded(&h),
            ..s
        })
        .collect();
    merged
}

impl Part {
    /// The part as [`Stats`], from which [`super::Report::new`] makes the report.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::new();
        self.counts.set(&mut stats);
        stats.error_samples = self.error_samples.clone();
        record(&mut stats.corrected, &self.corrected);
        record(&mut stats.uncorrected, &self.uncorrected);
        let mut scratch = Histogram::new_from(&stats.corrected);
        let seconds = self.per_second.iter().map(|s| {
            scratch.reset();
            record(&mut scratch, &s.latency);
            Second {
                second: s.second,
                sent: s.sent,
                delivered: s.delivered,
                p99_us: scratch.value_at_quantile(0.99),
            }
        });
        stats.series.set_finished(seconds.collect());
        stats
    }
}

#[cfg(test)]
mod tests;
