//! The admin API service (a separate Pingora service on `admin_listen`). For now it serves
//! `GET /status` and `GET /status/ready`, so scripts and tests can wait for readiness.

use crate::state::State;
use crate::telemetry::Metrics;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;
use std::sync::Arc;

/// The admin application.
pub struct AdminApp {
    /// The running config.
    pub state: Arc<State>,
    /// Process counters.
    pub metrics: Arc<Metrics>,
}

fn json_response(status: u16, body: serde_json::Value) -> Response<Vec<u8>> {
    let body = body.to_string().into_bytes();
    Response::builder()
        .status(status)
        .header(
            http::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header(http::header::CONTENT_LENGTH, body.len())
        .header(http::header::SERVER, crate::error::SERVER)
        .body(body)
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let path = req.uri.path().trim_end_matches('/').to_string();
        if req.method != http::Method::GET && req.method != http::Method::HEAD {
            return json_response(405, json!({"message": "Method not allowed"}));
        }
        let snapshot = self.state.load();
        match path.as_str() {
            "/status" => json_response(
                200,
                json!({
                    "server": { "total_requests": self.metrics.total() },
                    "configuration_hash": snapshot.hash,
                    "configuration_version": self.state.version(),
                    "last_reload_error": self.state.last_error(),
                }),
            ),
            "/status/ready" if snapshot.is_empty() => json_response(
                503,
                json!({"message": "no configuration available (empty configuration present)"}),
            ),
            "/status/ready" => json_response(200, json!({"message": "ready"})),
            _ => json_response(404, json!({"message": "Not found"})),
        }
    }
}
