//! The name rule's cost per name: what `REGISTER` pays three times (validate, look up, index)
//! and `INVITE` once per name it lists. The old rule (a character scan and `to_lowercase`)
//! is kept here as the baseline the PRECIS rule is measured against.

use criterion::{criterion_group, criterion_main, Criterion};
use imchat::names::name_key;
use std::hint::black_box;

/// The rule before RFC 8265: length, no whitespace or control, and a lower-cased key.
fn old_rule(name: &str) -> Option<String> {
    let chars = name.chars().count();
    let ok =
        (1..=32).contains(&chars) && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| name.to_lowercase())
}

fn names(c: &mut Criterion) {
    let cases = [
        ("ascii_lower", "alice42"),
        ("ascii_mixed", "Alice42"),
        ("latin", "Zoë"),
        ("cjk", "李小龍"),
        ("sharp_s", "straße"),
        ("long_greek_32", "ΟΔΥΣΣΕΥΣΟΔΥΣΣΕΥΣΟΔΥΣΣΕΥΣΟΔΥΣΣΕΥΣ"),
    ];
    let mut group = c.benchmark_group("names");
    for (label, name) in cases {
        group.bench_function(format!("old_{label}"), |b| {
            b.iter(|| old_rule(black_box(name)))
        });
        group.bench_function(format!("key_{label}"), |b| {
            b.iter(|| name_key(black_box(name)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, names);
criterion_main!(benches);
