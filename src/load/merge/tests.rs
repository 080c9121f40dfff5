use super::*;
use crate::load::report::{Held, Report, ReportHeader};

/// A part whose latencies are `values`, all in second 0 of its series, and whose counts
/// are all `count`.
fn part(values: &[u64], count: u64, later: &[u64]) -> Part {
    let mut stats = Stats::new();
    for &v in values {
        stats.corrected.saturating_record(v);
        stats.uncorrected.saturating_record(v / 2 + 1);
    }
    let mut counts = Counts::of(&stats);
    counts.sent = count;
    counts.delivered = count;
    counts.delivered_measured = count;
    counts.errors = count;
    let mut seconds = vec![PartSecond {
        second: 0,
        sent: count,
        delivered: values.len() as u64,
        latency: recorded(&stats.corrected),
    }];
    if !later.is_empty() {
        let mut h = Histogram::new_from(&stats.corrected);
        later.iter().for_each(|&v| h.saturating_record(v));
        seconds.push(PartSecond {
            second: 1,
            sent: 0,
            delivered: later.len() as u64,
            latency: recorded(&h),
        });
    }
    Part {
        counts,
        error_samples: (0..count).map(|i| format!("e{i}")).collect(),
        expected: 3 * count,
        expected_echoes: count,
        setup_s: Some(count as f64),
        connections_held: 10,
        held_s: 2.0,
        measured_s: 1.0 + count as f64 / 1000.0,
        corrected: recorded(&stats.corrected),
        uncorrected: recorded(&stats.uncorrected),
        per_second: seconds,
        imload_cpu_s: count as f64 / 10.0,
        imload_cpu_share: count as f64 / 10.0,
    }
}

/// Values spread over the histogram's range, in a different order per seed.
fn values(seed: u64, n: usize) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            1 + x % 50_000
        })
        .collect()
}

#[test]
fn merged_histograms_equal_one_histogram_of_every_value() {
    let (a, b, c) = (values(1, 5000), values(2, 300), values(3, 20));
    let merged = merge(&[
        part(&a, 1, &[]),
        part(&b, 2, &c),
        part(&[7_000_000], 3, &[]),
    ]);
    let mut all = Stats::new().corrected;
    for &v in a.iter().chain(&b).chain(&[7_000_000]) {
        all.saturating_record(v);
    }
    let stats = merged.stats();
    assert_eq!(stats.corrected, all, "histograms added, not averaged");
    assert_eq!(stats.corrected.len(), 5301);
    assert_eq!(
        stats.corrected.value_at_quantile(0.99),
        all.value_at_quantile(0.99)
    );
    assert_eq!(stats.uncorrected.len(), 5301);
    // Second 0 holds a, b and the slow one; second 1 only c, from one part.
    let second = |vs: &[&[u64]]| {
        let mut h: Histogram<u64> = Histogram::new_from(&all);
        vs.iter()
            .flat_map(|v| v.iter())
            .for_each(|&v| h.saturating_record(v));
        h.value_at_quantile(0.99)
    };
    let (p0, p1) = (second(&[&a, &b, &[7_000_000]]), second(&[&c]));
    let got = merged.stats().series.finish();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].sent, got[0].delivered, got[0].p99_us),
        (6, 5301, p0)
    );
    assert_eq!((got[1].sent, got[1].delivered, got[1].p99_us), (0, 20, p1));
}

#[test]
fn counts_add_and_times_are_the_longest() {
    let merged = merge(&[part(&[10], 4, &[]), part(&[20], 5, &[])]);
    assert_eq!(merged.counts.sent, 9);
    assert_eq!(merged.counts.delivered_measured, 9);
    assert_eq!(merged.counts.errors, 9);
    assert_eq!((merged.expected, merged.expected_echoes), (27, 9));
    assert_eq!(merged.connections_held, 20);
    assert_eq!(merged.setup_s, Some(5.0));
    assert_eq!(merged.measured_s, 1.005);
    assert_eq!(merged.imload_cpu_s, 0.9, "CPU times add up");
    assert_eq!(
        merged.imload_cpu_share, 0.5,
        "the busiest process's share says whether imload was the limit"
    );
    assert_eq!(merged.error_samples.len(), ERROR_SAMPLES, "the usual few");
    let never = Part {
        setup_s: None,
        ..part(&[], 1, &[])
    };
    assert_eq!(merge(&[part(&[], 1, &[]), never]).setup_s, None);
}

#[test]
fn a_part_survives_its_json_line_and_one_part_merges_to_itself() {
    let p = part(&values(9, 100), 4, &values(8, 5));
    let line = serde_json::to_string(&p).unwrap();
    assert!(!line.contains('\n'), "one line");
    let back: Part = serde_json::from_str(&line).unwrap();
    assert_eq!(back, p);
    assert_eq!(merge(&[back]), p);
}

#[test]
fn the_merged_report_counts_what_the_parts_measured() {
    let merged = merge(&[part(&values(4, 50), 50, &[]), part(&values(5, 70), 70, &[])]);
    let header = ReportHeader {
        target: "im",
        tls: false,
        clients: 20,
        members: 4,
        size: 64,
        offered_rate: 100.0,
        warmup_s: 0.0,
        measured_s: merged.measured_s,
    };
    let held = Held {
        idle: false,
        setup_s: merged.setup_s,
        connections_held: merged.connections_held,
        held_s: merged.held_s,
        server_pid: None,
        server_rss_kb_before: None,
        server_rss_kb_after: None,
    };
    let mut stats = merged.stats();
    let (expected, echoes) = (merged.expected, merged.expected_echoes);
    let report = Report::new(&mut stats, header, held, expected, echoes);
    assert_eq!(report.latency_corrected_us.count, 120);
    assert_eq!(report.delivered_measured, 120);
    assert_eq!(report.expected, 360);
    assert_eq!(report.per_second.len(), 1);
    assert_eq!(report.per_second[0].sent, 120);
}
