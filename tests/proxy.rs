//! Proxying through the real gateway: headers up and down, HTTPS upstreams (SNI, certificate
//! checks, CA bundles), HTTP/2 to clients, timeouts, refusals and upstream keep-alive reuse.

mod common;
use common::{client, echoed, free_port, Gateway, Pki, Upstream};
use serde_json::Value;

#[tokio::test]
async fn forwards_headers_and_body_and_strips_hop_by_hop() {
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}/base\n    routes:\n      - paths: [/echo]\n",
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let resp = client()
        .post(gw.url("/echo//b?q=1"))
        .header("x-forwarded-for", "10.0.0.1")
        .header("via", "1.1 edge")
        // A client's own forwarding fields and request id are replaced, not sent beside
        // Skyport's (the echo would join two fields of a name with ", ").
        .header("x-real-ip", "10.9.9.9")
        .header("X-Forwarded-Proto", "https")
        .header("x-forwarded-host", "spoofed.example")
        .header("x-forwarded-port", "1")
        .header("x-forwarded-path", "/spoofed")
        .header("x-forwarded-prefix", "/spoofed")
        .header("x-skyport-request-id", "from-the-client")
        .header("connection", "keep-alive, x-secret-hop")
        .header("x-secret-hop", "drop me")
        .header("keep-alive", "timeout=5")
        .header("proxy", "http://evil")
        .header("te", "trailers, deflate")
        .body("hello")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    let id = h["x-skyport-request-id"].to_str().expect("id").to_string();
    assert_eq!(id.len(), 32);
    // As Kong: the gateway names itself in `Server` when the upstream sent none ...
    let me = format!("skyport/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(h["server"], me.as_str());
    assert!(h["via"].to_str().expect("via").ends_with(&format!(
        "1.1 upstream, 1.1 skyport/{}",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(h["x-skyport-upstream-latency"]
        .to_str()
        .expect("lat")
        .parse::<u64>()
        .is_ok());
    assert!(h["x-skyport-proxy-latency"]
        .to_str()
        .expect("lat")
        .parse::<u64>()
        .is_ok());
    let seen: Value = echoed(resp).await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/base/b?q=1");
    assert_eq!(seen["body"], "hello");
    let hd = &seen["headers"];
    assert_eq!(hd["x-real-ip"], "127.0.0.1");
    assert_eq!(hd["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "http");
    assert_eq!(hd["x-forwarded-host"], "127.0.0.1");
    assert_eq!(hd["x-forwarded-port"], gw.port.to_string());
    assert_eq!(hd["x-forwarded-path"], "/echo//b");
    assert_eq!(hd["x-forwarded-prefix"], "/echo");
    assert_eq!(
        hd["via"],
        format!("1.1 edge, 1.1 skyport/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(hd["x-skyport-request-id"], id);
    assert_ne!(hd["te"], "trailers, deflate", "TE is hop-by-hop");
    // ... and the upstream's own `Server` goes to the client as it came.
    let resp = client()
        .get(gw.url("/echo/s?respond-header=server:origin/1"))
        .send()
        .await
        .expect("request");
    let servers: Vec<_> = resp.headers().get_all("server").iter().collect();
    assert_eq!(servers, ["origin/1"]);
    for gone in ["x-secret-hop", "keep-alive", "proxy"] {
        assert!(
            hd.get(gone).is_none(),
            "{gone} must not reach the upstream: {hd}"
        );
    }
}

fn tls_config(up: &Upstream, pki: &Pki) -> String {
    let port = up.addr.port();
    let ca = pki.ca_pem.replace('\n', "\n      ");
    format!(
        r#"_format_version: "3.0"
ca_certificates:
  - id: 8f9e5a52-36d7-4c0b-9a56-0d6a8e1c1d11
    cert: |
      {ca}
services:
  - name: verified
    url: https://localhost:{port}/v
    ca_certificates: [8f9e5a52-36d7-4c0b-9a56-0d6a8e1c1d11]
    routes: [{{ paths: [/verified] }}]
  - name: verified-ip
    url: https://127.0.0.1:{port}/ip
    ca_certificates: [8f9e5a52-36d7-4c0b-9a56-0d6a8e1c1d11]
    routes: [{{ paths: [/verified-ip] }}]
  - name: untrusted
    url: https://localhost:{port}/u
    retries: 0
    routes: [{{ paths: [/untrusted] }}]
  - name: unverified
    url: https://localhost:{port}/n
    tls_verify: false
    routes: [{{ paths: [/unverified] }}]
"#
    )
}

#[tokio::test]
async fn https_upstreams_send_sni_and_verify_certificates() {
    let pki = Pki::new();
    let up = Upstream::https(&pki).await;
    let gw = Gateway::start(&tls_config(&up, &pki)).await;

    let seen = echoed(
        client()
            .get(gw.url("/verified/x"))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["uri"], "/v/x");
    assert_eq!(seen["sni"], "localhost");
    assert_eq!(
        seen["headers"]["host"],
        format!("localhost:{}", up.addr.port())
    );

    let seen = echoed(
        client()
            .get(gw.url("/verified-ip"))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["uri"], "/ip");

    let resp = client()
        .get(gw.url("/untrusted"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("req");
    assert_eq!(
        resp.status(),
        502,
        "a certificate from an unknown CA is refused"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body["message"],
        "An invalid response was received from the upstream server"
    );

    let seen = echoed(
        client()
            .get(gw.url("/unverified"))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!(seen["uri"], "/n");
}

#[tokio::test]
async fn serves_http2_over_tls_to_clients() {
    let pki = Pki::new();
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/]\n    plugins: [{{ name: rate-limiting, config: {{ day: 100 }} }}]\n",
        up.url("http")
    );
    let gw = Gateway::start_with(&yaml, Some(&pki)).await;
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca");
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(ca)
        .resolve(
            "localhost",
            ([127, 0, 0, 1], gw.tls_port.expect("tls port")).into(),
        )
        .build()
        .expect("client");
    let resp = h2
        .get(format!(
            "https://localhost:{}/h2?x=1&respond-header=X-RateLimit-Limit-Day:999",
            gw.tls_port.expect("tls port")
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    // The fields Skyport and its plugins add are in the HTTP/2 answer, each once, in place
    // of the upstream's of that name.
    let all = |name: &str| resp.headers().get_all(name).iter().count();
    assert_eq!(resp.headers()["x-ratelimit-limit-day"], "100");
    assert_eq!(all("x-ratelimit-limit-day"), 1);
    assert_eq!(all("x-ratelimit-remaining-day"), 1);
    assert_eq!(all("via"), 1);
    assert_eq!(all("x-skyport-request-id"), 1);
    let seen = echoed(resp).await;
    assert_eq!(
        seen["uri"],
        "/h2?x=1&respond-header=X-RateLimit-Limit-Day:999"
    );
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert!(seen["headers"]["via"]
        .as_str()
        .expect("via")
        .starts_with("2 skyport/"));
}

#[tokio::test]
async fn upstream_failures_map_to_502_and_504() {
    let up = Upstream::http().await;
    let dead = free_port();
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: slow
    url: {}
    read_timeout: 300
    routes: [{{ paths: [/slow] }}]
  - name: refused
    url: http://127.0.0.1:{dead}
    retries: 2
    routes: [{{ paths: [/refused] }}]
  - name: by-name
    url: http://localhost:{}/named
    routes: [{{ paths: [/named] }}]
"#,
        up.url("http"),
        up.addr.port()
    );
    let gw = Gateway::start(&yaml).await;

    let resp = client()
        .get(gw.url("/slow/slow/5000"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 504);
    // As Kong's error handler: `Accept: */*` (what clients send by default) gets JSON ...
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("application/json"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["message"], "The upstream server is timing out");
    // ... and a request with neither Accept nor Content-Type gets error_default_type, text.
    let text = common::raw(
        gw.port,
        b"GET /slow/slow/5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/plain; charset=utf-8"),
        "{text}"
    );
    assert!(
        text.contains("\r\n\r\nThe upstream server is timing out\nrequest_id: "),
        "{text}"
    );

    let resp = client()
        .get(gw.url("/refused"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 502);
    let me = format!("skyport/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(resp.headers()["server"], me.as_str());
    assert_eq!(resp.headers()["via"], format!("1.1 {me}").as_str());
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body["message"],
        "An invalid response was received from the upstream server"
    );

    // A host name is resolved off the worker threads, then proxied to.
    let seen = echoed(client().get(gw.url("/named/x")).send().await.expect("req")).await;
    assert_eq!(seen["uri"], "/named/x");

    // The gateway is still serving after all that.
    let resp = client()
        .get(gw.url("/slow/status/201"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_reused() {
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/]\n",
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let keepalive = client();
    for i in 0..30 {
        let resp = keepalive
            .get(gw.url(&format!("/k/{i}")))
            .send()
            .await
            .expect("req");
        assert_eq!(resp.status(), 200);
        resp.bytes().await.expect("body");
    }
    // A fresh client connection per request still reuses the upstream connections.
    for i in 0..20 {
        let resp = client()
            .get(gw.url(&format!("/f/{i}")))
            .send()
            .await
            .expect("req");
        assert_eq!(resp.status(), 200);
        resp.bytes().await.expect("body");
    }
    let conns = up.connections();
    assert!(
        conns <= 4,
        "50 requests opened {conns} upstream connections"
    );
}

fn absent(resp: &reqwest::Response, names: &[&str]) {
    for name in names {
        assert!(resp.headers().get(*name).is_none(), "{name}: {resp:?}");
    }
}

#[tokio::test]
async fn headers_settings_choose_skyports_own_headers() {
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/echo]\n  - name: down\n    url: http://127.0.0.1:{}\n    routes:\n      - paths: [/down]\n",
        up.url("http"),
        free_port()
    );
    let c = client();
    // `off` both ways: the proxy's protocol headers stay, Skyport's own go.
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[
            ("SKYPORT_HEADERS", "off"),
            ("SKYPORT_HEADERS_UPSTREAM", "off"),
        ],
    )
    .await;
    let resp = c.get(gw.url("/echo/a")).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    absent(
        &resp,
        &[
            "server",
            "x-skyport-request-id",
            "x-skyport-upstream-latency",
            "x-skyport-proxy-latency",
        ],
    );
    // The upstream's own Via passes untouched, without Skyport's hop added.
    assert_eq!(resp.headers()["via"], "1.1 upstream");
    let seen: Value = echoed(resp).await;
    let hd = &seen["headers"];
    assert!(hd.get("x-skyport-request-id").is_none(), "{hd}");
    assert_eq!(hd["x-forwarded-for"], "127.0.0.1");
    assert!(hd["via"].as_str().is_some_and(|v| v.contains("skyport/")));
    let own = c.get(gw.url("/nowhere")).send().await.expect("request");
    assert_eq!(own.status(), 404);
    absent(
        &own,
        &[
            "server",
            "x-skyport-request-id",
            "x-skyport-response-latency",
        ],
    );
    let body: Value = own.json().await.expect("json");
    assert_eq!(body["request_id"].as_str().map(str::len), Some(32));
    let failed = c.get(gw.url("/down")).send().await.expect("request");
    assert_eq!(failed.status(), 502);
    absent(&failed, &["server", "via", "x-skyport-request-id"]);
    // Kong's error template: the message, then the request id.
    let body: Value = failed.json().await.expect("json");
    assert_eq!(
        body["message"],
        "An invalid response was received from the upstream server"
    );
    assert_eq!(body["request_id"].as_str().map(str::len), Some(32));
    drop(gw);

    // A selection: the request id (both ways) and Server.
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[("SKYPORT_HEADERS", "X-Skyport-Request-Id, Server")],
    )
    .await;
    let own = c.get(gw.url("/nowhere")).send().await.expect("request");
    assert_eq!(own.status(), 404);
    assert_eq!(
        own.headers()["server"],
        format!("skyport/{}", env!("CARGO_PKG_VERSION")).as_str()
    );
    assert_eq!(own.headers()["x-skyport-request-id"].len(), 32);
    absent(&own, &["x-skyport-response-latency"]);
    let resp = c.get(gw.url("/echo/a")).send().await.expect("request");
    let id = resp.headers()["x-skyport-request-id"]
        .to_str()
        .expect("id")
        .to_string();
    assert_eq!(resp.headers()["via"], "1.1 upstream");
    assert!(resp.headers().get("x-skyport-upstream-latency").is_none());
    let seen: Value = echoed(resp).await;
    assert_eq!(seen["headers"]["x-skyport-request-id"], id);
}

/// An upstream's hop-by-hop headers stay on its hop: `Keep-Alive`, `Proxy-Connection`,
/// `Upgrade` and whatever its `Connection` names never reach the client (RFC 9110 7.6.1).
#[tokio::test]
async fn hop_by_hop_headers_of_the_upstream_answer_are_removed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let origin = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5, max=1000\r\nConnection: keep-alive, X-Internal\r\nX-Internal: secret\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: s\n    url: http://127.0.0.1:{port}\n    routes:\n      - paths: [/]\n"
    );
    let gw = Gateway::start(&yaml).await;
    let wire = common::raw(
        gw.port,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    origin.abort();
    let head = wire
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{wire}");
    assert!(head.contains("x-kept: yes"), "{wire}");
    for gone in [
        "keep-alive: timeout",
        "x-internal",
        "proxy-connection",
        "upgrade:",
    ] {
        assert!(!head.contains(gone), "{gone} reached the client:\n{wire}");
    }
}

/// A WebSocket (or any HTTP/1.1 Upgrade) through an ordinary http route, as Kong proxies it:
/// the client's Upgrade and Connection reach the upstream, its 101 reaches the client with
/// them, and then bytes flow both ways on the same connection.
#[tokio::test]
async fn a_websocket_upgrade_is_proxied_and_echoes() {
    websocket_echo("http", "").await;
}

/// Kong Enterprise's `ws` protocol: a `ws` service and a `ws`-only route carry the same
/// upgrade, and a plain HTTP request does not match that route.
#[tokio::test]
async fn a_ws_route_carries_websockets_only() {
    websocket_echo("ws", ", protocols: [ws]").await;
}

async fn websocket_echo(scheme: &str, route_extra: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let upstream = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.expect("read") == 0 {
                return String::from_utf8_lossy(&head).to_string();
            }
            head.push(byte[0]);
        }
        tcp.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .await
        .expect("write 101");
        // Echo whatever comes until the client closes.
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tcp.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&head).to_string()
    });
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: ws
    url: {scheme}://{addr}
    routes: [{{ name: ws, paths: [/chat]{route_extra} }}]
"#
    );
    let gw = Gateway::start(&yaml).await;
    if scheme == "ws" {
        let r = client().get(gw.url("/chat")).send().await.expect("req");
        assert_eq!(r.status(), 404, "not a WebSocket handshake");
    }
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    s.write_all(
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("101 within 10 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before the 101: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    // A masked text frame "hi" (any bytes would do: the gateway only relays them).
    let frame = [0x81u8, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    s.write_all(&frame).await.expect("frame");
    let mut echoed = Vec::new();
    while echoed.len() < frame.len() {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("echo within 10 s")
            .expect("read");
        assert!(n > 0, "closed before the echo");
        echoed.extend_from_slice(&buf[..n]);
    }
    assert_eq!(echoed, frame);
    drop(s);
    let upstream_raw = tokio::time::timeout(std::time::Duration::from_secs(10), upstream)
        .await
        .expect("upstream done")
        .expect("join");
    // Kong's spellings on the wire.
    for field in [
        "\r\nX-Real-IP: 127.0.0.1\r\n",
        "\r\nX-Forwarded-For: 127.0.0.1\r\n",
    ] {
        assert!(upstream_raw.contains(field), "{field:?} in {upstream_raw}");
    }
    let upstream_head = upstream_raw.to_ascii_lowercase();
    assert!(
        upstream_head.contains("upgrade: websocket"),
        "{upstream_head}"
    );
    assert!(
        upstream_head.contains("connection: upgrade"),
        "{upstream_head}"
    );
    assert!(
        upstream_head.contains("sec-websocket-key:"),
        "{upstream_head}"
    );
}

#[tokio::test]
async fn an_http_1_0_upstream_is_answered_to_the_client_as_http_1_1() {
    // An HTTP/1.0 server (its answer framed by a length, then the connection closed): nginx,
    // and so Kong, writes the answer to an HTTP/1 client with its own version, 1.1.
    let old = common::BadUpstream::start(common::Misbehave::Http10).await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: old\n    url: {}\n    routes:\n      - paths: [/old]\n",
        old.url()
    );
    let gw = Gateway::start(&yaml).await;
    for request in [
        &b"GET /old HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n"[..],
    ] {
        let text = common::raw(gw.port, request).await;
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("\r\ncontent-length: 3\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nold"), "{text}");
    }
    // Through reqwest too: the answer and its body arrive whole.
    let resp = client().get(gw.url("/old")).send().await.expect("old");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    assert_eq!(resp.text().await.expect("body"), "old");
}
