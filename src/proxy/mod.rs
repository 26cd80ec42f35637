//! The proxy: Skyport's `ProxyHttp`. Each hook delegates to one step of the request path:
//! route -> plugin chain -> peer -> upstream request -> response -> log.

pub mod ctx;
pub mod edit;
pub mod headers;
pub mod log_entry;
mod ready;
pub mod request_id;

use crate::error::{self, GatewayError, RenderHints, Rendered};
use crate::plugins::Flow;
use crate::plugins::Phases;
use crate::router::{field_text, normalize, path, request_host, RequestInfo};
use crate::settings::HeaderSettings;
use crate::spans::{self, Instrumentations, SpanKind, Trace, TracingSettings};
use crate::state::State;
use crate::telemetry::access_log::{AccessLog, AccessRecord};
use crate::telemetry::handles::Finished;
use crate::telemetry::Metrics;
use crate::upstream::balancer::{Balancer, HashRequest};
use crate::upstream::dns::Resolver;
use crate::upstream::health::Event;
use async_trait::async_trait;
use ctx::RequestCtx;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use quanta::Instant;
use ready::{done, hook, proceed, Ready};
use std::net::SocketAddr;
use std::sync::Arc;

/// Request size limits from the node settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body in bytes; 0 = no limit.
    pub max_body: u64,
    /// Largest header block in bytes (request line and headers).
    pub max_header: u64,
    /// Largest single header line (or request target) in bytes.
    pub max_header_line: u64,
    /// Longest silence while the client sends its body.
    pub body_timeout: std::time::Duration,
    /// Seconds an idle keep-alive client connection stays open (0: no keep-alive).
    pub keepalive_timeout: u64,
    /// What tracing plugins record (`tracing_instrumentations`, `tracing_sampling_rate`).
    pub tracing: TracingSettings,
}

/// The gateway's proxy logic, shared by all workers.
pub struct Gateway {
    limits: Limits,
    emit: HeaderSettings,
    state: Arc<State>,
    resolver: Resolver,
    metrics: Arc<Metrics>,
    access_log: Arc<AccessLog>,
}

impl Gateway {
    /// A proxy over the given state.
    pub fn new(
        state: Arc<State>,
        metrics: Arc<Metrics>,
        access_log: Arc<AccessLog>,
        limits: Limits,
        emit: HeaderSettings,
    ) -> Gateway {
        Gateway {
            limits,
            emit,
            state,
            resolver: Resolver::default(),
            metrics,
            access_log,
        }
    }

    /// Keeps a trace for this request (its chain has a tracing plugin), with the router span.
    fn start_trace(&self, ctx: &mut RequestCtx, route_idx: usize) {
        let mut t = Trace::new(self.limits.tracing, ctx.started);
        if t.records(Instrumentations::ROUTER) {
            t.push(SpanKind::Router, ctx.started, Instant::now());
        }
        t.route = ctx.snapshot.routes[route_idx].first_path.clone();
        ctx.plugins.trace = Some(Box::new(t));
    }

    /// The upstream balancer of the request's service, if it names one.
    fn balancer_of<'a>(&self, ctx: &'a RequestCtx) -> Option<&'a Arc<Balancer>> {
        let s = ctx.route.and_then(|r| ctx.snapshot.routes[r].service)?;
        ctx.snapshot.services[s].balancer.as_ref()
    }

    /// Decorates every answer Skyport makes itself, by `headers` and as Kong does: `Server`
    /// (unless a plugin's answer brought one) and the request id on all; on an answer made
    /// instead of proxying (no route, a plugin exit, a limit) the response latency and the
    /// headers plugins asked for; on an answer to a failed proxy attempt `Via` and the
    /// upstream latency.
    fn decorate(&self, header: &mut ResponseHeader, ctx: &RequestCtx, proxied: bool) {
        if self.emit.server && !header.headers.contains_key(http::header::SERVER) {
            let _ = header.insert_header(http::header::SERVER, error::SERVER);
        }
        if proxied && self.emit.via {
            let _ = header.insert_header(http::header::VIA, headers::via("1.1"));
        }
        if self.emit.request_id {
            let _ = header.insert_header(&headers::REQUEST_ID, ctx.request_id.header());
        }
        if proxied {
            if let Some(t) = ctx.upstream_started.filter(|_| self.emit.upstream_latency) {
                let _ = header.insert_header(
                    &headers::UPSTREAM_LATENCY,
                    headers::number(millis(t.elapsed())),
                );
            }
            return;
        }
        if self.emit.response_latency {
            let _ = header.insert_header(
                &headers::RESPONSE_LATENCY,
                headers::number(millis(ctx.started.elapsed())),
            );
        }
        for (k, v) in &ctx.plugins.response_headers {
            let _ = header.append_header(*k, v.clone());
        }
        for (name, value) in &ctx.plugins.edits().response_set {
            let _ = header.insert_header(name.clone(), value.clone());
        }
    }

    /// Writes a response Skyport made itself instead of proxying (keeping the connection
    /// alive).
    async fn respond(&self, session: &mut Session, ctx: &RequestCtx, r: Rendered) -> Result<bool> {
        let Rendered { mut header, body } = r;
        self.decorate(&mut header, ctx, false);
        let end = body.is_empty();
        session.write_response_header(Box::new(header), end).await?;
        if !end {
            session.write_response_body(Some(body), true).await?;
        }
        Ok(true)
    }

    async fn respond_error(
        &self,
        session: &mut Session,
        ctx: &RequestCtx,
        err: &GatewayError,
    ) -> Result<bool> {
        match err {
            GatewayError::Internal(detail) => {
                log::error!("request {}: {err}: {detail}", ctx.request_id)
            }
            GatewayError::Limited { .. } => {
                let route = ctx.route.map(|r| &ctx.snapshot.routes[r]);
                let label = route
                    .map(|r| r.name.as_deref().unwrap_or(r.id.as_str()))
                    .unwrap_or("");
                self.metrics.rate_limited.with_label_values(&[label]).inc();
            }
            _ => {}
        }
        let rendered = {
            let req = session.req_header();
            let hints = hints(req);
            error::render_error(err, hints, ctx.request_id.as_str())
        };
        self.respond(session, ctx, rendered).await
    }

    /// Matches the route and computes the upstream path; `Err` is the answer to send.
    fn route(
        &self,
        session: &Session,
        scan: &Scan<'_>,
        ctx: &mut RequestCtx,
    ) -> std::result::Result<usize, GatewayError> {
        let req = session.req_header();
        if req.method == http::Method::TRACE {
            return Err(GatewayError::MethodNotAllowed);
        }
        // nginx's `large_client_header_buffers`: no single line over one buffer.
        if scan.bytes as u64 > self.limits.max_header
            || scan.longest as u64 > self.limits.max_header_line
        {
            return Err(GatewayError::HeaderTooLarge);
        }
        if self.limits.max_body > 0 {
            let declared = scan
                .content_length
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > self.limits.max_body) {
                return Err(GatewayError::BodyTooLarge);
            }
        }
        // A host nginx refuses (empty, `a..b`, a space ...) is a 400, as in Kong.
        let host = match scan.host {
            // Visible ASCII is checked faster than UTF-8; nginx takes bytes past ASCII too.
            Some(h) => h
                .to_str()
                .ok()
                .or_else(|| field_text(h))
                .and_then(request_host),
            None => match req.uri.authority() {
                Some(a) => request_host(a.as_str()),
                None if req.version == http::Version::HTTP_10 => Some(""),
                None => None,
            },
        }
        .ok_or(GatewayError::BadRequest)?;
        // The host starts its field: its length is all the upstream request needs of it.
        ctx.host_len = host.len();
        let normalized = normalize::normalize(req.uri.path());
        let listener_port = server_port(session);
        let tls = is_tls(session);
        let ssl = session.digest().and_then(|d| d.ssl_digest.as_ref());
        let sni = ssl
            .and_then(|d| d.extension.get::<crate::router::ClientServerName>())
            .map(|n| &*n.0);
        let found = ctx.snapshot.router.find(&RequestInfo {
            method: req.method.as_str(),
            host,
            listener_port,
            path: &normalized,
            headers: &req.headers,
            tls,
            sni,
            websocket: scan
                .upgrade
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket")),
        });
        let Some(m) = found else {
            return Err(GatewayError::NoRoute);
        };
        ctx.route = Some(m.route);
        let route = &ctx.snapshot.routes[m.route];
        // Read by plugins only (Lambda's event, OpenTelemetry's attributes): a route that runs
        // none (no plugin of its own or of a consumer) takes no counted reference to either.
        if !route.chain.plugins.is_empty() || !route.consumer_chains.is_empty() {
            ctx.plugins.route_path = ctx.snapshot.router.path_of(&m).cloned();
            ctx.plugins.request_id = Some(ctx.request_id.header());
        }
        if route.https_only && !tls {
            let uri = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            return Err(GatewayError::UseHttps {
                status: route.https_redirect_status_code,
                location: format!("https://{host}{uri}"),
            });
        }
        if route.grpc {
            grpc_request(req, route.grpcs_only && !tls)?;
        }
        if let Some(svc) = route.service {
            let base = ctx.snapshot.services[svc].base_path.as_deref();
            let stripped = if route.strip_path { m.path_len } else { None };
            if let Some(n) = stripped {
                let prefix = &normalized[..n];
                if prefix != "/" {
                    // A prefix route's is made once; a regex's match is made here.
                    ctx.stripped_prefix = ctx
                        .snapshot
                        .router
                        .prefix_header_of(&m)
                        .cloned()
                        .or_else(|| http::HeaderValue::from_str(prefix).ok());
                }
            }
            let p = path::upstream_path(base, &normalized, stripped);
            let escaped = match normalize::escape_for_upstream(&p) {
                std::borrow::Cow::Owned(e) => Some(e),
                std::borrow::Cow::Borrowed(_) => None,
            };
            let upstream = escaped.as_deref().unwrap_or(&p);
            if upstream == req.uri.path() && req.uri.authority().is_none() {
                // The upstream request line is the client's: nothing to rebuild.
                return Ok(m.route);
            }
            let base_bytes = &ctx.snapshot.services[svc].base_bytes;
            let full = match (req.uri.query(), escaped, p) {
                (Some(q), e, p) => {
                    bytes::Bytes::from(format!("{}?{q}", e.as_deref().unwrap_or(&p)))
                }
                (None, Some(e), _) => bytes::Bytes::from(e),
                // The service path, or all of it but its final slash: shared, not copied.
                (None, None, std::borrow::Cow::Borrowed(b))
                    if base_bytes.starts_with(b.as_bytes()) =>
                {
                    base_bytes.slice(..b.len())
                }
                // The text becomes the URI's own buffer (no second copy).
                (None, None, p) => bytes::Bytes::from(p.into_owned()),
            };
            ctx.upstream_uri =
                Some(http::Uri::from_maybe_shared(full).map_err(|_| GatewayError::BadRequest)?);
        }
        Ok(m.route)
    }

    /// What the route's chain needs before its first plugin runs: the service id, a trace,
    /// the matched route for plugins that read it.
    fn begin_chain(&self, ctx: &mut RequestCtx, chain: &crate::plugins::Chain, route_idx: usize) {
        ctx.plugins.service_id = ctx.snapshot.routes[route_idx].service_id.clone();
        if chain.phases.has(Phases::TRACE) {
            self.start_trace(ctx, route_idx);
        }
        if chain.phases.has(Phases::MATCHED) {
            ctx.plugins.matched = Some((ctx.snapshot.model.clone(), route_idx));
        }
    }

    /// The access phase's plugins in turn, as long as each decides without waiting
    /// ([`Plugin::access_now`](crate::plugins::Plugin::access_now)) and lets the request
    /// go on; a consumer's own chain takes over once one is known. What stops it is returned.
    fn access_steps(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        route_idx: usize,
        run: &mut AccessRun,
    ) -> Pending {
        while let Some(plugin) = run.chain.plugins.get(run.next) {
            run.next += 1;
            let phases = plugin.phases();
            if !phases.has(Phases::ACCESS) {
                continue;
            }
            // A consumer's own chain may bring plugins the route's chain did not have.
            if phases.has(Phases::TRACE) && ctx.plugins.trace.is_none() {
                self.start_trace(ctx, route_idx);
            }
            if phases.has(Phases::MATCHED) && ctx.plugins.matched.is_none() {
                ctx.plugins.matched = Some((ctx.snapshot.model.clone(), route_idx));
            }
            let timed = spans::timer(&ctx.plugins.trace, Instrumentations::PLUGIN_ACCESS);
            let Some(done) = plugin.access_now(session, &mut ctx.plugins) else {
                return Pending::Wait(plugin.clone(), timed);
            };
            spans::finish(
                &mut ctx.plugins.trace,
                timed,
                SpanKind::Access(plugin.name()),
            );
            if let Some(stop) = Pending::stopped(done) {
                return stop;
            }
            switch_chain(ctx, route_idx, run);
        }
        Pending::Done
    }

    /// The rest of the access phase once it must wait or answer (or the request has no
    /// service): the waiting plugin, then the others as in [`Self::access_steps`].
    async fn access_rest(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        route_idx: usize,
        mut run: AccessRun,
        mut pending: Pending,
    ) -> Result<bool> {
        loop {
            match pending {
                Pending::Done => break,
                Pending::Wait(plugin, timed) => {
                    let done = plugin.access(session, &mut ctx.plugins).await;
                    spans::finish(
                        &mut ctx.plugins.trace,
                        timed,
                        SpanKind::Access(plugin.name()),
                    );
                    pending = match Pending::stopped(done) {
                        Some(stop) => stop,
                        None => {
                            switch_chain(ctx, route_idx, &mut run);
                            self.access_steps(session, ctx, route_idx, &mut run)
                        }
                    };
                }
                Pending::Exit(mut exit) => {
                    ctx.chain = Some(run.chain);
                    if exit.proxied && self.emit.via {
                        let via = headers::via(proto_version(session));
                        exit.headers.push((http::header::VIA, via));
                    }
                    let head = session.req_header().method == http::Method::HEAD;
                    return self
                        .respond(session, ctx, error::render_exit(&exit, head))
                        .await;
                }
                Pending::Failed(e) => {
                    ctx.chain = Some(run.chain);
                    return self.respond_error(session, ctx, &e).await;
                }
            }
        }
        ctx.chain = Some(run.chain);
        if ctx.snapshot.routes[route_idx].service.is_none() {
            return self
                .respond_error(session, ctx, &GatewayError::NoService)
                .await;
        }
        Ok(false)
    }
}

/// Where a request's access phase stands: the chain in effect (the route's, or its
/// consumer's once known), the next plugin in it, whether the consumer's chain was taken.
struct AccessRun {
    chain: Arc<crate::plugins::Chain>,
    next: usize,
    switched: bool,
}

/// Why [`Gateway::access_steps`] stopped.
enum Pending {
    /// Every plugin let the request go on.
    Done,
    /// This plugin (the one before `next`) must wait
    /// ([`Plugin::access`](crate::plugins::Plugin::access)); the start of its span.
    Wait(Arc<dyn crate::plugins::Plugin>, Option<Instant>),
    /// A plugin answers the request instead of the upstream.
    Exit(crate::error::Exit),
    /// A plugin failed the request.
    Failed(GatewayError),
}

impl Pending {
    /// What a plugin's access outcome stops on: nothing when it lets the request go on.
    fn stopped(done: Result<Flow, GatewayError>) -> Option<Pending> {
        match done {
            Ok(Flow::Continue) => None,
            Ok(Flow::Respond(exit)) => Some(Pending::Exit(exit)),
            Err(e) => Some(Pending::Failed(e)),
        }
    }
}

/// Once a consumer is known, its own plugins take over for the rest of the chain (after the
/// plugin that just ran, by priority).
fn switch_chain(ctx: &RequestCtx, route_idx: usize, run: &mut AccessRun) {
    if run.switched {
        return;
    }
    let own = ctx
        .plugins
        .consumer
        .as_ref()
        .and_then(|c| ctx.snapshot.routes[route_idx].consumer_chains.get(&c.id));
    if let Some(own) = own {
        let done = run.chain.priorities[run.next - 1];
        run.chain = own.clone();
        run.next = run.chain.after(done);
        run.switched = true;
    }
}

fn hints(req: &RequestHeader) -> RenderHints<'_> {
    RenderHints {
        accept: req
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
        content_type: req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        head: req.method == http::Method::HEAD,
    }
}

/// What one pass over a request's fields finds: the sizes the header limits check, the fields
/// the request path reads (each the first of its name), and which forwarding fields came.
struct Scan<'a> {
    /// Bytes of the request target and the field lines.
    bytes: usize,
    /// The longest of those lines.
    longest: usize,
    host: Option<&'a http::HeaderValue>,
    content_length: Option<&'a http::HeaderValue>,
    upgrade: Option<&'a http::HeaderValue>,
    transfer_encoding: bool,
    /// The client's own forwarding fields: [`headers::Sent`].
    sent: headers::Sent,
}

impl<'a> Scan<'a> {
    fn of(req: &'a RequestHeader) -> Scan<'a> {
        use http::header::{
            CONTENT_LENGTH, HOST, TRANSFER_ENCODING, UPGRADE, VIA, X_FORWARDED_FOR,
        };
        let target = req.uri.path_and_query().map_or(1, |p| p.as_str().len());
        let mut scan = Scan {
            bytes: target,
            longest: target,
            host: None,
            content_length: None,
            upgrade: None,
            transfer_encoding: false,
            sent: headers::Sent::default(),
        };
        for (k, v) in &req.headers {
            let line = k.as_str().len() + v.len() + 4;
            scan.bytes += line;
            scan.longest = scan.longest.max(line);
            // Compared as names (a standard name is one number), not hashed and looked up.
            if *k == HOST {
                scan.host = scan.host.or(Some(v));
            } else if *k == CONTENT_LENGTH {
                scan.content_length = scan.content_length.or(Some(v));
            } else if *k == UPGRADE {
                scan.upgrade = scan.upgrade.or(Some(v));
            } else if *k == TRANSFER_ENCODING {
                scan.transfer_encoding = true;
            } else if *k == X_FORWARDED_FOR {
                scan.sent.forwarded_for = true;
            } else if *k == VIA {
                scan.sent.via = true;
            }
        }
        scan
    }

    /// Whether the client will send a body after the header.
    fn expects_body(&self, req: &RequestHeader) -> bool {
        req.version == http::Version::HTTP_2
            || self.transfer_encoding
            || self.content_length.is_some_and(|v| v.as_bytes() != b"0")
    }
}

fn server_port(session: &Session) -> u16 {
    session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Kong's checks of a request that matched a gRPC route: gRPC content over HTTP/2 only, and
/// over TLS when the route has `grpcs` alone.
fn grpc_request(req: &RequestHeader, refuse_plain: bool) -> Result<(), GatewayError> {
    let grpc = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if !grpc {
        return Err(GatewayError::refused(
            415,
            "Non-gRPC request matched gRPC route",
        ));
    }
    if req.version != http::Version::HTTP_2 {
        return Err(GatewayError::Refused {
            status: 426,
            message: "Please use HTTP2 protocol".into(),
            headers: vec![
                (
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("Upgrade"),
                ),
                (
                    http::header::UPGRADE,
                    http::HeaderValue::from_static("HTTP/2"),
                ),
            ],
        });
    }
    if refuse_plain {
        return Err(GatewayError::GrpcsOnly);
    }
    Ok(())
}

fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// Room in the upstream copy for the fields request-transformer may add (a guess: more only
/// grows the map).
const EDIT_ROOM: usize = 4;

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    /// No downstream modules: Pingora's default adds a (disabled) compression module that
    /// still costs a context and a header inspection per request; Skyport does not compress.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.state.load())
    }

    hook! {
        fn request_filter<'life0, 'life1, 'life2>(
            &'life0 self,
            session: &'life1 mut Session,
            ctx: &'life2 mut RequestCtx,
        ) -> Result<bool> {
            // The wait for the next request on this connection (Pingora's default: forever).
            if self.limits.keepalive_timeout == 0 {
                session.set_keepalive(None);
            } else if session.is_http2() {
                // HTTP/2 idleness is the connection's: `h2_idle_timeout` in the server options.
            } else {
                session.set_keepalive(Some(self.limits.keepalive_timeout));
            }
            let (routed, body) = {
                let scan = Scan::of(session.req_header());
                ctx.client_sent = scan.sent;
                ctx.client_host = scan.host.is_some();
                (self.route(session, &scan, ctx), scan.expects_body(session.req_header()))
            };
            if body {
                // A timer per body read: only requests that send one pay for it.
                session.set_read_timeout(Some(self.limits.body_timeout));
            }
            let route_idx = match routed {
                Ok(r) => r,
                Err(e) => return Box::pin(async move { self.respond_error(session, ctx, &e).await }),
            };
            let route = &ctx.snapshot.routes[route_idx];
            let served = route.service.is_some();
            let mut run = AccessRun {
                chain: route.chain.clone(),
                next: 0,
                switched: route.consumer_chains.is_empty(),
            };
            self.begin_chain(ctx, &run.chain, route_idx);
            // The plugins that decide without waiting run here; a future is boxed only when
            // one must wait, one answers, or there is no service to proxy to.
            let pending = if run.chain.phases.has(Phases::ACCESS) {
                self.access_steps(session, ctx, route_idx, &mut run)
            } else {
                Pending::Done
            };
            if served && matches!(pending, Pending::Done) {
                ctx.chain = Some(run.chain);
                return proceed();
            }
            Box::pin(self.access_rest(session, ctx, route_idx, run, pending))
        }
    }

    hook! {
        fn request_body_filter<'life0, 'life1, 'life2, 'life3>(
            &'life0 self,
            session: &'life1 mut Session,
            body: &'life2 mut Option<bytes::Bytes>,
            end: bool,
            ctx: &'life3 mut RequestCtx,
        ) -> Result<()> {
            done(self.on_request_body(session, body, end, ctx))
        }
    }

    /// A service at an IP literal: its peer, made at load, shared (no future, no copy).
    fn upstream_peer_ready(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Option<Result<Arc<HttpPeer>>> {
        let s = ctx.route.and_then(|r| ctx.snapshot.routes[r].service)?;
        let svc = &ctx.snapshot.services[s];
        let peer = svc.fixed_peer()?.clone();
        let addr = SocketAddr::new(svc.ip?, svc.port);
        ctx.tried.push(addr);
        spans::balancer_try(&mut ctx.plugins.trace, addr, None);
        Some(Ok(peer))
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let svc_idx = ctx.route.and_then(|r| ctx.snapshot.routes[r].service);
        let Some(svc) = svc_idx.map(|s| ctx.snapshot.services[s].clone()) else {
            return Err(gateway_failure(GatewayError::NoService));
        };
        if let Some(b) = &svc.balancer {
            let req = session.req_header();
            let hash = HashRequest {
                consumer: ctx.plugins.consumer.as_deref().map(|c| c.id.as_str()),
                client_ip: session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip()),
                headers: &req.headers,
                path: req.uri.path(),
                query: req.uri.query(),
            };
            let Some(m) = b.select(&hash, &ctx.tried) else {
                return Err(gateway_failure(GatewayError::NoPeer));
            };
            ctx.tried.push(m.addr);
            spans::balancer_try(&mut ctx.plugins.trace, m.addr, Some(&m.host));
            ctx.member_reported = false;
            let peer = svc.member_peer(&m);
            ctx.member = Some(m);
            return Ok(peer);
        }
        let addr = match svc.ip {
            Some(ip) => SocketAddr::new(ip, svc.port),
            None => {
                if ctx.addrs.is_none() {
                    match self.resolver.resolve(&svc.host, svc.port).await {
                        Ok(a) => ctx.addrs = Some(a),
                        Err(e) => return Err(gateway_failure(e)),
                    }
                }
                let addrs = ctx.addrs.as_deref().unwrap_or(&[]);
                match addrs.get(ctx.attempts as usize % addrs.len().max(1)) {
                    Some(a) => *a,
                    None => return Err(gateway_failure(GatewayError::NameResolution)),
                }
            }
        };
        ctx.tried.push(addr);
        let named = svc.ip.is_none().then_some(svc.host.as_str());
        spans::balancer_try(&mut ctx.plugins.trace, addr, named);
        Ok(svc.peer(addr))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some((b, m)) = self.balancer_of(ctx).zip(ctx.member.clone()) {
            let event = if e.etype() == &ErrorType::ConnectTimedout {
                Event::Timeout
            } else {
                Event::TcpFailure
            };
            b.observe(&m, event);
            ctx.member_reported = true;
        }
        let retries = ctx
            .route
            .and_then(|r| ctx.snapshot.routes[r].service)
            .map(|s| ctx.snapshot.services[s].retries)
            .unwrap_or(0);
        if ctx.attempts < retries {
            ctx.attempts += 1;
            e.set_retry(true);
        }
        e
    }

    /// The upstream copy of a request gets room for the fields Skyport adds to its map: a
    /// request that adds none (its Host replaces the client's) gets a plain copy.
    fn upstream_request_room(&self, ctx: &RequestCtx) -> usize {
        let p = &ctx.plugins;
        let edits = p.edits();
        let identity = p.identity.as_ref().map_or(0, |i| i.len());
        let later = !p.upstream_headers.is_empty()
            || !edits.upstream_removed.is_empty()
            || !edits.upstream_set.is_empty();
        // Host is set in place over the client's (`set_host`); one slot when it is inserted.
        usize::from(!ctx.client_host)
            + if later { identity } else { 0 }
            + p.upstream_headers.len()
            + edits.upstream_set.len()
            + if p.upstream_edit.is_some() {
                EDIT_ROOM
            } else {
                0
            }
    }

    hook! {
        fn upstream_request_filter<'life0, 'life1, 'life2, 'life3>(
            &'life0 self,
            session: &'life1 mut Session,
            upstream: &'life2 mut RequestHeader,
            ctx: &'life3 mut RequestCtx,
        ) -> Result<()> {
            done(self.on_upstream_request(session, upstream, ctx))
        }
    }

    hook! {
        fn response_filter<'life0, 'life1, 'life2, 'life3>(
            &'life0 self,
            session: &'life1 mut Session,
            resp: &'life2 mut ResponseHeader,
            ctx: &'life3 mut RequestCtx,
        ) -> Result<()> {
            done(self.on_response(session, resp, ctx))
        }
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(chain) = ctx.chain.clone() {
            for plugin in chain.in_phase(Phases::BODY) {
                if let Err(e) = plugin.body(body, end_of_stream, &mut ctx.plugins) {
                    return Err(gateway_failure(e));
                }
            }
        }
        Ok(None)
    }

    /// Skyport writes the one line for a failed request itself (in `fail_to_proxy`, with the
    /// status it answered); Pingora's own line for it would be a second.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, _error: &Error) -> bool {
        true
    }

    /// A retried upstream attempt is not a failed request: no line (the final failure, if any,
    /// gets one; retries and failures are counted in the metrics).
    fn suppress_proxy_warn_log(
        &self,
        _session: &Session,
        _ctx: &RequestCtx,
        _error: &Error,
        _context: pingora::proxy::ProxyWarnLogContext,
    ) -> bool {
        true
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy
    where
        Self::CTX: Send + Sync,
    {
        let err = GatewayError::from_proxy_error(e);
        let status = err.status();
        log::warn!("request {} failed: {e} -> {status}", ctx.request_id);
        if !ctx.member_reported && e.esource() == &pingora::ErrorSource::Upstream {
            if let Some((b, m)) = self.balancer_of(ctx).zip(ctx.member.as_ref()) {
                let event = if err == GatewayError::UpstreamTimeout {
                    Event::Timeout
                } else {
                    Event::TcpFailure
                };
                b.observe(m, event);
            }
        }
        let kind = match err {
            GatewayError::UpstreamTimeout => "timeout",
            GatewayError::NameResolution => "dns",
            GatewayError::NoService | GatewayError::NoPeer => "unavailable",
            _ => "invalid",
        };
        self.metrics
            .upstream_errors
            .with_label_values(&[kind])
            .inc();
        if session.response_written().is_some() {
            // Headers already went out: the only honest thing left is to close.
            return FailToProxy {
                error_code: status,
                can_reuse_downstream: false,
            };
        }
        let rendered =
            error::render_error(&err, hints(session.req_header()), ctx.request_id.as_str());
        let Rendered { mut header, body } = rendered;
        self.decorate(&mut header, ctx, true);
        // Pingora 0.9 closes the client connection after any failed proxy attempt (its
        // `server_reuse` is false on every error path): say so instead of promising keep-alive.
        session.set_keepalive(None);
        let end = body.is_empty();
        if session
            .write_response_header(Box::new(header), end)
            .await
            .is_ok()
            && !end
        {
            let _ = session.write_response_body(Some(body), true).await;
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    hook! {
        fn logging<'life0, 'life1, 'life2, 'life3>(
            &'life0 self,
            session: &'life1 mut Session,
            e: Option<&'life2 Error>,
            ctx: &'life3 mut RequestCtx,
        ) -> () {
            self.on_log(session, e, ctx);
            Box::pin(Ready)
        }
    }
}

/// The hooks that never wait, run when Pingora calls them (it awaits each call at once):
/// their answer goes back in a future that is ready at once and, on success, zero-sized, so
/// no future is boxed per call (`async fn` hooks box one each).
impl Gateway {
    fn on_request_body(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(chunk) = body {
            ctx.body_bytes += chunk.len() as u64;
            if self.limits.max_body > 0 && ctx.body_bytes > self.limits.max_body {
                return Error::e_explain(
                    ErrorType::HTTPStatus(413),
                    "request body over client_max_body_size",
                );
            }
        }
        if let Some(edit) = ctx.plugins.upstream_edit.as_deref_mut() {
            edit::request_body(edit, body);
        }
        if let Some(chain) = ctx.chain.clone() {
            for plugin in chain.in_phase(Phases::REQUEST_BODY) {
                if let Err(e) = plugin.request_body(body, end, &mut ctx.plugins) {
                    return Err(gateway_failure(e));
                }
            }
        }
        Ok(())
    }

    fn on_upstream_request(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let snapshot = ctx.snapshot.clone();
        let Some(route) = ctx.route.map(|r| &snapshot.routes[r]) else {
            return Ok(());
        };
        // The map's room for what is added below came with the copy (`upstream_request_room`).
        // Kept (not taken): a retry on a new connection builds the request again.
        if let Some(uri) = &ctx.upstream_uri {
            upstream.set_uri(uri.clone());
        }
        let req = session.req_header();
        let host_value = req.headers.get(http::header::HOST);
        let host_raw = host_value
            .map(|h| h.as_bytes())
            .or_else(|| req.uri.authority().map(|a| a.as_str().as_bytes()))
            .unwrap_or_default();
        // Checked when the route was matched, where its length was kept.
        let host = host_raw.get(..ctx.host_len).unwrap_or_default();
        let version = if req.version == http::Version::HTTP_2 {
            "2"
        } else {
            "1.1"
        };
        headers::strip_hop_by_hop(upstream);
        if let Some(e) = ctx.plugins.upstream_edit.as_deref() {
            edit::headers(e, upstream)?;
        }
        let d = headers::Downstream {
            client_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            proto: if is_tls(session) {
                headers::HTTPS
            } else {
                headers::HTTP
            },
            port: server_port(session),
            host,
            raw_path: req.uri.path().as_bytes(),
            version,
            // A plugin's edit may have added either (request-transformer).
            sent: if ctx.plugins.upstream_edit.is_some() {
                headers::Sent::ANY
            } else {
                ctx.client_sent
            },
        };
        let request_id = self
            .emit
            .upstream_request_id
            .then(|| ctx.request_id.header());
        // The consumer's identity goes with Skyport's own fields, unless a later step (another
        // plugin's field, a removal, a field set by name) may name the same field: then into
        // the map, in order, so the last one counts.
        let identity = ctx.plugins.identity.as_deref().unwrap_or_default();
        let edits = ctx.plugins.edits();
        let later = !ctx.plugins.upstream_headers.is_empty()
            || !edits.upstream_removed.is_empty()
            || !edits.upstream_set.is_empty();
        let (wired, mapped) = if later {
            (&[][..], identity)
        } else {
            (identity, &[][..])
        };
        headers::forwarded(
            upstream,
            &d,
            ctx.stripped_prefix.as_ref(),
            request_id,
            wired,
        )?;
        if route.preserve_host {
            match host_value {
                // The client's Host is already on the upstream request (a copy of the client's).
                Some(h) if upstream.headers.get(http::header::HOST) == Some(h) => {}
                _ if !host_raw.is_empty() => {
                    upstream.insert_header(http::header::HOST, host_raw)?;
                }
                _ => {}
            }
        } else if let Some(m) = &ctx.member {
            set_host(
                upstream,
                &m.host_header,
                ctx.plugins.upstream_edit.is_some(),
            )?;
        } else if let Some(s) = route.service {
            let host = &snapshot.services[s].host_header;
            set_host(upstream, host, ctx.plugins.upstream_edit.is_some())?;
        }
        for (k, v) in mapped.iter().chain(&ctx.plugins.upstream_headers) {
            headers::set_field(upstream, k, v.as_ref())?;
        }
        for name in &ctx.plugins.edits().upstream_removed {
            upstream.remove_header(name);
        }
        for (name, value) in &ctx.plugins.edits().upstream_set {
            upstream.insert_header(name.clone(), value.clone())?;
        }
        let mut edited = false;
        if let Some(e) = ctx.plugins.upstream_edit.as_deref_mut() {
            edited = e.path.is_some() || e.query.is_some();
            edit::request_line(e, upstream)?;
        }
        if !ctx.plugins.edits().query_removed.is_empty() {
            let uri = without_query_args(&upstream.uri, &ctx.plugins.edits().query_removed);
            upstream.set_uri(uri);
            edited = true;
        }
        // For the log: the target plugins made is kept; the route's is `upstream_uri`.
        if edited {
            ctx.plugins.edits_mut().sent_uri = Some(upstream.uri.clone());
        }
        ctx.upstream_started = Some(Instant::now());
        ctx.upstream_sent = true;
        Ok(())
    }

    fn on_response(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some((b, m)) = self.balancer_of(ctx).zip(ctx.member.as_ref()) {
            b.observe_status(m, resp.status.as_u16());
        }
        let now = Instant::now();
        ctx.upstream_answered = Some(now);
        // The plugins' headers go with Skyport's own fields (`headers::on_response`) unless a
        // plugin's response step may read or change them, or a header set by name may name
        // the same field: then into the map, in order.
        let responders = ctx
            .chain
            .as_ref()
            .is_some_and(|c| c.phases.has(Phases::RESPONSE));
        let wire = !responders && ctx.plugins.edits().response_set.is_empty();
        let mapped = if wire {
            &[][..]
        } else {
            &ctx.plugins.response_headers[..]
        };
        // Room for the plugins' headers at once.
        let room = mapped.len() + ctx.plugins.edits().response_set.len();
        if room > 0 {
            resp.reserve(room);
        }
        let upstream_ms = ctx.upstream_started.map(|t| millis(now.duration_since(t)));
        let proxy_ms = ctx
            .upstream_started
            .map(|t| millis(t.duration_since(ctx.started)));
        headers::strip_hop_by_hop_response(resp);
        // Kong's Via names the upstream's protocol (2 for gRPC) and joins the upstream's own
        // Via as it came, whatever plugins do to the field.
        let upstream_via = headers::UpstreamVia {
            field: self
                .emit
                .via
                .then(|| resp.headers.get(http::header::VIA).cloned())
                .flatten(),
            version: if resp.version == http::Version::HTTP_2 {
                "2"
            } else {
                "1.1"
            },
        };
        // An HTTP/1.0 upstream's answer goes out as HTTP/1.1, as nginx (and so Kong) writes
        // every answer to an HTTP/1 client; Pingora writes the upstream's version otherwise.
        if resp.version == http::Version::HTTP_10 {
            resp.set_version(http::Version::HTTP_11);
        }
        for k in &ctx.plugins.edits().response_removed {
            resp.remove_header(k.name());
        }
        // Plugins set their headers over the upstream's (as Kong's `set_header`); `Vary`
        // is added to.
        for (k, v) in mapped {
            if k.name() == http::header::VARY {
                resp.append_header(*k, v.clone())?;
            } else {
                resp.insert_header(*k, v.clone())?;
            }
        }
        for (name, value) in &ctx.plugins.edits().response_set {
            resp.insert_header(name.clone(), value.clone())?;
        }
        if let Some(chain) = ctx.chain.clone() {
            for plugin in chain.in_phase(Phases::RESPONSE) {
                let timed =
                    spans::timer(&ctx.plugins.trace, Instrumentations::PLUGIN_HEADER_FILTER);
                let done = plugin.response(resp, &mut ctx.plugins);
                spans::finish(
                    &mut ctx.plugins.trace,
                    timed,
                    SpanKind::HeaderFilter(plugin.name()),
                );
                if let Err(e) = done {
                    return Err(gateway_failure(e));
                }
            }
        }
        // After the plugins, as Kong's `header_filter.after`: a plugin neither removes nor
        // changes Via, the latencies or the request id.
        headers::on_response(
            resp,
            &self.emit,
            upstream_via,
            ctx.request_id.value(),
            upstream_ms,
            proxy_ms,
            if wire {
                &ctx.plugins.response_headers
            } else {
                &[]
            },
        )
    }

    fn on_log(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        self.metrics.request_done();
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let snapshot = &ctx.snapshot;
        let route = ctx.route.map(|r| &snapshot.routes[r]);
        let route_label = route
            .map(|r| r.name.as_deref().unwrap_or(r.id.as_str()))
            .unwrap_or("");
        let service = route.and_then(|r| r.service).map(|s| &snapshot.services[s]);
        let service_label = service
            .map(|s| s.name.as_deref().unwrap_or(s.id.as_str()))
            .unwrap_or("");
        let now = Instant::now();
        let elapsed = now.duration_since(ctx.started);
        self.metrics.observe(
            route.map(|r| &r.metrics),
            &Finished {
                route: route_label,
                service: service_label,
                status,
                latency: elapsed,
                // To the upstream's response header; to the end when none came.
                upstream: ctx
                    .upstream_started
                    .filter(|_| service.is_some())
                    .map(|t| ctx.upstream_answered.unwrap_or(now).duration_since(t)),
            },
        );
        let chain = ctx.chain.clone();
        let logged = chain.as_ref().is_some_and(|c| c.phases.has(Phases::LOG));
        if self.access_log.enabled() || logged {
            let req = session.req_header();
            let consumer = ctx
                .plugins
                .consumer
                .as_ref()
                .map(|c| c.username.as_deref().unwrap_or(c.id.as_str()));
            let mut record = AccessRecord {
                time: httpdate::fmt_http_date(std::time::SystemTime::now()),
                request_id: ctx.request_id.as_str(),
                client: session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip()),
                method: req.method.as_str(),
                path: req.uri.path(),
                route: route_label,
                service: service_label,
                consumer,
                correlation_id: ctx.plugins.edits().correlation_id.as_deref(),
                status,
                request_bytes: session.body_bytes_read(),
                response_bytes: session.body_bytes_sent(),
                latency_ms: elapsed.as_secs_f64() * 1000.0,
                upstream_latency_ms: ctx
                    .upstream_started
                    .map(|t| t.duration_since(ctx.started).as_secs_f64() * 1000.0),
                upstream_wait_ms: ctx
                    .upstream_started
                    .zip(ctx.upstream_answered)
                    .map(|(s, a)| a.duration_since(s).as_secs_f64() * 1000.0),
                from_service: ctx.upstream_answered.is_some(),
                kong_service: service
                    .map(|s| s.name.as_deref().unwrap_or(s.host.as_str()))
                    .unwrap_or(""),
                kong_log: None,
            };
            // Kong's serialized entry, made once for the plugins that send it.
            let entry = chain
                .as_ref()
                .filter(|c| logged && c.phases.has(Phases::KONG_LOG))
                .map(|_| log_entry::build(session, ctx, &record, is_tls(session)));
            record.kong_log = entry.as_deref();
            if let Some(chain) = chain.filter(|_| logged) {
                for plugin in chain.in_phase(Phases::LOG) {
                    plugin.log(&record, &ctx.plugins);
                }
            }
            if self.access_log.enabled() && !self.access_log.write(&record) {
                self.metrics.access_log_dropped.inc();
            }
        }
    }
}

/// A failure Skyport decided while proxying, carried to `fail_to_proxy` as the cause of the
/// Pingora error (see [`GatewayError::from_proxy_error`]).
fn gateway_failure(e: GatewayError) -> Box<Error> {
    let (etype, source) = match e {
        GatewayError::Internal(_) => (ErrorType::InternalError, pingora::ErrorSource::Internal),
        // A plugin refused what the client sent (e.g. a body over the limit).
        GatewayError::Refused { .. } => {
            (ErrorType::InternalError, pingora::ErrorSource::Downstream)
        }
        _ => (ErrorType::ConnectNoRoute, pingora::ErrorSource::Unset),
    };
    let mut err = Error::because(etype, "skyport", e);
    err.esource = source;
    err
}

/// Sets the upstream request's Host: in place over the client's (no slot reserved, so a copy
/// made without room does not grow), or inserted when the client sent none or a plugin's edit
/// may have added another.
fn set_host(upstream: &mut RequestHeader, host: &http::HeaderValue, edited: bool) -> Result<()> {
    if edited || !upstream.replace_single_value(&http::header::HOST, host) {
        upstream.insert_header(http::header::HOST, host.clone())?;
    }
    Ok(())
}

/// `uri` without the query arguments named in `names` (credentials a plugin hides).
fn without_query_args(uri: &http::Uri, names: &[String]) -> http::Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            !names
                .iter()
                .any(|n| p.split('=').next() == Some(n.as_str()))
        })
        .collect();
    let path = uri.path();
    let text = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    http::Uri::try_from(text).unwrap_or_else(|_| uri.clone())
}

/// The request's HTTP version as `Via` spells it.
fn proto_version(session: &Session) -> &'static str {
    if session.req_header().version == http::Version::HTTP_2 {
        "2"
    } else {
        "1.1"
    }
}

/// Whole milliseconds, for the latency headers.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
