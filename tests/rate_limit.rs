//! The `rate-limiting` plugin through the real gateway: the scenario's limits, Kong's
//! headers, each `limit_by`, exact counts under concurrency for both policies, two gateway
//! processes sharing one Redis limit, Redis outages, and counters that survive a reload.
//! Checks that must not straddle a window use `day` limits or retry once across a minute.

mod common;
use common::{client, Gateway, RedisServer, Upstream};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The windows are calendar minutes: a check that straddles :00 would legitimately see its
/// counts reset. When fewer than 10 s of this minute are left, wait for the next one to
/// begin; every check below then runs well inside one minute.
async fn clear_of_minute_boundary() {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let into_minute = ms % 60_000;
    if into_minute > 50_000 {
        tokio::time::sleep(std::time::Duration::from_millis(60_000 - into_minute + 50)).await;
    }
}

async fn statuses(gw: &Gateway, path: &str, n: usize) -> Vec<reqwest::Response> {
    let c = client();
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(c.get(gw.url(path)).send().await.expect("request"));
    }
    out
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("").to_string())
}

fn codes(rs: &[reqwest::Response]) -> Vec<u16> {
    rs.iter().map(|r| r.status().as_u16()).collect()
}

fn scenario(up: &str, policy: &str, redis_port: u16) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - {{ name: users-service, url: "{up}", routes: [{{ name: users-route, paths: [/users] }}] }}
  - {{ name: orders-service, url: "{up}", routes: [{{ name: orders-route, paths: [/orders] }}] }}
plugins:
  - {{ name: rate-limiting, service: users-service, config: {{ minute: 3, policy: {policy}, redis: {{ host: 127.0.0.1, port: {redis_port} }} }} }}
  - {{ name: rate-limiting, service: orders-service, config: {{ minute: 10, policy: {policy}, redis: {{ host: 127.0.0.1, port: {redis_port} }} }} }}
"#
    )
}

async fn scenario_sequence(gw: &Gateway) {
    let users = {
        clear_of_minute_boundary().await;
        statuses(gw, "/users", 4).await
    };
    assert_eq!(codes(&users), vec![200, 200, 200, 429]);
    let remaining: Vec<_> = users
        .iter()
        .map(|r| header(r, "x-ratelimit-remaining-minute"))
        .collect();
    assert_eq!(
        remaining,
        vec![
            Some("2".into()),
            Some("1".into()),
            Some("0".into()),
            Some("0".into())
        ]
    );
    for r in &users {
        assert_eq!(header(r, "x-ratelimit-limit-minute").as_deref(), Some("3"));
        assert_eq!(header(r, "ratelimit-limit").as_deref(), Some("3"));
        let reset: i64 = header(r, "ratelimit-reset")
            .and_then(|v| v.parse().ok())
            .expect("RateLimit-Reset");
        assert!((1..=60).contains(&reset), "reset {reset}");
    }
    assert_eq!(
        header(&users[0], "ratelimit-remaining").as_deref(),
        Some("2")
    );
    assert!(header(&users[2], "retry-after").is_none());
    let rejected = users.into_iter().last().expect("4th");
    assert!(header(&rejected, "retry-after")
        .is_some_and(|v| v.parse::<i64>().is_ok_and(|s| (1..=60).contains(&s))));
    let body: Value = rejected.json().await.expect("json");
    assert_eq!(body["message"], "API rate limit exceeded");
    assert_eq!(body["request_id"].as_str().map(str::len), Some(32));

    let orders = {
        clear_of_minute_boundary().await;
        statuses(gw, "/orders", 11).await
    };
    let mut want = vec![200; 10];
    want.push(429);
    assert_eq!(codes(&orders), want);
}

#[tokio::test]
async fn scenario_limits_with_the_local_policy() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&scenario(&up.url("http"), "local", 6379)).await;
    scenario_sequence(&gw).await;
}

#[tokio::test]
async fn scenario_limits_with_the_redis_policy() {
    let redis = RedisServer::start().await;
    let up = Upstream::http().await;
    let gw = Gateway::start(&scenario(&up.url("http"), "redis", redis.port)).await;
    scenario_sequence(&gw).await;
}

async fn concurrent(gw: &Gateway, path: &str, clients: usize, total: usize) -> (usize, usize) {
    let c = client();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, next, url) = (c.clone(), next.clone(), gw.url(path));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut limited) = (0, 0);
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < total {
                match c.get(&url).send().await.map(|r| r.status().as_u16()) {
                    Ok(200) => ok += 1,
                    Ok(429) => limited += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            (ok, limited)
        }));
    }
    let mut sum = (0, 0);
    for t in tasks {
        let (a, b) = t.await.expect("task");
        sum.0 += a;
        sum.1 += b;
    }
    sum
}

#[tokio::test]
async fn exactly_the_limit_passes_under_concurrency_for_both_policies() {
    let redis = RedisServer::start().await;
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: "{}"
    routes:
      - {{ name: local, paths: [/local] }}
      - {{ name: redis, paths: [/redis] }}
plugins:
  - {{ name: rate-limiting, route: local, config: {{ minute: 50, limit_by: ip }} }}
  - {{ name: rate-limiting, route: redis, config: {{ minute: 50, limit_by: ip, policy: redis, redis: {{ host: 127.0.0.1, port: {} }} }} }}
"#,
        up.url("http"),
        redis.port
    );
    let gw = Gateway::start(&yaml).await;
    for path in ["/local", "/redis"] {
        let (ok, limited) = {
            clear_of_minute_boundary().await;
            concurrent(&gw, path, 64, 200).await
        };
        assert_eq!((ok, limited), (50, 150), "{path}");
    }
}

#[tokio::test]
async fn two_gateways_share_one_redis_limit_exactly() {
    let redis = RedisServer::start().await;
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - {{ name: s, url: "{}", routes: [{{ name: r, paths: [/] }}] }}
plugins:
  - {{ name: rate-limiting, config: {{ minute: 7, limit_by: ip, policy: redis, redis: {{ host: 127.0.0.1, port: {} }} }} }}
"#,
        up.url("http"),
        redis.port
    );
    let a = Gateway::start(&yaml).await;
    let b = Gateway::start(&yaml).await;
    let run = || async {
        let mut passed = 0;
        for i in 0..20 {
            let gw = if i % 2 == 0 { &a } else { &b };
            if client()
                .get(gw.url("/x"))
                .send()
                .await
                .expect("req")
                .status()
                == 200
            {
                passed += 1;
            }
        }
        passed
    };
    let passed = {
        clear_of_minute_boundary().await;
        run().await
    };
    assert_eq!(passed, 7);
}

#[tokio::test]
async fn redis_outage_fault_tolerant_or_not_and_recovery() {
    let mut redis = RedisServer::start().await;
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: "{}"
    routes:
      - {{ name: tolerant, paths: [/tolerant] }}
      - {{ name: strict, paths: [/strict] }}
plugins:
  - {{ name: rate-limiting, route: tolerant, config: {{ minute: 1000, policy: redis, redis: {{ host: 127.0.0.1, port: {p}, timeout: 300 }} }} }}
  - {{ name: rate-limiting, route: strict, config: {{ minute: 1000, policy: redis, fault_tolerant: false, redis: {{ host: 127.0.0.1, port: {p}, timeout: 300 }} }} }}
"#,
        up.url("http"),
        p = redis.port
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let r = c.get(gw.url("/tolerant")).send().await.expect("req");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "x-ratelimit-remaining-minute").is_some());

    redis.stop();
    for _ in 0..3 {
        let r = c.get(gw.url("/tolerant")).send().await.expect("req");
        assert_eq!(r.status(), 200, "fault_tolerant lets traffic through");
        assert!(
            header(&r, "x-ratelimit-remaining-minute").is_none(),
            "without rate headers"
        );
        let r = c
            .get(gw.url("/strict"))
            .header("accept", "application/json")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 500);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["message"], "An unexpected error occurred");
    }

    redis.restart().await;
    let mut recovered = false;
    for _ in 0..100 {
        let r = c.get(gw.url("/strict")).send().await.expect("req");
        if r.status() == 200 && header(&r, "x-ratelimit-remaining-minute").is_some() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "limiting resumes by itself once Redis is back");
}

#[tokio::test]
async fn limit_by_header_path_service_consumer_and_hidden_headers() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: "{u}"
    routes:
      - {{ name: by-header, paths: [/h] }}
      - {{ name: by-path, paths: [/p] }}
      - {{ name: hidden, paths: [/hidden] }}
      - {{ name: custom, paths: [/custom] }}
      - {{ name: multi, paths: [/multi] }}
  - name: shared
    url: "{u}"
    routes:
      - {{ name: shared-a, paths: [/sa] }}
      - {{ name: shared-b, paths: [/sb] }}
  - name: authed
    url: "{u}"
    routes: [{{ name: authed, paths: [/auth] }}]
  - name: by-credential
    url: "{u}"
    routes: [{{ name: by-cred, paths: [/cred] }}]
consumers:
  - username: alice
    jwt_secrets: [{{ key: alice-key, secret: alice-secret }}]
  - username: bob
    jwt_secrets: [{{ key: bob-key, secret: bob-secret }}]
plugins:
  - {{ name: rate-limiting, route: by-header, config: {{ day: 2, limit_by: header, header_name: X-Api-Key }} }}
  - {{ name: rate-limiting, route: by-path, config: {{ day: 1, limit_by: path, path: /p/exact }} }}
  - {{ name: rate-limiting, route: hidden, config: {{ day: 1, hide_client_headers: true }} }}
  - {{ name: rate-limiting, route: custom, config: {{ day: 1, error_code: 503, error_message: slow down }} }}
  - {{ name: rate-limiting, route: multi, config: {{ hour: 2, day: 100 }} }}
  - {{ name: rate-limiting, service: shared, config: {{ day: 2, limit_by: service }} }}
  - {{ name: jwt, service: authed }}
  - {{ name: rate-limiting, service: authed, config: {{ day: 1 }} }}
  - {{ name: jwt, service: by-credential }}
  - {{ name: rate-limiting, service: by-credential, config: {{ day: 1, limit_by: credential }} }}
"#,
        u = up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let get = |path: &str, h: Option<(&str, String)>| {
        let mut r = c.get(gw.url(path));
        if let Some((k, v)) = h {
            r = r.header(k, v);
        }
        async move { r.send().await.expect("req") }
    };
    let key = |k: &str| Some(("x-api-key", k.to_string()));
    assert_eq!(get("/h", key("A")).await.status(), 200);
    assert_eq!(get("/h", key("A")).await.status(), 200);
    assert_eq!(get("/h", key("A")).await.status(), 429);
    assert_eq!(
        get("/h", key("B")).await.status(),
        200,
        "another header value counts apart"
    );

    assert_eq!(get("/p/exact", None).await.status(), 200);
    assert_eq!(get("/p/exact", None).await.status(), 429);
    assert_eq!(
        get("/p/other", None).await.status(),
        200,
        "other paths count by IP"
    );

    let r = get("/hidden", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        header(&r, "x-ratelimit-limit-day").is_none() && header(&r, "ratelimit-limit").is_none()
    );
    let r = get("/hidden", None).await;
    assert_eq!(r.status(), 429);
    assert!(header(&r, "x-ratelimit-remaining-day").is_none());
    assert!(header(&r, "retry-after").is_none(), "hidden, as in Kong");

    assert_eq!(get("/custom", None).await.status(), 200);
    let r = get("/custom", None).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "slow down");

    let r = get("/multi", None).await;
    assert_eq!(header(&r, "x-ratelimit-limit-hour").as_deref(), Some("2"));
    assert_eq!(
        header(&r, "x-ratelimit-remaining-hour").as_deref(),
        Some("1")
    );
    assert_eq!(header(&r, "x-ratelimit-limit-day").as_deref(), Some("100"));
    assert_eq!(
        header(&r, "x-ratelimit-remaining-day").as_deref(),
        Some("99")
    );
    assert_eq!(
        header(&r, "ratelimit-limit").as_deref(),
        Some("2"),
        "the most constrained period"
    );
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("1"));

    assert_eq!(get("/sa", None).await.status(), 200);
    assert_eq!(get("/sb", None).await.status(), 200);
    assert_eq!(
        get("/sa", None).await.status(),
        429,
        "both routes of the service share one count"
    );

    let token = |key: &str, secret: &str| {
        let t = encode(
            &Header::new(Algorithm::HS256),
            &json!({"iss": key}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign");
        Some(("authorization", format!("Bearer {t}")))
    };
    assert_eq!(
        get("/auth", token("alice-key", "alice-secret"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get("/auth", token("alice-key", "alice-secret"))
            .await
            .status(),
        429
    );
    assert_eq!(
        get("/auth", token("bob-key", "bob-secret")).await.status(),
        200,
        "each consumer has its own count"
    );
    assert_eq!(
        get("/auth", None).await.status(),
        401,
        "jwt runs before rate-limiting"
    );

    assert_eq!(
        get("/cred", token("alice-key", "alice-secret"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get("/cred", token("alice-key", "alice-secret"))
            .await
            .status(),
        429,
        "limit_by credential"
    );
    assert_eq!(
        get("/cred", token("bob-key", "bob-secret")).await.status(),
        200,
        "another credential counts apart"
    );
}

/// One route to the upstream under a global `local` rate limit of `per_minute`.
fn one_limited_route(up: &Upstream, per_minute: u32) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - {{ name: s, url: "{}", routes: [{{ name: r, paths: [/] }}] }}
plugins:
  - {{ name: rate-limiting, config: {{ minute: {per_minute} }} }}
"#,
        up.url("http")
    )
}

#[tokio::test]
async fn local_counters_survive_a_reload() {
    let up = Upstream::http().await;
    let yaml = one_limited_route(&up, 5);
    let gw = Gateway::start(&yaml).await;
    clear_of_minute_boundary().await;
    let remaining = {
        let first = statuses(&gw, "/a", 3).await;
        let before: Vec<_> = first
            .iter()
            .map(|r| header(r, "x-ratelimit-remaining-minute"))
            .collect();
        // A config change that leaves the plugin as it was: its counters carry over.
        let changed = format!("{yaml}# reloaded\n");
        std::fs::write(&gw.config_path, changed).expect("rewrite config");
        gw.signal("HUP");
        gw.wait_config_version(2).await;
        let after = statuses(&gw, "/a", 1).await;
        (before, header(&after[0], "x-ratelimit-remaining-minute"))
    };
    assert_eq!(
        remaining.0,
        vec![Some("4".into()), Some("3".into()), Some("2".into())]
    );
    assert_eq!(
        remaining.1.as_deref(),
        Some("1"),
        "the count carried over the reload"
    );
}

/// One raw HTTP/1.1 GET; the response head as written on the wire, and the body.
async fn raw_response(gw: &Gateway, path: &str) -> (String, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let text = common::raw(gw.port, req.as_bytes()).await;
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_string(), body.to_string()),
        None => (text, String::new()),
    }
}

#[tokio::test]
async fn headers_are_spelled_as_kong_spells_them_on_the_wire() {
    let up = Upstream::http().await;
    let yaml = one_limited_route(&up, 1);
    let gw = Gateway::start(&yaml).await;
    clear_of_minute_boundary().await;
    let (passed, _) = raw_response(&gw, "/a").await;
    let (limited, limited_body) = raw_response(&gw, "/a").await;
    assert!(passed.starts_with("HTTP/1.1 200"), "{passed}");
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    for head in [&passed, &limited] {
        for line in [
            "\r\nX-RateLimit-Limit-Minute: 1\r\n",
            "\r\nRateLimit-Limit: 1\r\n",
        ] {
            assert!(head.contains(line), "{line:?} in {head}");
        }
        assert!(
            head.contains("\r\nX-RateLimit-Remaining-Minute: 0\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nRateLimit-Reset: "), "{head}");
        assert!(head.contains("\r\nX-Skyport-Request-Id: "), "{head}");
    }
    assert!(
        passed.contains("\r\nX-Skyport-Upstream-Latency: "),
        "{passed}"
    );
    assert!(
        limited.contains("\r\nX-Skyport-Response-Latency: "),
        "{limited}"
    );
    assert!(limited.contains("\r\nRetry-After: "), "{limited}");
    assert!(
        limited_body.contains("\"message\":\"API rate limit exceeded\""),
        "{limited_body}"
    );
}

/// One request from `source` (an address of 127.0.0.0/8) to `path`; the status.
async fn status_from(source: std::net::Ipv4Addr, port: u16, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((source, 0).into())
        .expect("bind a loopback source address");
    let mut s = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Thousands of clients, each from its own address and each well under its limit, through
/// a local store far too small for them: the store evicts (and counts it), no client is ever
/// limited early, and a new client still gets exactly its limit. (A million identifiers go
/// through the store in-process: `plugins::rate_limit::local` tests.)
#[tokio::test]
async fn thousands_of_addresses_are_never_limited_early_by_a_full_store() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: {}
    routes: [{{ name: limited, paths: [/limited] }}]
    plugins: [{{ name: rate-limiting, config: {{ day: 2, limit_by: ip, policy: local }} }}]
"#,
        up.url("http")
    );
    let gw = Gateway::start_env(&yaml, None, &[("SKYPORT_RATE_LIMIT_STORE_SIZE", "64k")]).await;
    const CLIENTS: u32 = 3_000;
    let limited = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (limited, next, port) = (limited.clone(), next.clone(), gw.port);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= CLIENTS {
                        return;
                    }
                    let source = std::net::Ipv4Addr::new(127, 1, (i >> 8) as u8, (i & 255) as u8);
                    match status_from(source, port, "/limited").await {
                        200 => {}
                        429 => {
                            limited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        other => panic!("client {source}: unexpected status {other}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    assert_eq!(limited.load(std::sync::atomic::Ordering::Relaxed), 0);
    // A new client gets its limit, then is limited: at once when its counter stays in the
    // full store, a few requests late when the store's admission policy first turns away a
    // key seen only once (late, never early).
    let fresh = std::net::Ipv4Addr::new(127, 2, 0, 1);
    let mut got = Vec::new();
    while got.len() < 10 && got.last() != Some(&429) {
        got.push(status_from(fresh, gw.port, "/limited").await);
    }
    assert_eq!(
        got[..2],
        [200, 200],
        "never limited before its limit: {got:?}"
    );
    assert_eq!(got.last(), Some(&429), "limited in the end: {got:?}");
    let metrics = gw.metrics().await;
    let value = |name: &str| common::metric(&metrics, name).unwrap_or(-1.0);
    assert!(
        value("skyport_rate_limit_evictions_total") > 0.0,
        "{metrics}"
    );
    let keys = value("skyport_rate_limit_keys");
    assert!(
        (0.0..=(64.0 * 1024.0 / 200.0)).contains(&keys),
        "the store holds what 64k allows: {keys}"
    );
}

#[tokio::test]
async fn the_plugins_headers_replace_the_upstreams_own() {
    // The upstream answers its own X-RateLimit-Limit-Day and RateLimit-Limit: the client gets
    // the plugin's alone, whether or not a later plugin (response-transformer) handles the
    // answer's headers.
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: api
    url: {}
    routes:
      - {{ name: plain, paths: [/plain] }}
      - name: transformed
        paths: [/transformed]
        plugins: [{{ name: response-transformer, config: {{ add: {{ headers: ["x-t:1"] }} }} }}]
plugins:
  - {{ name: rate-limiting, service: api, config: {{ day: 100 }} }}
"#,
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    // One count per request on the service (day windows: no minute boundary to straddle).
    let mut seen = 0;
    for (path, transformed) in [("/plain", false), ("/transformed", true)] {
        for spoofed in ["X-RateLimit-Limit-Day:999", "RateLimit-Limit:999"] {
            let r = client()
                .get(gw.url(&format!("{path}?respond-header={spoofed}")))
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            let all = |name: &str| -> Vec<String> {
                r.headers()
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .collect()
            };
            assert_eq!(all("x-ratelimit-limit-day"), ["100"], "{path} {spoofed}");
            assert_eq!(all("ratelimit-limit"), ["100"], "{path} {spoofed}");
            assert_eq!(all("x-ratelimit-remaining-day").len(), 1, "{path}");
            assert_eq!(all("x-t").len(), usize::from(transformed), "{path}");
            assert_eq!(all("via").len(), 1, "{path}");
            seen += 1;
            assert_eq!(all("x-ratelimit-remaining-day"), [(100 - seen).to_string()]);
            let body: Value = r.json().await.expect("the upstream's echo");
            assert_eq!(
                body["uri"],
                format!("/?respond-header={spoofed}"),
                "the upstream's echo (the route's path stripped): {path}"
            );
        }
    }
}

/// A plugin that waits (rate-limiting counting in Redis) and one after it that answers
/// without waiting (request-termination): the answer is the terminating plugin's, with the
/// counts the limit took, and the upstream is never reached. A limit reached in Redis is
/// answered with Kong's 429 and the same fields.
#[tokio::test]
async fn a_plugin_that_answers_after_one_that_waited_gets_its_counts() {
    let redis = RedisServer::start().await;
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: s
    url: "{}"
    routes:
      - name: closed
        paths: [/closed]
        plugins:
          - {{ name: rate-limiting, config: {{ day: 2, policy: redis, redis: {{ host: 127.0.0.1, port: {} }} }} }}
          - {{ name: request-termination }}
"#,
        up.url("http"),
        redis.port
    );
    let gw = Gateway::start(&yaml).await;
    let rs = statuses(&gw, "/closed", 3).await;
    assert_eq!(codes(&rs), [503, 503, 429]);
    for (r, remaining) in rs.iter().zip(["1", "0", "0"]) {
        assert_eq!(header(r, "x-ratelimit-limit-day").as_deref(), Some("2"));
        assert_eq!(
            header(r, "x-ratelimit-remaining-day").as_deref(),
            Some(remaining)
        );
        assert_eq!(header(r, "ratelimit-remaining").as_deref(), Some(remaining));
    }
    // The 429 says when to retry: the seconds to the day's reset, as `RateLimit-Reset`.
    let retry = header(&rs[2], "retry-after").and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|s| (1..=86_400).contains(&s)),
        "{retry:?}"
    );
    assert_eq!(
        header(&rs[2], "ratelimit-reset"),
        retry.map(|s| s.to_string())
    );
    assert_eq!(
        header(&rs[0], "retry-after"),
        None,
        "only a refusal says it"
    );
    let mut bodies = Vec::new();
    for r in rs {
        bodies.push(r.json::<Value>().await.expect("json"));
    }
    // request-termination's answer is a plain exit; the limit's is Kong's error, with its id.
    for body in &bodies[..2] {
        assert_eq!(body, &json!({"message": "Service unavailable"}));
    }
    assert_eq!(bodies[2]["message"], "API rate limit exceeded");
    assert_eq!(bodies[2]["request_id"].as_str().map(str::len), Some(32));
    assert_eq!(up.connections(), 0, "no request reached the upstream");
}
