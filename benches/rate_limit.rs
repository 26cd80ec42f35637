//! Cost of one `local` rate-limit check (a bounded-cache lookup + the entry's lock), for one
//! hot key and for keys spread over 1,000,000 clients (most then evicted: the store's bound
//! is the node's default), and the memory one tracked key costs.
//!
//! Run: `cargo bench --bench rate_limit`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyport::plugins::rate_limit::local::LocalStore;
use skyport::plugins::rate_limit::window::Period;
use skyport::plugins::Scope;

fn bench(c: &mut Criterion) {
    let store = LocalStore::default();
    let scope = store.scope_id(&Scope {
        route_id: "route".into(),
        service_id: "service".into(),
    });
    let now = 1_700_000_040;
    let one = [(Period::Minute, i64::MAX)];
    let two = [(Period::Second, i64::MAX), (Period::Minute, i64::MAX)];
    let mut before = Vec::with_capacity(2);
    c.bench_function("local_check_one_period_hot_key", |b| {
        b.iter(|| black_box(store.check(&scope, "203.0.113.7", &one, now, &mut before)))
    });
    c.bench_function("local_check_two_periods_hot_key", |b| {
        b.iter(|| black_box(store.check(&scope, "203.0.113.7", &two, now, &mut before)))
    });
    let ids: Vec<String> = (0..1_000_000u32)
        .map(|i| format!("198.51.{}.{}", i >> 8, i & 255))
        .collect();
    let mut i = 0usize;
    c.bench_function("local_check_1m_distinct_keys", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            black_box(store.check(&scope, &ids[i], &one, now, &mut before))
        })
    });
    println!(
        "store after the run: {} keys in {} bytes (bound {}), {} evicted; {} bytes per key",
        store.entries(),
        store.used_bytes(),
        store.capacity(),
        store.evictions(),
        store.used_bytes() / store.entries().max(1)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
