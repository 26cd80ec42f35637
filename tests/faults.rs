//! Upstream and dependency faults through the real gateway: an upstream that resets (before
//! answering or mid-body), answers garbage or hangs; a Redis that accepts and never answers;
//! a client that stops sending its body. Each gets its status, and other routes keep working
//! while the faults are in flight.

mod common;
use common::{client, BadUpstream, Gateway, Misbehave, Upstream};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(good: &Upstream, bad: &[(&str, &BadUpstream)], extra: &str) -> String {
    let mut yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: good
    url: {}
    routes: [{{ name: good, paths: [/good] }}]
"#,
        good.url("http")
    );
    for (name, up) in bad {
        yaml.push_str(&format!(
            "  - name: {name}\n    url: {}\n    read_timeout: 500\n    routes: [{{ name: {name}, paths: [/{name}] }}]\n",
            up.url()
        ));
    }
    yaml.push_str(extra);
    yaml
}

async fn message(r: reqwest::Response) -> String {
    let v: Value = r.json().await.expect("json body");
    v["message"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn misbehaving_upstreams_get_502_or_504_and_other_routes_keep_working() {
    let good = Upstream::http().await;
    let reset = BadUpstream::start(Misbehave::ResetBeforeResponse).await;
    let mid = BadUpstream::start(Misbehave::ResetMidBody).await;
    let garbage = BadUpstream::start(Misbehave::Garbage).await;
    let hang = BadUpstream::start(Misbehave::Hang).await;
    let gw = Gateway::start(&config(
        &good,
        &[
            ("reset", &reset),
            ("mid", &mid),
            ("garbage", &garbage),
            ("hang", &hang),
        ],
        "",
    ))
    .await;
    let c = client();
    let get = |path: &str| {
        c.get(gw.url(path))
            .header("accept", "application/json")
            .send()
    };

    let r = get("/reset").await.expect("reset");
    assert_eq!(r.status(), 502);
    assert_eq!(
        message(r).await,
        "An invalid response was received from the upstream server"
    );

    let r = get("/garbage").await.expect("garbage");
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["connection"], "close");
    assert_eq!(
        message(r).await,
        "An invalid response was received from the upstream server"
    );

    // Headers already went to the client: the gateway can only cut the body short.
    let r = get("/mid")
        .await
        .expect("mid-body reset still sends the headers");
    assert_eq!(r.status(), 200);
    assert!(
        r.bytes().await.is_err(),
        "a truncated body must not look complete"
    );

    // A hanging upstream: 504 after the service's read_timeout, while other requests
    // are served meanwhile.
    let hanging: Vec<_> = (0..8).map(|_| get("/hang")).collect();
    let started = Instant::now();
    let (hung, goods) = tokio::join!(futures::future::join_all(hanging), async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(get("/good").await.expect("good").status().as_u16());
        }
        (statuses, started.elapsed())
    });
    for r in hung {
        let r = r.expect("hang");
        assert_eq!(r.status(), 504);
        assert_eq!(message(r).await, "The upstream server is timing out");
    }
    assert_eq!(goods.0, vec![200; 20]);

    // And after all of it, the gateway is still up and correct.
    let seen = common::echoed(get("/good/after").await.expect("good")).await;
    assert_eq!(seen["uri"], "/after");
}

#[tokio::test]
async fn a_redis_that_never_answers_is_bounded_by_the_plugin_timeout() {
    let good = Upstream::http().await;
    // Accepts connections and reads, never answers: a stuck Redis.
    let stuck = BadUpstream::start(Misbehave::Hang).await;
    let p = stuck.addr.port();
    let extra = format!(
        r#"    routes:
      - {{ name: tolerant, paths: [/tolerant] }}
      - {{ name: strict, paths: [/strict] }}
plugins:
  - {{ name: rate-limiting, route: tolerant, config: {{ minute: 5, policy: redis, redis: {{ host: 127.0.0.1, port: {p}, timeout: 200 }} }} }}
  - {{ name: rate-limiting, route: strict, config: {{ minute: 5, policy: redis, fault_tolerant: false, redis: {{ host: 127.0.0.1, port: {p}, timeout: 200 }} }} }}
"#
    );
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: {}
{extra}"#,
        good.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let started = Instant::now();
    // Tolerant: through, without rate-limit headers (the counters are unknown).
    let r = c.get(gw.url("/tolerant")).send().await.expect("tolerant");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-ratelimit-limit-minute").is_none());
    // Strict: Kong's 500.
    let r = c
        .get(gw.url("/strict"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("strict");
    assert_eq!(r.status(), 500);
    assert_eq!(message(r).await, "An unexpected error occurred");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the Redis timeout (200 ms) bounds each request"
    );
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_gets_408() {
    let good = Upstream::http().await;
    let yaml = config(&good, &[], "");
    let gw = Gateway::start_env(&yaml, None, &[("SKYPORT_CLIENT_BODY_TIMEOUT", "1")]).await;
    let port: u16 = gw
        .url("")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(b"POST /good HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the gateway must close a stalled body, not wait forever"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // The stalled client cost nothing to others.
    let r = client().get(gw.url("/good")).send().await.expect("good");
    assert_eq!(r.status(), 200);
}

/// A single-label host name that glibc's resolver maps (HOSTALIASES) to a name with a label
/// longer than DNS allows, which it refuses locally without sending a query: the gateway's
/// resolution-failure path, as for NXDOMAIN, with nothing leaving the machine.
const UNRESOLVABLE: &str = "skyport-unresolvable";

#[tokio::test]
async fn a_name_that_does_not_resolve_is_kongs_503() {
    let good = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
upstreams:
  - name: named.internal
    targets: [{{ target: "{host}:80" }}]
services:
  - name: good
    url: {}
    routes: [{{ name: good, paths: [/good] }}]
  - name: nowhere
    host: {host}
    routes: [{{ name: nowhere, paths: [/nowhere] }}]
  - name: named
    host: named.internal
    routes: [{{ name: named, paths: [/named] }}]
"#,
        good.url("http"),
        host = UNRESOLVABLE
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let aliases = dir.path().join("hostaliases");
    std::fs::write(
        &aliases,
        format!("{UNRESOLVABLE} {}.invalid\n", "a".repeat(70)),
    )
    .expect("aliases");
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[("HOSTALIASES", &aliases.display().to_string())],
    )
    .await;
    let c = client();
    let r = c
        .get(gw.url("/nowhere"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(message(r).await, "name resolution failed");
    // An upstream whose only target does not resolve has no peer to pick.
    let r = c
        .get(gw.url("/named"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(
        message(r).await,
        "failure to get a peer from the ring-balancer"
    );
    let v = gw.admin_json("/upstreams/named.internal/health").await;
    assert_eq!(v["data"][0]["health"], "DNS_ERROR");
    let r = c.get(gw.url("/good")).send().await.expect("request");
    assert_eq!(r.status(), 200);
}

/// An upstream outage under load: every request fails (connection refused, retried), yet the
/// error log gets at most one line per failed request, and a burst from one place is cut to a
/// few lines plus a count. The access log still has every request.
#[tokio::test]
async fn an_outage_under_load_writes_a_bounded_error_log() {
    let refused = common::free_port();
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: down
    url: http://127.0.0.1:{refused}
    routes: [{{ name: down, paths: [/down] }}]
"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (error_log, access_log) = (dir.path().join("error.log"), dir.path().join("access.log"));
    let mut gw = Gateway::start_logged(
        &yaml,
        &[("SKYPORT_ACCESS_LOG", &access_log.display().to_string())],
        &error_log,
    )
    .await;
    const FAILURES: usize = 300;
    let c = client();
    let statuses = futures::future::join_all((0..FAILURES).map(|_| {
        let c = c.clone();
        let url = gw.url("/down");
        async move {
            c.get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 502), "{statuses:?}");
    gw.signal("TERM");
    assert!(
        gw.wait_exit(Duration::from_secs(30)).await,
        "the gateway stopped"
    );
    let errors = std::fs::read_to_string(&error_log).expect("error log");
    let failure_lines = errors
        .lines()
        .filter(|l| l.contains("/down") || l.contains("ConnectRefused"))
        .count();
    assert!(
        (1..=20).contains(&failure_lines),
        "{failure_lines} error-log lines for {FAILURES} failed requests:\n{errors}"
    );
    assert!(
        errors.contains("-> 502"),
        "the failure is still logged, with its answer:\n{errors}"
    );
    let accessed = std::fs::read_to_string(&access_log).unwrap_or_default();
    assert_eq!(
        accessed.lines().filter(|l| l.contains("/down")).count(),
        FAILURES,
        "every request in the access log"
    );
}

/// An upstream that stops reading the request body: the gateway's writes stall, and after the
/// service's `write_timeout` the client gets 504 instead of waiting with its body half sent.
#[tokio::test]
async fn an_upstream_that_stops_reading_the_body_is_a_504_after_write_timeout() {
    let good = Upstream::http().await;
    let hang = BadUpstream::start(Misbehave::Hang).await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: good
    url: {}
    routes: [{{ name: good, paths: [/good] }}]
  - name: stuck
    url: http://{}
    write_timeout: 1000
    read_timeout: 60000
    routes: [{{ name: stuck, paths: [/stuck] }}]
"#,
        good.url("http"),
        hang.addr
    );
    let gw = Gateway::start(&yaml).await;
    // 64 MiB, far more than the socket buffers between the gateway and the upstream hold.
    let chunk = bytes::Bytes::from(vec![b'a'; 1 << 20]);
    let body = futures::stream::iter((0..64).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        client()
            .post(gw.url("/stuck"))
            .header("accept", "application/json")
            .header("content-length", (64u64 << 20).to_string())
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    )
    .await
    .expect("an answer within 30 s, not a client left waiting");
    let r = r.expect("the gateway answers (before the whole body was sent)");
    assert_eq!(r.status(), 504);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/json")),
        "{:?}",
        r.headers()
    );
    assert_eq!(message(r).await, "The upstream server is timing out");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let r = client().get(gw.url("/good")).send().await.expect("good");
    assert_eq!(r.status(), 200);
}

/// A client that leaves while its upstream is still preparing the answer: the gateway stops
/// waiting and closes that upstream connection (as nginx does unless told to ignore client
/// aborts), long before the service's 60 s read timeout, and keeps serving others.
#[tokio::test]
async fn a_client_that_leaves_mid_request_frees_its_upstream_connection() {
    let good = Upstream::http().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let slow = listener.local_addr().expect("addr");
    let (got_request, request_seen) = tokio::sync::oneshot::channel();
    let (got_close, close_seen) = tokio::sync::oneshot::channel();
    let origin = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 8192];
        let n = tcp.read(&mut buf).await.expect("request");
        let _ = got_request.send(String::from_utf8_lossy(&buf[..n]).to_string());
        // No answer: the next read ends only when the gateway closes the connection.
        let next = tcp.read(&mut buf).await;
        let _ = got_close.send(matches!(next, Ok(0) | Err(_)));
    });
    let yaml = config(
        &good,
        &[],
        &format!(
            "  - name: slow\n    url: http://{slow}\n    routes: [{{ name: slow, paths: [/slow] }}]\n"
        ),
    );
    let gw = Gateway::start(&yaml).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let request = tokio::time::timeout(Duration::from_secs(10), request_seen)
        .await
        .expect("the request reaches the origin")
        .expect("origin alive");
    assert!(request.starts_with("GET / HTTP/1.1"), "{request}");
    drop(s);
    let closed = tokio::time::timeout(Duration::from_secs(10), close_seen)
        .await
        .expect("the gateway must let go of the upstream when its client leaves")
        .expect("origin alive");
    assert!(closed, "the upstream connection ends without an answer");
    origin.abort();
    let r = client()
        .get(gw.url("/good/next"))
        .send()
        .await
        .expect("good");
    let seen = common::echoed(r).await;
    assert_eq!(
        seen["uri"], "/next",
        "the next request reaches its upstream whole"
    );
}

#[tokio::test]
async fn a_retry_on_a_dropped_pooled_connection_sends_the_same_upstream_path() {
    // The upstream closes each connection when its second request arrives: the gateway's
    // second request goes out on the pooled connection, fails unanswered and is sent again
    // on a new one, with the path the route and the service made, not the client's.
    let once = BadUpstream::start(Misbehave::OncePerConnection).await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: once
    url: {}/base
    routes: [{{ name: once, paths: [/strip] }}]
"#,
        once.url()
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    for path in ["a", "b", "c"] {
        let r = c
            .get(gw.url(&format!("/strip/{path}?q=1")))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "/strip/{path}");
        assert_eq!(r.text().await.expect("body"), format!("/base/{path}?q=1"));
    }
}
