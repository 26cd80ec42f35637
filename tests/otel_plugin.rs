//! Kong's `opentelemetry` plugin through the real gateway: spans reach a real OTLP/HTTP
//! receiver on loopback (decoded from protobuf: Kong's span names, kinds, attributes, one
//! trace id, parent and child ids), the trace context reaches the upstream in the caller's
//! format with the gateway's span as parent, and sampling follows the caller and the rate.

mod common;
use common::{client, echoed, Gateway, Upstream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::time::Duration;

/// One export request the receiver got, with its headers.
struct Export {
    headers: http::HeaderMap,
    body: ExportTraceServiceRequest,
}

/// An OTLP/HTTP traces receiver on loopback.
async fn receiver() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Export>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |r: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let headers = r.headers().clone();
                            let bytes = r.into_body().collect().await?.to_bytes();
                            let status = match ExportTraceServiceRequest::decode(bytes.as_ref()) {
                                Ok(body) => {
                                    let _ = tx.send(Export { headers, body });
                                    200
                                }
                                Err(_) => 400,
                            };
                            Ok::<_, hyper::Error>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .expect("response"),
                            )
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                .await;
            });
        }
    });
    (port, rx)
}

/// Spans received until `want` have come (bounded).
async fn spans(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Export>,
    want: usize,
) -> (Vec<Span>, Vec<Export>) {
    let mut all = Vec::new();
    let mut exports = Vec::new();
    while all.len() < want {
        let e = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("spans arrived within 15 s")
            .expect("receiver running");
        for rs in &e.body.resource_spans {
            for ss in &rs.scope_spans {
                all.extend(ss.spans.iter().cloned());
            }
        }
        exports.push(e);
    }
    (all, exports)
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a Value> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

/// What the upstream saw of a GET to `path` sent with `traceparent`.
async fn upstream_saw(gw: &Gateway, path: &str, traceparent: &str) -> serde_json::Value {
    echoed(
        client()
            .get(gw.url(path))
            .header("traceparent", traceparent)
            .send()
            .await
            .expect("request"),
    )
    .await
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER: &str = "b7ad6b7169203331";

#[tokio::test]
async fn spans_reach_an_otlp_receiver_and_the_context_reaches_the_upstream() {
    let up = Upstream::http().await;
    let (port, mut rx) = receiver().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes:
      - name: users-route
        paths: [/users]
        plugins:
          - name: key-auth
consumers:
  - username: ann
    keyauth_credentials: [{{ key: ann-key }}]
plugins:
  - name: opentelemetry
    config:
      traces_endpoint: http://127.0.0.1:{port}/v1/traces
      headers: {{ x-tenant: blue }}
      resource_attributes: {{ service.name: edge }}
      http_response_header_for_traceid: x-trace-id
      queue: {{ max_batch_size: 200, max_coalescing_delay: 0.2 }}
"#,
        up.url("http")
    );
    let env = [
        ("SKYPORT_TRACING_INSTRUMENTATIONS", "all"),
        ("SKYPORT_TRACING_SAMPLING_RATE", "1.0"),
    ];
    let gw = Gateway::start_env(&yaml, None, &env).await;
    let r = client()
        .get(gw.url("/users/1?x=1"))
        .header("apikey", "ann-key")
        .header("traceparent", format!("00-{TRACE}-{CALLER}-01"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-trace-id"], TRACE);
    let seen = echoed(r).await;
    let sent = seen["headers"]["traceparent"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE, "01"));
    assert_ne!(
        parts[2], CALLER,
        "the upstream's parent is the gateway's span"
    );

    let (spans, exports) = spans(&mut rx, 5).await;
    let e = &exports[0];
    assert_eq!(e.headers["content-type"], "application/x-protobuf");
    assert_eq!(e.headers["x-tenant"], "blue");
    let resource = e.body.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource");
    let name = resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.clone());
    assert_eq!(name, Some(Value::StringValue("edge".into())));

    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "kong",
        "kong.router",
        "kong.access.plugin.key-auth",
        "kong.access.plugin.opentelemetry",
        "kong.balancer",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let trace = hex::decode(TRACE).expect("hex");
    assert!(spans.iter().all(|s| s.trace_id == trace), "one trace");
    let root = spans.iter().find(|s| s.name == "kong").expect("root");
    assert_eq!(root.parent_span_id, hex::decode(CALLER).expect("hex"));
    assert_eq!(root.kind, 2, "server");
    assert_eq!(attr(root, "http.status_code"), Some(&Value::IntValue(200)));
    assert_eq!(
        attr(root, "http.method"),
        Some(&Value::StringValue("GET".into()))
    );
    assert_eq!(
        attr(root, "http.route"),
        Some(&Value::StringValue("/users".into()))
    );
    for child in spans.iter().filter(|s| s.name != "kong") {
        assert_eq!(
            child.parent_span_id, root.span_id,
            "{} is the root's child",
            child.name
        );
        assert!(child.start_time_unix_nano >= root.start_time_unix_nano);
        assert!(child.end_time_unix_nano <= root.end_time_unix_nano);
    }
    let balancer = spans
        .iter()
        .find(|s| s.name == "kong.balancer")
        .expect("balancer");
    assert_eq!(balancer.kind, 3, "client");
    assert_eq!(
        hex::encode(&balancer.span_id),
        parts[2],
        "the upstream saw this span"
    );
    assert_eq!(
        attr(balancer, "net.peer.port"),
        Some(&Value::DoubleValue(f64::from(up.addr.port())))
    );
}

#[tokio::test]
async fn without_instrumentations_headers_are_only_propagated_in_kind() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes: [{{ name: r, paths: [/users] }}]
    plugins:
      - name: opentelemetry
        config: {{ traces_endpoint: "http://127.0.0.1:9/v1/traces" }}
"#,
        up.url("http")
    );
    // Kong's defaults: tracing_instrumentations = off.
    let gw = Gateway::start(&yaml).await;
    let c = client();
    // B3 single header in, B3 single header out: the caller's trace, unsampled.
    let seen = echoed(
        c.get(gw.url("/users"))
            .header("b3", "80f198ee56343ba8-e457b5a2e4d86bd1-1")
            .send()
            .await
            .expect("request"),
    )
    .await;
    let b3 = seen["headers"]["b3"].as_str().unwrap_or("");
    assert!(b3.starts_with("80f198ee56343ba8-"), "{b3}");
    assert!(
        b3.ends_with("-0-e457b5a2e4d86bd1"),
        "the caller is the parent: {b3}"
    );
    assert!(seen["headers"].get("traceparent").is_none());
    // Nothing in: a new W3C context (Kong's default_format), not sampled.
    let seen = echoed(c.get(gw.url("/users")).send().await.expect("request")).await;
    let tp = seen["headers"]["traceparent"].as_str().unwrap_or("");
    assert!(
        tp.starts_with("00-") && tp.ends_with("-00") && tp.len() == 55,
        "{tp}"
    );
}

#[tokio::test]
async fn sampling_follows_the_caller_then_the_rate() {
    let up = Upstream::http().await;
    let (port, mut rx) = receiver().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes:
      - name: never
        paths: [/never]
        plugins:
          - name: opentelemetry
            config:
              traces_endpoint: http://127.0.0.1:{port}/v1/traces
              sampling_rate: 0
              propagation: {{ extract: [w3c], inject: [w3c, jaeger], default_format: w3c }}
      - name: always
        paths: [/always]
        plugins:
          - name: opentelemetry
            config:
              traces_endpoint: http://127.0.0.1:{port}/v1/traces
              sampling_rate: 1
              queue: {{ max_coalescing_delay: 0.1 }}
"#,
        up.url("http")
    );
    let env = [("SKYPORT_TRACING_INSTRUMENTATIONS", "request")];
    let gw = Gateway::start_env(&yaml, None, &env).await;
    let caller = |flags: &str| format!("00-{TRACE}-{CALLER}-{flags}");
    // The rate says no even when the caller sampled; both configured formats go out.
    let seen = upstream_saw(&gw, "/never", &caller("01")).await;
    assert!(seen["headers"]["traceparent"]
        .as_str()
        .unwrap_or("")
        .ends_with("-00"));
    let jaeger = seen["headers"]["uber-trace-id"].as_str().unwrap_or("");
    assert!(
        jaeger.starts_with(TRACE) && jaeger.ends_with(":00"),
        "{jaeger}"
    );
    // A caller that did not sample is followed even at rate 1.
    let seen = upstream_saw(&gw, "/always", &caller("00")).await;
    assert!(seen["headers"]["traceparent"]
        .as_str()
        .unwrap_or("")
        .ends_with("-00"));
    // Sampled: exported, with only the root span (instrumentations = request).
    let other = "1234567890abcdef1234567890abcdef";
    let seen = upstream_saw(&gw, "/always", &format!("00-{other}-{CALLER}-01")).await;
    let tp = seen["headers"]["traceparent"].as_str().unwrap_or("");
    assert!(tp.ends_with("-01"), "{tp}");
    let (got, _) = spans(&mut rx, 1).await;
    assert_eq!(got.len(), 1, "only the sampled request's root span");
    assert_eq!(got[0].name, "kong");
    assert_eq!(hex::encode(&got[0].trace_id), other);
    assert_eq!(
        hex::encode(&got[0].span_id),
        tp.split('-').nth(2).unwrap_or(""),
        "without balancer spans the root is the upstream's parent"
    );
}
