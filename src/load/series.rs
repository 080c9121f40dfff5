//! The measured window second by second: messages sent, deliveries that arrived, and the
//! p99 of their (corrected) latency, for the `per_second` series of `--json`. A stall
//! that a whole-run percentile hides shows up here as a second with nothing delivered.
//!
//! Events come in time order (the loop reads the clock once per pass and never goes
//! back), so only the current second is open: one histogram, reset as each second closes.
//! The series holds one entry per second of the window, so it is bounded by `--duration`;
//! so are each second's recorded latencies, kept (as (value, count) pairs, a few hundred
//! at most) for `--procs`, whose parent merges every second's distribution across processes.

use hdrhistogram::Histogram;
use serde::Serialize;

const SECOND_US: u64 = 1_000_000;

/// One second of the measured window (the last may be shorter).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Second {
    /// Seconds since measuring started: this entry covers `[second, second + 1)`.
    pub second: u64,
    pub sent: u64,
    pub delivered: u64,
    /// p99 of the latency of this second's deliveries, µs; 0 when nothing arrived.
    pub p99_us: u64,
}

/// The series being recorded.
#[derive(Debug)]
pub struct Series {
    /// The measured window, µs since the run's start; empty until sending starts.
    start_us: u64,
    end_us: u64,
    done: Vec<Second>,
    /// Each closed second's recorded latencies, as `done` holds its counts.
    latencies: Vec<Vec<(u64, u64)>>,
    current: Second,
    latency: Histogram<u64>,
}

impl Series {
    /// `latency` is an empty histogram of the run's bounds, reused for every second.
    pub fn new(latency: Histogram<u64>) -> Series {
        Series {
            start_us: 0,
            end_us: 0,
            done: Vec::new(),
            latencies: Vec::new(),
            current: empty(0),
            latency,
        }
    }

    /// Sets the measured window once sending starts.
    pub fn window(&mut self, start_us: u64, end_us: u64) {
        self.start_us = start_us;
        self.end_us = end_us;
    }

    /// Shortens the window when sending stops early (a signal).
    pub fn end_at(&mut self, end_us: u64) {
        self.end_us = self.end_us.min(end_us);
    }

    /// Counts a message due at `due` (when the schedule said it should be sent), if inside
    /// the window: the window's messages are those `sent_measured` counts. One due in a
    /// second already closed (sending fell behind) counts in the current second.
    pub fn sent(&mut self, due: u64) {
        if self.open(due) {
            self.current.sent += 1;
        }
    }

    /// Counts a delivery that arrived at `now` with this latency, if inside the window.
    pub fn delivered(&mut self, now: u64, latency_us: u64) {
        if self.open(now) {
            self.current.delivered += 1;
            self.latency.saturating_record(latency_us.max(1));
        }
    }

    /// The finished series: every second of the window, empty ones included.
    pub fn finish(&mut self) -> Vec<Second> {
        let seconds = self
            .end_us
            .saturating_sub(self.start_us)
            .div_ceil(SECOND_US);
        if seconds > 0 && self.done.len() < seconds as usize {
            self.roll(seconds - 1);
            self.close();
        }
        std::mem::take(&mut self.done)
    }

    /// Every closed second's recorded latencies, in the order of the seconds `finish`
    /// returned (call it after `finish`).
    pub fn take_latencies(&mut self) -> Vec<Vec<(u64, u64)>> {
        std::mem::take(&mut self.latencies)
    }

    /// A series already recorded elsewhere (the merged seconds of `--procs`): `finish`
    /// returns `seconds`.
    pub fn set_finished(&mut self, seconds: Vec<Second>) {
        self.start_us = 0;
        self.end_us = 0;
        self.done = seconds;
    }

    /// Whether `now` is inside the window, after closing the seconds before it.
    fn open(&mut self, now: u64) -> bool {
        if !(self.start_us..self.end_us).contains(&now) {
            return false;
        }
        self.roll((now - self.start_us) / SECOND_US);
        true
    }

    /// Closes seconds until `second` is the current one.
    fn roll(&mut self, second: u64) {
        while self.current.second < second {
            self.close();
            self.current = empty(self.current.second + 1);
        }
    }

    fn close(&mut self) {
        self.current.p99_us = self.latency.value_at_quantile(0.99);
        self.latencies.push(super::merge::recorded(&self.latency));
        self.latency.reset();
        self.done.push(self.current.clone());
    }
}

fn empty(second: u64) -> Second {
    Second {
        second,
        sent: 0,
        delivered: 0,
        p99_us: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_counted_apart_and_a_silent_one_is_kept() {
        let h = Histogram::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut s = Series::new(h);
        s.window(5_000_000, 8_500_000);
        s.sent(4_999_999); // warmup: not in the series
        s.sent(5_000_000);
        s.delivered(5_100_000, 200);
        s.delivered(5_200_000, 400);
        // nothing in [6, 7) s: a stall
        s.sent(7_000_000);
        s.delivered(8_400_000, 1000);
        s.delivered(8_500_000, 9); // drain: after the window
        let got = s.finish();
        let p99 = |us: u64| {
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .unwrap()
                .highest_equivalent(us)
        };
        assert_eq!(
            got,
            vec![
                Second {
                    second: 0,
                    sent: 1,
                    delivered: 2,
                    p99_us: p99(400)
                },
                Second {
                    second: 1,
                    sent: 0,
                    delivered: 0,
                    p99_us: 0
                },
                Second {
                    second: 2,
                    sent: 1,
                    delivered: 0,
                    p99_us: 0
                },
                Second {
                    second: 3,
                    sent: 0,
                    delivered: 1,
                    p99_us: p99(1000)
                },
            ]
        );
    }

    #[test]
    fn no_window_no_series() {
        let h = Histogram::new_with_bounds(1, 60_000_000, 3).unwrap();
        assert!(Series::new(h).finish().is_empty());
    }
}
