//! Route matching cost at 10 to 10,000 routes (plus a fixed 10 regex and 10 host routes):
//! shows the prefix index keeps lookups flat as prefix routes grow.
//!
//! Run: `cargo bench --bench router`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

/// The allocator the `skyport` binary runs with, so loads are measured as they run there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use skyport::router::{normalize::normalize, RequestInfo};

/// A config with `n` services, each with a prefix route, plus a few regex and host routes.
fn config(n: usize) -> String {
    let mut y = String::from("_format_version: \"3.0\"\nservices:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - name: s{i}\n    url: http://127.0.0.1:{}\n    routes:\n      - name: r{i}\n        paths: [/api/v1/resource{i}]\n        methods: [GET, POST]\n",
            10000 + (i % 50000)
        ));
        if i < 10 {
            y.push_str(&format!(
                "      - name: x{i}\n        paths: ['~/re{i}/\\d+$']\n"
            ));
            y.push_str(&format!(
                "      - name: h{i}\n        hosts: [h{i}.example.com]\n"
            ));
        }
    }
    y
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_match");
    let headers = http::HeaderMap::new();
    for n in [10usize, 100, 1000, 10_000] {
        let snapshot = skyport::config::load(&config(n)).expect("valid generated config");
        let last = normalize(&format!("/api/v1/resource{}/items/42", n - 1)).into_owned();
        group.bench_with_input(BenchmarkId::new("last_prefix", n), &n, |b, _| {
            b.iter(|| {
                let req = RequestInfo {
                    method: "GET",
                    host: "api.example.com",
                    listener_port: 8000,
                    path: black_box(&last),
                    headers: &headers,
                    tls: false,
                    sni: None,
                    websocket: false,
                };
                black_box(snapshot.router.find(&req))
            })
        });
        group.bench_with_input(BenchmarkId::new("no_match", n), &n, |b, _| {
            b.iter(|| {
                let req = RequestInfo {
                    method: "GET",
                    host: "api.example.com",
                    listener_port: 8000,
                    path: black_box("/nothing/here"),
                    headers: &headers,
                    tls: false,
                    sni: None,
                    websocket: false,
                };
                black_box(snapshot.router.find(&req))
            })
        });
    }
    group.finish();
    // Loading (parse, validate, compile) a 10,000-route config: the cost of every reload.
    let big = config(10_000);
    let mut load = c.benchmark_group("config_load");
    load.sample_size(10);
    load.bench_function("10000_routes", |b| {
        b.iter(|| black_box(skyport::config::load(&big).is_ok()))
    });
    // What a reload costs: load, then swap (the previous snapshot is freed here).
    let state = skyport::state::State::new(
        skyport::config::load(&big).expect("valid"),
        std::sync::Arc::default(),
    );
    load.bench_function("10000_routes_load_and_swap", |b| {
        b.iter(|| state.swap(skyport::config::load(&big).expect("valid")))
    });
    // Its stages: YAML text -> tree, tree -> validated model, model -> snapshot.
    load.bench_function("10000_routes_parse", |b| {
        b.iter(|| black_box(skyport::config::parse_text(&big).is_ok()))
    });
    let tree = skyport::config::parse_text(&big).expect("parses");
    load.bench_function("10000_routes_validate", |b| {
        b.iter(|| black_box(skyport::config::validate::validate(&tree).is_ok()))
    });
    load.bench_function("10000_routes_compile", |b| {
        b.iter_batched(
            || skyport::config::validate::validate(&tree).expect("valid"),
            |model| {
                let lasting = skyport::lasting::Lasting::default();
                let resolved = Default::default();
                black_box(
                    skyport::config::compile::compile(model, String::new(), &resolved, &lasting)
                        .routes
                        .len(),
                )
            },
            criterion::BatchSize::LargeInput,
        )
    });
    load.finish();
    c.bench_function("normalize_path", |b| {
        b.iter(|| normalize(black_box("/api/v1/a%20b/./c/../d")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
