//! Cost of one `local` rate-limit check (stripe lock + count-min increments), for one hot key
//! and for keys spread over 1,000,000 clients: informs whether the local policy belongs on
//! the hot path at full proxy throughput, and shows memory stays fixed as keys grow.
//!
//! Run: `cargo bench --bench rate_limit`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyport::plugins::rate_limit::local::LocalStore;
use skyport::plugins::rate_limit::window::Period;

fn bench(c: &mut Criterion) {
    let store = LocalStore::new();
    let now = 1_700_000_040;
    let one = [(Period::Minute, i64::MAX)];
    let two = [(Period::Second, i64::MAX), (Period::Minute, i64::MAX)];
    let mut before = Vec::with_capacity(2);
    c.bench_function("local_check_one_period_hot_key", |b| {
        b.iter(|| {
            black_box(store.check(("route", "service", "203.0.113.7"), &one, now, &mut before))
        })
    });
    c.bench_function("local_check_two_periods_hot_key", |b| {
        b.iter(|| {
            black_box(store.check(("route", "service", "203.0.113.7"), &two, now, &mut before))
        })
    });
    let mut i = 0u32;
    c.bench_function("local_check_1m_distinct_keys", |b| {
        b.iter(|| {
            i = (i + 1) % 1_000_000;
            black_box(store.check(("route", "service", i), &one, now, &mut before))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
