//! Kong's `request-transformer` through the real gateway: what the upstream receives (method,
//! path, query, headers, JSON and form bodies) after Kong's order of operations, values from
//! the client's request, a body too large to change sent intact, Lua templates refused at load.

mod common;
use common::{client, echoed, Gateway, Upstream};
use serde_json::{json, Value};
use std::process::Command;

fn config(up: &Upstream) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: echo
    url: {}
    routes:
      - name: headers
        paths: [/headers]
        plugins:
          - name: request-transformer
            config:
              remove: {{ headers: [x-drop], querystring: [secret] }}
              rename: {{ headers: ["x-old:X-New"], querystring: ["q:query"] }}
              replace: {{ headers: ["x-swap:swapped", "host:rewritten.example"], querystring: ["page:1"] }}
              add: {{ headers: ["X-Added:from-$(query_params.user)", "x-swap:never"], querystring: ["lang:en"] }}
              append: {{ headers: ["x-multi:two"], querystring: ["tag:b"] }}
      - name: uri
        paths: ["~/users/(?<id>\\d+)/orders"]
        plugins:
          - name: request-transformer
            config:
              http_method: POST
              replace: {{ uri: "/v2/orders/$(uri_captures.id)" }}
              add: {{ headers: ["x-who:$(uri_captures.id)", "x-miss:[$(uri_captures.none or 'none')]", "x-forwarded-for:10.9.9.9"] }}
      - name: body
        paths: [/body]
        plugins:
          - name: request-transformer
            config:
              remove: {{ body: [password] }}
              rename: {{ body: ["user:username"] }}
              replace: {{ body: ["role:member"] }}
              add: {{ body: ["source:gateway", "role:never"] }}
              append: {{ body: ["tags:new"] }}
      - name: answer
        paths: [/answer]
        plugins:
          - name: response-transformer
            config:
              remove: {{ json: [sni], headers: [x-drop-me, x-skyport-upstream-latency] }}
              rename: {{ json: ["method:verb"], headers: ["via:x-via"] }}
              replace: {{ json: ["uri:hidden", "absent:x"] }}
              add: {{ json: ["gateway:skyport", "count:3", "uri:never"], json_types: [string, number], headers: ["x-added:yes", "x-skyport-request-id:from-a-plugin"] }}
              append: {{ json: ["extra:x"], headers: ["x-added:more"] }}
      - name: to-get
        paths: [/to-get]
        plugins:
          - name: request-transformer
            config:
              http_method: GET
"#,
        up.url("http")
    )
}

#[tokio::test]
async fn headers_and_query_follow_kongs_order() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up)).await;
    let seen = echoed(
        client()
            .get(gw.url("/headers/x?secret=s&q=find&page=9&tag=a&user=ann"))
            .header("x-drop", "1")
            .header("x-old", "moved")
            .header("x-swap", "original")
            .header("x-multi", "one")
            .send()
            .await
            .expect("req"),
    )
    .await;
    let h = &seen["headers"];
    assert!(h.get("x-drop").is_none());
    assert!(h.get("x-old").is_none());
    assert_eq!(h["x-new"], "moved");
    assert_eq!(h["x-swap"], "swapped", "replaced, and add left it alone");
    assert_eq!(h["x-added"], "from-ann", "rendered from the client's query");
    assert_eq!(h["x-multi"], "one, two");
    assert_eq!(h["host"], "rewritten.example");
    assert!(
        h["x-forwarded-for"].is_string(),
        "the gateway's own headers still go"
    );
    let uri = seen["uri"].as_str().unwrap_or_default();
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut args: Vec<&str> = query.split('&').collect();
    args.sort_unstable();
    assert_eq!(
        args,
        [
            "lang=en",
            "page=1",
            "query=find",
            "tag=a",
            "tag=b",
            "user=ann"
        ],
        "{uri}"
    );
}

#[tokio::test]
async fn uri_and_method_from_route_captures() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up)).await;
    let seen = echoed(
        client()
            .get(gw.url("/users/42/orders?x=1"))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/v2/orders/42?x=1");
    assert_eq!(seen["headers"]["x-who"], "42");
    assert_eq!(seen["headers"]["x-miss"], "[none]");
    // A forwarding field the plugin added is joined as a client's would be.
    assert_eq!(seen["headers"]["x-forwarded-for"], "10.9.9.9, 127.0.0.1");
}

#[tokio::test]
async fn json_and_form_bodies_are_rewritten() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up)).await;
    let c = client();
    let seen = echoed(
        c.post(gw.url("/body"))
            .json(&json!({"user": "ann", "password": "pw", "role": "admin", "tags": "old", "n": 1}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    let body: Value = serde_json::from_str(seen["body"].as_str().unwrap_or("")).expect("json");
    assert_eq!(
        body,
        json!({"username": "ann", "role": "member", "tags": ["old", "new"], "n": 1, "source": "gateway"})
    );
    let len = seen["headers"]["content-length"].as_str().unwrap_or("");
    assert_eq!(len, seen["body"].as_str().unwrap_or("").len().to_string());

    let seen = echoed(
        c.post(gw.url("/body"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("user=ann&password=pw&role=admin")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        seen["body"],
        "role=member&username=ann&source=gateway&tags=new"
    );

    // A body that is not JSON passes as sent; so does one too large to change.
    let seen = echoed(
        c.post(gw.url("/body"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["body"], "{not json");
    let big = format!("{{\"password\":\"{}\"}}", "x".repeat(100_000));
    let seen = echoed(
        c.post(gw.url("/body"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["body"].as_str().map(str::len), Some(big.len()));
    // The same without a declared length (chunked): what was read ahead goes first.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .as_bytes()
        .chunks(10_000)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let seen = echoed(
        c.post(gw.url("/body"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["body"].as_str(), Some(big.as_str()));

    // A form body of a request turned into GET goes into the query string.
    let seen = echoed(
        c.post(gw.url("/to-get?a=1"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("b=2&a=3")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["uri"], "/?a=1&a=3&b=2");
}

/// `response-transformer`: headers and JSON properties of the answer changed in Kong's
/// order; a JSON answer too large to hold goes out unchanged.
#[tokio::test]
async fn answers_are_transformed() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up)).await;
    let r = client().get(gw.url("/answer/x")).send().await.expect("req");
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    // As Kong's `header_filter.after`, the gateway's own fields are set after the plugins:
    // the upstream's Via renamed by the plugin, the gateway's Via still joins the upstream's;
    // a plugin neither removes the latency nor replaces the request id.
    assert_eq!(h["x-via"], "1.1 upstream");
    assert_eq!(
        h["via"],
        format!("1.1 upstream, 1.1 skyport/{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    assert!(h["x-skyport-upstream-latency"]
        .to_str()
        .is_ok_and(|v| v.parse::<u64>().is_ok()));
    assert_eq!(h.get_all("x-skyport-request-id").iter().count(), 1);
    assert_eq!(h["x-skyport-request-id"].len(), 32);
    let added: Vec<&str> = h
        .get_all("x-added")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(added, ["yes", "more"]);
    let body: Value = r.json().await.expect("json");
    assert!(body.get("sni").is_none() && body.get("method").is_none());
    assert_eq!(body["verb"], "GET");
    assert_eq!(body["uri"], "hidden");
    assert_eq!(body["gateway"], "skyport");
    assert_eq!(body["count"], 3);
    assert_eq!(body["extra"], json!(["x"]));
    assert!(body.get("absent").is_none());

    let big = "y".repeat(5 * 1024 * 1024);
    let r = client()
        .post(gw.url("/answer/big"))
        .body(big.clone())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["method"], "POST", "unchanged");
    assert_eq!(body["body"].as_str().map(str::len), Some(big.len()));
}

#[test]
fn lua_templates_are_refused_at_load() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("kong.yml");
    std::fs::write(
        &file,
        "_format_version: \"3.0\"\nplugins:\n  - name: request-transformer\n    config:\n      add:\n        headers: [\"x:$(10 * uri_captures.id)\"]\n        querystring: [\"q:\"]\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_skyport"))
        .args(["config", "check"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plugins[0].config.add.headers[0]: template '$(10 * uri_captures.id)' is not supported by Skyport (Lua is not run)"),
        "{err}"
    );
    assert!(
        err.contains("plugins[0].config.add.querystring[0]: key 'q' has no value"),
        "{err}"
    );
}
