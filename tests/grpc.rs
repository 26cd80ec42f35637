//! gRPC through the gateway as in Kong: a `grpc` route on a plain listener marked `http2`
//! (HTTP/2 with prior knowledge) proxies unary calls over HTTP/2 to a real gRPC server
//! (tonic's health service on loopback), status and trailers included; requests that are not
//! gRPC, gRPC over HTTP/1.1, and gRPC without TLS on a `grpcs`-only route get Kong's answers.

mod common;
use common::{client, Gateway};
use serde_json::Value;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A tonic server with the standard health service on a loopback port.
async fn grpc_server() -> (u16, tokio::task::JoinHandle<()>) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("demo.Orders", tonic_health::ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("demo.Down", tonic_health::ServingStatus::NotServing)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    });
    (port, task)
}

/// A client speaking HTTP/2 with prior knowledge (h2c), as gRPC clients do.
fn h2c_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("client")
}

fn config(grpc_port: u16) -> String {
    format!(
        r#"_format_version: "3.0"
services:
  - name: health
    url: grpc://127.0.0.1:{grpc_port}
    routes:
      - name: health-route
        protocols: [grpc]
        paths: [/grpc.health.v1.Health/]
  - name: secure-only
    url: grpc://127.0.0.1:{grpc_port}
    routes:
      - name: secure
        protocols: [grpcs]
        paths: [/secure.Only/]
"#
    )
}

#[tokio::test]
async fn unary_grpc_calls_are_proxied_over_http2() {
    let (grpc_port, server) = grpc_server().await;
    let gw = Gateway::start_env(
        &config(grpc_port),
        None,
        &[("SKYPORT_PROXY_LISTEN", "127.0.0.1:{port} http2")],
    )
    .await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", gw.port))
        .expect("endpoint")
        .connect()
        .await
        .expect("h2c connection to the gateway");
    let mut health = HealthClient::new(channel);
    let status = |service: &str| HealthCheckRequest {
        service: service.to_string(),
    };
    let answer = health.check(status("demo.Orders")).await.expect("call");
    assert_eq!(answer.get_ref().status(), ServingStatus::Serving);
    let answer = health.check(status("demo.Down")).await.expect("call");
    assert_eq!(answer.get_ref().status(), ServingStatus::NotServing);
    // The server's own gRPC status (in its trailers) reaches the client.
    let missing = health
        .check(status("no.Such"))
        .await
        .expect_err("unknown service");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    // Several calls share the connection.
    for _ in 0..5 {
        let answer = health.check(status("")).await.expect("call");
        assert_eq!(answer.get_ref().status(), ServingStatus::Serving);
    }

    // Not gRPC: Kong's 415.
    let r = client()
        .get(gw.url("/grpc.health.v1.Health/Check"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 415);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Non-gRPC request matched gRPC route");
    // gRPC over HTTP/1.1: Kong's 426.
    let r = client()
        .post(gw.url("/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 426);
    assert_eq!(r.headers()["upgrade"], "HTTP/2");
    // gRPC without TLS on a grpcs-only route: 200 with gRPC status 1 and no body.
    let h2c = h2c_client();
    let r = h2c
        .post(gw.url("/secure.Only/Call"))
        .header("content-type", "application/grpc")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["grpc-status"], "1");
    assert_eq!(
        r.headers()["grpc-message"],
        "gRPC request matched gRPCs route"
    );
    assert!(r.bytes().await.expect("body").is_empty());
    // HTTP/1 clients still use the same listener.
    let r = client().get(gw.url("/nothing")).send().await.expect("req");
    assert_eq!(r.status(), 404);
    server.abort();
}

#[tokio::test]
async fn forwarding_fields_reach_an_http2_upstream_once() {
    // The project's echo server speaks HTTP/2 with prior knowledge too: a `grpc` service
    // reaches it over HTTP/2, where the fields Skyport adds are sent as a header block.
    let up = common::Upstream::http().await;
    let yaml = format!(
        r#"_format_version: "3.0"
services:
  - name: echo2
    url: grpc://127.0.0.1:{}
    routes:
      - {{ name: echo2, protocols: [grpc], paths: [/echo.Service/] }}
"#,
        up.addr.port()
    );
    let gw = Gateway::start_env(
        &yaml,
        None,
        &[("SKYPORT_PROXY_LISTEN", "127.0.0.1:{port} http2")],
    )
    .await;
    let h2c = h2c_client();
    let r = h2c
        .post(gw.url("/echo.Service/Call"))
        .header("content-type", "application/grpc")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-real-ip", "10.9.9.9")
        .header("x-forwarded-host", "spoofed.example")
        .header("x-forwarded-prefix", "/spoofed")
        .header("via", "1.1 edge")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    // Kong's Via to the client names the protocol spoken to the upstream: 2 for gRPC.
    let via = format!("1.1 upstream, 2 skyport/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(r.headers()["via"], via.as_str());
    let request_id = r.headers()["x-skyport-request-id"].clone();
    let seen = common::echoed(r).await;
    let h = &seen["headers"];
    // Each once (the echo joins repeated fields with ", "), the client's replaced.
    assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "127.0.0.1");
    assert_eq!(h["x-forwarded-port"], gw.port.to_string());
    assert_eq!(h["x-forwarded-path"], "/echo.Service/Call");
    assert!(h.get("x-forwarded-prefix").is_none(), "{h}");
    let me = format!("1.1 edge, 2 skyport/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(h["via"], me.as_str());
    assert_eq!(h["x-skyport-request-id"], request_id.to_str().expect("id"));
}
