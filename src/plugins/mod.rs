//! Plugins: Kong's plugin model on Pingora. A plugin instance is a step in a route's chain,
//! run in priority order (high first) at each of Kong's phases it takes part in: access
//! (may answer the request itself), response headers, response body, log. Which instances
//! apply to a route is decided when the snapshot is compiled, never per request; the kinds
//! Skyport knows are listed once, in [`registry`].

pub mod acl;
pub mod auth;
pub mod basic_auth;
pub mod body;
pub mod correlation_id;
pub mod cors;
pub mod factory;
pub mod file_log;
pub mod http_log;
pub mod ip_restriction;
pub mod jwt;
pub mod key_auth;
pub mod lambda;
pub mod opentelemetry;
pub mod prometheus;
pub mod proxy_cache;
pub mod queue;
pub mod rate_limit;
pub mod registry;
pub mod request_size_limiting;
pub mod request_termination;
pub mod request_transformer;
pub mod response_transformer;

use crate::error::{Exit, GatewayError};
use crate::telemetry::access_log::AccessRecord;
use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderValue;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::Serialize;
use std::sync::Arc;

pub use jwt::JwtConfig;
pub use lambda::LambdaConfig;
pub use rate_limit::RateLimitConfig;

/// The identity an authentication plugin established.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Consumer {
    /// The consumer's id.
    pub id: String,
    /// Its username, if any.
    pub username: Option<String>,
    /// Its custom id, if any.
    pub custom_id: Option<String>,
    /// The groups it belongs to (`acls`), in config order.
    #[serde(skip)]
    pub groups: Arc<[String]>,
    /// `X-Consumer-Groups` for those groups (`acl`), made once at load; None without groups.
    #[serde(skip)]
    pub groups_header: Option<HeaderValue>,
}

/// A header name a plugin writes, spelled as Kong spells it on the wire (`X-RateLimit-Limit-
/// Minute`), parsed when compiling (`HeaderNames::new_static`): inserting it neither parses
/// nor copies the name.
pub type HeaderCase = &'static pingora::http::HeaderNames;

/// Per-request state plugins share with the proxy and with later plugins.
#[derive(Debug, Default)]
pub struct RequestState {
    /// The consumer an auth plugin authenticated (used by `limit_by: consumer`).
    pub consumer: Option<Arc<Consumer>>,
    /// The credential's identifier (the jwt secret's key).
    pub credential: Option<Arc<str>>,
    /// The matched route's service id (for `limit_by: service`).
    pub service_id: Option<Arc<str>>,
    /// The authenticated consumer's identity headers (`X-Consumer-*`), set on the upstream
    /// request before `upstream_headers`; the last authentication's set counts.
    pub identity: Option<auth::IdentityHeaders>,
    /// Headers to set on the upstream request (`None` removes one the client sent).
    pub upstream_headers: Vec<(HeaderCase, Option<HeaderValue>)>,
    /// Headers to add to whatever response the client gets.
    pub response_headers: Vec<(HeaderCase, HeaderValue)>,
    /// The route path the request matched (Kong's `router_matches.uri`, and its captures).
    pub route_path: Option<Arc<crate::router::PathMatcher>>,
    /// The request's id (Kong's `kong_request_id`).
    pub request_id: Option<HeaderValue>,
    /// Changes to the upstream request beyond headers (`request-transformer`).
    pub upstream_edit: Option<Box<UpstreamEdit>>,
    /// A JSON answer being gathered to be changed (`response-transformer`).
    pub gathered: Option<Box<response_transformer::Gathered>>,
    /// A cache lookup's outcome and the answer being kept (`proxy-cache`).
    pub cache: Option<Box<proxy_cache::Pending>>,
    /// The request's trace, kept when the chain has a tracing plugin (`opentelemetry`).
    pub trace: Option<Box<crate::spans::Trace>>,
    /// The loaded entities and the matched route's index in them, for plugins that show
    /// them (`Phases::MATCHED`).
    pub matched: Option<(Arc<crate::model::Model>, usize)>,
    /// What fewer plugins ask for, made on first use ([`RequestState::edits_mut`]): a request
    /// without it carries one pointer, and the context moved into each request's future stays
    /// small.
    edits: Option<Box<Edits>>,
}

/// The parts of [`RequestState`] few plugins write.
#[derive(Debug, Default)]
pub struct Edits {
    /// Headers the client sent, by their own name, to remove from the upstream request
    /// (credentials a plugin hides).
    pub upstream_removed: Vec<http::HeaderName>,
    /// Query arguments to remove from the upstream request (credentials a plugin hides).
    pub query_removed: Vec<String>,
    /// Headers to set on the upstream request by a name chosen in the config.
    pub upstream_set: Vec<(http::HeaderName, HeaderValue)>,
    /// Headers to set on whatever response the client gets, by a name chosen in the config.
    pub response_set: Vec<(http::HeaderName, HeaderValue)>,
    /// Headers of the upstream's answer to remove before it goes out.
    pub response_removed: Vec<HeaderCase>,
    /// The request's correlation id (`correlation-id`), for the log.
    pub correlation_id: Option<String>,
    /// The upstream request line's target when plugins changed it from the route's, for the
    /// log.
    pub sent_uri: Option<http::Uri>,
    /// `request-size-limiting` on a body of undeclared length: the bytes allowed.
    pub body_limit: Option<u64>,
    /// Request body bytes counted against `body_limit`.
    pub body_seen: u64,
}

/// The edits of a request no plugin has edited.
static NO_EDITS: Edits = Edits {
    upstream_removed: Vec::new(),
    query_removed: Vec::new(),
    upstream_set: Vec::new(),
    response_set: Vec::new(),
    response_removed: Vec::new(),
    correlation_id: None,
    sent_uri: None,
    body_limit: None,
    body_seen: 0,
};

impl RequestState {
    /// The rarer edits plugins asked for (all empty when none did).
    pub fn edits(&self) -> &Edits {
        self.edits.as_deref().unwrap_or(&NO_EDITS)
    }

    /// The rarer edits, to add to (made on first use).
    pub fn edits_mut(&mut self) -> &mut Edits {
        self.edits.get_or_insert_with(Box::default)
    }
}

/// How the upstream request differs from the client's (`request-transformer`), applied when
/// it is sent; boxed in [`RequestState`] so requests without one carry a pointer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UpstreamEdit {
    /// The method.
    pub method: Option<http::Method>,
    /// The path (the query is kept unless `query` is set).
    pub path: Option<String>,
    /// The query string, encoded (`""`: none).
    pub query: Option<String>,
    /// Headers by the name configured, with all their values (empty: removed); applied before
    /// the gateway's own `X-Forwarded-*`.
    pub headers: Vec<(String, Vec<HeaderValue>)>,
    /// The `Host` sent upstream.
    pub host: Option<HeaderValue>,
    /// The body sent instead of the client's (its length replaces the client's).
    pub body: Option<Bytes>,
    /// Body bytes read ahead and not replayed by Pingora: sent before the rest.
    pub body_prefix: Option<Bytes>,
    /// The replacement body went out in this attempt.
    pub body_sent: bool,
}

/// What a plugin's access step decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on with the next plugin, then the upstream.
    Continue,
    /// Answer the client with this and stop.
    Respond(Exit),
}

/// The phases a plugin takes part in; a chain skips a phase none of its plugins uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases(u8);

impl Phases {
    /// `access`: before the upstream is picked.
    pub const ACCESS: Phases = Phases(1);
    /// `response`: the response header, before it goes to the client.
    pub const RESPONSE: Phases = Phases(2);
    /// `body`: each chunk of the response body.
    pub const BODY: Phases = Phases(4);
    /// `log`: after the response was sent.
    pub const LOG: Phases = Phases(8);
    /// `request_body`: each chunk of the request body, as it streams to the upstream.
    pub const REQUEST_BODY: Phases = Phases(16);
    /// With `LOG`: the plugin reads Kong's serialized entry (`AccessRecord::kong_log`).
    pub const KONG_LOG: Phases = Phases(32);
    /// The request keeps a trace (`RequestState::trace`): its spans are recorded.
    pub const TRACE: Phases = Phases(64);
    /// The access phase reads the matched route and service (`RequestState::matched`).
    pub const MATCHED: Phases = Phases(128);

    /// Both sets.
    pub const fn with(self, other: Phases) -> Phases {
        Phases(self.0 | other.0)
    }

    /// Every phase of `other` is in this set.
    pub const fn has(self, other: Phases) -> bool {
        self.0 & other.0 == other.0
    }
}

/// A plugin instance in a route's chain. Every phase is a no-op by default; a plugin names
/// the ones it implements in [`Plugin::phases`], and the proxy calls only those.
#[async_trait]
pub trait Plugin: Send + Sync + std::fmt::Debug {
    /// Kong's plugin name (`jwt`).
    fn name(&self) -> &'static str;

    /// The phases this plugin implements.
    fn phases(&self) -> Phases {
        Phases::ACCESS
    }

    /// The access phase, run in Pingora's `request_filter` after the route matched and before
    /// any upstream is picked; the request body has not been read. Returns
    /// [`Flow::Continue`] to go on, [`Flow::Respond`] to answer the client (the rest of the
    /// chain and the upstream are skipped, the response phases still run for plugins before
    /// it), or an error rendered by [`crate::error`] (the request ends there too).
    async fn access(
        &self,
        _session: &mut Session,
        _state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        Ok(Flow::Continue)
    }

    /// The access phase of a plugin that decides without waiting (it reads the request and
    /// memory only): `Some` outcome, as [`Plugin::access`] would give it, and `access` is not
    /// called; `None` (the default) runs `access`. It spares the request the boxed future of
    /// an `async` call.
    fn access_now(
        &self,
        _session: &mut Session,
        _state: &mut RequestState,
    ) -> Option<Result<Flow, GatewayError>> {
        None
    }

    /// The request-body phase, run in Pingora's `request_body_filter` once per chunk of the
    /// client's body as it streams upstream (`end` on the last). An error ends the request
    /// with the gateway's answer for it (when no response was sent yet).
    fn request_body(
        &self,
        _chunk: &mut Option<Bytes>,
        _end: bool,
        _state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The response-header phase, run in Pingora's `response_filter` on the upstream's answer
    /// before it is sent: the plugin may change status and headers. It must not block; an
    /// error ends the request with the gateway's answer for it.
    fn response(
        &self,
        _resp: &mut ResponseHeader,
        _state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The response-body phase, run in Pingora's `response_body_filter` once per chunk as it
    /// streams (`end` on the last one, which may be `None`). The plugin may replace or drop
    /// the chunk; it must not block, and buffers only what it needs (bounded).
    fn body(
        &self,
        _chunk: &mut Option<Bytes>,
        _end: bool,
        _state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        Ok(())
    }

    /// The log phase, run in Pingora's `logging` after the response was sent (the client is
    /// not waiting). It must not block: I/O goes to a bounded queue of the plugin's own.
    fn log(&self, _record: &AccessRecord, _state: &RequestState) {}
}

/// Inside an `impl Plugin`: the access phase is the type's own `admit(&self, session, state)
/// -> Result<Flow, GatewayError>`, which never waits, called through [`Plugin::access_now`].
macro_rules! access_by_admit {
    () => {
        fn access_now(
            &self,
            session: &mut pingora::proxy::Session,
            state: &mut $crate::plugins::RequestState,
        ) -> Option<Result<$crate::plugins::Flow, $crate::error::GatewayError>> {
            Some(self.admit(session, state))
        }
    };
}
pub(crate) use access_by_admit;

/// A route's plugins, highest priority first, and the union of their phases.
#[derive(Debug, Default, Clone)]
pub struct Chain {
    /// The instances, in the order they run.
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// Their priorities, in the same order.
    pub priorities: Vec<i32>,
    /// Every phase some instance implements.
    pub phases: Phases,
}

impl Chain {
    /// Orders instances by their registered priority (high first; equal priorities keep
    /// their order).
    pub fn new(mut ranked: Vec<(i32, Arc<dyn Plugin>)>) -> Chain {
        ranked.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
        let (priorities, plugins): (Vec<i32>, Vec<Arc<dyn Plugin>>) = ranked.into_iter().unzip();
        let phases = plugins
            .iter()
            .fold(Phases::default(), |acc, p| acc.with(p.phases()));
        Chain {
            plugins,
            priorities,
            phases,
        }
    }

    /// Where a chain picks up after a plugin of `priority` ran: the first instance of lower
    /// priority (used when authentication switches a request to its consumer's chain).
    pub fn after(&self, priority: i32) -> usize {
        self.priorities.partition_point(|p| *p >= priority)
    }

    /// The instances that take part in `phase`, in order; nothing when none does.
    pub fn in_phase(&self, phase: Phases) -> impl Iterator<Item = &Arc<dyn Plugin>> {
        let any = self.phases.has(phase);
        self.plugins
            .iter()
            .filter(move |p| any && p.phases().has(phase))
    }
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

/// A plugin instance's namespace: its own route and service ids (the nil UUID when unscoped),
/// so a global rate limit counts across all routes, as Kong's does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The plugin's route id, or the nil UUID.
    pub route_id: String,
    /// The plugin's service id, or the nil UUID.
    pub service_id: String,
}

/// Plugin state that outlives a snapshot (owned by the running state, handed to each
/// compile): local rate-limit counters and Redis connections.
#[derive(Debug, Default)]
pub struct Lasting {
    /// The `local` policy's counters.
    pub counters: Arc<rate_limit::local::LocalStore>,
    /// The `redis` policy's connections, by server.
    pub redis: rate_limit::redis_store::RedisPool,
}

/// What plugin instances of one snapshot share: the JWT keyring, the other credentials, the
/// clock and the lasting state.
#[derive(Clone)]
pub struct BuildCtx {
    /// JWT credentials and consumers of the snapshot.
    pub keyring: Arc<jwt::keyring::Keyring>,
    /// Consumers, API keys and basic-auth credentials of the snapshot.
    pub directory: Arc<auth::Directory>,
    /// The time source for claim checks and rate windows.
    pub clock: Clock,
    /// Counters and connections kept across reloads.
    pub lasting: Arc<Lasting>,
}
