//! Hostile input through the real gateway: size limits, request smuggling attempts, path
//! tricks, bytes that are not UTF-8, header floods, JWT algorithm confusion, hostile `kid`s
//! and duplicate members, secrets kept out of logs, and an admin API that the proxy port
//! does not expose.

mod common;
use common::{client, raw, Gateway, Upstream};
use serde_json::{json, Value};

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn body_and_header_limits() {
    let up = Upstream::http().await;
    let yaml = common::echo_config(&up);
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[
            ("SKYPORT_CLIENT_MAX_BODY_SIZE", "1k"),
            ("SKYPORT_CLIENT_MAX_HEADER_SIZE", "8k"),
        ],
    )
    .await;
    let c = client();
    let r = c
        .post(gw.url("/small"))
        .body(vec![b'a'; 1000])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = c
        .post(gw.url("/big"))
        .header("accept", "application/json")
        .body(vec![b'a'; 2000])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Request size limit exceeded");

    // A chunked body has no Content-Length: it is counted as it streams.
    let chunk = "a".repeat(600);
    let chunked = format!(
        "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let resp = raw(gw.port, chunked.as_bytes()).await;
    assert!(status_line(&resp).contains(" 413"), "{resp}");

    let r = c
        .get(gw.url("/h"))
        .header("cookie", "x".repeat(10_000))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json for Accept: */*, as Kong");
    assert_eq!(body["message"], "Request header or cookie too large");
    // An oversized request line counts against the same limit.
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    let resp = raw(gw.port, long.as_bytes()).await;
    assert_eq!(status_line(&resp), "HTTP/1.1 400 Bad Request", "{resp}");
    assert_eq!(
        c.get(gw.url("/ok")).send().await.expect("req").status(),
        200,
        "still serving"
    );
}

#[tokio::test]
async fn smuggling_attempts_never_reach_the_upstream_as_two_requests() {
    let up = Upstream::http().await;
    let yaml = common::echo_config(&up);
    let gw = Gateway::start(&yaml).await;
    // Content-Length and Transfer-Encoding together: the body is framed by chunked encoding,
    // so the smuggled "GET /admin" is body bytes, never a second request.
    let cl_te = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let resp = raw(gw.port, cl_te).await;
    assert!(
        !resp.contains("/smuggled"),
        "a smuggled request reached the upstream: {resp}"
    );
    // Two different Content-Length values are refused.
    let dup = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\nConnection: close\r\n\r\nabc";
    let resp = raw(gw.port, dup).await;
    assert!(
        status_line(&resp).contains(" 400") || resp.is_empty(),
        "{resp}"
    );
    // Two Host headers are refused (RFC 9112 3.2) by Pingora's parser, before any route, so
    // no upstream can read the second one; the connection is closed.
    let two_hosts =
        b"GET /d HTTP/1.1\r\nHost: x\r\nHost: internal.example\r\nConnection: close\r\n\r\n";
    let resp = raw(gw.port, two_hosts).await;
    assert!(status_line(&resp).contains(" 400"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert!(!resp.contains("internal.example"), "{resp}");
    // Obsolete line folding is refused.
    let fold = b"GET /c HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n";
    let resp = raw(gw.port, fold).await;
    assert!(
        status_line(&resp).contains(" 400") || resp.is_empty(),
        "{resp}"
    );
    assert_eq!(
        client()
            .get(gw.url("/ok"))
            .send()
            .await
            .expect("req")
            .status(),
        200,
        "still serving"
    );
}

#[tokio::test]
async fn jwt_algorithm_confusion_and_the_admin_api_behind_its_own_port() {
    let up = Upstream::http().await;
    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa");
    let public = rsa.public_key_pem();
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: api\n    url: {}\n    routes: [{{ paths: [/api] }}]\nconsumers:\n  - username: c\n    jwt_secrets:\n      - key: rs-key\n        algorithm: RS256\n        rsa_public_key: |\n          {}\nplugins:\n  - {{ name: jwt, service: api }}\n",
        up.url("http"),
        public.trim_end().replace('\n', "\n          ")
    );
    let gw = Gateway::start(&yaml).await;
    // HS256 "signed" with the RSA public key as the HMAC secret: the classic confusion attack.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": "rs-key"}),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("sign");
    let r = client()
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {forged}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"message": "Invalid algorithm"}));
    // A token longer than a header line may be is refused before any plugin runs (nginx's
    // 8 KiB `large_client_header_buffers`, as Kong) ...
    let oversized = format!("{}.{}.{}", "a".repeat(20_000), "b".repeat(20_000), "c");
    let r = client()
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {oversized}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    // ... and a big one that fits is just a bad token.
    let huge = format!("{}.{}.{}", "a".repeat(3_500), "b".repeat(3_500), "c");
    let r = client()
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {huge}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"message": "Bad token; invalid JSON"}));

    // The proxy port serves no admin endpoints.
    let r = client().get(gw.url("/status")).send().await.expect("req");
    assert_eq!(r.status(), 404);
    let r = client()
        .get(gw.url("/consumers/c/jwt"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);
}

/// What the echo upstream saw, from a raw HTTP/1.1 exchange (`Connection: close`).
fn echoed_raw(resp: &str) -> Value {
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn path_tricks_stay_inside_the_route_prefix() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: open
    url: {u}/base
    routes: [{{ name: open, paths: [/api] }}]
  - name: guarded
    url: {u}/guarded
    routes: [{{ name: guarded, paths: [/private] }}]
    plugins: [{{ name: jwt }}]
"#,
        u = up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
    };
    // Dot segments, plain or encoded, are resolved before routing: climbing out of /api
    // lands on /private and meets its jwt plugin, never the upstream.
    for trick in [
        "/api/../private",
        "/api/%2e%2e/private",
        "/api/%2E%2E/private/x",
        "/api/./../private",
        "//api/..//private",
    ] {
        let resp = raw(gw.port, &get(trick)).await;
        assert!(status_line(&resp).contains(" 401"), "{trick}: {resp}");
    }
    // Whatever stays under /api reaches the upstream under /base and nowhere else.
    for (trick, want) in [
        ("/api/x/../y", "/base/y"),
        ("/api//x///y", "/base/x/y"),
        ("/api/%2e/x", "/base/x"),
        ("/api/..%2Fprivate", "/base/..%2Fprivate"),
        ("/api/%2F%2E%2E%2Fprivate", "/base/%2F..%2Fprivate"),
        ("/api/%FF%FE", "/base/%FF%FE"),
        // No double decoding: this must not reach the upstream as `%2e%2e` (`..`).
        ("/api/%%32%65%%32%65/private", "/base/%252e%252e/private"),
    ] {
        let resp = raw(gw.port, &get(trick)).await;
        assert!(status_line(&resp).contains(" 200"), "{trick}: {resp}");
        assert_eq!(echoed_raw(&resp)["uri"], want, "{trick}");
    }
    // Raw bytes that are not UTF-8 in the request line or a header.
    let resp = raw(
        gw.port,
        b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&resp).contains(" 400"), "{resp}");
    let resp = raw(
        gw.port,
        b"GET /api/h HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&resp).contains(" 200"), "{resp}");
    assert_eq!(echoed_raw(&resp)["headers"]["x-latin"], "caf\u{fffd}");
}

#[tokio::test]
async fn many_small_headers() {
    let up = Upstream::http().await;
    let yaml = common::echo_config(&up);
    let gw = Gateway::start(&yaml).await;
    let request = |n: usize| {
        let mut r = String::from("GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for i in 0..n {
            r.push_str(&format!("X-H{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r.into_bytes()
    };
    // (The echo upstream itself takes at most 100 headers, the gateway's own included.)
    let resp = raw(gw.port, &request(80)).await;
    assert!(status_line(&resp).contains(" 200"), "{resp}");
    assert_eq!(echoed_raw(&resp)["headers"]["x-h79"], "v");
    // Thousands of tiny headers (small in bytes) are refused, not processed one by one.
    let resp = raw(gw.port, &request(5000)).await;
    assert_eq!(status_line(&resp), "HTTP/1.1 400 Bad Request");
    let resp = raw(gw.port, &request(1)).await;
    assert!(status_line(&resp).contains(" 200"), "still serving: {resp}");
}

#[tokio::test]
async fn hostile_kids_and_duplicate_members_are_plain_401s() {
    use base64::Engine;
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: api\n    url: {}\n    routes: [{{ paths: [/api] }}]\nconsumers:\n  - username: c\n    jwt_secrets:\n      - {{ key: real-kid, secret: s3cret }}\nplugins:\n  - {{ name: jwt, config: {{ key_claim_name: kid }} }}\n",
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let sign = |header: &str, payload: &str| {
        use aws_lc_rs::hmac;
        let input = format!("{}.{}", b64(header), b64(payload));
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac::sign(&key, input.as_bytes()).as_ref());
        format!("{input}.{sig}")
    };
    let call = |token: String| {
        let url = gw.url("/api");
        async move {
            let r = client()
                .get(url)
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .expect("req");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (status, v["message"].as_str().unwrap_or("").to_string())
        }
    };
    let hs = r#"{"alg":"HS256","typ":"JWT"}"#;
    assert_eq!(call(sign(hs, r#"{"kid":"real-kid"}"#)).await.0, 200);
    for kid in [
        "../../../../etc/passwd",
        "' OR '1'='1",
        "real-kid\u{0000}",
        "real-kid; DROP TABLE jwt_secrets; --",
        "%2e%2e%2f",
    ] {
        let payload = json!({ "kid": kid }).to_string();
        assert_eq!(
            call(sign(hs, &payload)).await,
            (401, "No credentials found for given 'kid'".to_string()),
            "{kid:?}"
        );
    }
    // Duplicate members: two kids (the second naming the real credential) or two algs.
    let two_kids = r#"{"kid":"nobody","kid":"real-kid"}"#;
    assert_eq!(
        call(sign(hs, two_kids)).await,
        (401, "Bad token; invalid JSON".to_string())
    );
    let two_algs = r#"{"alg":"none","alg":"HS256"}"#;
    assert_eq!(
        call(sign(two_algs, r#"{"kid":"real-kid"}"#)).await,
        (401, "Bad token; invalid JSON".to_string())
    );
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let up = Upstream::http().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (error_log, access_log) = (dir.path().join("error.log"), dir.path().join("access.log"));
    let dead = common::free_port();
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: api
    url: {}
    routes:
      - {{ name: api, paths: [/api] }}
      - {{ name: fn, paths: [/fn] }}
consumers:
  - username: c
    jwt_secrets: [{{ key: the-key, secret: JWT-SECRET-VALUE-1 }}]
plugins:
  - {{ name: jwt, route: api }}
  - {{ name: rate-limiting, route: api, config: {{ minute: 100, policy: redis, redis: {{ host: 127.0.0.1, port: {dead}, password: REDIS-PASSWORD-2, timeout: 100 }} }} }}
  - {{ name: aws-lambda, route: fn, config: {{ function_name: f, aws_region: us-east-1, aws_key: AKIDEXAMPLE, aws_secret: AWS-SECRET-VALUE-3, host: 127.0.0.1, port: {dead}, disable_https: true, timeout: 500 }} }}
"#,
        up.url("http")
    );
    let gw = Gateway::start_logged(
        &yaml,
        &[
            ("SKYPORT_LOG_LEVEL", "info"),
            ("SKYPORT_ACCESS_LOG", &access_log.display().to_string()),
        ],
        &error_log,
    )
    .await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": "the-key"}),
        &jsonwebtoken::EncodingKey::from_secret(b"JWT-SECRET-VALUE-1"),
    )
    .expect("sign");
    let c = client();
    // Authenticated (Redis down: tolerated and logged), by header and by query string.
    let r = c
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = c
        .get(gw.url(&format!("/api?jwt={token}")))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    // A forged token, a Lambda that cannot be reached, a refused config: all logged.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let r = c
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {forged}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = c.get(gw.url("/fn")).send().await.expect("req");
    assert_eq!(r.status(), 502);
    let bad = yaml.replace("minute: 100", "minute: -1");
    let r = c
        .post(gw.admin("/config"))
        .header("content-type", "text/yaml")
        .body(bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    // The admin API shows the config with its secrets redacted.
    let shown = gw.admin_text("/config").await;
    assert!(
        shown.contains("the-key") && shown.contains("<redacted>"),
        "the config is shown, its secrets redacted: {shown}"
    );
    drop(gw); // stops the gateway (by PID) and so flushes its logs
    let logs = format!(
        "{}\n{}\n{shown}",
        std::fs::read_to_string(&error_log).expect("error log"),
        std::fs::read_to_string(&access_log).unwrap_or_default()
    );
    assert!(logs.contains("/api"), "the access log was written: {logs}");
    for secret in [
        "JWT-SECRET-VALUE-1",
        "REDIS-PASSWORD-2",
        "AWS-SECRET-VALUE-3",
        token.as_str(),
        forged.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}
