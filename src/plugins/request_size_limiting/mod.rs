//! Kong's `request-size-limiting` plugin (priority 951): a declared `Content-Length` over
//! the limit is refused before the body is read (413, or 417 when the client waits on
//! `Expect: 100-continue`); a body without one (chunked) is counted as it streams and
//! refused once it passes the limit; `require_content_length` answers 411.

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Phases, Plugin, RequestState, Scope};
use async_trait::async_trait;
use bytes::Bytes;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kong's `request-size-limiting` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RequestSizeConfig {
    pub allowed_payload_size: u64,
    pub size_unit: String,
    pub require_content_length: bool,
}

impl Default for RequestSizeConfig {
    fn default() -> Self {
        RequestSizeConfig {
            allowed_payload_size: 128,
            size_unit: "megabytes".into(),
            require_content_length: false,
        }
    }
}

/// A configured `request-size-limiting` instance.
#[derive(Debug)]
pub struct RequestSizeLimiting {
    limit: u64,
    require_content_length: bool,
}

fn too_large(status: u16) -> GatewayError {
    GatewayError::refused(status, "Request size limit exceeded")
}

impl Factory for RequestSizeLimiting {
    type Spec = RequestSizeConfig;
    type Typed = u64;

    fn check(spec: &RequestSizeConfig, _ctx: &CheckCtx<'_>) -> Result<u64, FieldIssues> {
        let factor: u64 = match spec.size_unit.as_str() {
            "megabytes" => 1_048_576,
            "kilobytes" => 1024,
            "bytes" => 1,
            other => {
                return Err(vec![(
                    "size_unit".into(),
                    format!("expected one of: megabytes, kilobytes, bytes (got \"{other}\")"),
                )])
            }
        };
        Ok(spec.allowed_payload_size.saturating_mul(factor))
    }

    fn build(c: &Checked<RequestSizeConfig, u64>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(RequestSizeLimiting {
            limit: c.typed,
            require_content_length: c.spec.require_content_length,
        })
    }
}

#[async_trait]
impl Plugin for RequestSizeLimiting {
    fn name(&self) -> &'static str {
        "request-size-limiting"
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::REQUEST_BODY)
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let headers = &session.req_header().headers;
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(n) if n > self.limit => {
                let waits = headers
                    .get(http::header::EXPECT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
                Err(too_large(if waits { 417 } else { 413 }))
            }
            Some(_) => Ok(Flow::Continue),
            None => {
                let chunked = headers
                    .get(http::header::TRANSFER_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
                if self.require_content_length && !chunked {
                    return Err(GatewayError::refused(
                        411,
                        "A valid Content-Length header is required",
                    ));
                }
                if self.limit < crate::plugins::body::MAX_BODY as u64 {
                    // As Kong, the whole body is read before the upstream sees any of it
                    // (replayed to it when allowed); larger limits are counted as it streams.
                    return match crate::plugins::body::read_body(session).await? {
                        Ok(b) if b.len() as u64 <= self.limit => Ok(Flow::Continue),
                        _ => Err(too_large(413)),
                    };
                }
                state.edits_mut().body_limit = Some(self.limit);
                Ok(Flow::Continue)
            }
        }
    }

    fn request_body(
        &self,
        chunk: &mut Option<Bytes>,
        _end: bool,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        if let (Some(limit), Some(c)) = (state.edits().body_limit, chunk) {
            let edits = state.edits_mut();
            edits.body_seen += c.len() as u64;
            if edits.body_seen > limit {
                return Err(too_large(413));
            }
        }
        Ok(())
    }
}
