//! Kong's `http-log` and `file-log` through the real gateway: Kong's serialized entry
//! (request, response, route, service, consumer, latencies, client_ip ...) reaches a real HTTP
//! collector on loopback (batched, retried after a failure, Basic auth from the URL) and a file
//! (one JSON line per request, followed across a rotation with `reopen`).

mod common;
use common::{client, Gateway, Upstream};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One request the collector received.
#[derive(Debug)]
struct Received {
    method: String,
    headers: http::HeaderMap,
    body: Value,
}

/// An HTTP collector on loopback that answers 500 to its first `fail_first` requests.
async fn collector(
    fail_first: usize,
) -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<Received>,
    Arc<AtomicUsize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (tx, count) = (tx.clone(), count.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |r: hyper::Request<hyper::body::Incoming>| {
                        let (tx, count) = (tx.clone(), count.clone());
                        async move {
                            let n = count.fetch_add(1, Ordering::SeqCst);
                            let method = r.method().to_string();
                            let headers = r.headers().clone();
                            let body = r.into_body().collect().await?.to_bytes();
                            let status = if n < fail_first {
                                500
                            } else {
                                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                                let _ = tx.send(Received {
                                    method,
                                    headers,
                                    body,
                                });
                                200
                            };
                            Ok::<_, hyper::Error>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{}")))
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
    (port, rx, seen)
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("the collector got a batch within 15 s")
        .expect("collector running")
}

#[tokio::test]
async fn http_log_sends_kongs_entries_in_batches_and_retries() {
    let up = Upstream::http().await;
    let (port, mut rx, seen) = collector(1).await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes:
      - name: users-route
        paths: [/users]
        plugins:
          - name: http-log
            config:
              http_endpoint: http://bob:s3cret@127.0.0.1:{port}/logs
              method: PUT
              headers: {{ x-team: gateway }}
              queue: {{ max_batch_size: 3, max_coalescing_delay: 5, initial_retry_delay: 0.05 }}
consumers:
  - username: ann
"#,
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    for i in 0..3 {
        let r = c
            .get(gw.url(&format!("/users/{i}?q={i}")))
            .header("authorization", "Bearer secret-token")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
    }
    let got = next(&mut rx).await;
    assert!(
        seen.load(Ordering::SeqCst) >= 2,
        "the first attempt failed and was retried"
    );
    assert_eq!(got.method, "PUT");
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(got.headers["x-team"], "gateway");
    assert_eq!(
        got.headers["authorization"], "Basic Ym9iOnMzY3JldA==",
        "bob:s3cret"
    );
    let entries = got.body.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 3, "one batch of three: {}", got.body);
    let e = &entries[0];
    assert_eq!(e["request"]["method"], "GET");
    assert_eq!(e["request"]["uri"], "/users/0?q=0");
    assert_eq!(e["request"]["querystring"]["q"], "0");
    assert_eq!(e["request"]["headers"]["authorization"], "REDACTED");
    assert_eq!(e["response"]["status"], 200);
    // The answer's fields as the client got them, Skyport's own (written apart) included.
    let sent = &e["response"]["headers"];
    assert_eq!(sent["x-skyport-request-id"], e["request"]["id"]);
    assert!(
        sent["via"]
            .as_str()
            .is_some_and(|v| v.ends_with(concat!("skyport/", env!("CARGO_PKG_VERSION")))),
        "{sent}"
    );
    assert!(sent["x-skyport-upstream-latency"].is_string(), "{sent}");
    assert_eq!(e["route"]["name"], "users-route");
    assert_eq!(e["service"]["name"], "users");
    assert_eq!(e["upstream_uri"], "/0?q=0");
    assert_eq!(e["client_ip"], "127.0.0.1");
    assert!(e["latencies"]["request"].is_u64() && e["latencies"]["proxy"].is_i64());
    assert!(e["started_at"]
        .as_u64()
        .is_some_and(|t| t > 1_700_000_000_000));
    assert_eq!(e["tries"][0]["port"], up.addr.port());
}

/// The JSON lines of a log file once it holds at least `want` (waited for, up to 15 s).
async fn lines(p: &std::path::Path, want: usize) -> Vec<Value> {
    for _ in 0..300 {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= want {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{want} lines were not written to {}", p.display());
}

#[tokio::test]
async fn file_log_appends_one_line_per_request_and_reopens() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("access.log");
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}
    routes: [{{ name: r, paths: [/users] }}]
plugins:
  - name: file-log
    config: {{ path: "{}", reopen: true }}
"#,
        up.url("http"),
        path.display()
    );
    let gw = Gateway::start(&yaml).await;
    for _ in 0..2 {
        client().get(gw.url("/users/a")).send().await.expect("req");
    }
    let got = lines(&path, 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["route"]["name"], "r");
    assert_eq!(got[1]["response"]["status"], 200);
    // Rotated away: with `reopen` the next line goes to a new file at the path.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&path, &rotated).expect("rotate");
    client().get(gw.url("/users/b")).send().await.expect("req");
    let fresh = lines(&path, 1).await;
    assert_eq!(fresh[0]["request"]["uri"], "/users/b");
    assert_eq!(lines(&rotated, 2).await.len(), 2);
}

#[tokio::test]
async fn the_logged_upstream_uri_is_the_target_sent_upstream() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("access.log");
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: users
    url: {}/base
    routes:
      - {{ name: stripped, paths: [/users] }}
      - {{ name: kept, paths: [/kept], strip_path: false }}
      - name: hidden
        paths: [/hidden]
        plugins: [{{ name: key-auth, config: {{ hide_credentials: true }} }}]
  - name: same
    url: {}
    routes: [{{ name: same, paths: [/same], strip_path: false }}]
consumers:
  - username: ann
    keyauth_credentials: [{{ key: ann-key }}]
plugins:
  - name: file-log
    config: {{ path: "{}" }}
"#,
        up.url("http"),
        up.url("http"),
        path.display()
    );
    let gw = Gateway::start(&yaml).await;
    let sent = [
        // The client's own target goes upstream as it came.
        ("/same/e?w=4", 200, "/same/e?w=4"),
        ("/users/a?x=1", 200, "/base/a?x=1"),
        ("/kept/b?y=2", 200, "/base/kept/b?y=2"),
        ("/hidden/c?apikey=ann-key&z=3", 200, "/base/c?z=3"),
        // Refused before anything went upstream: no target.
        ("/hidden/d", 401, ""),
    ];
    for (uri, status, _) in sent {
        let r = client().get(gw.url(uri)).send().await.expect("req");
        assert_eq!(r.status(), status, "{uri}");
    }
    let lines = lines(&path, sent.len()).await;
    assert_eq!(lines.len(), sent.len(), "one line per request");
    for (uri, _, upstream) in sent {
        let line = lines
            .iter()
            .find(|l| l["request"]["uri"] == uri)
            .unwrap_or_else(|| panic!("no line for {uri}"));
        assert_eq!(line["upstream_uri"], upstream, "{uri}");
    }
}
