//! Kong's `proxy-cache` (memory strategy) through the real gateway: a miss is kept and the
//! next request is a hit the upstream never sees (a counting upstream proves it), with Kong's
//! `X-Cache-Status`, `X-Cache-Key` and `Age`; methods, content types and Cache-Control that
//! Kong does not cache bypass; an entry past `cache_ttl` (still stored, `storage_ttl`) is
//! refreshed; `vary_headers` and the
//! query string separate entries; authentication still runs before a hit.

mod common;
use common::{client, Gateway};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An upstream that counts the requests it answers and says the count in its body.
async fn counting_upstream() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |r: hyper::Request<hyper::body::Incoming>| {
                        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                        let html = r.uri().path().contains("html");
                        let private = r.uri().path().contains("private");
                        async move {
                            let mut b = hyper::Response::builder().header(
                                "content-type",
                                if html {
                                    "text/html"
                                } else {
                                    "application/json"
                                },
                            );
                            if private {
                                b = b.header("cache-control", "private");
                            }
                            Ok::<_, hyper::Error>(
                                b.body(Full::new(Bytes::from(format!("{{\"n\":{n}}}"))))
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
    (port, count)
}

fn config(port: u16) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: origin
    url: http://127.0.0.1:{port}
    routes:
      - name: cached
        paths: [/c]
        plugins:
          - name: proxy-cache
            config: {{ strategy: memory, vary_headers: [x-lang], cache_control: true }}
      - name: short
        paths: [/short]
        plugins:
          - name: proxy-cache
            config: {{ strategy: memory, cache_ttl: 1, storage_ttl: 60 }}
      - name: guarded
        paths: [/guarded]
        plugins:
          - name: proxy-cache
            config: {{ strategy: memory }}
          - name: key-auth
consumers:
  - username: ann
    keyauth_credentials: [{{ key: ann-key }}]
"#
    )
}

struct Seen {
    status: u16,
    cache: String,
    key: String,
    age: Option<String>,
    n: u64,
}

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)], post: bool) -> Seen {
    let c = client();
    let mut r = if post {
        c.post(gw.url(path))
    } else {
        c.get(gw.url(path))
    };
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.expect("req");
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, cache, key, age) = (
        r.status().as_u16(),
        h("x-cache-status").unwrap_or_default(),
        h("x-cache-key").unwrap_or_default(),
        h("age"),
    );
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Seen {
        status,
        cache,
        key,
        age,
        n: body["n"].as_u64().unwrap_or(0),
    }
}

#[tokio::test]
async fn answers_are_cached_and_served_without_the_upstream() {
    let (port, count) = counting_upstream().await;
    let gw = Gateway::start(&config(port)).await;

    let first = get(&gw, "/c/a?x=1", &[], false).await;
    assert_eq!((first.status, first.cache.as_str()), (200, "Miss"));
    assert_eq!(first.key.len(), 64, "a sha256 key");
    let second = get(&gw, "/c/a?x=1", &[], false).await;
    assert_eq!(second.cache, "Hit");
    assert_eq!(second.key, first.key);
    assert_eq!(second.n, first.n, "the kept answer");
    assert!(second.age.is_some());
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "a hit never reaches the upstream"
    );

    // Another query string or another vary header value is another entry.
    assert_eq!(get(&gw, "/c/a?x=2", &[], false).await.cache, "Miss");
    assert_eq!(
        get(&gw, "/c/a?x=1", &[("x-lang", "fr")], false).await.cache,
        "Miss"
    );
    assert_eq!(
        get(&gw, "/c/a?x=1", &[("x-lang", "fr")], false).await.cache,
        "Hit"
    );
    // Not cached: a method outside request_method, a content type outside content_type,
    // Cache-Control from the client (cache_control on) or the upstream.
    assert_eq!(get(&gw, "/c/a?x=1", &[], true).await.cache, "Bypass");
    assert_eq!(get(&gw, "/c/html", &[], false).await.cache, "Bypass");
    assert_eq!(get(&gw, "/c/html", &[], false).await.cache, "Bypass");
    assert_eq!(
        get(&gw, "/c/a?x=1", &[("cache-control", "no-cache")], false)
            .await
            .cache,
        "Bypass"
    );
    assert_eq!(get(&gw, "/c/private", &[], false).await.cache, "Bypass");
    assert_eq!(get(&gw, "/c/private", &[], false).await.cache, "Bypass");

    // Authentication runs before the cache: a hit needs a key too.
    assert_eq!(
        get(&gw, "/guarded/x", &[("apikey", "ann-key")], false)
            .await
            .cache,
        "Miss"
    );
    assert_eq!(
        get(&gw, "/guarded/x", &[("apikey", "ann-key")], false)
            .await
            .cache,
        "Hit"
    );
    assert_eq!(get(&gw, "/guarded/x", &[], false).await.status, 401);
}

#[tokio::test]
async fn an_entry_past_its_ttl_is_refreshed() {
    let (port, count) = counting_upstream().await;
    let gw = Gateway::start(&config(port)).await;
    assert_eq!(get(&gw, "/short/a", &[], false).await.cache, "Miss");
    assert_eq!(get(&gw, "/short/a", &[], false).await.cache, "Hit");
    let mut refreshed = None;
    for _ in 0..40 {
        let s = get(&gw, "/short/a", &[], false).await;
        if s.cache == "Refresh" {
            refreshed = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = refreshed.expect("refreshed within 4 s of a 1 s ttl");
    assert_eq!(s.n as usize, count.load(Ordering::SeqCst), "fetched again");
    assert_eq!(
        get(&gw, "/short/a", &[], false).await.cache,
        "Hit",
        "kept again"
    );
}
