//! Plugins: Kong's plugin model on Pingora. A plugin is a step in a route's chain, run in
//! priority order (high first) in the access phase; it may let the request go on, answer it
//! itself, or fail. Which instance applies to a route is decided when the snapshot is
//! compiled, never per request.

pub mod jwt;
pub mod lambda;
pub mod rate_limit;

use crate::error::{Exit, GatewayError};
use async_trait::async_trait;
use http::HeaderValue;
use pingora::proxy::Session;
use serde::Serialize;
use std::sync::Arc;

pub use jwt::JwtConfig;
pub use lambda::LambdaConfig;
pub use rate_limit::RateLimitConfig;

/// A plugin's typed configuration, one variant per plugin Skyport knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PluginConfig {
    /// `jwt`
    Jwt(JwtConfig),
    /// `rate-limiting`
    RateLimiting(RateLimitConfig),
    /// `aws-lambda`
    AwsLambda(LambdaConfig),
}

/// The plugins Skyport knows, with Kong's priorities.
pub const KNOWN: [(&str, i32); 3] = [("jwt", 1450), ("rate-limiting", 910), ("aws-lambda", 750)];

/// Kong's priority of a plugin by name (higher runs first).
pub fn priority_of(name: &str) -> i32 {
    KNOWN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .unwrap_or(0)
}

impl PluginConfig {
    /// Parses `config:` for plugin `name`. `Err(None)` means the plugin is unknown;
    /// `Err(Some(issues))` lists `(field path, message)` problems.
    pub fn parse(
        name: &str,
        config: Option<&serde_json::Value>,
    ) -> Result<PluginConfig, Option<Vec<(String, String)>>> {
        let empty = serde_json::Value::Object(Default::default());
        let raw = config.unwrap_or(&empty);
        fn typed<T: serde::de::DeserializeOwned>(
            raw: &serde_json::Value,
        ) -> Result<T, Vec<(String, String)>> {
            serde_path_to_error::deserialize(raw).map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                vec![(path, e.into_inner().to_string())]
            })
        }
        let (parsed, issues) = match name {
            "jwt" => match typed::<JwtConfig>(raw) {
                Ok(c) => {
                    let i = c.check();
                    (Some(PluginConfig::Jwt(c)), i)
                }
                Err(i) => (None, i),
            },
            "rate-limiting" => match typed::<RateLimitConfig>(raw) {
                Ok(c) => {
                    let i = c.check();
                    (Some(PluginConfig::RateLimiting(c)), i)
                }
                Err(i) => (None, i),
            },
            "aws-lambda" => match typed::<LambdaConfig>(raw) {
                Ok(c) => {
                    let i = c.check();
                    (Some(PluginConfig::AwsLambda(c)), i)
                }
                Err(i) => (None, i),
            },
            _ => return Err(None),
        };
        match parsed {
            Some(p) if issues.is_empty() => Ok(p),
            _ => Err(Some(issues)),
        }
    }
}

/// The identity an authentication plugin established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consumer {
    /// The consumer's id.
    pub id: String,
    /// Its username, if any.
    pub username: Option<String>,
    /// Its custom id, if any.
    pub custom_id: Option<String>,
}

/// A header name a plugin writes, spelled as Kong spells it on the wire (`X-RateLimit-Limit-
/// Minute`). Static text is what Pingora's header API takes without copying the name.
pub type HeaderCase = &'static str;

/// Per-request state plugins share with the proxy and with later plugins.
#[derive(Debug, Default)]
pub struct RequestState {
    /// The consumer an auth plugin authenticated (used by `limit_by: consumer`).
    pub consumer: Option<Arc<Consumer>>,
    /// The credential's identifier (the jwt secret's key).
    pub credential: Option<String>,
    /// The matched route's service id (for `limit_by: service`).
    pub service_id: Option<Arc<str>>,
    /// Headers to set on the upstream request (`None` removes one the client sent).
    pub upstream_headers: Vec<(HeaderCase, Option<HeaderValue>)>,
    /// Headers to add to whatever response the client gets.
    pub response_headers: Vec<(HeaderCase, HeaderValue)>,
}

/// What a plugin's access step decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on with the next plugin, then the upstream.
    Continue,
    /// Answer the client with this and stop.
    Respond(Exit),
}

/// A plugin instance in a route's chain.
#[async_trait]
pub trait Plugin: Send + Sync + std::fmt::Debug {
    /// Kong's plugin name (`jwt`).
    fn name(&self) -> &'static str;

    /// Kong's priority: higher runs earlier.
    fn priority(&self) -> i32 {
        priority_of(self.name())
    }

    /// The access phase, run in `request_filter` after the route matched and before any
    /// upstream is picked. Returns [`Flow::Continue`] to go on, [`Flow::Respond`] to answer
    /// the client (the rest of the chain and the upstream are skipped), or an error that is
    /// rendered by [`crate::error`] (the request ends there too).
    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError>;
}

/// Seconds since the Unix epoch; injectable so time-dependent checks can be tested exactly.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// What plugin instances of one snapshot share: the JWT keyring and the clock.
#[derive(Clone)]
pub struct BuildCtx {
    /// Credentials and consumers of the snapshot.
    pub keyring: Arc<jwt::keyring::Keyring>,
    /// The time source for claim checks and rate windows.
    pub clock: Clock,
}

/// Builds the runtime instance for a validated plugin config in its scope.
pub fn build(config: &PluginConfig, ctx: &BuildCtx, scope: rate_limit::Scope) -> Arc<dyn Plugin> {
    match config {
        PluginConfig::Jwt(c) => Arc::new(jwt::Jwt::new(
            c.clone(),
            ctx.keyring.clone(),
            ctx.clock.clone(),
        )),
        PluginConfig::RateLimiting(c) => {
            Arc::new(rate_limit::RateLimiting::new(c, scope, ctx.clock.clone()))
        }
        PluginConfig::AwsLambda(c) => Arc::new(lambda::AwsLambda::new(c)),
    }
}
