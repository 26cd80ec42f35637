//! Kong's `correlation-id` plugin (priority 100001): every request carries an id in
//! `header_name` (`Kong-Request-ID` by default) to the upstream: the client's own, or one the
//! gateway makes (`uuid`, `uuid#counter`, `tracker`); `echo_downstream` sends it back too, and
//! the access log records it.

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::key_auth::header_name;
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use once_cell::sync::Lazy;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Kong's `correlation-id` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorrelationIdConfig {
    pub header_name: String,
    pub generator: String,
    pub echo_downstream: bool,
}

impl Default for CorrelationIdConfig {
    fn default() -> Self {
        CorrelationIdConfig {
            header_name: "Kong-Request-ID".into(),
            generator: "uuid#counter".into(),
            echo_downstream: false,
        }
    }
}

/// How ids are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// A random UUID per request.
    Uuid,
    /// One UUID per process and a counter: `<uuid>#<n>`.
    UuidCounter,
    /// Where and when the request arrived: `<ip>-<port>-<pid>-<n>-1-<seconds.millis>`.
    Tracker,
}

/// The process's UUID of `uuid#counter` ids.
static BASE: Lazy<String> = Lazy::new(|| uuid::Uuid::new_v4().to_string());
/// Requests that got a generated id, for `uuid#counter` and `tracker`.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A configured `correlation-id` instance.
#[derive(Debug)]
pub struct CorrelationId {
    header: HeaderName,
    generator: Generator,
    echo: bool,
}

impl Factory for CorrelationId {
    type Spec = CorrelationIdConfig;
    type Typed = (HeaderName, Generator);

    fn check(
        spec: &CorrelationIdConfig,
        _ctx: &CheckCtx<'_>,
    ) -> Result<(HeaderName, Generator), FieldIssues> {
        let mut out = Vec::new();
        let header = header_name("header_name".into(), &spec.header_name, &mut out);
        let generator = match spec.generator.as_str() {
            "uuid" => Some(Generator::Uuid),
            "uuid#counter" => Some(Generator::UuidCounter),
            "tracker" => Some(Generator::Tracker),
            other => {
                out.push((
                    "generator".into(),
                    format!("expected one of: uuid, uuid#counter, tracker (got \"{other}\")"),
                ));
                None
            }
        };
        match (header, generator) {
            (Some(h), Some(g)) if out.is_empty() => Ok((h, g)),
            _ => Err(out),
        }
    }

    fn build(
        c: &Checked<CorrelationIdConfig, (HeaderName, Generator)>,
        _: &BuildCtx,
        _: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(CorrelationId {
            header: c.typed.0.clone(),
            generator: c.typed.1,
            echo: c.spec.echo_downstream,
        })
    }
}

impl Generator {
    /// A new id; `server` is the address the client connected to (for `tracker`).
    pub fn make(self, server: Option<std::net::SocketAddr>) -> String {
        match self {
            // A version-4 UUID from the thread's generator (uuid's own asks the OS each time).
            Generator::Uuid => uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string(),
            Generator::UuidCounter => {
                let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
                format!("{}#{n}", *BASE)
            }
            Generator::Tracker => {
                let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
                let (ip, port) = server
                    .map(|a| (a.ip().to_string(), a.port()))
                    .unwrap_or_default();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                format!(
                    "{ip}-{port}-{}-{n}-1-{}.{:03}",
                    std::process::id(),
                    now.as_secs(),
                    now.subsec_millis()
                )
            }
        }
    }
}

impl CorrelationId {
    fn generate(&self, session: &Session) -> String {
        let server = session.server_addr().and_then(|a| a.as_inet()).copied();
        self.generator.make(server)
    }
}

#[async_trait]
impl Plugin for CorrelationId {
    fn name(&self) -> &'static str {
        "correlation-id"
    }

    crate::plugins::access_by_admit!();
}

impl CorrelationId {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        let given = session.req_header().headers.get(&self.header).cloned();
        let id = match given {
            Some(v) => v,
            None => {
                let made = HeaderValue::from_str(&self.generate(session))
                    .map_err(|e| GatewayError::Internal(e.to_string()))?;
                state
                    .edits_mut()
                    .upstream_set
                    .push((self.header.clone(), made.clone()));
                made
            }
        };
        if self.echo {
            state
                .edits_mut()
                .response_set
                .push((self.header.clone(), id.clone()));
        }
        state.edits_mut().correlation_id = id.to_str().ok().map(str::to_string);
        Ok(Flow::Continue)
    }
}
