//! The headers Skyport writes on every proxied request and response (X-Forwarded-*, X-Real-IP,
//! Via, Host, the request id; Via, latency and request-id on the way back), on a header as
//! Pingora hands it over: a copy of the client's, original case kept. The `copy_*` benches are
//! the copy alone (Pingora's part), to subtract.
//!
//! Run: `cargo bench --bench headers`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pingora::http::{RequestHeader, ResponseHeader};
use skyport::proxy::headers::{self, Downstream};
use skyport::proxy::request_id::RequestId;

/// The allocator the `skyport` binary runs with, so costs are measured as they run there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn client_request() -> RequestHeader {
    let mut req = RequestHeader::build("GET", b"/api/users/42", None).expect("valid request");
    for (k, v) in [
        ("Host", "api.example.com"),
        ("User-Agent", "curl/8.5.0"),
        ("Accept", "*/*"),
    ] {
        req.append_header(k, v).expect("valid header");
    }
    req
}

fn origin_response() -> ResponseHeader {
    let mut resp = ResponseHeader::build(200, None).expect("valid status");
    for (k, v) in [
        ("Content-Type", "application/json"),
        ("Content-Length", "2"),
        ("Date", "Fri, 27 Nov 2026 06:00:00 GMT"),
    ] {
        resp.append_header(k, v).expect("valid header");
    }
    resp
}

fn bench(c: &mut Criterion) {
    let client = client_request();
    let origin = origin_response();
    let id = RequestId::random();
    let emit = skyport::settings::HeaderSettings::default();
    let host = http::HeaderValue::from_static("127.0.0.1:8080");
    let d = Downstream {
        client_ip: Some("127.0.0.1".parse().expect("an IP")),
        proto: headers::HTTP,
        port: 8000,
        host: b"api.example.com",
        raw_path: b"/api/users/42",
        version: "1.1",
        sent: headers::Sent::ANY,
    };
    c.bench_function("copy_client_request", |b| {
        b.iter(|| black_box(&client).clone())
    });
    c.bench_function("copy_origin_response", |b| {
        b.iter(|| black_box(&origin).clone())
    });
    c.bench_function("upstream_request_headers", |b| {
        b.iter(|| {
            let mut up = black_box(&client).clone();
            headers::strip_hop_by_hop(&mut up);
            headers::forwarded(&mut up, &d, None, Some(id.header()), &[]).expect("headers set");
            up.insert_header(http::header::HOST, host.clone())
                .expect("host set");
            // Written out too: the forwarding fields are made in their wire form.
            let mut wire = Vec::with_capacity(512);
            up.header_to_h1_wire(&mut wire);
            (up, wire)
        })
    });
    c.bench_function("response_headers", |b| {
        b.iter(|| {
            let mut resp = black_box(&origin).clone();
            let upstream_via = headers::UpstreamVia {
                field: resp.headers.get(http::header::VIA).cloned(),
                version: "1.1",
            };
            headers::on_response(
                &mut resp,
                &emit,
                upstream_via,
                id.value(),
                Some(1),
                Some(0),
                &[],
            )
            .expect("headers set");
            // Written out too: Skyport's fields are made in their wire form.
            let mut wire = Vec::with_capacity(512);
            resp.header_to_h1_wire(&mut wire);
            (resp, wire)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
