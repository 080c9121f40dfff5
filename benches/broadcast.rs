//! Encode once, enqueue to K outboxes: the server's work per `SEND_MESSAGE` to a
//! conversation of K members, before any socket is written.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imchat::buffer::{Line, Outbox};
use imchat::protocol::{cmd, encode};
use std::hint::black_box;

fn broadcast(c: &mut Criterion) {
    let text = "hello, this is a short chat line of about sixty-four bytes....";
    let mut group = c.benchmark_group("encode_enqueue");
    for k in [2usize, 10, 100] {
        let mut outboxes: Vec<Outbox> = (0..k).map(|_| Outbox::new()).collect();
        group.throughput(Throughput::Elements(k as u64));
        group.bench_with_input(BenchmarkId::from_parameter(k), &k, |b, _| {
            b.iter(|| {
                let line = Line::from(encode(cmd::MESSAGE, &(17u64, "alice", black_box(text))));
                for out in &mut outboxes {
                    out.push(line.clone());
                }
                // Each outbox now holds one line, as after a loop pass with one message;
                // clearing stands in for the flush that would write and release it.
                for out in &mut outboxes {
                    black_box(out.queued());
                    out.clear();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
