//! The whole latency distribution as text, for `--hgrm`: HdrHistogram's "percentile
//! distribution" format, the one Java HdrHistogram's `outputPercentileDistribution`,
//! HdrHistogram_c's `hdr_percentiles_print` and wrk2's `--u_latency` write, and the
//! HdrHistogram plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html) reads.
//! The hdrhistogram crate iterates percentiles but does not print them, so this does,
//! row for row as HdrHistogram_c does:
//!
//! ```text
//!        Value   Percentile   TotalCount 1/(1-Percentile)
//!
//!        0.087     0.000000            1         1.00
//!        ...
//!        2.351     1.000000         9000          inf
//! #[Mean    =        0.131, StdDeviation   =        0.060]
//! #[Max     =        2.351, Total count    =         9000]
//! #[Buckets =           22, SubBuckets     =         2048]
//! ```
//!
//! Values are in milliseconds, as wrk2 writes them (the histograms hold microseconds).

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// Rows per halving of the distance to 100 %: 5, as wrk2 and the Java default use, gives
/// rows at 0, 10, ..., 50 %, then 55, 60, ..., 75 %, and so on, finer towards the tail.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Microseconds per unit written (milliseconds).
const UNIT_US: f64 = 1000.0;

/// Writes `h` (microseconds) in the percentile-distribution format, values in ms.
pub fn write_hgrm(h: &Histogram<u64>, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let ms = |us: f64| us / UNIT_US;
    writeln!(
        out,
        "{:>12} {:>12} {:>12} {:>12}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    for (value, percentile, total) in percentile_rows(h) {
        let q = percentile / 100.0;
        // At q = 1 this is infinite, written `inf` as C's printf does.
        writeln!(
            out,
            "{:12.3} {:12.6} {:12} {:12.2}",
            ms(value as f64),
            q,
            total,
            1.0 / (1.0 - q)
        )?;
    }
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        ms(h.mean()),
        ms(h.stdev())
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        ms(h.max() as f64),
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    )
}

/// The rows: (value, percentile, count up to it), as HdrHistogram_c's percentile iterator
/// yields them. The crate's `iter_quantiles` steps in quantiles, whose sums drift (0.5 +
/// 5 × 0.05 ends just above 0.75, so the 75 % row lands on the next value); HdrHistogram
/// steps in percents, where these sums are exact, so the rows are computed here over the
/// crate's `iter_recorded`: at each recorded value, a row for every percentile step it
/// reaches (the step halving each time the distance to 100 % halves), one row only at the
/// last value, then the 100 % row.
fn percentile_rows(h: &Histogram<u64>) -> Vec<(u64, f64, u64)> {
    let total = h.len();
    let mut rows = Vec::new();
    let mut step_to = 0.0f64;
    let mut count = 0u64;
    let mut last = 0;
    for v in h.iter_recorded() {
        count += v.count_at_value();
        last = v.value_iterated_to();
        let reached = 100.0 * count as f64 / total as f64;
        while step_to <= reached {
            rows.push((last, step_to, count));
            let halvings = (100.0 / (100.0 - step_to)).log2() as u32 + 1;
            let ticks = u64::from(TICKS_PER_HALF_DISTANCE) << halvings.min(62);
            step_to += 100.0 / ticks as f64;
            if count == total {
                break;
            }
        }
    }
    if total > 0 {
        rows.push((last, 100.0, total));
    }
    rows
}

/// Sub-buckets per bucket, which the crate does not expose: computed from the significant
/// digits as every HdrHistogram does (the smallest power of two that holds
/// 2 × 10^digits values at unit resolution).
fn sub_buckets(sigfig: u8) -> u64 {
    let single_unit = 2 * 10u64.pow(u32::from(sigfig));
    let magnitude = (single_unit as f64).log2().ceil() as u32;
    1 << magnitude.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(h: &Histogram<u64>) -> String {
        let mut out = Vec::new();
        write_hgrm(h, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_known_histogram_is_written_as_hdrhistogram_c_writes_it() {
        // 1, 2, 3 and 4 ms. Above 2047 µs the resolution is 2 µs, so 3000 and 4000 µs
        // stand for their buckets' highest values, 3001 and 4001, and the mean takes the
        // middle of each bucket (2500.5 µs). The rows step by 10 % to 50 %, by 5 % to 75 %,
        // by 2.5 % to 87.5 %..., as HdrHistogram_c prints them; 16 buckets of 2048 cover
        // one minute in µs.
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for us in [1000, 2000, 3000, 4000] {
            h.record(us).unwrap();
        }
        let expected = "       Value   Percentile   TotalCount 1/(1-Percentile)

       1.000     0.000000            1         1.00
       1.000     0.100000            1         1.11
       1.000     0.200000            1         1.25
       2.000     0.300000            2         1.43
       2.000     0.400000            2         1.67
       2.000     0.500000            2         2.00
       3.001     0.550000            3         2.22
       3.001     0.600000            3         2.50
       3.001     0.650000            3         2.86
       3.001     0.700000            3         3.33
       3.001     0.750000            3         4.00
       4.001     0.775000            4         4.44
       4.001     1.000000            4          inf
#[Mean    =        2.501, StdDeviation   =        1.118]
#[Max     =        4.001, Total count    =            4]
#[Buckets =           16, SubBuckets     =         2048]
";
        assert_eq!(write(&h), expected);
    }

    #[test]
    fn an_empty_histogram_has_a_header_and_a_footer() {
        let h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let text = write(&h);
        assert!(text.starts_with("       Value   Percentile"), "{text}");
        assert!(text.contains("Total count    =            0]"), "{text}");
    }

    #[test]
    fn sub_buckets_match_hdrhistogram() {
        assert_eq!(sub_buckets(3), 2048);
        assert_eq!(sub_buckets(2), 256);
        assert_eq!(sub_buckets(1), 32);
    }
}
