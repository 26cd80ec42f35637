//! Soak test (not in CI: `#[ignore]`): mixed load for `SOAK_SECS` seconds (default 120) with
//! faults injected and reloads, then a report of requests and failures by cause, and the
//! gateway's RSS and open file descriptors at start and end.
//!
//! ```text
//! SOAK_SECS=120 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! Load: 16 keep-alive clients cycling over a plain route, a balanced upstream whose second
//! target flaps (active health checks), a hanging upstream (504), a resetting one (502), a
//! refused one (502), a Redis-limited route and a JWT route. Faults: the flapping target
//! every 4 s, Redis stopped and started every 10 s, a config reload (admin `POST /config`
//! or SIGHUP, alternating) every 2 s. Bounds: each route answers only its expected
//! statuses, no request fails below HTTP, RSS grows by less than 32 MiB, and the descriptor
//! count stays within 48 of the start (the keep-alive pools to the two upstream addresses
//! hold up to one idle connection per concurrent client each; anything beyond that is a leak).

mod common;
use common::{BadUpstream, Gateway, Misbehave, RedisServer, Upstream};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(
    good: &Upstream,
    flaky: &Upstream,
    hang: &BadUpstream,
    reset: &BadUpstream,
    redis: u16,
    generation: u32,
) -> String {
    format!(
        r#"_format_version: "3.0"
_comment: "generation {generation}"
upstreams:
  - name: pool.internal
    healthchecks:
      active:
        http_path: /health
        healthy: {{ interval: 0.2, successes: 1 }}
        unhealthy: {{ interval: 0.2, http_failures: 1, tcp_failures: 1 }}
    targets:
      - target: 127.0.0.1:{good}
      - target: 127.0.0.1:{flaky}
services:
  - name: plain
    url: http://127.0.0.1:{good}
    routes: [{{ name: plain, paths: [/plain] }}, {{ name: limited, paths: [/limited] }}, {{ name: jwt, paths: [/jwt] }}]
  - name: pool
    host: pool.internal
    retries: 2
    routes: [{{ name: pool, paths: [/pool] }}]
  - name: hang
    url: {hang}
    read_timeout: 300
    routes: [{{ name: hang, paths: [/hang] }}]
  - name: reset
    url: {reset}
    routes: [{{ name: reset, paths: [/reset] }}]
  - name: refused
    url: http://127.0.0.1:{refused}
    routes: [{{ name: refused, paths: [/refused] }}]
consumers:
  - username: soak
    jwt_secrets: [{{ key: soak-key, secret: soak-secret }}]
plugins:
  - {{ name: rate-limiting, route: limited, config: {{ second: 100000, policy: redis, redis: {{ host: 127.0.0.1, port: {redis}, timeout: 200 }} }} }}
  - {{ name: jwt, route: jwt }}
"#,
        good = good.addr.port(),
        flaky = flaky.addr.port(),
        hang = hang.url(),
        reset = reset.url(),
        refused = common::free_port(),
    )
}

/// Descriptors the gateway may hold beyond its start: idle pooled upstream connections.
const FD_BOUND: usize = 48;

/// (RSS in KiB, open descriptors) of a process.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

/// Which statuses each path may answer.
fn expected(path: &str, status: u16) -> bool {
    match path {
        "/plain" | "/pool" | "/jwt" | "/limited" => status == 200,
        "/hang" => status == 504,
        "/reset" | "/refused" => status == 502,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak test: minutes long; run explicitly (see the module docs)"]
async fn soak_under_faults_and_reloads() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let good = Upstream::http().await;
    let flaky = Upstream::http().await;
    let hang = BadUpstream::start(Misbehave::Hang).await;
    let reset = BadUpstream::start(Misbehave::ResetBeforeResponse).await;
    let mut redis = RedisServer::start().await;
    let redis_port = redis.port;
    let logs = tempfile::tempdir().expect("tempdir");
    let error_log = logs.path().join("error.log");
    let gw = Gateway::start_logged(
        &config(&good, &flaky, &hang, &reset, redis_port, 0),
        &[],
        &error_log,
    )
    .await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"iss": "soak-key"}),
        &jsonwebtoken::EncodingKey::from_secret(b"soak-secret"),
    )
    .expect("sign");

    // Warm up, then take the starting point.
    let c = common::client();
    for p in ["/plain", "/pool", "/jwt", "/limited"] {
        let _ = c.get(gw.url(p)).bearer_auth(&token).send().await;
    }
    let start = usage(gw.pid());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tally: Arc<Mutex<BTreeMap<(String, String), u64>>> = Default::default();

    let paths = [
        "/plain", "/pool", "/jwt", "/limited", "/plain", "/pool", "/hang", "/reset", "/refused",
    ];
    let mut clients = Vec::new();
    for i in 0..16usize {
        let (c, url, token, tally) = (common::client(), gw.url(""), token.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let mut n = i;
            while Instant::now() < deadline {
                let path = paths[n % paths.len()];
                n += 1;
                let outcome = match c
                    .get(format!("{url}{path}"))
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        if expected(path, s) {
                            format!("{s}")
                        } else {
                            format!("UNEXPECTED {s}")
                        }
                    }
                    Err(e) => format!("CLIENT ERROR {e}"),
                };
                *tally
                    .lock()
                    .expect("tally")
                    .entry((path.to_string(), outcome))
                    .or_default() += 1;
            }
        }));
    }

    // Faults and reloads until the deadline.
    let admin = gw.admin("/config");
    let mut generation = 1;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        tick.tick().await;
        let yaml = config(&good, &flaky, &hang, &reset, redis_port, generation);
        if generation % 2 == 0 {
            let r = c
                .post(&admin)
                .header("content-type", "text/yaml")
                .body(yaml)
                .send()
                .await
                .expect("reload");
            assert_eq!(r.status(), 201, "reload {generation}");
        } else {
            std::fs::write(&gw.config_path, yaml).expect("write config");
            gw.signal("HUP");
        }
        if generation % 2 == 0 {
            flaky.set_health(if generation % 4 == 0 { 500 } else { 200 });
        }
        if generation % 5 == 0 {
            if generation % 10 == 0 {
                redis.restart().await;
            } else {
                redis.stop();
            }
        }
        samples.push(usage(gw.pid()));
        generation += 1;
    }
    for c in clients {
        c.await.expect("client task");
    }
    // Client connections close as the tasks end; wait (bounded) for the gateway to see it.
    let mut end = usage(gw.pid());
    for _ in 0..100 {
        if end.1 <= start.1 + FD_BOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        end = usage(gw.pid());
    }

    let tally = tally.lock().expect("tally").clone();
    let total: u64 = tally.values().sum();
    println!(
        "\nsoak: {secs} s, {total} requests, {} reloads",
        generation - 1
    );
    println!("{:<10} {:<60} {:>8}", "path", "outcome", "count");
    for ((path, outcome), n) in &tally {
        println!("{path:<10} {outcome:<60} {n:>8}");
    }
    let peak = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let half = &samples[samples.len() / 2..];
    println!(
        "RSS start {} KiB, peak {} KiB, end {} KiB; fds start {}, second half {}..{}, end {}",
        start.0,
        peak,
        end.0,
        start.1,
        half.iter().map(|s| s.1).min().unwrap_or(0),
        half.iter().map(|s| s.1).max().unwrap_or(0),
        end.1
    );
    println!(
        "error log: {} lines",
        std::fs::read_to_string(&error_log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    );
    let bad: Vec<_> = tally
        .iter()
        .filter(|((_, o), _)| o.starts_with("UNEXPECTED") || o.starts_with("CLIENT"))
        .collect();
    assert!(bad.is_empty(), "unexpected outcomes: {bad:?}");
    assert!(total > secs * 10, "the load ran ({total} requests)");
    assert!(
        end.0 < start.0 + 32 * 1024,
        "RSS grew from {} to {} KiB",
        start.0,
        end.0
    );
    assert!(
        end.1 <= start.1 + FD_BOUND,
        "descriptors grew from {} to {}",
        start.1,
        end.1
    );
}
