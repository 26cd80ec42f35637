//! Kong's `prometheus` plugin (priority 13): each request the plugin applies to is counted in
//! Kong's metric families (`kong_http_requests_total`, `kong_*_latency_ms`,
//! `kong_bandwidth_bytes`) as its flags ask, served on the admin listener's `/metrics`, so a
//! Grafana dashboard made for Kong reads Skyport unchanged.

use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Phases, Plugin, RequestState, Scope};
use crate::telemetry::access_log::AccessRecord;
use crate::telemetry::kong::{KONG, WORKSPACE};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kong's `prometheus` config (every metric group off by default, as in Kong 3.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    pub per_consumer: bool,
    pub status_code_metrics: bool,
    pub ai_metrics: bool,
    pub latency_metrics: bool,
    pub bandwidth_metrics: bool,
    pub upstream_health_metrics: bool,
    pub wasm_metrics: bool,
}

/// A configured `prometheus` instance.
#[derive(Debug)]
pub struct Prometheus {
    c: PrometheusConfig,
}

impl Factory for Prometheus {
    type Spec = PrometheusConfig;
    type Typed = ();

    fn check(_: &PrometheusConfig, _: &CheckCtx<'_>) -> Result<(), FieldIssues> {
        Ok(())
    }

    fn build(c: &Checked<PrometheusConfig, ()>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        KONG.enable();
        Arc::new(Prometheus { c: c.spec.clone() })
    }
}

impl Plugin for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn phases(&self) -> Phases {
        Phases::LOG
    }

    fn log(&self, r: &AccessRecord, _state: &RequestState) {
        // Kong counts only requests that matched a route.
        if r.route.is_empty() {
            return;
        }
        let consumer = if self.c.per_consumer {
            r.consumer.unwrap_or("")
        } else {
            ""
        };
        let (service, route) = (r.kong_service, r.route);
        if self.c.status_code_metrics && r.status != 0 {
            let source = if r.from_service { "service" } else { "kong" };
            let code = r.status.to_string();
            KONG.http_requests
                .with_label_values(&[service, route, &code, source, WORKSPACE, consumer])
                .inc();
        }
        if self.c.bandwidth_metrics {
            for (direction, bytes) in [("ingress", r.request_bytes), ("egress", r.response_bytes)] {
                if bytes > 0 {
                    KONG.bandwidth
                        .with_label_values(&[service, route, direction, WORKSPACE, consumer])
                        .inc_by(bytes as u64);
                }
            }
        }
        if self.c.latency_metrics {
            let labels = [service, route, WORKSPACE];
            KONG.request_latency
                .with_label_values(&labels)
                .observe(r.latency_ms);
            if let Some(wait) = r.upstream_wait_ms {
                KONG.upstream_latency
                    .with_label_values(&labels)
                    .observe(wait);
            }
            KONG.kong_latency
                .with_label_values(&labels)
                .observe((r.latency_ms - r.upstream_wait_ms.unwrap_or(0.0)).max(0.0));
        }
    }
}
