//! Kong's Prometheus metrics (the `prometheus` plugin's names, labels and buckets), kept for
//! the life of the process so a reload does not reset them, and rendered beside Skyport's
//! own on the admin listener's `/metrics`.

use once_cell::sync::Lazy;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use std::sync::atomic::{AtomicBool, Ordering};

/// Kong's buckets for `kong_kong_latency_ms`.
const KONG_LATENCY_BUCKETS: [f64; 17] = [
    1.0, 2.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 75.0, 100.0, 200.0, 500.0, 750.0, 1000.0,
    3000.0, 6000.0,
];
/// Kong's buckets for `kong_upstream_latency_ms` and `kong_request_latency_ms`.
const UPSTREAM_LATENCY_BUCKETS: [f64; 13] = [
    25.0, 50.0, 80.0, 100.0, 250.0, 400.0, 700.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0, 60000.0,
];

/// The workspace label of every series (DB-less Kong has one, `default`).
pub const WORKSPACE: &str = "default";

/// This node's id in Kong's `node_id` labels (a UUID made at start).
pub static NODE_ID: Lazy<String> = Lazy::new(|| uuid::Uuid::new_v4().to_string());

/// The `kong_*` metric families.
pub struct KongMetrics {
    registry: Registry,
    /// Whether a `prometheus` plugin was configured (Kong exports nothing otherwise).
    enabled: AtomicBool,
    /// `kong_http_requests_total{service,route,code,source,workspace,consumer}`.
    pub http_requests: IntCounterVec,
    /// `kong_kong_latency_ms{service,route,workspace}`.
    pub kong_latency: HistogramVec,
    /// `kong_upstream_latency_ms{service,route,workspace}`.
    pub upstream_latency: HistogramVec,
    /// `kong_request_latency_ms{service,route,workspace}`.
    pub request_latency: HistogramVec,
    /// `kong_bandwidth_bytes{service,route,direction,workspace,consumer}`.
    pub bandwidth: IntCounterVec,
    node_info: IntGaugeVec,
    connections: IntGaugeVec,
    requests: IntGaugeVec,
}

impl KongMetrics {
    fn new() -> KongMetrics {
        let registry = Registry::new_custom(Some("kong".into()), None).unwrap_or_default();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| unreachable!("valid metric"));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                &["service", "route", "workspace"],
            )
            .unwrap_or_else(|_| unreachable!("valid metric"));
            let _ = registry.register(Box::new(h.clone()));
            h
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| unreachable!("valid metric"));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        KongMetrics {
            enabled: AtomicBool::new(false),
            http_requests: counter(
                "http_requests_total",
                "HTTP status codes per consumer/service/route in Kong",
                &[
                    "service",
                    "route",
                    "code",
                    "source",
                    "workspace",
                    "consumer",
                ],
            ),
            kong_latency: histogram(
                "kong_latency_ms",
                "Latency added by Kong and enabled plugins for each service/route in Kong",
                &KONG_LATENCY_BUCKETS,
            ),
            upstream_latency: histogram(
                "upstream_latency_ms",
                "Latency added by upstream response for each service/route in Kong",
                &UPSTREAM_LATENCY_BUCKETS,
            ),
            request_latency: histogram(
                "request_latency_ms",
                "Total latency incurred during requests for each service/route in Kong",
                &UPSTREAM_LATENCY_BUCKETS,
            ),
            bandwidth: counter(
                "bandwidth_bytes",
                "Total bandwidth (ingress/egress) throughput in bytes",
                &["service", "route", "direction", "workspace", "consumer"],
            ),
            node_info: gauge(
                "node_info",
                "Kong Node metadata information",
                &["node_id", "version"],
            ),
            connections: gauge(
                "nginx_connections_total",
                "Number of connections by subsystem",
                &["node_id", "subsystem", "state"],
            ),
            requests: gauge(
                "nginx_requests_total",
                "Number of requests total",
                &["node_id", "subsystem"],
            ),
            registry,
        }
    }

    /// A `prometheus` plugin is configured: export from now on.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// The exposition, node figures brought up to date (`None` when never enabled).
    pub fn render(&self, open_connections: i64, total_requests: u64) -> Option<Vec<u8>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let node = NODE_ID.as_str();
        self.node_info
            .with_label_values(&[node, env!("CARGO_PKG_VERSION")])
            .set(1);
        self.connections
            .with_label_values(&[node, "http", "active"])
            .set(open_connections);
        self.requests
            .with_label_values(&[node, "http"])
            .set(i64::try_from(total_requests).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        Some(out)
    }
}

/// The process's Kong metrics.
pub static KONG: Lazy<KongMetrics> = Lazy::new(KongMetrics::new);
