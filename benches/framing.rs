//! Framing throughput: cutting a large buffer of short lines, the server's per-read work.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imchat::framing::next_line;
use std::hint::black_box;

/// About the size of many reads' worth of input: large enough that per-call overhead, not
/// cache warm-up, dominates.
const BUFFER_BYTES: usize = 1 << 20;

/// The server's default line limit.
const MAX_LINE: usize = 64 * 1024;

fn short_lines() -> Vec<u8> {
    let line = b"SEND_MESSAGE [17,\"hello, this is a short chat line\"]\n";
    line.iter()
        .copied()
        .cycle()
        .take(BUFFER_BYTES / line.len() * line.len())
        .collect()
}

fn framing(c: &mut Criterion) {
    let buf = short_lines();
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    group.bench_function("short_lines_1MiB", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut lines = 0;
            while let Ok(Some((line, used))) = next_line(&buf[at..], MAX_LINE) {
                black_box(line);
                at += used;
                lines += 1;
            }
            lines
        })
    });
    group.finish();
}

criterion_group!(benches, framing);
criterion_main!(benches);
