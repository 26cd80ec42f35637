//! Upstreams and targets through the real gateway: weighted round-robin, consistent hashing,
//! retries on the next target, active and passive health checks (state kept across reloads),
//! and Kong's 503 when no target is left.

mod common;
use common::{client, free_port, Gateway, Upstream};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Which target served a request: the echo shows the `Host` the gateway sent (`ip:port`).
async fn served_by(resp: reqwest::Response) -> String {
    let v = common::echoed(resp).await;
    v["headers"]["host"].as_str().unwrap_or("").to_string()
}

async fn tally(
    gw: &Gateway,
    path: &str,
    n: usize,
    header: Option<(&str, String)>,
) -> HashMap<String, usize> {
    let c = client();
    let mut out = HashMap::new();
    for _ in 0..n {
        let mut req = c.get(gw.url(path));
        if let Some((k, v)) = &header {
            req = req.header(*k, v.as_str());
        }
        let host = served_by(req.send().await.expect("request")).await;
        *out.entry(host).or_default() += 1;
    }
    out
}

/// The health Kong's admin API reports for each target of `upstream`.
async fn health(gw: &Gateway, upstream: &str) -> HashMap<String, String> {
    admin_list(gw, &format!("/upstreams/{upstream}/health"))
        .await
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap_or("").to_string(),
                t["health"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The `data` of an admin API list.
async fn admin_list(gw: &Gateway, path: &str) -> Vec<Value> {
    let v = gw.admin_json(path).await;
    v["data"].as_array().cloned().unwrap_or_default()
}

/// Waits (bounded) until `target` of `upstream` reports `want`.
async fn wait_health(gw: &Gateway, upstream: &str, target: &str, want: &str) {
    for _ in 0..200 {
        if health(gw, upstream).await.get(target).map(String::as_str) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{target} never became {want}: {:?}",
        health(gw, upstream).await
    );
}

fn target(u: &Upstream) -> String {
    format!("127.0.0.1:{}", u.addr.port())
}

#[tokio::test]
async fn weighted_round_robin_follows_the_weights_exactly() {
    let (a, b) = (Upstream::http().await, Upstream::http().await);
    let yaml = format!(
        r#"_format_version: "3.0"
upstreams:
- name: orders.internal
  targets:
  - target: {}
    weight: 100
  - target: {}
    weight: 300
services:
- name: orders
  host: orders.internal
  routes:
  - name: r
    paths: [/orders]
"#,
        target(&a),
        target(&b)
    );
    let gw = Gateway::start(&yaml).await;
    let counts = tally(&gw, "/orders", 400, None).await;
    assert_eq!(counts.get(&target(&a)), Some(&100), "{counts:?}");
    assert_eq!(counts.get(&target(&b)), Some(&300), "{counts:?}");

    // The admin API shows the upstream and its targets as Kong does.
    let weights: Vec<u64> = admin_list(&gw, "/upstreams/orders.internal/targets")
        .await
        .iter()
        .map(|t| t["weight"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(weights, vec![100, 300]);
    let h = health(&gw, "orders.internal").await;
    assert_eq!(
        h.get(&target(&a)).map(String::as_str),
        Some("HEALTHCHECKS_OFF")
    );
}

#[tokio::test]
async fn consistent_hashing_keeps_a_key_on_one_target() {
    let ups = [
        Upstream::http().await,
        Upstream::http().await,
        Upstream::http().await,
    ];
    let targets: String = ups
        .iter()
        .map(|u| format!("  - target: {}\n", target(u)))
        .collect();
    let yaml = format!(
        r#"_format_version: "3.0"
upstreams:
- name: users.internal
  algorithm: consistent-hashing
  hash_on: header
  hash_on_header: X-User
  hash_fallback: ip
  targets:
{targets}services:
- name: users
  host: users.internal
  routes:
  - name: r
    paths: [/users]
"#
    );
    let gw = Gateway::start(&yaml).await;
    let mut used = HashMap::new();
    for user in 0..30 {
        let counts = tally(&gw, "/users", 5, Some(("x-user", format!("user-{user}")))).await;
        assert_eq!(
            counts.len(),
            1,
            "user-{user} moved between targets: {counts:?}"
        );
        let host = counts.into_keys().next().unwrap_or_default();
        *used.entry(host).or_insert(0) += 1;
    }
    assert!(
        used.len() >= 2,
        "30 keys all hashed to one target: {used:?}"
    );
    // Without the header the fallback (client ip) hashes: one target, every time.
    assert_eq!(tally(&gw, "/users", 10, None).await.len(), 1);
}

#[tokio::test]
async fn retries_go_to_the_next_target_and_no_target_left_is_kongs_503() {
    let live = Upstream::http().await;
    let dead = free_port();
    let yaml = format!(
        r#"_format_version: "3.0"
upstreams:
- name: mixed.internal
  targets:
  - target: 127.0.0.1:{dead}
  - target: {}
- name: gone.internal
  healthchecks:
    passive:
      unhealthy:
        tcp_failures: 1
  targets:
  - target: 127.0.0.1:{dead}
  - target: 127.0.0.1:{dead2}
- name: disabled.internal
  targets:
  - target: {}
    weight: 0
services:
- name: mixed
  host: mixed.internal
  retries: 1
  routes:
  - name: mixed
    paths: [/mixed]
- name: gone
  host: gone.internal
  retries: 1
  routes:
  - name: gone
    paths: [/gone]
- name: disabled
  host: disabled.internal
  routes:
  - name: disabled
    paths: [/disabled]
"#,
        target(&live),
        target(&live),
        dead2 = free_port(),
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    // Half the picks land on the dead target first; the retry takes the live one.
    for _ in 0..10 {
        let r = c.get(gw.url("/mixed")).send().await.expect("request");
        assert_eq!(served_by(r).await, target(&live));
    }

    // Both targets refuse: the first request tries both (502) and passive checks take
    // them out; from then on there is no peer to pick.
    let r = c.get(gw.url("/gone")).send().await.expect("request");
    assert_eq!(r.status(), 502);
    for _ in 0..3 {
        let r = c
            .get(gw.url("/gone"))
            .header("accept", "application/json")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 503);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["message"], "failure to get a peer from the ring-balancer");
    }
    let h = health(&gw, "gone.internal").await;
    assert!(h.values().all(|s| s == "UNHEALTHY"), "{h:?}");

    // A target of weight 0 is disabled: nothing to pick.
    let r = c
        .get(gw.url("/disabled"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["connection"], "close");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["message"], "failure to get a peer from the ring-balancer");
    assert!(v["request_id"].as_str().is_some_and(|id| id.len() == 32));
    assert_eq!(
        live.connections(),
        1,
        "only the /mixed traffic reached the live target"
    );
}

#[tokio::test]
async fn active_checks_take_a_target_out_and_bring_it_back() {
    let (a, b) = (Upstream::http().await, Upstream::http().await);
    let yaml = format!(
        r#"_format_version: "3.0"
upstreams:
- name: api.internal
  healthchecks:
    active:
      http_path: /health
      timeout: 1
      healthy:
        interval: 0.1
        successes: 2
      unhealthy:
        interval: 0.1
        http_failures: 2
  targets:
  - target: {}
  - target: {}
services:
- name: api
  host: api.internal
  routes:
  - name: r
    paths: [/api]
"#,
        target(&a),
        target(&b)
    );
    let gw = Gateway::start(&yaml).await;
    wait_health(&gw, "api.internal", &target(&a), "HEALTHY").await;

    a.set_health(500);
    wait_health(&gw, "api.internal", &target(&a), "UNHEALTHY").await;
    let counts = tally(&gw, "/api", 20, None).await;
    assert_eq!(counts.get(&target(&b)), Some(&20), "{counts:?}");

    a.set_health(200);
    wait_health(&gw, "api.internal", &target(&a), "HEALTHY").await;
    let counts = tally(&gw, "/api", 20, None).await;
    assert_eq!(counts.get(&target(&a)), Some(&10), "{counts:?}");
}

#[tokio::test]
async fn passive_checks_count_bad_statuses_and_health_survives_a_reload() {
    let (good, bad) = (Upstream::http().await, Upstream::http().await);
    let upstream = |extra_route: &str| {
        format!(
            r#"_format_version: "3.0"
upstreams:
- name: flaky.internal
  healthchecks:
    passive:
      unhealthy:
        http_failures: 3
        http_statuses: [500]
  targets:
  - target: {}
  - target: {}
services:
- name: flaky
  host: flaky.internal
  routes:
  - name: r
    paths: [/status/500]
    strip_path: false
  - name: {extra_route}
    paths: [/{extra_route}]
"#,
            target(&good),
            target(&bad)
        )
    };
    let gw = Gateway::start(&upstream("first")).await;
    let c = client();
    // Both targets answer /status/500: each is counted; after three each, both are out.
    let mut seen = Vec::new();
    for _ in 0..6 {
        let r = c.get(gw.url("/status/500")).send().await.expect("request");
        seen.push(r.status().as_u16());
    }
    assert_eq!(seen, vec![500; 6]);
    let r = c.get(gw.url("/first")).send().await.expect("request");
    assert_eq!(r.status(), 503);

    // A reload (another route) keeps what was learnt: the targets stay out.
    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "text/yaml")
        .body(upstream("second"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let r = c.get(gw.url("/second")).send().await.expect("request");
    assert_eq!(r.status(), 503);
    let h = health(&gw, "flaky.internal").await;
    assert!(h.values().all(|s| s == "UNHEALTHY"), "{h:?}");
}

#[tokio::test]
async fn https_targets_are_verified_and_probed_with_the_services_ca() {
    let pki = common::Pki::new();
    let (a, b) = (Upstream::https(&pki).await, Upstream::https(&pki).await);
    let ca = pki.ca_pem.replace('\n', "\n      ");
    let yaml = format!(
        r#"_format_version: "3.0"
ca_certificates:
  - id: 8f9e5a52-36d7-4c0b-9a56-0d6a8e1c1d11
    cert: |
      {ca}
upstreams:
- name: secure.internal
  healthchecks:
    active:
      type: https
      http_path: /health
      healthy: {{ interval: 0.1, successes: 1 }}
      unhealthy: {{ interval: 0.1, http_failures: 1, tcp_failures: 1, timeouts: 1 }}
  targets:
  - target: {}
  - target: {}
services:
- name: secure
  protocol: https
  host: secure.internal
  ca_certificates: [8f9e5a52-36d7-4c0b-9a56-0d6a8e1c1d11]
  routes:
  - name: r
    paths: [/secure]
"#,
        target(&a),
        target(&b)
    );
    let gw = Gateway::start(&yaml).await;
    // Proxied over TLS, verified against the private CA, SNI = the target host.
    let seen = common::echoed(
        client()
            .get(gw.url("/secure"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["sni"], Value::Null, "an IP target sends no SNI name");
    // The https probe reaches /health through the same trust: a 500 takes the target
    // out (an HTTP failure, so TLS worked), a 200 brings it back.
    a.set_health(500);
    wait_health(&gw, "secure.internal", &target(&a), "UNHEALTHY").await;
    a.set_health(200);
    wait_health(&gw, "secure.internal", &target(&a), "HEALTHY").await;
    let counts = tally(&gw, "/secure", 10, None).await;
    assert_eq!(counts.len(), 2, "{counts:?}");
}
