//! Kong's `request-termination` plugin (priority 2): answers every request (or those that
//! carry the `trigger` header or query argument) with `status_code` and `message` (Kong's
//! `{"message": ...}`, with its default messages) or a raw `body` with `content_type`;
//! `echo` sends the request back as JSON.

use crate::error::{Exit, GatewayError};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::key_auth::header_name;
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
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
                content_type: content_type
                    .unwrap_or(HeaderValue::from_static("application/json; charset=utf-8")),
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

impl RequestTermination {
    /// Kong's echo: the request as the gateway saw it.
    fn echo(&self, session: &Session) -> Exit {
        let req = session.req_header();
        let mut headers = Map::new();
        for (k, v) in &req.headers {
            headers.insert(
                k.as_str().to_string(),
                Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            );
        }
        let query: Map<String, Value> =
            form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect();
        let status = self.config.status_code;
        Exit::json(
            status,
            &json!({
                "message": self.config.message.as_deref().or(default_message(status)),
                "request": {
                    "method": req.method.as_str(),
                    "path": req.uri.path(),
                    "headers": headers,
                    "query": query,
                },
            }),
        )
    }
}

#[async_trait]
impl Plugin for RequestTermination {
    fn name(&self) -> &'static str {
        "request-termination"
    }

    async fn access(
        &self,
        session: &mut Session,
        _state: &mut RequestState,
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
            return Ok(Flow::Respond(self.echo(session)));
        }
        Ok(Flow::Respond(self.answer.exit.clone()))
    }
}
