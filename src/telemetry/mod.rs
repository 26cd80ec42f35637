//! Telemetry: logging set-up, Prometheus metrics and the access log. Nothing here blocks a
//! request: counters are atomic and the access log goes through a bounded channel.

pub mod access_log;
pub mod handles;
pub mod kong;
pub mod throttle;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide metrics, shared by the proxy and the admin API.
pub struct Metrics {
    registry: Registry,
    total_requests: AtomicU64,
    /// Requests by route, service and status.
    pub requests: IntCounterVec,
    /// Whole-request latency in seconds, by route.
    pub latency: HistogramVec,
    /// Time to the upstream's response header, in seconds, by service.
    pub upstream_latency: HistogramVec,
    /// Upstream failures by kind (timeout, invalid, unavailable, dns).
    pub upstream_errors: IntCounterVec,
    /// Requests refused by rate limits, by route.
    pub rate_limited: IntCounterVec,
    /// Config reloads by result (ok, error).
    pub reloads: IntCounterVec,
    /// Access-log lines dropped because the writer fell behind.
    pub access_log_dropped: IntCounter,
    /// Rate-limit counters dropped because the `local` store was full.
    rate_limit_evictions: IntCounter,
    /// Identifiers the `local` rate-limit store tracks.
    rate_limit_keys: IntGauge,
    /// Client connections open now.
    pub connections_open: IntGauge,
    /// Client connections closed at once because `max_connections` were open.
    pub connections_refused: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("total", &self.total())
            .finish()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("skyport".into()), None).unwrap_or_default();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| unreachable!("valid metric"));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                labels,
            )
            .unwrap_or_else(|_| unreachable!("valid metric"));
            let _ = registry.register(Box::new(h.clone()));
            h
        };
        let requests = counter(
            "requests_total",
            "Requests by route, service and status",
            &["route", "service", "status"],
        );
        let latency = histogram(
            "request_duration_seconds",
            "Whole-request latency",
            &["route"],
        );
        let upstream_latency = histogram(
            "upstream_duration_seconds",
            "Time to the upstream response header",
            &["service"],
        );
        let upstream_errors = counter(
            "upstream_errors_total",
            "Upstream failures by kind",
            &["kind"],
        );
        let rate_limited = counter(
            "rate_limited_total",
            "Requests refused by rate limits",
            &["route"],
        );
        let reloads = counter(
            "config_reloads_total",
            "Config reloads by result",
            &["result"],
        );
        let access_log_dropped =
            IntCounter::new("access_log_dropped_total", "Access-log lines dropped")
                .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(access_log_dropped.clone()));
        let rate_limit_evictions = IntCounter::new(
            "rate_limit_evictions_total",
            "Rate-limit counters dropped because the local store was full",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(rate_limit_evictions.clone()));
        let rate_limit_keys = IntGauge::new(
            "rate_limit_keys",
            "Identifiers tracked by the local rate-limit store",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(rate_limit_keys.clone()));
        let connections_open = IntGauge::new("connections_open", "Client connections open")
            .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(connections_open.clone()));
        let connections_refused = IntCounter::new(
            "connections_refused_total",
            "Client connections closed at once because max_connections were open",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(connections_refused.clone()));
        Metrics {
            registry,
            total_requests: AtomicU64::new(0),
            requests,
            latency,
            upstream_latency,
            upstream_errors,
            rate_limited,
            reloads,
            access_log_dropped,
            rate_limit_evictions,
            rate_limit_keys,
            connections_open,
            connections_refused,
        }
    }

    /// Brings the rate-limit store's figures up to date (at each scrape).
    pub fn observe_rate_limit_store(&self, evictions: u64, keys: u64) {
        let seen = self.rate_limit_evictions.get();
        if evictions > seen {
            self.rate_limit_evictions.inc_by(evictions - seen);
        }
        self.rate_limit_keys
            .set(i64::try_from(keys).unwrap_or(i64::MAX));
    }

    /// Counts one finished request.
    pub fn request_done(&self) {
        self.total_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests finished so far.
    pub fn total(&self) -> u64 {
        self.total_requests.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        if let Some(kong) = kong::KONG.render(self.connections_open.get(), self.total()) {
            out.extend_from_slice(&kong);
        }
        out
    }
}

/// Sends `tracing` and `log` records (Pingora logs through `log`) to stderr at `level`, a
/// busy callsite's repeats summarized (throttle.rs).
pub fn init(level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKYPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(throttle::Throttle::default())
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
}
