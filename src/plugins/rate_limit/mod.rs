//! Kong's `rate-limiting` plugin (priority 910): fixed calendar windows per period, counted
//! per identifier (`limit_by`) in the plugin's own namespace, with Kong's headers and 429.
//! Policies: `local` ([`local`], exact under concurrency) and `redis` ([`redis_store`],
//! shared by many nodes).

pub mod config;
pub mod local;
pub mod redis_store;
pub mod window;

use crate::error::GatewayError;
use crate::plugins::{Clock, Flow, HeaderCase, Plugin, RequestState};
use async_trait::async_trait;
pub use config::RateLimitConfig;
use http::{HeaderName, HeaderValue};
use pingora::proxy::Session;
use redis_store::{RedisStore, RedisTarget};
use std::borrow::Cow;
use std::sync::Arc;
use window::Period;

/// Whose requests are counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LimitBy {
    Consumer,
    Credential,
    Ip,
    Service,
    Header(HeaderName),
    Path(String),
}

enum Backend {
    Local,
    Redis(Arc<RedisStore>),
}

/// The plugin's namespace: its own route and service ids (all zeros when unscoped), so a
/// global plugin counts across all routes, as Kong's does.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The plugin's route id, or the nil UUID.
    pub route_id: String,
    /// The plugin's service id, or the nil UUID.
    pub service_id: String,
}

/// A configured `rate-limiting` instance.
pub struct RateLimiting {
    limits: Vec<(Period, i64)>,
    by: LimitBy,
    scope: Scope,
    backend: Backend,
    fault_tolerant: bool,
    hide_headers: bool,
    error_code: u16,
    error_message: String,
    clock: Clock,
}

impl std::fmt::Debug for RateLimiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiting")
            .field("limits", &self.limits)
            .field("by", &self.by)
            .finish()
    }
}

const LIMIT_HEADERS: [&str; 6] = [
    "X-RateLimit-Limit-Second",
    "X-RateLimit-Limit-Minute",
    "X-RateLimit-Limit-Hour",
    "X-RateLimit-Limit-Day",
    "X-RateLimit-Limit-Month",
    "X-RateLimit-Limit-Year",
];
const REMAINING_HEADERS: [&str; 6] = [
    "X-RateLimit-Remaining-Second",
    "X-RateLimit-Remaining-Minute",
    "X-RateLimit-Remaining-Hour",
    "X-RateLimit-Remaining-Day",
    "X-RateLimit-Remaining-Month",
    "X-RateLimit-Remaining-Year",
];

impl RateLimiting {
    /// Builds an instance from a validated config.
    pub fn new(c: &RateLimitConfig, scope: Scope, clock: Clock) -> RateLimiting {
        let limits = Period::ALL
            .iter()
            .zip(c.limits())
            .filter_map(|(p, l)| l.map(|l| (*p, l.ceil() as i64)))
            .collect();
        let by = match c.limit_by.as_str() {
            "credential" => LimitBy::Credential,
            "ip" => LimitBy::Ip,
            "service" => LimitBy::Service,
            "header" => match c
                .header_name
                .as_deref()
                .map(|h| HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()))
            {
                Some(Ok(h)) => LimitBy::Header(h),
                _ => LimitBy::Ip,
            },
            "path" => LimitBy::Path(c.path.clone().unwrap_or_default()),
            _ => LimitBy::Consumer,
        };
        let backend = if c.policy == "redis" {
            let r = &c.redis;
            Backend::Redis(RedisStore::shared(RedisTarget {
                host: r.host.clone().or(c.redis_host.clone()).unwrap_or_default(),
                port: r.port.or(c.redis_port).unwrap_or(6379),
                username: r.username.clone().or(c.redis_username.clone()),
                password: r.password.clone().or(c.redis_password.clone()),
                database: r.database.or(c.redis_database).unwrap_or(0),
                timeout_ms: r.timeout.or(c.redis_timeout).unwrap_or(2000),
            }))
        } else {
            Backend::Local
        };
        RateLimiting {
            limits,
            by,
            scope,
            backend,
            fault_tolerant: c.fault_tolerant,
            hide_headers: c.hide_client_headers,
            error_code: c.error_code,
            error_message: c.error_message.clone(),
            clock,
        }
    }

    fn identifier<'a>(&'a self, session: &'a Session, state: &'a RequestState) -> Cow<'a, str> {
        let ip = || -> Cow<'a, str> {
            session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| Cow::Owned(a.ip().to_string()))
                .unwrap_or(Cow::Borrowed("unknown"))
        };
        match &self.by {
            LimitBy::Consumer => match (&state.consumer, &state.credential) {
                (Some(c), _) => Cow::Borrowed(c.id.as_str()),
                (None, Some(cred)) => Cow::Borrowed(cred.as_str()),
                _ => ip(),
            },
            LimitBy::Credential => state
                .credential
                .as_deref()
                .map(Cow::Borrowed)
                .unwrap_or_else(ip),
            LimitBy::Ip => ip(),
            LimitBy::Service => state
                .service_id
                .as_deref()
                .map(Cow::Borrowed)
                .unwrap_or_else(ip),
            LimitBy::Header(h) => session
                .req_header()
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed)
                .unwrap_or_else(ip),
            LimitBy::Path(p) => {
                if session.req_header().uri.path() == p {
                    Cow::Borrowed(p.as_str())
                } else {
                    ip()
                }
            }
        }
    }

    /// Usage before this request, per configured period, or `None` when the store failed.
    async fn count(&self, id: &str, now: i64) -> Result<(bool, Vec<i64>), String> {
        match &self.backend {
            Backend::Local => {
                let mut before = Vec::with_capacity(self.limits.len());
                let ok = local::LocalStore::global().check(
                    (&self.scope.route_id, &self.scope.service_id, id),
                    &self.limits,
                    now,
                    &mut before,
                );
                Ok((ok, before))
            }
            Backend::Redis(store) => {
                let keys: Vec<(String, i64)> = self
                    .limits
                    .iter()
                    .map(|(p, _)| {
                        let key = format!(
                            "ratelimit:{}:{}:{}:{}:{}",
                            self.scope.route_id,
                            self.scope.service_id,
                            id,
                            p.window_start(now) * 1000,
                            p.name()
                        );
                        (key, p.seconds())
                    })
                    .collect();
                let counts = store.incr(&keys).await?;
                let before: Vec<i64> = counts.iter().map(|c| c - 1).collect();
                let ok = self.limits.iter().zip(&counts).all(|((_, l), c)| c <= l);
                Ok((ok, before))
            }
        }
    }

    /// Kong's headers for a decision: per period, then the most constrained one.
    pub fn headers(
        &self,
        allowed: bool,
        before: &[i64],
        now: i64,
    ) -> Vec<(HeaderCase, HeaderValue)> {
        let mut out = Vec::with_capacity(self.limits.len() * 2 + 4);
        let mut tightest: Option<(i64, i64, Period)> = None;
        for ((p, limit), used) in self.limits.iter().zip(before) {
            let remaining = if allowed {
                (limit - used - 1).max(0)
            } else if used >= limit {
                0
            } else {
                limit - used
            };
            out.push((LIMIT_HEADERS[*p as usize], HeaderValue::from(*limit)));
            out.push((REMAINING_HEADERS[*p as usize], HeaderValue::from(remaining)));
            // Ties go to the longer window: later periods replace on equal remaining.
            if tightest.is_none_or(|(r, _, _)| remaining <= r) {
                tightest = Some((remaining, *limit, *p));
            }
        }
        if let Some((remaining, limit, p)) = tightest {
            let reset = p.reset_in(now);
            out.push(("RateLimit-Limit", HeaderValue::from(limit)));
            out.push(("RateLimit-Remaining", HeaderValue::from(remaining)));
            out.push(("RateLimit-Reset", HeaderValue::from(reset)));
            if !allowed {
                out.push(("Retry-After", HeaderValue::from(reset)));
            }
        }
        out
    }
}

#[async_trait]
impl Plugin for RateLimiting {
    fn name(&self) -> &'static str {
        "rate-limiting"
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let now = (self.clock)();
        // The identifier borrows the request; the count is done before the state changes.
        let counted = {
            let id = self.identifier(session, state);
            self.count(&id, now).await
        };
        let (allowed, before) = match counted {
            Ok(r) => r,
            Err(e) if self.fault_tolerant => {
                log::debug!("rate-limiting skipped: {e}");
                return Ok(Flow::Continue);
            }
            Err(e) => return Err(GatewayError::Internal(format!("rate-limiting: {e}"))),
        };
        let headers = self.headers(allowed, &before, now);
        if !self.hide_headers {
            state.response_headers.extend(headers);
        }
        if !allowed {
            return Err(GatewayError::Limited {
                status: self.error_code,
                message: self.error_message.clone(),
            });
        }
        Ok(Flow::Continue)
    }
}
