//! Kong's authentication and access-control plugins through the real gateway: key-auth,
//! basic-auth, acl, cors, ip-restriction, request-termination and request-size-limiting,
//! alone and combined (the "OR" pattern with `anonymous`, key-auth + acl + rate-limiting per
//! consumer), and a file in the shape of Supabase's self-hosting `kong.yml`.

mod common;
use base64::Engine;
use common::{client, echoed, Gateway, Upstream};
use serde_json::Value;

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("").to_string())
}

/// Status and the `message` of a Kong error body (JSON by default).
async fn refusal(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (status, v["message"].as_str().unwrap_or("").to_string())
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn auth_config(up: &Upstream) -> String {
    format!(
        r#"_format_version: "3.0"
consumers:
  - username: alice
    custom_id: a-1
    keyauth_credentials: [{{ key: alice-key }}]
    basicauth_credentials: [{{ username: alice, password: "s3cret:pass" }}]
    acls: [{{ group: admin }}, {{ group: staff }}]
  - username: bob
    keyauth_credentials: [{{ key: bob-key }}]
    acls: [{{ group: anon }}]
  - username: guest
  - username: carol
    keyauth_credentials: [{{ key: carol-key }}]
keyauth_credentials:
  - {{ key: top-level-key, consumer: bob }}
services:
  - name: echo
    url: {up}
    routes:
      - name: keys
        paths: [/keys]
        plugins: [{{ name: key-auth }}]
      - name: in-body
        paths: [/in-body]
        plugins: [{{ name: key-auth, config: {{ key_in_body: true, hide_credentials: true }} }}]
      - name: hidden
        paths: [/hidden]
        plugins: [{{ name: key-auth, config: {{ key_names: [apikey, x-api-key], hide_credentials: true, realm: kong }} }}]
      - name: basic
        paths: [/basic]
        plugins: [{{ name: basic-auth, config: {{ hide_credentials: true }} }}]
      - name: admins
        paths: [/admins]
        plugins:
          - {{ name: key-auth }}
          - {{ name: acl, config: {{ allow: [admin] }} }}
      - name: no-anon
        paths: [/no-anon]
        plugins:
          - {{ name: key-auth }}
          - {{ name: acl, config: {{ deny: [anon], hide_groups_header: true }} }}
      - name: deny-anon
        paths: [/deny-anon]
        plugins:
          - {{ name: key-auth }}
          - {{ name: acl, config: {{ deny: [anon] }} }}
      - name: either
        paths: [/either]
        plugins:
          - {{ name: key-auth, config: {{ anonymous: guest }} }}
          - {{ name: basic-auth, config: {{ anonymous: guest }} }}
          - {{ name: acl, config: {{ allow: [admin, staff] }} }}
      - name: ghost
        paths: [/ghost]
        plugins: [{{ name: key-auth, config: {{ anonymous: nobody }} }}]
"#,
        up = up.url("http")
    )
}

#[tokio::test]
async fn key_auth_finds_keys_as_kong_and_answers_its_401s() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    let r = c.get(gw.url("/keys")).send().await.expect("request");
    assert_eq!(header(&r, "www-authenticate").as_deref(), Some("Key"));
    assert_eq!(
        refusal(r).await,
        (401, "No API key found in request".into())
    );
    let r = c
        .get(gw.url("/keys?apikey=wrong"))
        .send()
        .await
        .expect("request");
    assert_eq!(refusal(r).await, (401, "Unauthorized".into()));
    let r = c
        .get(gw.url("/keys"))
        .header("apikey", "a")
        .header("apikey", "b")
        .send()
        .await
        .expect("request");
    assert_eq!(refusal(r).await, (401, "Duplicate API key found".into()));
    let r = c
        .get(gw.url("/keys?apikey="))
        .send()
        .await
        .expect("request");
    assert_eq!(refusal(r).await.1, "No API key found in request");

    let seen = echoed(
        c.get(gw.url("/keys"))
            .header("apikey", "alice-key")
            .send()
            .await
            .expect("request"),
    )
    .await;
    let h = &seen["headers"];
    assert_eq!(h["x-consumer-username"], "alice");
    assert_eq!(h["x-consumer-custom-id"], "a-1");
    assert!(h["x-credential-identifier"]
        .as_str()
        .is_some_and(|v| v.len() == 36));
    assert_eq!(h["apikey"], "alice-key", "not hidden unless asked");
    assert!(h.get("x-anonymous-consumer").is_none());
    // A key in the query string, and a top-level credential naming its consumer.
    let seen = echoed(
        c.get(gw.url("/keys?apikey=top-level-key"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-consumer-username"], "bob");
}

#[tokio::test]
async fn hidden_credentials_never_reach_the_upstream() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    let r = c.get(gw.url("/hidden")).send().await.expect("request");
    assert_eq!(
        header(&r, "www-authenticate").as_deref(),
        Some("Key realm=\"kong\"")
    );
    let seen = echoed(
        c.get(gw.url("/hidden?x-api-key=alice-key&keep=1"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["uri"], "/?keep=1", "strip_path took /hidden");
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    let seen = echoed(
        c.get(gw.url("/hidden"))
            .header("x-api-key", "alice-key")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(seen["headers"].get("x-api-key").is_none());
    let seen = echoed(
        c.get(gw.url("/basic"))
            .header("authorization", basic("alice", "s3cret:pass"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(seen["headers"].get("authorization").is_none());
    assert_eq!(seen["headers"]["x-credential-identifier"], "alice");
}

#[tokio::test]
async fn basic_auth_checks_the_password_and_answers_kongs_401() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    for auth in [
        None,
        Some(basic("alice", "wrong")),
        Some(basic("nobody", "x")),
        Some("Basic !!".into()),
    ] {
        let mut req = c.get(gw.url("/basic"));
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.expect("request");
        assert_eq!(
            header(&r, "www-authenticate").as_deref(),
            Some("Basic realm=\"service\""),
            "{auth:?}"
        );
        assert_eq!(refusal(r).await, (401, "Unauthorized".into()), "{auth:?}");
    }
    let r = c
        .get(gw.url("/basic"))
        .header("proxy-authorization", basic("alice", "s3cret:pass"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "Proxy-Authorization works too");
    // Kong reads Proxy-Authorization first: a known user with a wrong password there is
    // refused even beside a good Authorization.
    let r = c
        .get(gw.url("/basic"))
        .header("proxy-authorization", basic("alice", "wrong"))
        .header("authorization", basic("alice", "s3cret:pass"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    // A user found in Proxy-Authorization: only that header is hidden.
    let seen = echoed(
        c.get(gw.url("/basic"))
            .header("proxy-authorization", basic("alice", "s3cret:pass"))
            .header("authorization", "Bearer for-the-upstream")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert!(seen["headers"].get("proxy-authorization").is_none());
    assert_eq!(seen["headers"]["authorization"], "Bearer for-the-upstream");
}

#[tokio::test]
async fn acl_allows_and_denies_by_group() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    let get = |path: &str, key: &str| c.get(gw.url(path)).header("apikey", key).send();
    let seen = echoed(get("/admins", "alice-key").await.expect("request")).await;
    assert_eq!(seen["headers"]["x-consumer-groups"], "admin, staff");
    let r = get("/admins", "bob-key").await.expect("request");
    assert_eq!(
        refusal(r).await,
        (403, "You cannot consume this service".into())
    );
    let r = get("/no-anon", "bob-key").await.expect("request");
    assert_eq!(refusal(r).await.0, 403);
    let seen = echoed(get("/no-anon", "alice-key").await.expect("request")).await;
    assert!(seen["headers"].get("x-consumer-groups").is_none(), "hidden");
    // A consumer in no group passes a deny list; Kong sends its (empty) groups header.
    let seen = echoed(get("/deny-anon", "carol-key").await.expect("request")).await;
    assert_eq!(seen["headers"]["x-consumer-groups"], "");
}

#[tokio::test]
async fn several_auth_plugins_with_anonymous_authenticate_either_way() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    // A key, or a password: either authenticates; the acl then sees the real consumer.
    let seen = echoed(
        c.get(gw.url("/either"))
            .header("apikey", "alice-key")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    let seen = echoed(
        c.get(gw.url("/either"))
            .header("authorization", basic("alice", "s3cret:pass"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-credential-identifier"], "alice");
    // Neither: the anonymous consumer, who is in no allowed group (401 as Kong: no credential).
    let r = c.get(gw.url("/either")).send().await.expect("request");
    assert_eq!(refusal(r).await, (401, "Unauthorized".into()));
    // An anonymous consumer that does not exist: Kong's 500, the file still loads.
    let r = c.get(gw.url("/ghost")).send().await.expect("request");
    assert_eq!(
        refusal(r).await,
        (
            500,
            "anonymous consumer nobody is configured but doesn't exist".into()
        )
    );
}

#[tokio::test]
async fn admin_lists_credentials_and_groups_with_secrets_redacted() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let v = gw.admin_json("/key-auths").await;
    let data = v["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 4);
    assert!(data.iter().all(|k| k["key"] == "<redacted>"));
    let v = gw.admin_json("/consumers/alice/basic-auth").await;
    assert_eq!(v["data"][0]["username"], "alice");
    assert_eq!(v["data"][0]["password"], "<redacted>");
    let v = gw.admin_json("/consumers/alice/acls").await;
    let groups: Vec<&str> = v["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["group"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(groups, ["admin", "staff"]);
    let id = v["data"][0]["id"].as_str().unwrap_or("").to_string();
    let one = gw.admin_json(&format!("/acls/{id}")).await;
    assert_eq!(one["group"], "admin");
    let config = gw.admin_json("/config").await;
    let text = config.to_string();
    assert!(
        !text.contains("s3cret") && !text.contains("alice-key"),
        "{text}"
    );
}

fn access_config(up: &Upstream) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: echo
    url: {up}
    routes:
      - name: cors-list
        paths: [/cors]
        plugins:
          - name: cors
            config:
              origins: ["https://app.example.com", "http://localhost:3000", "https://.*\\.partner\\.test"]
              headers: [X-Auth, Content-Type]
              exposed_headers: [X-Trace]
              methods: [GET, POST]
              max_age: 3600
              credentials: true
              private_network: true
      - name: cors-any
        paths: [/any]
        plugins: [{{ name: cors }}]
      - name: local-only
        paths: [/local]
        plugins: [{{ name: ip-restriction, config: {{ allow: [127.0.0.0/8, "::1"] }} }}]
      - name: blocked
        paths: [/blocked]
        plugins: [{{ name: ip-restriction, config: {{ deny: [127.0.0.1/32], status: 401, message: go away }} }}]
      - name: down
        paths: [/down]
        plugins: [{{ name: request-termination }}]
      - name: teapot
        paths: [/teapot]
        plugins: [{{ name: request-termination, config: {{ status_code: 418, body: "<p>short and stout</p>", content_type: text/html }} }}]
      - name: raw
        paths: [/raw]
        plugins: [{{ name: request-termination, config: {{ status_code: 200, body: "plain words" }} }}]
      - name: echoes
        paths: [/echoes]
        plugins: [{{ name: request-termination, config: {{ status_code: 202, echo: true }} }}]
      - name: triggered
        paths: [/triggered]
        plugins: [{{ name: request-termination, config: {{ status_code: 403, message: stop, trigger: x-stop }} }}]
      - name: small
        paths: [/small]
        plugins: [{{ name: request-size-limiting, config: {{ allowed_payload_size: 10, size_unit: bytes }} }}]
      - name: declared
        paths: [/declared]
        plugins: [{{ name: request-size-limiting, config: {{ allowed_payload_size: 1, require_content_length: true }} }}]
"#,
        up = up.url("http")
    )
}

#[tokio::test]
async fn cors_answers_preflights_and_decorates_answers_as_kong() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&access_config(&up)).await;
    let c = client();
    let r = c
        .request(reqwest::Method::OPTIONS, gw.url("/cors"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status(), 200);
    assert_eq!(
        up.connections(),
        0,
        "the preflight never reached the upstream"
    );
    for (name, want) in [
        ("access-control-allow-origin", "https://app.example.com"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", "X-Auth,Content-Type"),
        ("access-control-allow-methods", "GET,POST"),
        ("access-control-max-age", "3600"),
        ("access-control-allow-private-network", "true"),
        ("vary", "Origin"),
    ] {
        assert_eq!(header(&r, name).as_deref(), Some(want), "{name}");
    }
    // A regex origin matches on the host; an unknown origin gets no allow-origin.
    let r = c
        .get(gw.url("/cors"))
        .header("origin", "https://api.partner.test")
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://api.partner.test")
    );
    assert_eq!(
        header(&r, "access-control-expose-headers").as_deref(),
        Some("X-Trace")
    );
    let r = c
        .get(gw.url("/cors"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    // Kong also clears an allow-origin the upstream itself sent.
    let r = c
        .get(gw.url("/cors?respond-header=access-control-allow-origin:*"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    // No origins configured: `*`, and the preflight echoes the requested headers.
    let r = c
        .request(reqwest::Method::OPTIONS, gw.url("/any"))
        .header("origin", "https://x.test")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "X-One")
        .send()
        .await
        .expect("preflight");
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers").as_deref(),
        Some("X-One")
    );
    assert_eq!(
        header(&r, "access-control-allow-methods").as_deref(),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT")
    );
}

#[tokio::test]
async fn ip_restriction_and_request_termination_answer_as_kong() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&access_config(&up)).await;
    let c = client();
    assert_eq!(
        c.get(gw.url("/local")).send().await.expect("r").status(),
        200
    );
    let r = c.get(gw.url("/blocked")).send().await.expect("request");
    assert_eq!(refusal(r).await, (401, "go away".into()));
    let r = c.get(gw.url("/down")).send().await.expect("request");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"message": "Service unavailable"}));
    let r = c.get(gw.url("/teapot")).send().await.expect("request");
    assert_eq!(r.status(), 418);
    assert_eq!(header(&r, "content-type").as_deref(), Some("text/html"));
    assert_eq!(r.text().await.expect("body"), "<p>short and stout</p>");
    // A raw body without content_type goes out without a Content-Type, as Kong's.
    let r = c.get(gw.url("/raw")).send().await.expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), None);
    assert_eq!(r.text().await.expect("body"), "plain words");
    // echo: the request, the node and the matched route and service.
    let r = c
        .post(gw.url("/echoes/x?a=1"))
        .json(&serde_json::json!({"k": "v"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 202);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["request"]["method"], "POST");
    assert_eq!(e["request"]["path"], "/echoes/x");
    assert_eq!(e["request"]["query"]["a"], "1");
    assert_eq!(e["request"]["body"]["k"], "v");
    assert_eq!(e["request"]["raw_body"], r#"{"k":"v"}"#);
    assert_eq!(e["request"]["scheme"], "http");
    assert_eq!(e["request"]["port"], gw.port);
    assert_eq!(e["matched_route"]["name"], "echoes");
    assert!(e["matched_service"]["name"].is_string());
    assert!(e["kong"]["node_id"].is_string() && e["kong"]["worker_pid"].is_u64());
    assert_eq!(
        c.get(gw.url("/triggered"))
            .send()
            .await
            .expect("r")
            .status(),
        200
    );
    let r = c
        .get(gw.url("/triggered"))
        .header("x-stop", "1")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    let r = c
        .get(gw.url("/triggered?x-stop"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403, "the trigger in the query counts too");
}

#[tokio::test]
async fn request_size_limiting_counts_declared_and_streamed_bodies() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&access_config(&up)).await;
    let c = client();
    let r = c
        .post(gw.url("/small"))
        .body("0123456789")
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 200);
    let r = c
        .post(gw.url("/small"))
        .body("0123456789A")
        .send()
        .await
        .expect("r");
    assert_eq!(
        refusal(r).await,
        (413, "Request size limit exceeded".into())
    );
    // A chunked body is read whole first (as Kong): over the limit, the upstream never
    // sees any of it.
    let before = up.connections();
    let chunks: Vec<Result<&'static str, std::io::Error>> =
        vec![Ok("01234"), Ok("56789"), Ok("ABC")];
    let r = c
        .post(gw.url("/small"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 413);
    assert_eq!(up.connections(), before, "nothing was sent upstream");
    let ok: Vec<Result<&'static str, std::io::Error>> = vec![Ok("01234"), Ok("5")];
    let r = c
        .post(gw.url("/small"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(ok)))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let wire = common::raw(
        gw.port,
        b"POST /declared HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(wire.starts_with("HTTP/1.1 411"), "{wire}");
    assert!(
        wire.contains("A valid Content-Length header is required"),
        "{wire}"
    );
}

/// The shape of Supabase's self-hosting `kong.yml` (written for this test): consumers with
/// nested key-auth credentials and groups, services with `url`, routes guarded by key-auth +
/// acl, cors, and request-termination.
#[tokio::test]
async fn a_supabase_shaped_file_loads_and_answers_as_in_kong() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "2.1"
_transform: true
consumers:
  - username: DASHBOARD
  - username: anon
    keyauth_credentials: [{{ key: anon-jwt }}]
  - username: service_role
    keyauth_credentials: [{{ key: service-jwt }}]
  - username: dash
    basicauth_credentials: [{{ username: supabase, password: this_password_is_insecure }}]
acls:
  - {{ consumer: anon, group: anon }}
  - {{ consumer: service_role, group: admin }}
services:
  - name: auth-v1-open
    url: {up}/verify
    routes: [{{ name: auth-v1-open, strip_path: true, paths: [/auth/v1/verify] }}]
    plugins: [{{ name: cors }}]
  - name: rest-v1
    url: {up}/
    routes: [{{ name: rest-v1-all, strip_path: true, paths: [/rest/v1/] }}]
    plugins:
      - {{ name: cors }}
      - {{ name: key-auth, config: {{ hide_credentials: true }} }}
      - {{ name: acl, config: {{ hide_groups_header: true, allow: [admin, anon] }} }}
  - name: pg-meta
    url: {up}/
    routes: [{{ name: pg-meta-all, strip_path: true, paths: [/pg/] }}]
    plugins:
      - {{ name: key-auth, config: {{ hide_credentials: false }} }}
      - {{ name: acl, config: {{ hide_groups_header: true, allow: [admin] }} }}
  - name: dashboard
    url: {up}/
    routes: [{{ name: dashboard-all, strip_path: true, paths: [/] }}]
    plugins:
      - {{ name: cors }}
      - {{ name: basic-auth, config: {{ hide_credentials: true }} }}
  - name: realtime-disabled
    url: {up}/
    routes: [{{ name: realtime, paths: [/realtime/v1/] }}]
    plugins: [{{ name: request-termination, config: {{ status_code: 403, message: realtime is disabled }} }}]
"#,
        up = up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let seen = echoed(
        c.get(gw.url("/auth/v1/verify?token=t"))
            .send()
            .await
            .expect("r"),
    )
    .await;
    assert_eq!(seen["uri"], "/verify?token=t");
    let seen = echoed(
        c.get(gw.url("/rest/v1/todos?apikey=anon-jwt"))
            .header("origin", "http://localhost:3000")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["uri"], "/todos");
    assert_eq!(seen["headers"]["x-consumer-username"], "anon");
    let r = c
        .get(gw.url("/pg/tables?apikey=anon-jwt"))
        .send()
        .await
        .expect("r");
    assert_eq!(
        refusal(r).await,
        (403, "You cannot consume this service".into())
    );
    let r = c
        .get(gw.url("/pg/tables"))
        .header("apikey", "service-jwt")
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 200);
    let r = c.get(gw.url("/rest/v1/todos")).send().await.expect("r");
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*"),
        "cors ran first"
    );
    assert_eq!(
        refusal(r).await,
        (401, "No API key found in request".into())
    );
    let r = c.get(gw.url("/project/default")).send().await.expect("r");
    assert_eq!(r.status(), 401);
    let r = c
        .get(gw.url("/project/default"))
        .header(
            "authorization",
            basic("supabase", "this_password_is_insecure"),
        )
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 200);
    let r = c
        .get(gw.url("/realtime/v1/websocket"))
        .send()
        .await
        .expect("r");
    assert_eq!(refusal(r).await, (403, "realtime is disabled".into()));
}

#[tokio::test]
async fn key_auth_acl_and_rate_limiting_count_per_consumer() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
consumers:
  - {{ username: alice, keyauth_credentials: [{{ key: ka }}], acls: [{{ group: users }}] }}
  - {{ username: bob, keyauth_credentials: [{{ key: kb }}], acls: [{{ group: users }}] }}
services:
  - name: s
    url: {}
    routes: [{{ name: r, paths: [/] }}]
    plugins:
      - {{ name: key-auth }}
      - {{ name: acl, config: {{ allow: [users] }} }}
      - {{ name: rate-limiting, config: {{ day: 2, limit_by: consumer }} }}
"#,
        up.url("http")
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let mut codes = Vec::new();
    for key in ["ka", "ka", "ka", "kb", "kb", "kb"] {
        let r = c
            .get(gw.url("/x"))
            .header("apikey", key)
            .send()
            .await
            .expect("r");
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes, [200, 200, 429, 200, 200, 429]);
}

#[test]
fn lua_functions_are_refused_with_their_path() {
    let yaml = "_format_version: \"3.0\"\nplugins:\n  - name: post-function\n    config: {access: [\"kong.log('x')\"]}\n";
    let err = match skyport::config::check(yaml) {
        Ok(_) => panic!("a Lua function loaded"),
        Err(e) => e.lines(),
    };
    assert_eq!(
        err,
        ["plugins[0].name: plugin 'post-function' runs inline Lua: Lua functions are not supported by Skyport"]
    );
}

/// `correlation-id`: the client's id is kept, otherwise one is made (`uuid#counter` by
/// default: one UUID per process and a counter), sent upstream, echoed when asked, and logged.
#[tokio::test]
async fn correlation_ids_are_kept_or_made_echoed_and_logged() {
    let up = Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: echo
    url: {up}
    routes:
      - name: counter
        paths: [/counter]
        plugins: [{{ name: correlation-id, config: {{ echo_downstream: true }} }}]
      - name: uuid
        paths: [/uuid]
        plugins: [{{ name: correlation-id, config: {{ header_name: X-Trace, generator: uuid }} }}]
"#,
        up = up.url("http")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("access.log");
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[("SKYPORT_ACCESS_LOG", &log.display().to_string())],
    )
    .await;
    let c = client();
    let r = c.get(gw.url("/counter")).send().await.expect("request");
    let echoed_id = header(&r, "kong-request-id").expect("echoed downstream");
    let seen = echoed(r).await;
    assert_eq!(seen["headers"]["kong-request-id"], echoed_id.as_str());
    let (base, n) = echoed_id.split_once('#').expect("uuid#counter");
    assert_eq!(base.len(), 36);
    let next = header(
        &c.get(gw.url("/counter")).send().await.expect("r"),
        "kong-request-id",
    )
    .expect("id");
    let (base2, n2) = next.split_once('#').expect("uuid#counter");
    assert_eq!(base, base2, "one UUID per process");
    assert!(n2.parse::<u64>().unwrap_or(0) > n.parse::<u64>().unwrap_or(u64::MAX));
    let r = c
        .get(gw.url("/counter"))
        .header("kong-request-id", "from-client")
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&r, "kong-request-id").as_deref(),
        Some("from-client")
    );
    let seen = echoed(c.get(gw.url("/uuid")).send().await.expect("request")).await;
    assert_eq!(seen["headers"]["x-trace"].as_str().map(str::len), Some(36));
    // The access log records the id (lines are written off the request path: bounded wait).
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("from-client") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let line: Value = text
        .lines()
        .find(|l| l.contains("from-client"))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    assert_eq!(line["correlation_id"], "from-client", "{text}");
}

/// Kong's `key_in_body`: the key read from a form or JSON body (after headers and query),
/// removed from what the upstream gets with `hide_credentials`; a list is a duplicate.
#[tokio::test]
async fn keys_in_the_body() {
    let up = Upstream::http().await;
    let gw = Gateway::start(&auth_config(&up)).await;
    let c = client();
    let seen = echoed(
        c.post(gw.url("/in-body"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("apikey=alice-key&x=1")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    assert_eq!(seen["body"], "x=1", "hidden from the upstream");
    assert_eq!(seen["headers"]["content-length"], "3");
    let seen = echoed(
        c.post(gw.url("/in-body"))
            .json(&serde_json::json!({"apikey": "bob-key", "y": 2}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-consumer-username"], "bob");
    assert_eq!(seen["body"], r#"{"y":2}"#);
    let r = c
        .post(gw.url("/in-body"))
        .json(&serde_json::json!({"apikey": ["a", "b"]}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        refusal(r).await,
        (401, "Duplicate API key found".to_string())
    );
    let r = c
        .post(gw.url("/in-body"))
        .json(&serde_json::json!({"other": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        refusal(r).await,
        (401, "No API key found in request".to_string())
    );
    // A header key still wins, and the body then goes up untouched.
    let seen = echoed(
        c.post(gw.url("/in-body"))
            .header("apikey", "alice-key")
            .json(&serde_json::json!({"apikey": "bob-key"}))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(seen["headers"]["x-consumer-username"], "alice");
    assert_eq!(seen["body"], r#"{"apikey":"bob-key"}"#);
}
