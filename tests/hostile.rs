//! Hostile input through the real gateway: size limits, request smuggling attempts, JWT
//! algorithm confusion, and an admin API that the proxy port does not expose.

mod common;
use common::{client, Gateway, Upstream};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes and reads until the peer closes or 5 s pass.
async fn raw(port: u16, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn body_and_header_limits() {
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/]\n",
        up.url("http")
    );
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
    let text = r.text().await.expect("body");
    assert!(
        text.starts_with("Request header or cookie too large"),
        "{text}"
    );
    assert_eq!(
        c.get(gw.url("/ok")).send().await.expect("req").status(),
        200,
        "still serving"
    );
}

#[tokio::test]
async fn smuggling_attempts_never_reach_the_upstream_as_two_requests() {
    let up = Upstream::http().await;
    let yaml = format!(
        "_format_version: \"3.0\"\nservices:\n  - name: echo\n    url: {}\n    routes:\n      - paths: [/]\n",
        up.url("http")
    );
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
    // A huge token is just a bad token.
    let huge = format!("{}.{}.{}", "a".repeat(20_000), "b".repeat(20_000), "c");
    let r = client()
        .get(gw.url("/api"))
        .header("authorization", format!("Bearer {huge}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);

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
