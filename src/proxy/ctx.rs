//! Per-request state carried through the Pingora hooks.

use super::request_id::RequestId;
use crate::plugins::RequestState;
use crate::snapshot::Snapshot;
use crate::upstream::balancer::Member;
use quanta::Instant;
use std::net::SocketAddr;
use std::sync::Arc;

/// Everything one request remembers between hooks.
pub struct RequestCtx {
    /// The config this request runs on, start to end.
    pub snapshot: Arc<Snapshot>,
    /// When the request arrived.
    pub started: Instant,
    /// 32 hex chars; sent upstream and to the client.
    pub request_id: RequestId,
    /// Index of the matched route.
    pub route: Option<usize>,
    /// The plugin chain in effect (the route's, or its consumer's once authenticated).
    pub chain: Option<Arc<crate::plugins::Chain>>,
    /// Path and query for the upstream request line.
    pub upstream_uri: Option<http::Uri>,
    /// The prefix strip_path removed, when it removed more than `/`.
    pub stripped_prefix: Option<http::HeaderValue>,
    /// What plugins established and want applied.
    pub plugins: RequestState,
    /// Connect attempts made so far.
    pub attempts: u32,
    /// Resolved addresses of the service.
    pub addrs: Option<Arc<[SocketAddr]>>,
    /// The upstream target of the current attempt (services that name an upstream).
    pub member: Option<Arc<Member>>,
    /// Target addresses tried so far (retries go to the next one).
    /// Held inline for the first two (no allocation unless a request retries twice).
    pub tried: smallvec::SmallVec<[SocketAddr; 2]>,
    /// The current attempt's failure was already counted by passive health checks.
    pub member_reported: bool,
    /// When the upstream request was sent.
    pub upstream_started: Option<Instant>,
    /// When the upstream's response header arrived.
    pub upstream_answered: Option<Instant>,
    /// Whether the request was sent upstream (its target: [`RequestCtx::sent_target`]).
    pub upstream_sent: bool,
    /// Request body bytes seen so far (for `client_max_body_size`).
    pub body_bytes: u64,
    /// Bytes of the checked host at the start of the request's Host field (or authority),
    /// found when the route was matched: the upstream request's X-Forwarded-Host.
    pub host_len: usize,
    /// Which forwarding fields the client sent (found when the route was matched).
    pub client_sent: super::headers::Sent,
    /// Whether the client sent a Host field (the upstream's is then set in its place).
    pub client_host: bool,
}

impl RequestCtx {
    /// A fresh context on the given snapshot.
    pub fn new(snapshot: Arc<Snapshot>) -> RequestCtx {
        RequestCtx {
            snapshot,
            started: Instant::now(),
            request_id: RequestId::random(),
            route: None,
            chain: None,
            upstream_uri: None,
            stripped_prefix: None,
            plugins: RequestState::default(),
            attempts: 0,
            addrs: None,
            member: None,
            tried: smallvec::SmallVec::new(),
            member_reported: false,
            upstream_started: None,
            upstream_answered: None,
            upstream_sent: false,
            body_bytes: 0,
            host_len: 0,
            client_sent: super::headers::Sent::ANY,
            client_host: false,
        }
    }

    /// The target (path and query) of the request line sent upstream: the one plugins made,
    /// or the route's, or else the client's (`client`); `None` when nothing was sent.
    pub fn sent_target<'a>(&'a self, client: &'a http::Uri) -> Option<&'a str> {
        if !self.upstream_sent {
            return None;
        }
        let uri = (self.plugins.edits().sent_uri.as_ref())
            .or(self.upstream_uri.as_ref())
            .unwrap_or(client);
        Some(uri.path_and_query().map_or("", |p| p.as_str()))
    }
}
