//! A request's trace as Kong's tracing instrumentation records it (`tracing_instrumentations`):
//! ids, the sampling decision, and the timings of the router, plugin and balancer spans. Kept
//! only for requests whose chain exports traces (`opentelemetry`); turned into OTLP spans by
//! that plugin in its log phase.

use quanta::Instant;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Kong's `tracing_instrumentations` kinds that produce spans in Skyport, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Instrumentations(u8);

impl Instrumentations {
    /// None (`off`, Kong's default): tracing plugins only propagate headers.
    pub const OFF: Instrumentations = Instrumentations(0);
    /// The root span `kong`, one per request.
    pub const REQUEST: Instrumentations = Instrumentations(1);
    /// `kong.router`.
    pub const ROUTER: Instrumentations = Instrumentations(2);
    /// `kong.balancer`, one per upstream try.
    pub const BALANCER: Instrumentations = Instrumentations(4);
    /// `kong.access.plugin.<name>`.
    pub const PLUGIN_ACCESS: Instrumentations = Instrumentations(8);
    /// `kong.header_filter.plugin.<name>`.
    pub const PLUGIN_HEADER_FILTER: Instrumentations = Instrumentations(16);
    /// Every kind.
    pub const ALL: Instrumentations = Instrumentations(31);

    /// Kong's names; the kinds Kong has that make no span here (`db_query`, `dns_query`,
    /// `http_client`, `plugin_rewrite`, `create_span`) are accepted and add nothing. `Err`
    /// carries Kong's message.
    pub fn parse(list: &str) -> Result<Instrumentations, String> {
        let names: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if names.len() > 1 && names.contains(&"off") {
            return Err("invalid tracing types: off, other types are mutually exclusive".into());
        }
        let mut set = Instrumentations::OFF;
        for name in names {
            set.0 |= match name {
                "off" => 0,
                "all" => Self::ALL.0,
                "request" => Self::REQUEST.0,
                "router" => Self::ROUTER.0,
                "balancer" => Self::BALANCER.0,
                "plugin_access" => Self::PLUGIN_ACCESS.0,
                "plugin_header_filter" => Self::PLUGIN_HEADER_FILTER.0,
                "db_query" | "dns_query" | "http_client" | "plugin_rewrite" | "create_span" => 0,
                other => return Err(format!("invalid tracing type: {other}")),
            };
        }
        Ok(set)
    }

    /// Both sets.
    pub const fn with(self, other: Instrumentations) -> Instrumentations {
        Instrumentations(self.0 | other.0)
    }

    /// Every kind of `other` is on.
    pub const fn has(self, other: Instrumentations) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The node's tracing settings (`tracing_instrumentations`, `tracing_sampling_rate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracingSettings {
    /// The span kinds recorded.
    pub instrumentations: Instrumentations,
    /// The probability a trace is sampled, unless a plugin sets its own.
    pub sampling_rate: f64,
}

impl Default for TracingSettings {
    fn default() -> Self {
        TracingSettings {
            instrumentations: Instrumentations::OFF,
            sampling_rate: 0.01,
        }
    }
}

/// What a child span measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// `kong.router`.
    Router,
    /// `kong.access.plugin.<name>`.
    Access(&'static str),
    /// `kong.header_filter.plugin.<name>`.
    HeaderFilter(&'static str),
}

/// A finished child span of the root.
#[derive(Debug, Clone)]
pub struct Timed {
    /// What it measured.
    pub kind: SpanKind,
    /// Its span id.
    pub id: [u8; 8],
    /// Start and end.
    pub start: Instant,
    pub end: Instant,
}

/// One upstream try (a `kong.balancer` span).
#[derive(Debug, Clone)]
pub struct Try {
    /// When the peer was picked.
    pub start: Instant,
    /// The address tried.
    pub addr: SocketAddr,
}

/// A request's trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// What is recorded.
    pub settings: TracingSettings,
    /// When the request arrived, on both clocks.
    pub started: Instant,
    pub started_unix_ns: u64,
    /// The trace id (16 bytes; ids of 8 are padded at the front with zeros).
    pub trace_id: [u8; 16],
    /// The extracted trace id's size in bytes (8 or 16), for injectors that keep it.
    pub trace_id_size: usize,
    /// The root span's id and its parent (the caller's span, when extracted).
    pub root_id: [u8; 8],
    pub root_parent: Option<[u8; 8]>,
    /// The span id of the last balancer try, made before it is known (it is the parent the
    /// upstream sees); None without balancer instrumentation.
    pub balancer_id: Option<[u8; 8]>,
    /// The trace is exported.
    pub sampled: bool,
    /// The route's first path (`http.route`).
    pub route: Option<std::sync::Arc<str>>,
    /// The root span's attributes about the request (method, URL, client ...).
    pub attributes: Vec<(&'static str, String)>,
    /// Child spans, in the order they finished.
    pub spans: Vec<Timed>,
    /// Upstream tries, in order.
    pub tries: Vec<Try>,
    /// The upstream's host name, when the service names one (`net.peer.name`).
    pub peer_name: Option<String>,
}

/// Random bytes for ids (never all zero, which the formats treat as invalid).
pub fn random_id<const N: usize>() -> [u8; N] {
    loop {
        let id: [u8; N] = rand::random();
        if id.iter().any(|b| *b != 0) {
            return id;
        }
    }
}

impl Trace {
    /// A trace for a request that arrived at `started`, with fresh ids.
    pub fn new(settings: TracingSettings, started: Instant) -> Trace {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Trace {
            settings,
            started,
            started_unix_ns: now.saturating_sub(started.elapsed().as_nanos() as u64),
            trace_id: random_id(),
            trace_id_size: 16,
            root_id: random_id(),
            root_parent: None,
            balancer_id: settings
                .instrumentations
                .has(Instrumentations::REQUEST.with(Instrumentations::BALANCER))
                .then(random_id),
            sampled: false,
            route: None,
            attributes: Vec::new(),
            spans: Vec::new(),
            tries: Vec::new(),
            peer_name: None,
        }
    }

    /// Spans are recorded (the root exists); otherwise the trace only propagates headers.
    pub fn recording(&self) -> bool {
        self.settings
            .instrumentations
            .has(Instrumentations::REQUEST)
    }

    /// Whether spans of `kind` are recorded.
    pub fn records(&self, kind: Instrumentations) -> bool {
        self.recording() && self.settings.instrumentations.has(kind)
    }

    /// Adds a finished child span.
    pub fn push(&mut self, kind: SpanKind, start: Instant, end: Instant) {
        self.spans.push(Timed {
            kind,
            id: random_id(),
            start,
            end,
        });
    }

    /// `t` as Unix nanoseconds.
    pub fn unix_ns(&self, t: Instant) -> u64 {
        self.started_unix_ns + t.saturating_duration_since(self.started).as_nanos() as u64
    }
}

/// When a span of `kind` starts, if the request keeps a trace that records it.
pub fn timer(trace: &Option<Box<Trace>>, kind: Instrumentations) -> Option<Instant> {
    trace
        .as_deref()
        .filter(|t| t.records(kind))
        .map(|_| Instant::now())
}

/// Ends a span [`timer`] started.
pub fn finish(trace: &mut Option<Box<Trace>>, started: Option<Instant>, kind: SpanKind) {
    if let (Some(start), Some(t)) = (started, trace.as_deref_mut()) {
        t.push(kind, start, Instant::now());
    }
}

/// Notes an upstream try (`kong.balancer`), with the host name when the upstream has one.
pub fn balancer_try(trace: &mut Option<Box<Trace>>, addr: SocketAddr, host: Option<&str>) {
    let Some(t) = trace.as_deref_mut() else {
        return;
    };
    if !t.records(Instrumentations::BALANCER) {
        return;
    }
    t.tries.push(Try {
        start: Instant::now(),
        addr,
    });
    if let Some(h) = host.filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
        t.peer_name = Some(h.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kongs_instrumentation_names_and_messages() {
        assert_eq!(Instrumentations::parse("off"), Ok(Instrumentations::OFF));
        assert_eq!(Instrumentations::parse("all"), Ok(Instrumentations::ALL));
        let some = Instrumentations::parse("request, balancer,db_query").expect("valid");
        assert!(some.has(Instrumentations::REQUEST) && some.has(Instrumentations::BALANCER));
        assert!(!some.has(Instrumentations::ROUTER));
        assert_eq!(
            Instrumentations::parse("request,off"),
            Err("invalid tracing types: off, other types are mutually exclusive".into())
        );
        assert_eq!(
            Instrumentations::parse("routing"),
            Err("invalid tracing type: routing".into())
        );
    }

    #[test]
    fn times_map_onto_the_wall_clock() {
        let t = Trace::new(TracingSettings::default(), Instant::now());
        let later = t.started + std::time::Duration::from_millis(5);
        assert_eq!(t.unix_ns(later) - t.started_unix_ns, 5_000_000);
        assert!(!t.recording());
    }
}
