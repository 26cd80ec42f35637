//! Per-request cost of the part-2 plugins' own work: request-transformer's templates and
//! JSON/form body changes, response-transformer's JSON change, prometheus' counting of one
//! request, handing one entry to an http-log queue, and opentelemetry's work: reading and
//! writing the trace headers, and encoding a sampled request's spans; response-transformer's
//! header and JSON body changes and proxy-cache's store, through the registry's instances.
//!
//! Run: `cargo bench --bench transform`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pingora::http::ResponseHeader;
use skyport::plugins::opentelemetry::{export, propagation};
use skyport::plugins::proxy_cache::store::{self, Cached, STORE};
use skyport::plugins::queue::{Queue, QueueConfig};
use skyport::plugins::registry::{self, CheckCtx};
use skyport::plugins::request_transformer::params::{self, Ops};
use skyport::plugins::request_transformer::template::{Key, Template, Values};
use skyport::plugins::{BuildCtx, Plugin, RequestState, Scope};
use skyport::spans::{Instrumentations, SpanKind, Trace, TracingSettings, Try};
use skyport::telemetry::access_log::AccessRecord;
use skyport::telemetry::kong::{KONG, WORKSPACE};
use std::sync::Arc;
use std::time::Duration;

/// A request as templates read it.
struct Req;

impl Values for Req {
    fn header(&self, name: &str) -> Option<String> {
        (name == "x-user").then(|| "ann".to_string())
    }
    fn query(&self, name: &str) -> Option<String> {
        (name == "page").then(|| "2".to_string())
    }
    fn capture(&self, key: &Key) -> Option<String> {
        matches!(key, Key::Name(n) if n == "id").then(|| "42".to_string())
    }
}

fn t(s: &str) -> Template {
    Template::parse(s).unwrap_or_else(|e| panic!("template: {e}"))
}

fn bench(c: &mut Criterion) {
    let literal = t("gateway");
    let refs = t("user-$(headers['x-user'])-$(uri_captures.id)-$(query_params.page)");
    c.bench_function("request_transformer_template_literal", |b| {
        b.iter(|| black_box(literal.render(&Req)))
    });
    c.bench_function("request_transformer_template_three_refs", |b| {
        b.iter(|| black_box(refs.render(&Req)))
    });
    let ops = Ops {
        remove: vec!["password".into()],
        rename: vec![("user".into(), "username".into())],
        replace: vec![("role".into(), t("member"))],
        add: vec![("source".into(), t("gateway"))],
        append: vec![("tags".into(), t("new"))],
    };
    let json =
        br#"{"user":"ann","password":"pw","role":"admin","tags":"old","n":1,"items":[1,2,3]}"#;
    c.bench_function("request_transformer_json_body", |b| {
        b.iter(|| black_box(params::apply_json(black_box(json), &ops, &Req)))
    });
    let form = "user=ann&password=pw&role=admin&tags=old&n=1";
    c.bench_function("request_transformer_form_body", |b| {
        b.iter(|| {
            let mut args = params::decode(black_box(form));
            params::apply_args(&mut args, &ops, &Req, true);
            black_box(params::encode(&args))
        })
    });
    c.bench_function("prometheus_count_one_request", |b| {
        b.iter(|| {
            KONG.http_requests
                .with_label_values(&["users", "users-route", "200", "service", WORKSPACE, ""])
                .inc();
            KONG.request_latency
                .with_label_values(&["users", "users-route", WORKSPACE])
                .observe(black_box(3.2));
        })
    });
    // A queue whose sender never finishes: pushing is all a request pays.
    let queue = Queue::start(
        "bench".into(),
        QueueConfig {
            max_batch_size: 1_000_000,
            max_coalescing_delay: 3600.0,
            max_entries: 100_000,
            ..QueueConfig::default()
        },
        Arc::new(|_| Box::pin(std::future::pending())),
    );
    let entry = vec![b'x'; 1500];
    c.bench_function("http_log_enqueue_one_entry", |b| {
        b.iter(|| queue.push(black_box(entry.clone())))
    });
    otel(c);
    answers(c);
    ids_and_lines(c);
}

/// correlation-id's generators, and file-log handing one entry to its writer.
fn ids_and_lines(c: &mut Criterion) {
    use skyport::plugins::correlation_id::Generator;
    let server = Some("127.0.0.1:8000".parse().expect("addr"));
    for (name, g) in [
        ("correlation_id_uuid", Generator::Uuid),
        ("correlation_id_uuid_counter", Generator::UuidCounter),
        ("correlation_id_tracker", Generator::Tracker),
    ] {
        c.bench_function(name, |b| b.iter(|| black_box(g.make(server))));
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("access.log");
    let file_log = instance(
        "file-log",
        serde_json::json!({"path": path.display().to_string()}),
    );
    let entry = vec![b'x'; 1500];
    let record = AccessRecord {
        time: String::new(),
        request_id: "0123456789abcdef0123456789abcdef",
        client: None,
        method: "GET",
        path: "/",
        route: "r",
        service: "s",
        consumer: None,
        correlation_id: None,
        status: 200,
        request_bytes: 0,
        response_bytes: 2,
        latency_ms: 1.0,
        upstream_latency_ms: None,
        upstream_wait_ms: None,
        from_service: true,
        kong_service: "s",
        kong_log: Some(&entry),
    };
    let state = RequestState::default();
    c.bench_function("file_log_hand_one_line_to_the_writer", |b| {
        b.iter(|| file_log.log(black_box(&record), &state))
    });
}

/// An instance of a registered plugin, as a config file would make it.
fn instance(name: &str, config: serde_json::Value) -> Arc<dyn Plugin> {
    let row = registry::find(name).expect("registered");
    let nobody = |_: &str| false;
    let ctx = CheckCtx {
        name,
        consumer_scoped: false,
        consumer_exists: &nobody,
    };
    let parsed = (row.parse)(Some(&config), &ctx).expect("valid config");
    let build = BuildCtx {
        keyring: Default::default(),
        directory: Default::default(),
        clock: skyport::plugins::system_clock(),
        lasting: Default::default(),
    };
    let scope = Scope {
        route_id: "r".into(),
        service_id: "s".into(),
    };
    (row.build)(&parsed, &build, &scope).expect("built")
}

/// response-transformer's phases on one answer, and proxy-cache's store.
fn answers(c: &mut Criterion) {
    let headers_only = instance(
        "response-transformer",
        serde_json::json!({"remove": {"headers": ["x-internal"]}, "add": {"headers": ["x-gw:skyport"]}}),
    );
    let json = instance(
        "response-transformer",
        serde_json::json!({"remove": {"json": ["password"]}, "add": {"json": ["source:gateway"]}}),
    );
    let answer = || {
        let mut r = ResponseHeader::build(200, None).expect("header");
        r.insert_header("content-type", "application/json")
            .expect("ct");
        r.insert_header("x-internal", "1").expect("h");
        r.insert_header("content-length", "80").expect("cl");
        r
    };
    c.bench_function("response_transformer_headers", |b| {
        b.iter(|| {
            let mut r = answer();
            let mut state = RequestState::default();
            black_box(headers_only.response(&mut r, &mut state)).expect("ok");
        })
    });
    let body = bytes::Bytes::from_static(
        br#"{"user":"ann","password":"pw","role":"admin","tags":"old","n":1,"items":[1,2,3]}"#,
    );
    c.bench_function("response_transformer_json_body", |b| {
        b.iter(|| {
            let mut r = answer();
            let mut state = RequestState::default();
            json.response(&mut r, &mut state).expect("ok");
            let mut chunk = Some(body.clone());
            json.body(&mut chunk, false, &mut state).expect("ok");
            let mut end = None;
            json.body(&mut end, true, &mut state).expect("ok");
            black_box(end)
        })
    });
    let kept = || Cached {
        status: 200,
        headers: vec![(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        )],
        body: bytes::Bytes::from_static(&[b'x'; 1024]),
        stored_at: store::now(),
        ttl: 300,
        keep: 300,
    };
    for i in 0..1000 {
        STORE.put(format!("bench-key-{i}"), kept());
    }
    c.bench_function("proxy_cache_hit_lookup_1000_entries", |b| {
        b.iter(|| black_box(STORE.get(black_box("bench-key-500"))))
    });
    c.bench_function("proxy_cache_store_1k_answer", |b| {
        b.iter(|| STORE.put("bench-key-new".to_string(), kept()))
    });
}

/// opentelemetry: what every request of a traced route pays (headers in and out), and what a
/// sampled one adds (its five spans encoded; the queue push is http-log's above).
fn otel(c: &mut Criterion) {
    let mut h = http::HeaderMap::new();
    h.insert(
        "traceparent",
        http::HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    );
    let order = propagation::Format::LEGACY_ORDER;
    c.bench_function("opentelemetry_extract_and_inject_w3c", |b| {
        b.iter(|| {
            let (f, ctx) = propagation::extract(black_box(&order), &h).expect("found");
            black_box(propagation::inject(f, &ctx))
        })
    });
    let settings = TracingSettings {
        instrumentations: Instrumentations::ALL,
        sampling_rate: 1.0,
    };
    let start = quanta::Instant::now();
    let mut t = Trace::new(settings, start);
    t.push(SpanKind::Router, start, start + Duration::from_micros(2));
    t.push(
        SpanKind::Access("key-auth"),
        start,
        start + Duration::from_micros(3),
    );
    t.push(
        SpanKind::Access("opentelemetry"),
        start,
        start + Duration::from_micros(4),
    );
    t.tries.push(Try {
        start: start + Duration::from_micros(5),
        addr: "127.0.0.1:8080".parse().expect("addr"),
    });
    t.attributes = vec![
        ("http.method", "GET".into()),
        ("http.url", "http://example.com/users/1".into()),
        ("http.host", "example.com".into()),
        ("http.scheme", "http".into()),
        ("http.flavor", "1.1".into()),
        ("http.client_ip", "127.0.0.1".into()),
        ("net.peer.ip", "127.0.0.1".into()),
        ("kong.request.id", "0123456789abcdef0123456789abcdef".into()),
    ];
    let out = export::Outcome {
        status: 200,
        from_service: true,
        end: start + Duration::from_millis(1),
    };
    c.bench_function("opentelemetry_encode_five_spans", |b| {
        b.iter(|| black_box(export::encode(black_box(&t), &out)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
