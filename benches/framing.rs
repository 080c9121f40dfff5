//! Framing throughput: cutting a large buffer of short lines, the server's per-read work;
//! and a long line arriving a byte at a time, which must cost per byte, not per byte held.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use imchat::buffer::{ReadBuf, SpareBuffer};
use imchat::framing::next_line;
use std::hint::black_box;

/// About the size of many reads' worth of input: large enough that per-call overhead, not
/// cache warm-up, dominates.
const BUFFER_BYTES: usize = 1 << 20;

/// The server's default line limit.
const MAX_LINE: usize = 64 * 1024;

/// The unfinished line a dripping client holds in its read buffer: nearly the limit.
const TAIL_BYTES: usize = 60 * 1024;

/// Bytes dripped into that line per measured batch, one read each.
const DRIPS: usize = 1000;

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

/// A read buffer holding `TAIL_BYTES` of a line with no `\n` yet, as the server's would.
fn buffer_with_tail(spare: &mut SpareBuffer) -> ReadBuf {
    let mut buf = ReadBuf::new();
    let tail = vec![b'x'; TAIL_BYTES];
    let mut input = &tail[..];
    while !input.is_empty() {
        buf.read_from(&mut input, spare).unwrap();
        assert_eq!(buf.next_line(MAX_LINE), Ok(None));
    }
    buf
}

/// `DRIPS` one-byte reads into a 60 KiB unfinished line, each followed by the search for a
/// line, as the server does per read. Searching the whole tail again would cost about
/// `TAIL_BYTES` per byte; searching only what is new costs the same whatever the tail.
fn dripping_tail(c: &mut Criterion) {
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Bytes(DRIPS as u64));
    group.bench_function("drip_1000_bytes_into_60KiB_tail", |b| {
        let mut spare = SpareBuffer::default();
        b.iter_batched_ref(
            || buffer_with_tail(&mut SpareBuffer::default()),
            |buf| {
                for _ in 0..DRIPS {
                    buf.read_from(&mut &b"y"[..], &mut spare).unwrap();
                    black_box(buf.next_line(MAX_LINE).unwrap().is_none());
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, framing, dripping_tail);
criterion_main!(benches);
