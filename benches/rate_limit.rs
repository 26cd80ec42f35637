//! Cost of one `local` rate-limit check (a shard lock + one index-map probe), for one
//! hot key and for keys spread over 1,000,000 clients (most then evicted: the store's bound
//! is the node's default), and the memory one tracked key costs.
//!
//! Run: `cargo bench --bench rate_limit`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyport::plugins::rate_limit::local::LocalStore;
use skyport::plugins::rate_limit::window::{PerPeriod, Period};
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
    let mut before = PerPeriod::new();
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

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// What one tracked key really costs: resident memory grown by 200,000 IPv4-shaped keys
/// in a store big enough to keep them all, against what the bound counts per key.
fn memory_per_key(_: &mut Criterion) {
    const KEYS: u32 = 200_000;
    let store = LocalStore::new(1 << 30);
    let scope = store.scope_id(&Scope {
        route_id: "route".into(),
        service_id: "service".into(),
    });
    let limits = [(Period::Minute, 100)];
    let mut before = PerPeriod::new();
    let start = rss();
    for i in 0..KEYS {
        let id = format!("198.51.{}.{}", (i >> 8) & 255, i & 255);
        let id = format!("{id}-{}", i >> 16);
        black_box(store.check(&scope, &id, &limits, 1_700_000_040, &mut before));
    }
    let grown = rss().saturating_sub(start);
    println!(
        "memory per tracked key: {} bytes resident ({} keys, {} MiB), {} bytes as the bound counts it",
        grown / u64::from(KEYS),
        store.entries(),
        grown >> 20,
        store.used_bytes() / store.entries().max(1)
    );
}

// Memory first, in a fresh process: later benches free memory the allocator reuses.
criterion_group!(benches, memory_per_key, bench);
criterion_main!(benches);
