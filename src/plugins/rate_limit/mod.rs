//! Kong's `rate-limiting` plugin (priority 910): fixed calendar windows per period, counted
//! per identifier (`limit_by`) in the plugin's own namespace, with Kong's headers and 429.
//! Policies: `local` ([`local`], exact under concurrency) and `redis` ([`redis_store`],
//! shared by many nodes).

pub mod config;
pub mod local;
pub mod redis_store;
pub mod window;

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Clock, Flow, HeaderCase, Plugin, RequestState, Scope};
use crate::values::signed;
use async_trait::async_trait;
pub use config::RateLimitConfig;
use config::{LimitBy, Policy, Settings};
use http::HeaderValue;
use pingora::http::HeaderNames;
use pingora::proxy::Session;
use redis_store::RedisStore;
use std::borrow::Cow;
use std::sync::Arc;
use window::{PerPeriod, Period};

enum Backend {
    Local(Arc<local::LocalStore>, local::ScopeId),
    Redis(Arc<RedisStore>),
}

/// A configured `rate-limiting` instance.
pub struct RateLimiting {
    limits: Vec<(Period, i64)>,
    /// Each limit as a header value, made once (clones share it).
    limit_values: Vec<HeaderValue>,
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

/// Kong's per-period headers, by period.
static LIMIT_HEADERS: [HeaderNames; 6] = [
    HeaderNames::new_static("x-ratelimit-limit-second", "X-RateLimit-Limit-Second"),
    HeaderNames::new_static("x-ratelimit-limit-minute", "X-RateLimit-Limit-Minute"),
    HeaderNames::new_static("x-ratelimit-limit-hour", "X-RateLimit-Limit-Hour"),
    HeaderNames::new_static("x-ratelimit-limit-day", "X-RateLimit-Limit-Day"),
    HeaderNames::new_static("x-ratelimit-limit-month", "X-RateLimit-Limit-Month"),
    HeaderNames::new_static("x-ratelimit-limit-year", "X-RateLimit-Limit-Year"),
];
static REMAINING_HEADERS: [HeaderNames; 6] = [
    HeaderNames::new_static(
        "x-ratelimit-remaining-second",
        "X-RateLimit-Remaining-Second",
    ),
    HeaderNames::new_static(
        "x-ratelimit-remaining-minute",
        "X-RateLimit-Remaining-Minute",
    ),
    HeaderNames::new_static("x-ratelimit-remaining-hour", "X-RateLimit-Remaining-Hour"),
    HeaderNames::new_static("x-ratelimit-remaining-day", "X-RateLimit-Remaining-Day"),
    HeaderNames::new_static("x-ratelimit-remaining-month", "X-RateLimit-Remaining-Month"),
    HeaderNames::new_static("x-ratelimit-remaining-year", "X-RateLimit-Remaining-Year"),
];
static RATELIMIT_LIMIT_NAMES: HeaderNames =
    HeaderNames::new_static("ratelimit-limit", "RateLimit-Limit");
const RATELIMIT_LIMIT: HeaderCase = &RATELIMIT_LIMIT_NAMES;
static RATELIMIT_REMAINING_NAMES: HeaderNames =
    HeaderNames::new_static("ratelimit-remaining", "RateLimit-Remaining");
const RATELIMIT_REMAINING: HeaderCase = &RATELIMIT_REMAINING_NAMES;
static RATELIMIT_RESET_NAMES: HeaderNames =
    HeaderNames::new_static("ratelimit-reset", "RateLimit-Reset");
const RATELIMIT_RESET: HeaderCase = &RATELIMIT_RESET_NAMES;
static RETRY_AFTER_NAMES: HeaderNames = HeaderNames::new_static("retry-after", "Retry-After");
const RETRY_AFTER: HeaderCase = &RETRY_AFTER_NAMES;

impl Factory for RateLimiting {
    type Spec = RateLimitConfig;
    type Typed = Settings;

    /// Kong 3.x shows the `redis` block filled in, with the legacy `redis_*` fields beside
    /// it holding the same values (either form may be written).
    fn normalize(mut spec: RateLimitConfig) -> RateLimitConfig {
        let r = &mut spec.redis;
        r.host = r.host.take().or(spec.redis_host.take());
        r.port = r.port.or(spec.redis_port).or(Some(6379));
        r.username = r.username.take().or(spec.redis_username.take());
        r.password = r.password.take().or(spec.redis_password.take());
        r.database = r.database.or(spec.redis_database).or(Some(0));
        r.timeout = r.timeout.or(spec.redis_timeout).or(Some(2000));
        r.ssl = r.ssl.or(spec.redis_ssl).or(Some(false));
        r.ssl_verify = r.ssl_verify.or(spec.redis_ssl_verify).or(Some(false));
        r.server_name = r.server_name.take().or(spec.redis_server_name.take());
        spec.redis_host.clone_from(&r.host);
        spec.redis_port = r.port;
        spec.redis_username.clone_from(&r.username);
        spec.redis_password.clone_from(&r.password);
        spec.redis_database = r.database;
        spec.redis_timeout = r.timeout;
        spec.redis_ssl = r.ssl;
        spec.redis_ssl_verify = r.ssl_verify;
        spec.redis_server_name.clone_from(&r.server_name);
        spec
    }

    fn check(spec: &RateLimitConfig, _ctx: &CheckCtx<'_>) -> Result<Settings, FieldIssues> {
        spec.check()
    }

    fn build(
        c: &Checked<RateLimitConfig, Settings>,
        ctx: &BuildCtx,
        scope: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(RateLimiting::new(c, scope.clone(), ctx))
    }
}

impl RateLimiting {
    /// Builds an instance from a checked config, counting in the lasting stores of `ctx`.
    pub fn new(
        c: &Checked<RateLimitConfig, Settings>,
        scope: Scope,
        ctx: &BuildCtx,
    ) -> RateLimiting {
        let (spec, typed) = (&c.spec, &c.typed);
        let backend = match &typed.policy {
            Policy::Local => {
                let counters = ctx.lasting.counters.clone();
                let id = counters.scope_id(&scope);
                Backend::Local(counters, id)
            }
            Policy::Redis(target) => Backend::Redis(ctx.lasting.redis.store(target)),
        };
        RateLimiting {
            limits: typed.limits.clone(),
            limit_values: typed
                .limits
                .iter()
                .map(|(_, l)| crate::values::shared(*l))
                .collect(),
            by: typed.by.clone(),
            scope,
            backend,
            fault_tolerant: spec.fault_tolerant,
            hide_headers: spec.hide_client_headers,
            error_code: spec.error_code,
            error_message: spec.error_message.clone(),
            clock: ctx.clock.clone(),
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
                (None, Some(cred)) => Cow::Borrowed(&**cred),
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

    /// Usage before this request in Redis, per configured period, or the store's error.
    async fn count_redis(
        &self,
        store: &RedisStore,
        id: &str,
        now: i64,
    ) -> Result<(bool, PerPeriod), String> {
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
        let before: PerPeriod = counts.iter().map(|c| c - 1).collect();
        let ok = self.limits.iter().zip(&counts).all(|((_, l), c)| c <= l);
        Ok((ok, before))
    }

    /// Kong's headers for a decision, added to `out`: per period, then the most constrained
    /// one.
    pub fn headers(
        &self,
        allowed: bool,
        before: &[i64],
        now: i64,
        out: &mut Vec<(HeaderCase, HeaderValue)>,
    ) {
        out.reserve(self.limits.len() * 2 + 4);
        // The tightest period's remaining count, as the value its own field got (a clone
        // shares the bytes).
        let mut tightest: Option<(i64, &HeaderValue, HeaderValue, Period)> = None;
        for (((p, limit), used), limit_value) in
            self.limits.iter().zip(before).zip(&self.limit_values)
        {
            let remaining = if allowed {
                (limit - used - 1).max(0)
            } else if used >= limit {
                0
            } else {
                limit - used
            };
            let remaining_value = signed(remaining);
            out.push((&LIMIT_HEADERS[*p as usize], limit_value.clone()));
            out.push((&REMAINING_HEADERS[*p as usize], remaining_value.clone()));
            // Ties go to the longer window: later periods replace on equal remaining.
            if tightest.as_ref().is_none_or(|(r, _, _, _)| remaining <= *r) {
                tightest = Some((remaining, limit_value, remaining_value, *p));
            }
        }
        if let Some((_, limit, remaining, p)) = tightest {
            let reset = signed(p.reset_in(now));
            out.push((RATELIMIT_LIMIT, limit.clone()));
            out.push((RATELIMIT_REMAINING, remaining));
            out.push((RATELIMIT_RESET, reset.clone()));
            if !allowed {
                out.push((RETRY_AFTER, reset));
            }
        }
    }
}

#[async_trait]
impl Plugin for RateLimiting {
    fn name(&self) -> &'static str {
        "rate-limiting"
    }

    /// The local policy counts in memory: decided at once. Redis goes through `access`.
    fn access_now(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Option<Result<Flow, GatewayError>> {
        let Backend::Local(store, scope) = &self.backend else {
            return None;
        };
        let now = (self.clock)();
        let mut before = PerPeriod::new();
        let allowed = {
            let id = self.identifier(session, state);
            store.check(scope, &id, &self.limits, now, &mut before)
        };
        Some(self.decide(Ok((allowed, before)), now, state))
    }

    /// The redis policy (the local one is decided in `access_now`).
    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let store = match &self.backend {
            Backend::Redis(store) => store,
            Backend::Local(..) => {
                return self
                    .access_now(session, state)
                    .unwrap_or(Ok(Flow::Continue))
            }
        };
        let now = (self.clock)();
        // The identifier borrows the request; the count is done before the state changes.
        let counted = {
            let id = self.identifier(session, state);
            self.count_redis(store, &id, now).await
        };
        self.decide(counted, now, state)
    }
}

impl RateLimiting {
    /// The outcome of a count (or of a failed store): Kong's headers, then the 429 or on.
    fn decide(
        &self,
        counted: Result<(bool, PerPeriod), String>,
        now: i64,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let (allowed, before) = match counted {
            Ok(r) => r,
            Err(e) if self.fault_tolerant => {
                log::debug!("rate-limiting skipped: {e}");
                return Ok(Flow::Continue);
            }
            Err(e) => return Err(GatewayError::Internal(format!("rate-limiting: {e}"))),
        };
        if !self.hide_headers {
            self.headers(allowed, &before, now, &mut state.response_headers);
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
