//! The timer wheel at 10^3 to 10^5 timers, with the server's geometry (10 ms ticks, 512
//! slots): inserting them, advancing through all of them, and asking for the next deadline
//! (which the loop does before every poll, so it must not grow with the timers).

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use imchat::wheel::Wheel;

/// The server's tick and wheel size (see `src/server/event_loop/mod.rs`).
const TICK_MS: u64 = 10;
const SLOTS: usize = 512;

/// Deadlines spread over 30 s (the registration timeout): several turns of the wheel, so
/// the far-timer path is exercised too. A multiplicative hash spreads them without a
/// random number generator.
fn deadline(i: u64) -> u64 {
    1 + i.wrapping_mul(2_654_435_761) % 30_000
}

fn filled(n: u64) -> Wheel<u64> {
    let mut wheel = Wheel::new(TICK_MS, SLOTS, 0);
    for i in 0..n {
        wheel.insert(deadline(i), i);
    }
    wheel
}

/// A burst of `n` connections accepted within one second, each with its registration
/// deadline 30 s ahead: every timer is several turns of the wheel away, the case where a
/// scan of the timers would cost the most.
fn registration_deadlines(n: u64) -> Wheel<u64> {
    let mut wheel = Wheel::new(TICK_MS, SLOTS, 0);
    for i in 0..n {
        wheel.insert(REGISTER_TIMEOUT_MS + i * 1_000 / n, i);
    }
    wheel
}

/// The server's default `--register-timeout-ms`.
const REGISTER_TIMEOUT_MS: u64 = 30_000;

fn wheel(c: &mut Criterion) {
    let mut group = c.benchmark_group("wheel");
    for n in [1_000u64, 10_000, 100_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("insert", n), &n, |b, &n| {
            b.iter(|| filled(n))
        });
        group.bench_with_input(BenchmarkId::new("advance_all", n), &n, |b, &n| {
            b.iter_batched(
                || filled(n),
                |mut wheel| {
                    let mut fired = 0;
                    // One advance per tick, as the loop does when it wakes every tick.
                    for now in (0..=30_000).step_by(TICK_MS as usize) {
                        fired += wheel.advance(now).len();
                    }
                    assert_eq!(fired as u64, n);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
    let mut group = c.benchmark_group("next_deadline");
    for n in [1_000u64, 10_000, 100_000] {
        let wheel = registration_deadlines(n);
        assert_eq!(wheel.next_deadline(), Some(REGISTER_TIMEOUT_MS));
        group.bench_with_input(BenchmarkId::from_parameter(n), &wheel, |b, wheel| {
            b.iter(|| black_box(wheel).next_deadline())
        });
    }
    group.finish();
}

criterion_group!(benches, wheel);
criterion_main!(benches);
