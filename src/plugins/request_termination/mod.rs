//! Kong's `request-termination` plugin (priority 2): answers every request (or those that
//! carry the `trigger` header or query argument) with `status_code` and `message` (Kong's
//! `{"message": ...}`, with its default messages) or a raw `body` with `content_type`;
//! `echo` sends the request back as JSON.

use crate::error::{Exit, GatewayError};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::key_auth::header_name;
use crate::plugins::{BuildCtx, Flow, Phases, Plugin, RequestState, Scope};
use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Kong's `request-termination` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RequestTerminationConfig {
    pub status_code: u16,
    pub message: Option<String>,
    pub content_type: Option<String>,
    pub body: Option<String>,
    pub echo: bool,
    pub trigger: Option<String>,
}

impl Default for RequestTerminationConfig {
    fn default() -> Self {
        RequestTerminationConfig {
            status_code: 503,
            message: None,
            content_type: None,
            body: None,
            echo: false,
            trigger: None,
        }
    }
}

/// Kong's default message per status.
fn default_message(status: u16) -> Option<&'static str> {
    Some(match status {
        401 => "Unauthorized",
        404 => "Not found",
        405 => "Method not allowed",
        500 => "An unexpected error occurred",
        502 => "Bad Gateway",
        503 => "Service unavailable",
        _ => return None,
    })
}

/// The answer, made once (unless echoing), and the trigger.
#[derive(Debug, Clone)]
pub struct Answer {
    exit: Exit,
    trigger: Option<HeaderName>,
}

/// A configured `request-termination` instance.
#[derive(Debug)]
pub struct RequestTermination {
    config: RequestTerminationConfig,
    answer: Answer,
}

impl Factory for RequestTermination {
    type Spec = RequestTerminationConfig;
    type Typed = Answer;

    fn check(spec: &RequestTerminationConfig, _ctx: &CheckCtx<'_>) -> Result<Answer, FieldIssues> {
        let mut out = Vec::new();
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if !(100..=599).contains(&spec.status_code) {
            out.push((
                "status_code".into(),
                "value should be between 100 and 599".into(),
            ));
        }
        if present(&spec.message) && (present(&spec.content_type) || present(&spec.body)) {
            out.push((
                String::new(),
                "message cannot be used with content_type or body".into(),
            ));
        } else if present(&spec.content_type) && !present(&spec.body) {
            out.push((String::new(), "content_type requires a body".into()));
        } else if spec.echo && (present(&spec.content_type) || present(&spec.body)) {
            out.push((
                String::new(),
                "echo cannot be used with content_type and body".into(),
            ));
        }
        let trigger = spec
            .trigger
            .as_deref()
            .and_then(|t| header_name("trigger".into(), t, &mut out));
        let content_type = spec
            .content_type
            .as_deref()
            .map(HeaderValue::from_str)
            .transpose()
            .unwrap_or_else(|_| {
                out.push(("content_type".into(), "invalid value for a header".into()));
                None
            });
        if !out.is_empty() {
            return Err(out);
        }
        let exit = match &spec.body {
            Some(body) => Exit {
                status: spec.status_code,
                headers: Vec::new(),
                body: Bytes::from(body.clone()),
                // Kong sends a body without content_type with no Content-Type at all.
                content_type: content_type.unwrap_or(HeaderValue::from_static("")),
                proxied: false,
            },
            None => match spec
                .message
                .as_deref()
                .or(default_message(spec.status_code))
            {
                Some(m) => Exit::message(spec.status_code, m),
                None => Exit::empty(spec.status_code),
            },
        };
        Ok(Answer { exit, trigger })
    }

    fn build(
        c: &Checked<RequestTerminationConfig, Answer>,
        _: &BuildCtx,
        _: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(RequestTermination {
            config: c.spec.clone(),
            answer: c.typed.clone(),
        })
    }
}

/// The host's name, read once (Kong's `kong.node.get_hostname`).
static HOSTNAME: once_cell::sync::Lazy<String> = once_cell::sync::Lazy::new(|| {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
});

impl RequestTermination {
    /// Kong's echo: the request as the gateway saw it, the node, and the matched route and
    /// service.
    async fn echo(&self, session: &mut Session, state: &RequestState) -> Exit {
        let raw = if crate::plugins::body::kind(&session.req_header().headers).is_some()
            || session
                .req_header()
                .headers
                .contains_key(http::header::CONTENT_LENGTH)
        {
            match crate::plugins::body::read_body(session).await {
                Ok(Ok(b)) => b,
                _ => Bytes::new(),
            }
        } else {
            Bytes::new()
        };
        let req = session.req_header();
        let mut headers = Map::new();
        for (k, v) in &req.headers {
            let v = Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned());
            match headers.get_mut(k.as_str()) {
                Some(Value::Array(all)) => all.push(v),
                Some(first) => *first = Value::Array(vec![first.take(), v]),
                None => {
                    headers.insert(k.as_str().to_string(), v);
                }
            }
        }
        let query: Map<String, Value> =
            form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect();
        let body = match crate::plugins::body::kind(&req.headers) {
            Some(crate::plugins::body::BodyKind::Json) => {
                serde_json::from_slice::<Value>(&raw).unwrap_or(Value::Null)
            }
            Some(crate::plugins::body::BodyKind::Form) => Value::Object(
                form_urlencoded::parse(&raw)
                    .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                    .collect(),
            ),
            None => Value::Null,
        };
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        let host_header = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let host = host_header.rsplit_once(':').map_or(host_header, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host_header
            }
        });
        let port = session
            .server_addr()
            .and_then(|a| a.as_inet())
            .map_or(0, |a| a.port());
        let (route, service) = match &state.matched {
            Some((model, i)) => {
                let route = model.routes.get(*i);
                let service = route
                    .and_then(|r| r.service)
                    .and_then(|s| model.services.get(s));
                (
                    serde_json::to_value(route).unwrap_or(Value::Null),
                    serde_json::to_value(service).unwrap_or(Value::Null),
                )
            }
            None => (Value::Null, Value::Null),
        };
        let status = self.config.status_code;
        Exit::json(
            status,
            &json!({
                "message": self.config.message.as_deref().or(default_message(status)),
                "kong": {
                    "node_id": crate::telemetry::kong::NODE_ID.as_str(),
                    "worker_pid": std::process::id(),
                    "hostname": HOSTNAME.as_str(),
                },
                "request": {
                    "scheme": if tls { "https" } else { "http" },
                    "host": host,
                    "port": port,
                    "method": req.method.as_str(),
                    "path": req.uri.path(),
                    "headers": headers,
                    "query": query,
                    "body": body,
                    "raw_body": String::from_utf8_lossy(&raw),
                },
                "matched_route": route,
                "matched_service": service,
            }),
        )
    }
}

#[async_trait]
impl Plugin for RequestTermination {
    fn name(&self) -> &'static str {
        "request-termination"
    }

    fn phases(&self) -> Phases {
        if self.config.echo {
            Phases::ACCESS.with(Phases::MATCHED)
        } else {
            Phases::ACCESS
        }
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        if let Some(trigger) = &self.answer.trigger {
            let req = session.req_header();
            let in_header = req.headers.contains_key(trigger);
            let in_query = form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                .any(|(k, _)| k.eq_ignore_ascii_case(trigger.as_str()));
            if !in_header && !in_query {
                return Ok(Flow::Continue);
            }
        }
        if self.config.echo {
            return Ok(Flow::Respond(self.echo(session, state).await));
        }
        Ok(Flow::Respond(self.answer.exit.clone()))
    }
}
