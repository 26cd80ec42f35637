//! The `aws-lambda` plugin through the real gateway into a real Lambda Invoke API
//! (`cargo lambda watch` running tests/lambdas), plus a small stand-in for what the emulator
//! does not do (Event/DryRun, log tails, AWS error types).

mod common;
use common::{client, free_port, FakeLambda, Gateway, LambdaServer, Upstream};
use serde_json::{json, Value};

const SECRET: &str = "example-secret-access-key";

fn plugin(route: &str, port: u16, function: &str, extra: &str) -> String {
    format!(
        "  - {{ name: aws-lambda, route: {route}, config: {{ aws_key: AKIAEXAMPLEKEY, aws_secret: {SECRET}, aws_region: us-west-2, function_name: {function}, host: 127.0.0.1, port: {port}, disable_https: true{extra} }} }}\n"
    )
}

fn config(up: &Upstream, lambda: u16, fake: u16, dead: u16) -> String {
    let mut y = format!(
        r#"_format_version: "3.0"
services:
  - name: never-called
    url: {}
    routes:
      - {{ name: echo, paths: [/echo] }}
routes:
  - {{ name: login-route, paths: [/login] }}
  - {{ name: forward, paths: [/forward] }}
  - {{ name: proxy, paths: [/proxy] }}
  - {{ name: badproxy, paths: [/badproxy] }}
  - {{ name: fail, paths: [/fail] }}
  - {{ name: fail-status, paths: [/fail-status] }}
  - {{ name: slow, paths: [/slow] }}
  - {{ name: down, paths: [/down] }}
  - {{ name: missing, paths: [/missing] }}
  - {{ name: event, paths: [/event] }}
  - {{ name: dryrun, paths: [/dryrun] }}
  - {{ name: tail, paths: [/tail] }}
  - {{ name: notail, paths: [/notail] }}
  - {{ name: throttled, paths: [/throttled] }}
  - {{ name: denied, paths: [/denied] }}
  - {{ name: stand-in-unhandled, paths: [/unhandled] }}
  - {{ name: correct-arrays, paths: [/correct] }}
  - {{ name: gateway-event, paths: ["~/v(?<version>\\d+)/items"] }}
plugins:
"#,
        up.url("http")
    );
    y += &plugin("echo", lambda, "echo", "");
    y += &plugin(
        "login-route",
        lambda,
        "echo",
        ", forward_request_body: true",
    );
    y += &plugin(
        "forward",
        lambda,
        "echo",
        ", forward_request_method: true, forward_request_uri: true, forward_request_headers: true, forward_request_body: true",
    );
    y += &plugin(
        "proxy",
        lambda,
        "proxy",
        ", is_proxy_integration: true, forward_request_body: true",
    );
    y += &plugin(
        "badproxy",
        lambda,
        "badproxy",
        ", is_proxy_integration: true",
    );
    y += &plugin("fail", lambda, "fail", "");
    y += &plugin("fail-status", lambda, "fail", ", unhandled_status: 500");
    y += &plugin("slow", lambda, "slow", ", timeout: 1000");
    y += &plugin("down", dead, "echo", ", timeout: 2000");
    y += &plugin("missing", lambda, "no-such-function", "");
    y += &plugin("event", fake, "acts", ", invocation_type: Event");
    y += &plugin("dryrun", fake, "acts", ", invocation_type: DryRun");
    y += &plugin("tail", fake, "acts", ", log_type: Tail");
    y += &plugin("notail", fake, "acts", "");
    y += &plugin("throttled", fake, "throttled", "");
    y += &plugin("denied", fake, "denied", "");
    y += &plugin(
        "correct-arrays",
        lambda,
        "echo",
        ", empty_arrays_mode: correct",
    );
    y += &plugin(
        "gateway-event",
        lambda,
        "echo",
        ", awsgateway_compatible: true",
    );
    y += &plugin(
        "stand-in-unhandled",
        fake,
        "unhandled",
        ", unhandled_status: 503",
    );
    y
}

struct Env {
    up: Upstream,
    gw: Gateway,
    _lambda: LambdaServer,
    _fake: FakeLambda,
}

async fn setup() -> Env {
    let lambda = LambdaServer::start().await;
    let fake = FakeLambda::start().await;
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up, lambda.port, fake.port, free_port())).await;
    Env {
        up,
        gw,
        _lambda: lambda,
        _fake: fake,
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("").to_string())
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("JSON body")
}

#[tokio::test]
async fn invokes_the_function_instead_of_the_service() {
    let e = setup().await;
    let c = client();

    // Default payload: query and body arguments merged; the service is never contacted.
    let r = c
        .post(e.gw.url("/echo?a=1&b=2"))
        .header("content-type", "application/json")
        .body(r#"{"b":"from-body","c":3}"#)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").is_some_and(|v| v.starts_with("application/json")));
    assert_eq!(
        json_of(r).await,
        json!({"a": "1", "b": "from-body", "c": 3})
    );
    assert_eq!(
        e.up.connections(),
        0,
        "the route's service is never contacted"
    );

    // The scenario's form: forward_request_body.
    let r = c
        .post(e.gw.url("/login"))
        .header("content-type", "application/json")
        .body(r#"{"email":"a@example.com","password":"pw"}"#)
        .send()
        .await
        .expect("req");
    assert_eq!(
        json_of(r).await,
        json!({"request_body": r#"{"email":"a@example.com","password":"pw"}"#, "request_body_args": {"email": "a@example.com", "password": "pw"}})
    );

    let r = c
        .put(e.gw.url("/forward/x?k=v"))
        .header("x-trace", "t1")
        .header("content-type", "text/plain")
        .body("plain text")
        .send()
        .await
        .expect("req");
    let p = json_of(r).await;
    assert_eq!(p["request_method"], "PUT");
    assert_eq!(p["request_uri"], "/forward/x?k=v");
    assert_eq!(p["request_uri_args"], json!({"k": "v"}));
    assert_eq!(p["request_headers"]["x-trace"], "t1");
    assert_eq!(p["request_body"], "plain text");
    assert_eq!(p["request_body_args"], json!({}));
}

#[tokio::test]
async fn proxy_integration_and_bad_responses() {
    let e = setup().await;
    let c = client();
    let r = c
        .post(e.gw.url("/proxy"))
        .header("content-type", "application/json")
        .body(r#"{"status":418}"#)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 418);
    assert_eq!(header(&r, "x-fn").as_deref(), Some("proxy"));
    let cookies: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(cookies, vec!["a=1", "b=2"]);
    let body = json_of(r).await;
    assert_eq!(body["request_body_args"], json!({"status": 418}));

    let r = c.get(e.gw.url("/badproxy")).send().await.expect("req");
    assert_eq!(r.status(), 502);
    assert_eq!(
        json_of(r).await,
        json!({"message": "Bad Gateway", "error": "could not JSON decode Lambda function response: expected a JSON object"})
    );
}

#[tokio::test]
async fn function_errors_timeouts_and_unreachable_lambda() {
    let e = setup().await;
    let c = client();

    let r = c.get(e.gw.url("/fail")).send().await.expect("req");
    assert_eq!(
        r.status(),
        200,
        "an unhandled function error keeps Lambda's 200, as Kong"
    );
    assert_eq!(
        header(&r, "x-amz-function-error").as_deref(),
        Some("Unhandled")
    );
    let body = json_of(r).await;
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("boom")),
        "{body}"
    );
    let r = c.get(e.gw.url("/fail-status")).send().await.expect("req");
    assert_eq!(r.status(), 500, "unhandled_status");

    let r = c.get(e.gw.url("/slow")).send().await.expect("req");
    assert_eq!(r.status(), 504);
    assert_eq!(
        json_of(r).await,
        json!({"message": "Gateway Timeout", "error": "Lambda invocation timed out after 1000 ms"})
    );

    let r = c.get(e.gw.url("/down")).send().await.expect("req");
    assert_eq!(r.status(), 502);
    assert_eq!(
        json_of(r).await,
        json!({"message": "Bad Gateway", "error": "could not reach the Lambda endpoint: connection failed"})
    );

    let r = c.get(e.gw.url("/missing")).send().await.expect("req");
    assert_eq!(r.status(), 502);
    let body = json_of(r).await;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.starts_with("Lambda function not found")),
        "{body}"
    );

    // The gateway keeps serving the other Lambda routes.
    let r = c.get(e.gw.url("/echo?ok=1")).send().await.expect("req");
    assert_eq!(json_of(r).await, json!({"ok": "1"}));
}

#[tokio::test]
async fn invocation_types_log_tails_and_aws_errors_via_the_stand_in() {
    let e = setup().await;
    let c = client();
    let r = c
        .post(e.gw.url("/event"))
        .body("{}")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    let r = c
        .post(e.gw.url("/dryrun"))
        .body("{}")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 204);

    let r = c.get(e.gw.url("/tail?x=1")).send().await.expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "x-amz-log-result").as_deref(),
        Some("bG9nIGxpbmU=")
    );
    assert_eq!(
        header(&r, "x-amz-executed-version").as_deref(),
        Some("$LATEST")
    );
    assert_eq!(
        header(&r, "x-amzn-requestid").as_deref(),
        Some("fake-request-id")
    );
    assert_eq!(json_of(r).await, json!({"got": {"x": "1"}}));
    let r = c.get(e.gw.url("/notail")).send().await.expect("req");
    assert_eq!(r.status(), 200);
    assert!(
        header(&r, "x-amz-log-result").is_none(),
        "no log tail unless log_type: Tail"
    );

    for (path, cause) in [
        ("/throttled", "Lambda throttled the invocation"),
        ("/denied", "AWS denied access to the function"),
    ] {
        let r = c.get(e.gw.url(path)).send().await.expect("req");
        assert_eq!(r.status(), 502, "{path}");
        let text = r.text().await.expect("body");
        assert!(!text.contains(SECRET), "credentials never reach the client");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body["message"], "Bad Gateway");
        assert!(
            body["error"].as_str().is_some_and(|m| m.starts_with(cause)),
            "{body}"
        );
    }

    let r = c.get(e.gw.url("/unhandled")).send().await.expect("req");
    assert_eq!(r.status(), 503);
    assert_eq!(
        header(&r, "x-amz-function-error").as_deref(),
        Some("Unhandled")
    );
}

/// A JSON array body reaches the function as that array; Kong's default `legacy` mode turns
/// the empty arrays of the function's answer into `{}` (`correct` keeps them); the answer
/// carries `Via` as a proxied one does.
#[tokio::test]
async fn array_bodies_empty_arrays_and_via() {
    let e = setup().await;
    let c = client();
    let body = r#"[1,[],{"x":[]}]"#;
    let send = |path: &str| {
        c.post(e.gw.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = send("/echo").await.expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "via").as_deref(),
        Some(concat!("1.1 skyport/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(json_of(r).await, json!([1, {}, {"x": {}}]));
    let r = send("/correct").await.expect("req");
    assert_eq!(json_of(r).await, json!([1, [], {"x": []}]));
}

/// `awsgateway_compatible`: the function gets an API Gateway event whose `resource` is the
/// route path that matched and whose `pathParameters` are its named captures (Kong's
/// request-util), with the request's id.
#[tokio::test]
async fn the_api_gateway_event_names_the_matched_route() {
    let e = setup().await;
    let r = client()
        .get(e.gw.url("/v2/items/42?q=1"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let id = header(&r, "x-skyport-request-id").unwrap_or_default();
    let event = json_of(r).await;
    assert_eq!(event["resource"], r"/v(?<version>\d+)/items", "{event}");
    assert_eq!(event["pathParameters"], json!({"version": "2"}));
    assert_eq!(event["path"], "/v2/items/42");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["queryStringParameters"], json!({"q": "1"}));
    assert_eq!(event["requestContext"]["protocol"], "HTTP/1.1");
    assert!(!id.is_empty(), "the answer carries the request id");
    assert_eq!(event["requestContext"]["requestId"], id.as_str());
}
