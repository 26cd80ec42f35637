//! Routing through the real gateway: Kong's precedence, methods/hosts/headers, strip_path
//! and path joining, preserve_host, and the answers when nothing (or no service) matches.

mod common;
use common::{client, echoed, Gateway, Upstream};
use serde_json::Value;

fn config(up: &str) -> String {
    format!(
        r#"
_format_version: "3.0"
services:
  - {{ name: prefix-short, url: "{up}/short", routes: [{{ name: r-short, paths: [/api] }}] }}
  - {{ name: prefix-long, url: "{up}/long", routes: [{{ name: r-long, paths: [/api/v1] }}] }}
  - name: regex
    url: "{up}/regex"
    routes: [{{ name: r-regex, paths: ['~/api/v\d+/items'] }}]
  - {{ name: get, url: "{up}/get", routes: [{{ name: r-get, methods: [GET], paths: [/m] }}] }}
  - {{ name: post, url: "{up}/post", routes: [{{ name: r-post, methods: [POST], paths: [/m] }}] }}
  - {{ name: exact-host, url: "{up}/exact", routes: [{{ name: r-exact, hosts: [api.example.com], paths: [/h] }}] }}
  - {{ name: wild-host, url: "{up}/wild", routes: [{{ name: r-wild, hosts: ["*.example.com"], paths: [/h] }}] }}
  - {{ name: any-host, url: "{up}/any", routes: [{{ name: r-any, paths: [/h] }}] }}
  - {{ name: hdr-plain, url: "{up}/hdr2", routes: [{{ name: r-hdr2, headers: {{ x-version: ["2"] }}, paths: [/hd] }}] }}
  - {{ name: hdr-regex, url: "{up}/beta", routes: [{{ name: r-beta, headers: {{ x-version: ["~*^beta"] }}, paths: [/hd] }}] }}
  - {{ name: hdr-none, url: "{up}/nohdr", routes: [{{ name: r-nohdr, paths: [/hd] }}] }}
  - {{ name: keep, url: "{up}/svc", routes: [{{ name: r-keep, paths: [/keep], strip_path: false }}] }}
  - {{ name: strip-slash, url: "{up}/svc/", routes: [{{ name: r-strip-slash, paths: [/ss] }}] }}
  - {{ name: root, url: "{up}", routes: [{{ name: r-root, paths: [/root] }}] }}
  - {{ name: preserve, url: "{up}", routes: [{{ name: r-preserve, paths: [/ph], preserve_host: true }}] }}
routes:
  - {{ name: no-service, paths: [/nosvc] }}
"#
    )
}

async fn setup() -> (Upstream, Gateway) {
    let up = Upstream::http().await;
    let gw = Gateway::start(&config(&up.url("http"))).await;
    (up, gw)
}

async fn upstream_uri(
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    let mut req = client().request(method, gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let seen: Value = echoed(req.send().await.expect("request")).await;
    seen["uri"].as_str().expect("uri").to_string()
}

#[tokio::test]
async fn kong_precedence_regex_then_longest_prefix() {
    let (_up, gw) = setup().await;
    let get = reqwest::Method::GET;
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/api/v1/items/7", &[]).await,
        "/regex/7"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/api/v1/other", &[]).await,
        "/long/other"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/api/v2", &[]).await,
        "/short/v2"
    );
    assert_eq!(upstream_uri(&gw, get, "/api", &[]).await, "/short");
}

#[tokio::test]
async fn methods_hosts_and_headers_select_routes() {
    let (_up, gw) = setup().await;
    let get = reqwest::Method::GET;
    assert_eq!(upstream_uri(&gw, get.clone(), "/m/x", &[]).await, "/get/x");
    assert_eq!(
        upstream_uri(&gw, reqwest::Method::POST, "/m/x", &[]).await,
        "/post/x"
    );
    let put = client().put(gw.url("/m/x")).send().await.expect("put");
    assert_eq!(put.status(), 404, "no route takes PUT /m");

    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "api.example.com")]).await,
        "/exact"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "API.example.com:8000")]).await,
        "/exact"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "www.example.com")]).await,
        "/wild"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "example.com")]).await,
        "/any"
    );
    // One trailing dot is not part of the host that routes (nginx's `$host`, Kong's).
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "api.example.com.")]).await,
        "/exact"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/h", &[("host", "Www.Example.com.:8000")]).await,
        "/wild"
    );

    assert_eq!(
        upstream_uri(&gw, get.clone(), "/hd", &[("x-version", "2")]).await,
        "/hdr2"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/hd", &[("x-version", "BETA-3")]).await,
        "/beta"
    );
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/hd", &[("x-version", "1")]).await,
        "/nohdr"
    );
    assert_eq!(upstream_uri(&gw, get, "/hd", &[]).await, "/nohdr");
}

#[tokio::test]
async fn strip_path_and_path_joining() {
    let (_up, gw) = setup().await;
    let get = reqwest::Method::GET;
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/keep/a?x=1&y", &[]).await,
        "/svc/keep/a?x=1&y"
    );
    assert_eq!(upstream_uri(&gw, get.clone(), "/ss", &[]).await, "/svc");
    assert_eq!(upstream_uri(&gw, get.clone(), "/ss/", &[]).await, "/svc/");
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/ssreq", &[]).await,
        "/svc/req"
    );
    assert_eq!(upstream_uri(&gw, get.clone(), "/root", &[]).await, "/");
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/root/a%20b", &[]).await,
        "/a%20b"
    );
    // Dot segments are resolved before matching: this cannot climb out of /root.
    assert_eq!(
        upstream_uri(&gw, get.clone(), "/root/x/%2e%2e/y", &[]).await,
        "/y"
    );
    assert_eq!(
        upstream_uri(&gw, get, "/root/x/..%2Fy", &[]).await,
        "/x/..%2Fy"
    );
}

/// X-Forwarded-Prefix carries what strip_path removed: a prefix route's path, a regex
/// route's match; none when only `/` (or nothing) was stripped.
#[tokio::test]
async fn forwarded_prefix_is_the_stripped_part() {
    let (_up, gw) = setup().await;
    let prefix = |path: &'static str| {
        let gw = &gw;
        async move {
            let seen = echoed(client().get(gw.url(path)).send().await.expect("req")).await;
            seen["headers"]["x-forwarded-prefix"]
                .as_str()
                .map(str::to_string)
        }
    };
    assert_eq!(prefix("/ss/a").await.as_deref(), Some("/ss"));
    assert_eq!(prefix("/ss").await.as_deref(), Some("/ss"));
    assert_eq!(
        prefix("/api/v12/items/7").await.as_deref(),
        Some("/api/v12/items")
    );
    assert_eq!(
        prefix("/api/v3/items").await.as_deref(),
        Some("/api/v3/items")
    );
    assert_eq!(prefix("/keep/a").await, None);
}

#[tokio::test]
async fn host_header_follows_preserve_host() {
    let (up, gw) = setup().await;
    let seen = echoed(
        client()
            .get(gw.url("/root/a"))
            .header("host", "client.example:1234")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(
        seen["headers"]["host"],
        format!("127.0.0.1:{}", up.addr.port())
    );
    assert_eq!(seen["headers"]["x-forwarded-host"], "client.example");
    // With a port or without, and in any case: the host in lower case, as Kong sends nginx's
    // `$host`.
    for (host, forwarded) in [
        ("client.example", "client.example"),
        ("Client.EXAMPLE", "client.example"),
        ("Client.Example:1234", "client.example"),
        ("[::1]:1234", "[::1]"),
        // One trailing dot is not part of the host (nginx's `$host`).
        ("Client.Example.:1234", "client.example"),
        // The host ends at the first colon, as nginx reads it; bytes past ASCII are kept
        // (nginx 1.22 checked).
        ("Client.Example:1:2", "client.example"),
        ("[::1]:1:2", "[::1]"),
        ("Caf\u{e9}.Example", "caf\u{e9}.example"),
    ] {
        let field = reqwest::header::HeaderValue::from_bytes(host.as_bytes()).expect("field");
        let seen = echoed(
            client()
                .get(gw.url("/root/a"))
                .header("host", field)
                .send()
                .await
                .expect("req"),
        )
        .await;
        assert_eq!(seen["headers"]["x-forwarded-host"], forwarded, "{host}");
    }
    let seen = echoed(
        client()
            .get(gw.url("/ph"))
            .header("host", "client.example:1234")
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["headers"]["host"], "client.example:1234");
}

#[tokio::test]
async fn no_route_and_no_service_answers() {
    let (_up, gw) = setup().await;
    let resp = client().get(gw.url("/nowhere")).send().await.expect("req");
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("application/json"));
    let id = resp.headers()["x-skyport-request-id"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(id.len(), 32);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["message"], "no Route matched with those values");
    assert_eq!(body["request_id"], id);

    let resp = client().get(gw.url("/nosvc")).send().await.expect("req");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["message"], "no Service found with those values");

    let resp = client()
        .get(gw.url("/nowhere"))
        .header("accept", "text/plain")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 404);
    let text = resp.text().await.expect("text");
    assert!(
        text.starts_with("no Route matched with those values\nrequest_id: "),
        "{text}"
    );

    let resp = client()
        .request(reqwest::Method::TRACE, gw.url("/root"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 405);
}

/// Sends raw bytes and returns the whole response text (the gateway closes or we stop at
/// the end of the first response's body, whose length is in Content-Length).
async fn raw(port: u16, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("response within 10 s")
            .expect("read");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn https_only_routes_missing_host_and_disabled_services() {
    let up = Upstream::http().await;
    let u = up.url("http");
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: secure
    url: {u}/secure
    routes:
      - {{ name: upgrade, paths: [/upgrade], protocols: [https] }}
      - {{ name: redirect, paths: [/redirect], protocols: [https], https_redirect_status_code: 301 }}
  - {{ name: disabled, url: "{u}/off", enabled: false, routes: [{{ paths: [/off] }}] }}
  - {{ name: open, url: "{u}/open", routes: [{{ paths: [/] }}] }}
"#
    );
    let gw = Gateway::start(&yaml).await;

    let resp = client()
        .get(gw.url("/upgrade/x"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 426);
    assert_eq!(resp.headers()["upgrade"], "TLS/1.2, HTTP/1.1");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["message"], "Please use HTTPS protocol");

    let resp = client()
        .get(gw.url("/redirect/x?a=1"))
        .header("host", "api.example.com")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 301);
    assert_eq!(
        resp.headers()["location"],
        "https://api.example.com/redirect/x?a=1"
    );

    // A disabled service takes its routes out of the router: the catch-all answers instead.
    assert_eq!(
        upstream_uri(&gw, reqwest::Method::GET, "/off/x", &[]).await,
        "/open/off/x"
    );

    let no_host = raw(gw.port, "GET /open HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    assert!(no_host.contains("Bad request"), "{no_host}");
    // A Host nginx (so Kong) refuses is a 400 too, not routed.
    for host in ["", "a..example", "a b", ":80", "a/b"] {
        let req = format!("GET /open HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let bad = raw(gw.port, &req).await;
        assert!(
            bad.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{host:?}: {bad}"
        );
        // Kong's text answer to a client without Accept: the message and the request id
        // that the header names.
        let (head, body) = bad.split_once("\r\n\r\n").expect("head and body");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
            "{host:?}: {bad}"
        );
        let id = head
            .lines()
            .find_map(|l| l.strip_prefix("x-skyport-request-id: "))
            .expect("request id");
        assert_eq!(body, format!("Bad request\nrequest_id: {id}\n"), "{host:?}");
    }

    let http10 = raw(gw.port, "GET /x HTTP/1.0\r\n\r\n").await;
    assert!(http10.contains(" 200 "), "{http10}");
    assert!(http10.contains("\"uri\":\"/open/x\""), "{http10}");
}

/// Routes' `snis` as in Kong: over TLS a route with `snis` matches only the server names it
/// lists (exact or wildcard) and ranks above a route without them; a request over plain HTTP
/// is not held to them; a route of `snis` alone matches every path of its names.
#[tokio::test]
async fn routes_match_the_tls_server_name() {
    let pki = common::Pki::new();
    let up = Upstream::http().await;
    let base = up.url("http");
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: by-sni
    url: {base}/by-sni
    routes: [{{ name: wild, paths: [/r], snis: ["*.sni.test"] }}]
  - name: any-name
    url: {base}/any-name
    routes: [{{ name: plain, paths: [/r] }}]
  - name: only-name
    url: {base}/only-name
    routes: [{{ name: only, protocols: [https], snis: [only.sni.test] }}]
"#
    );
    let gw = Gateway::start_with(&yaml, Some(&pki)).await;
    let port = gw.tls_port.expect("tls port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // The client sends each name as its SNI while connecting to loopback.
    let tls = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .resolve("a.sni.test", addr)
        .resolve("only.sni.test", addr)
        .resolve("other.test", addr)
        .build()
        .expect("client");
    let uri = |host: &str, path: &str| format!("https://{host}:{port}{path}");
    let via = |r: reqwest::Response| async { echoed(r).await["uri"].clone() };
    assert_eq!(
        via(tls
            .get(uri("a.sni.test", "/r/x"))
            .send()
            .await
            .expect("req"))
        .await,
        "/by-sni/x"
    );
    assert_eq!(
        via(tls
            .get(uri("other.test", "/r/x"))
            .send()
            .await
            .expect("req"))
        .await,
        "/any-name/x",
        "another server name falls to the route without snis"
    );
    assert_eq!(
        via(tls
            .get(uri("only.sni.test", "/elsewhere"))
            .send()
            .await
            .expect("req"))
        .await,
        "/only-name/elsewhere"
    );
    let r = tls
        .get(uri("other.test", "/elsewhere"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);
    // Over plain HTTP the snis condition does not apply (Kong: net.protocol != "https").
    assert_eq!(
        via(client().get(gw.url("/r/x")).send().await.expect("req")).await,
        "/by-sni/x"
    );
}
