//! Plugins scoped to consumers run once authentication names the consumer, with Kong's
//! precedence: consumer+route+service > consumer+route > consumer+service > route+service >
//! consumer > route > service > global.

mod common;
use common::{client, Gateway, Upstream};

/// The eight scopes, most specific first, as `request-termination` instances whose message
/// names their scope.
const SCOPES: [(&str, &str); 8] = [
    (
        "consumer+route+service",
        "consumer: alice, route: r1, service: s",
    ),
    ("consumer+route", "consumer: alice, route: r1"),
    ("consumer+service", "consumer: alice, service: s"),
    ("route+service", "route: r1, service: s"),
    ("consumer", "consumer: alice"),
    ("route", "route: r1"),
    ("service", "service: s"),
    ("global", ""),
];

fn config(up: &Upstream, scopes: &[(&str, &str)]) -> String {
    let mut plugins = String::new();
    for (name, scope) in scopes {
        let sep = if scope.is_empty() { "" } else { ", " };
        plugins.push_str(&format!(
            "  - {{ name: request-termination, {scope}{sep}config: {{ status_code: 418, message: \"{name}\" }} }}\n"
        ));
    }
    format!(
        r#"_format_version: "3.0"
consumers:
  - {{ username: alice, keyauth_credentials: [{{ key: ka }}] }}
  - {{ username: bob, keyauth_credentials: [{{ key: kb }}] }}
services:
  - name: s
    url: {}
    routes: [{{ name: r1, paths: [/r1] }}, {{ name: r2, paths: [/r2] }}]
    plugins: [{{ name: key-auth }}]
plugins:
{plugins}"#,
        up.url("http")
    )
}

async fn message(gw: &Gateway, path: &str, key: &str) -> String {
    let r = client()
        .get(gw.url(path))
        .header("apikey", key)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    format!("{status} {}", v["message"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn the_most_specific_scope_wins_in_kongs_order() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up, &SCOPES)).await;
    let c = client();
    for i in 0..SCOPES.len() {
        if i > 0 {
            let r = c
                .post(gw.admin("/config"))
                .header("content-type", "text/yaml")
                .body(config(&up, &SCOPES[i..]))
                .send()
                .await
                .expect("post");
            assert_eq!(r.status(), 201);
        }
        assert_eq!(
            message(&gw, "/r1", "ka").await,
            format!("418 {}", SCOPES[i].0),
            "with everything from {} down",
            SCOPES[i].0
        );
    }
    // Another consumer never sees alice's instances: on r1 it gets the route's (while it
    // still exists), on r2 the service's.
    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "text/yaml")
        .body(config(&up, &SCOPES))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    assert_eq!(message(&gw, "/r1", "kb").await, "418 route+service");
    assert_eq!(message(&gw, "/r2", "kb").await, "418 service");
    assert_eq!(message(&gw, "/r2", "ka").await, "418 consumer+service");
}

#[tokio::test]
async fn a_consumer_with_its_own_limit_while_others_share_the_routes() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
consumers:
  - username: premium
    keyauth_credentials: [{{ key: kp }}]
    plugins: [{{ name: rate-limiting, config: {{ day: 5 }} }}]
  - {{ username: basic1, keyauth_credentials: [{{ key: k1 }}] }}
  - {{ username: basic2, keyauth_credentials: [{{ key: k2 }}] }}
services:
  - name: s
    url: {}
    routes:
      - name: r
        paths: [/]
        plugins:
          - {{ name: key-auth }}
          - {{ name: rate-limiting, config: {{ day: 2, limit_by: service }} }}
"#,
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let mut seen = Vec::new();
    for key in ["k1", "k2", "k1", "kp", "kp", "kp", "kp", "kp", "kp"] {
        let r = c
            .get(gw.url("/x"))
            .header("apikey", key)
            .send()
            .await
            .expect("r");
        seen.push((
            r.status().as_u16(),
            r.headers()
                .get("x-ratelimit-limit-day")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        ));
    }
    let codes: Vec<u16> = seen.iter().map(|s| s.0).collect();
    assert_eq!(codes, [200, 200, 429, 200, 200, 200, 200, 200, 429]);
    assert_eq!(seen[0].1, "2", "the route's shared limit");
    assert_eq!(seen[3].1, "5", "premium's own limit");
}
