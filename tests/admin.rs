//! The admin API against a running gateway: Kong's read endpoints and shapes, paging, 405s,
//! redaction, the admin token, `GET/POST /config` (good, bad, check_hash) and `/metrics`.

mod common;
use common::{client, Gateway, Upstream};
use serde_json::{json, Value};

const KEY: &str = "G7lSenm1yjPeJUUEOMDDULj1BfuMDHUV";

fn config(up: &str) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: users-service
    url: {up}/users
    routes: [{{ name: users-route, paths: [/users] }}]
  - name: orders-service
    url: {up}/orders
    routes: [{{ name: orders-route, paths: [/orders] }}]
routes:
  - {{ name: login-route, paths: [/login] }}
consumers:
  - username: auth-service-consumer
    custom_id: auth-1
    jwt_secrets:
      - {{ key: {KEY}, secret: "Too many secrets.", algorithm: HS256 }}
plugins:
  - {{ name: jwt, service: users-service, config: {{ key_claim_name: kid }} }}
  - {{ name: rate-limiting, service: orders-service, config: {{ minute: 10, policy: redis, redis: {{ host: 127.0.0.1, password: hunter2 }} }} }}
  - {{ name: aws-lambda, route: login-route, config: {{ aws_key: AKIAEXAMPLEKEY, aws_secret: example-secret-access-key, aws_region: us-west-2, function_name: auth }} }}
"#
    )
}

async fn get(gw: &Gateway, path: &str) -> (u16, Value) {
    let r = client()
        .get(gw.admin(path))
        .send()
        .await
        .expect("admin request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn read_endpoints_in_kongs_shapes_with_secrets_redacted() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up.url("http"))).await;

    let (s, root) = get(&gw, "/").await;
    assert_eq!(s, 200);
    assert_eq!(
        root["plugins"]["available_on_server"]["jwt"]["priority"],
        1450
    );
    assert_eq!(
        root["plugins"]["enabled_in_cluster"],
        json!(["aws-lambda", "jwt", "rate-limiting"])
    );

    let (s, status) = get(&gw, "/status").await;
    assert_eq!(s, 200);
    assert_eq!(
        status["configuration_hash"].as_str().map(str::len),
        Some(32)
    );
    assert_eq!(status["configuration_version"], 1);
    let (s, ready) = get(&gw, "/status/ready").await;
    assert_eq!((s, ready), (200, json!({"message": "ready"})));

    let (s, services) = get(&gw, "/services").await;
    assert_eq!(s, 200);
    assert_eq!(services["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(services["next"], Value::Null);
    let (_, svc) = get(&gw, "/services/users-service").await;
    assert_eq!(svc["host"], "127.0.0.1");
    assert_eq!(svc["path"], "/users");
    assert_eq!(svc["protocol"], "http");
    let (_, by_id) = get(
        &gw,
        &format!("/services/{}", svc["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(by_id["name"], "users-service");
    let (_, routes) = get(&gw, "/services/users-service/routes").await;
    assert_eq!(routes["data"][0]["name"], "users-route");
    assert_eq!(routes["data"][0]["service"], json!({"id": svc["id"]}));
    let (_, route_svc) = get(&gw, "/routes/users-route/service").await;
    assert_eq!(route_svc["id"], svc["id"]);
    let (_, login) = get(&gw, "/routes/login-route").await;
    assert_eq!(login["service"], Value::Null);
    assert_eq!(login["strip_path"], true);

    // The scenario reads the consumer's key here; the secret never leaves the gateway.
    let (s, jwt) = get(&gw, "/consumers/auth-service-consumer/jwt").await;
    assert_eq!(s, 200);
    assert_eq!(jwt["data"][0]["key"], KEY);
    assert_eq!(jwt["data"][0]["algorithm"], "HS256");
    assert_eq!(jwt["data"][0]["secret"], "<redacted>");
    let (_, one) = get(&gw, &format!("/consumers/auth-service-consumer/jwt/{KEY}")).await;
    assert_eq!(one["key"], KEY);
    let (_, owner) = get(&gw, &format!("/jwts/{KEY}/consumer")).await;
    assert_eq!(owner["username"], "auth-service-consumer");
    let (_, by_custom) = get(&gw, "/consumers?custom_id=auth-1").await;
    assert_eq!(by_custom["data"][0]["username"], "auth-service-consumer");

    let (_, plugins) = get(&gw, "/plugins").await;
    let text = plugins.to_string();
    assert!(
        !text.contains("example-secret-access-key")
            && !text.contains("hunter2")
            && !text.contains("Too many secrets"),
        "{text}"
    );
    assert!(text.contains("AKIAEXAMPLEKEY"), "key ids are shown");
    let (_, svc_plugins) = get(&gw, "/services/users-service/plugins").await;
    assert_eq!(svc_plugins["data"][0]["name"], "jwt");
    assert_eq!(svc_plugins["data"][0]["config"]["key_claim_name"], "kid");

    let r = client().get(gw.admin("/config")).send().await.expect("req");
    let text = r.text().await.expect("body");
    assert!(
        text.contains("users-service")
            && !text.contains("Too many secrets")
            && !text.contains("hunter2"),
        "{text}"
    );

    let (s, missing) = get(&gw, "/services/nope").await;
    assert_eq!((s, missing), (404, json!({"message": "Not found"})));
}

#[tokio::test]
async fn paging_and_writes_refused_as_kong() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up.url("http"))).await;
    let (_, first) = get(&gw, "/routes?size=2").await;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("next page").to_string();
    let (_, second) = get(&gw, &next).await;
    assert_eq!(second["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next"], Value::Null);
    let (s, bad) = get(&gw, "/routes?offset=!!!").await;
    assert_eq!(s, 400);
    assert_eq!(bad["name"], "invalid offset");

    let c = client();
    let r = c
        .post(gw.admin("/routes"))
        .body("{}")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"code": 12, "name": "operation unsupported", "message": "cannot create 'routes' entities when not using a database"})
    );
    let r = c.delete(gw.admin("/jwts/x")).send().await.expect("req");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["message"],
        "cannot remove 'jwt_secrets' entities when not using a database"
    );
    let r = c
        .patch(gw.admin("/services/users-service"))
        .send()
        .await
        .expect("req");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["message"],
        "cannot update 'services' entities when not using a database"
    );
    let r = c.put(gw.admin("/routes")).send().await.expect("req");
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"message": "Method not allowed"}));
}

#[tokio::test]
async fn post_config_swaps_or_keeps_the_old_config() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up.url("http"))).await;
    let c = client();
    let new = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: fresh\n    url: {}/fresh\n    routes:\n      - paths: [/fresh]\n",
        up.url("http")
    );

    let bad = "_format_version: \"3.0\"\nroutes:\n  - name: r\n    service: ghost\n    paths: [/x]\n  - name: r2\n";
    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "application/yaml")
        .body(bad)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], 14);
    assert_eq!(body["name"], "invalid declarative configuration");
    let errors = body["flattened_errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "every problem is reported: {body}");
    assert_eq!(
        errors[0],
        json!({"path": "routes[0].service", "message": "unknown service \"ghost\" (known: none)"})
    );
    assert_eq!(
        c.get(gw.url("/users/x"))
            .send()
            .await
            .expect("req")
            .status(),
        401,
        "the old config still serves"
    );
    let (_, status) = get(&gw, "/status").await;
    assert!(status["last_reload_error"]
        .as_str()
        .is_some_and(|e| e.contains("ghost")));

    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "application/yaml")
        .body(new.clone())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["services"].as_object().map(|m| m.len()), Some(1));
    let r = c.get(gw.url("/fresh/a")).send().await.expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(gw.url("/users/x"))
            .send()
            .await
            .expect("req")
            .status(),
        404,
        "the old routes are gone"
    );

    let r = c
        .post(gw.admin("/config?check_hash=1"))
        .body(new.clone())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 304, "unchanged config");
    let wrapped = json!({ "config": new }).to_string();
    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "application/json")
        .body(wrapped)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 201, "a JSON body with a config string");
    let r = c
        .post(gw.admin("/config"))
        .body("")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let (_, status) = get(&gw, "/status").await;
    assert_eq!(status["configuration_version"], 3);
}

#[tokio::test]
async fn admin_token_and_metrics() {
    let up = Upstream::http().await;
    let gw = Gateway::start_env(
        &config(&up.url("http")),
        None,
        &[("SKYPORT_ADMIN_TOKEN", "s3cr3t-token")],
    )
    .await;
    let c = client();
    let r = c.get(gw.admin("/services")).send().await.expect("req");
    assert_eq!(r.status(), 401);
    let r = c
        .get(gw.admin("/services"))
        .header("authorization", "Bearer wrong")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = c
        .get(gw.admin("/services"))
        .header("authorization", "Bearer s3cr3t-token")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = c.get(gw.admin("/status/ready")).send().await.expect("req");
    assert_eq!(r.status(), 200, "the readiness probe needs no token");

    for _ in 0..3 {
        c.get(gw.url("/orders/1")).send().await.expect("req");
    }
    c.get(gw.url("/nowhere")).send().await.expect("req");
    // A request is counted in its logging step, just after its response went out: read the
    // metrics until the last one shows (bounded).
    let mut text = String::new();
    for _ in 0..100 {
        let r = c
            .get(gw.admin("/metrics"))
            .header("skyport-admin-token", "s3cr3t-token")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200);
        text = r.text().await.expect("metrics");
        if text.contains(r#"status="404"} 1"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        text.contains(r#"skyport_requests_total{route="",service="",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("skyport_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains(r#"route="orders-route""#), "{text}");
}
