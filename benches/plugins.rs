//! Per-request cost of the access-control plugins' own work: key-auth's key lookup (a
//! SHA-256 and one map probe, among 10 and 100,000 keys) and cors' answer headers (exact,
//! regex and unknown origins).
//!
//! Run: `cargo bench --bench plugins`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyport::plugins::auth::{identity_headers, ApiKey, Directory};
use skyport::plugins::cors::{Cors, CorsConfig};
use skyport::plugins::Consumer;
use std::sync::Arc;

fn directory(n: usize) -> Directory {
    let consumers: Vec<Arc<Consumer>> = (0..n)
        .map(|i| {
            Arc::new(Consumer {
                id: format!("00000000-0000-0000-0000-{i:012}"),
                username: Some(format!("user-{i}")),
                ..Default::default()
            })
        })
        .collect();
    let keys = consumers.iter().enumerate().map(|(i, c)| {
        let key = ApiKey {
            consumer: c.clone(),
            id: c.id.as_str().into(),
            headers: identity_headers(c, Some(&c.id)),
        };
        (format!("key-{i}-a7f3c9e1b2d4"), key)
    });
    Directory::new(&consumers, keys, std::iter::empty())
}

fn bench(c: &mut Criterion) {
    for n in [10, 100_000] {
        let d = directory(n);
        c.bench_function(&format!("key_auth_lookup_{n}_keys"), |b| {
            b.iter(|| black_box(d.api_key(black_box("key-7-a7f3c9e1b2d4")).is_some()))
        });
    }
    let cors = Cors::new(CorsConfig {
        origins: Some(vec![
            "https://app.example.com".into(),
            "http://localhost:3000".into(),
            "https://.*\\.partner\\.test".into(),
        ]),
        exposed_headers: Some(vec!["X-Trace".into()]),
        credentials: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("cors config: {e:?}"));
    for (name, origin) in [
        ("exact", "https://app.example.com"),
        ("regex", "https://api.partner.test"),
        ("unknown", "https://evil.example"),
    ] {
        c.bench_function(&format!("cors_headers_{name}_origin"), |b| {
            b.iter(|| black_box(cors.response_headers(Some(black_box(origin))).len()))
        });
    }
    let any = Cors::new(CorsConfig::default()).unwrap_or_else(|e| panic!("cors: {e:?}"));
    c.bench_function("cors_headers_any_origin", |b| {
        b.iter(|| black_box(any.response_headers(Some("https://x.test")).len()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
