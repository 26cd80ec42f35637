//! Kong's `opentelemetry` plugin (priority 14): trace context read from and written to the
//! request headers in Kong's formats (`propagation`, or the legacy `header_type`), Kong's
//! sampling (the caller's decision, then `sampling_rate` or the node's), and the request's
//! spans (recorded per `tracing_instrumentations`) sent over OTLP/HTTP through Kong's queue,
//! off the request path.
//!
//! Built on the OTLP protobuf types (`opentelemetry-proto`) rather than the OpenTelemetry SDK:
//! Kong's model rewrites a trace's id and sampling after the root span started (from the
//! headers, per plugin), which the SDK's immutable span contexts and provider-wide sampler do
//! not express, and spans made only for sampled requests, from timestamps the proxy keeps
//! anyway, cost nothing on the others.

pub mod export;
pub mod propagation;

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::http_log::check_url;
use crate::plugins::key_auth::header_name;
use crate::plugins::queue::{self, Queue, QueueConfig};
use crate::plugins::{BuildCtx, Flow, Phases, Plugin, RequestState, Scope};
use crate::spans::Trace;
use crate::telemetry::access_log::AccessRecord;
use async_trait::async_trait;
use http::{HeaderName, HeaderValue};
use pingora::proxy::Session;
use propagation::{Context, Format};
use quanta::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Kong's `propagation` record.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PropagationConfig {
    pub extract: Option<Vec<String>>,
    pub clear: Option<Vec<String>>,
    pub inject: Option<Vec<String>>,
    pub default_format: Option<String>,
}

/// Kong's `opentelemetry` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OpenTelemetryConfig {
    pub traces_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    /// Kong's deprecated shorthand for `traces_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub resource_attributes: Option<BTreeMap<String, String>>,
    /// Kong's default when absent: batches of 200.
    pub queue: Option<QueueConfig>,
    pub batch_span_count: Option<i64>,
    pub batch_flush_delay: Option<i64>,
    pub connect_timeout: i64,
    pub send_timeout: i64,
    pub read_timeout: i64,
    pub http_response_header_for_traceid: Option<String>,
    pub header_type: String,
    pub sampling_rate: Option<f64>,
    /// Kong's default when absent: `default_format: w3c`.
    pub propagation: Option<PropagationConfig>,
}

impl Default for OpenTelemetryConfig {
    fn default() -> Self {
        OpenTelemetryConfig {
            traces_endpoint: None,
            logs_endpoint: None,
            endpoint: None,
            headers: None,
            resource_attributes: None,
            queue: None,
            batch_span_count: None,
            batch_flush_delay: None,
            connect_timeout: 1000,
            send_timeout: 5000,
            read_timeout: 5000,
            http_response_header_for_traceid: None,
            header_type: "preserve".into(),
            sampling_rate: None,
            propagation: None,
        }
    }
}

/// A format to inject: a fixed one, or the one the request came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Inject {
    Preserve,
    #[serde(skip)]
    Format(Format),
}

/// The propagation settings in effect (Kong's `get_plugin_params`).
#[derive(Debug, Clone, Default)]
pub struct Propagation {
    extract: Vec<Format>,
    clear: Vec<HeaderName>,
    inject: Vec<Inject>,
    default_format: Option<Format>,
}

fn formats(field: &str, names: &[String], inject: bool, out: &mut FieldIssues) -> Vec<Inject> {
    let mut list = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match (n.as_str(), Format::parse(n)) {
            ("preserve", _) if inject => list.push(Inject::Preserve),
            // b3 and b3-single share one extractor, named b3.
            ("b3-single", _) if !inject => out.push((
                format!("{field}.{}", i + 1),
                format!("expected one of: {}", names_of(false)),
            )),
            (_, Some(f)) => list.push(Inject::Format(f)),
            _ => out.push((
                format!("{field}.{}", i + 1),
                format!("expected one of: {}", names_of(inject)),
            )),
        }
    }
    list
}

/// Kong's names of the formats, all nine (what injectors and `default_format` take).
fn format_names() -> String {
    let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// The names a list takes: extractors (b3 and b3-single share one, named b3), or injectors
/// with `preserve`.
fn names_of(inject: bool) -> String {
    if inject {
        format!("preserve, {}", format_names())
    } else {
        format_names().replace(", b3-single", "")
    }
}

const HEADER_TYPES: [&str; 11] = [
    "preserve",
    "ignore",
    "b3",
    "b3-single",
    "w3c",
    "jaeger",
    "ot",
    "aws",
    "gcp",
    "datadog",
    "instana",
];

fn propagation(c: &OpenTelemetryConfig, out: &mut FieldIssues) -> Propagation {
    let given = c.propagation.clone().unwrap_or(PropagationConfig {
        default_format: Some("w3c".into()),
        ..PropagationConfig::default()
    });
    let default_format = match given.default_format.as_deref() {
        None => {
            out.push((
                "propagation.default_format".into(),
                "required field missing".into(),
            ));
            None
        }
        Some(n) => Format::parse(n).or_else(|| {
            out.push((
                "propagation.default_format".into(),
                format!(
                    "expected one of: {}",
                    names_of(true).replacen("preserve, ", "", 1)
                ),
            ));
            None
        }),
    };
    let only = |l: Vec<Inject>| {
        l.into_iter()
            .filter_map(|i| match i {
                Inject::Format(f) => Some(f),
                Inject::Preserve => None,
            })
            .collect::<Vec<_>>()
    };
    let extract = only(formats(
        "propagation.extract",
        given.extract.as_deref().unwrap_or(&[]),
        false,
        out,
    ));
    let inject = formats(
        "propagation.inject",
        given.inject.as_deref().unwrap_or(&[]),
        true,
        out,
    );
    let mut clear = Vec::new();
    for (i, n) in given.clear.iter().flatten().enumerate() {
        clear.extend(header_name(format!("propagation.clear.{}", i + 1), n, out));
    }
    if !HEADER_TYPES.contains(&c.header_type.as_str()) {
        out.push((
            "header_type".into(),
            format!("expected one of: {}", HEADER_TYPES.join(", ")),
        ));
    }
    let mut p = Propagation {
        extract,
        clear,
        inject,
        default_format,
    };
    // Kong: the new fields win when any of them is set; otherwise the legacy header_type.
    let new_fields = given.extract.is_some() || given.clear.is_some() || given.inject.is_some();
    if !new_fields {
        match c.header_type.as_str() {
            "preserve" => {
                p.extract = Format::LEGACY_ORDER.to_vec();
                p.inject = vec![Inject::Preserve];
            }
            "ignore" => p.inject = p.default_format.map(Inject::Format).into_iter().collect(),
            other => {
                p.extract = Format::LEGACY_ORDER.to_vec();
                p.inject = vec![Inject::Preserve];
                p.inject.extend(Format::parse(other).map(Inject::Format));
            }
        }
    }
    p
}

/// What the checks derive: propagation, the response header for the trace id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Typed {
    #[serde(skip)]
    propagation: Propagation,
    #[serde(skip)]
    trace_header: Option<HeaderName>,
}

/// A configured `opentelemetry` instance.
#[derive(Debug)]
pub struct OpenTelemetry {
    propagation: Propagation,
    trace_header: Option<HeaderName>,
    sampling_rate: Option<f64>,
    queue: Option<Arc<queue::Handle>>,
}

impl Factory for OpenTelemetry {
    type Spec = OpenTelemetryConfig;
    type Typed = Typed;

    fn check(given: &OpenTelemetryConfig, _: &CheckCtx<'_>) -> Result<Typed, FieldIssues> {
        let mut out = Vec::new();
        if let Some(u) = &given.traces_endpoint {
            check_url("traces_endpoint", u, &mut out);
        } else if let Some(u) = &given.endpoint {
            check_url("endpoint", u, &mut out);
        }
        // Kong's shorthand: `endpoint` is `traces_endpoint`.
        let mut c = given.clone();
        if c.traces_endpoint.is_none() {
            c.traces_endpoint = c.endpoint.clone();
        }
        match &c.logs_endpoint {
            Some(_) => out.push((
                "logs_endpoint".into(),
                "not supported by Skyport (it exports traces; Kong's logs_endpoint sends its \
                 own Lua log lines)"
                    .into(),
            )),
            None if c.traces_endpoint.is_none() => out.push((
                String::new(),
                "at least one of these fields must be non-empty: 'config.traces_endpoint', \
                 'config.logs_endpoint'"
                    .into(),
            )),
            None => {}
        }
        for (name, value) in c.headers.iter().flatten() {
            let at = format!("headers.{name}");
            if header_name(at.clone(), name, &mut out).is_some()
                && HeaderValue::from_str(value).is_err()
            {
                out.push((at, format!("'{name}' is not a valid header value")));
            }
        }
        for (name, value) in c.resource_attributes.iter().flatten() {
            let at = format!("resource_attributes.{name}");
            if value.is_empty() {
                out.push((at, "required field missing".into()));
            } else if value.contains("$(") {
                out.push((
                    at,
                    "templates ($(...)) in resource attributes are Lua and not supported by \
                     Skyport"
                        .into(),
                ));
            }
        }
        for (field, v) in [
            ("connect_timeout", c.connect_timeout),
            ("send_timeout", c.send_timeout),
            ("read_timeout", c.read_timeout),
        ] {
            if !(0..=2_147_483_646).contains(&v) {
                out.push((
                    field.into(),
                    "value should be between 0 and 2147483646".into(),
                ));
            }
        }
        if let Some(r) = c.sampling_rate {
            if !(0.0..=1.0).contains(&r) {
                out.push((
                    "sampling_rate".into(),
                    "value should be between 0 and 1".into(),
                ));
            }
        }
        if let Some(q) = &c.queue {
            q.check(&mut out);
        }
        let propagation = propagation(&c, &mut out);
        let trace_header = c
            .http_response_header_for_traceid
            .as_deref()
            .and_then(|h| header_name("http_response_header_for_traceid".into(), h, &mut out));
        if out.is_empty() {
            Ok(Typed {
                propagation,
                trace_header,
            })
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<OpenTelemetryConfig, Typed>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        let spec = &c.spec;
        let url = spec.traces_endpoint.clone().or(spec.endpoint.clone());
        let queue = url.map(|url| {
            let conf = spec.queue.clone().unwrap_or(QueueConfig {
                max_batch_size: 200,
                ..QueueConfig::default()
            });
            let headers = spec.headers.clone().unwrap_or_default();
            let attributes = spec.resource_attributes.clone().unwrap_or_default();
            let timeouts = (spec.connect_timeout, spec.send_timeout, spec.read_timeout);
            let key = serde_json::to_string(&(&url, &headers, &attributes, &conf, timeouts))
                .unwrap_or_default();
            queue::shared(format!("opentelemetry {key}"), || {
                let ms = |v: i64| Duration::from_millis(v.max(1) as u64);
                let endpoint = export::Endpoint {
                    url: url.clone(),
                    headers,
                    resource: export::resource(&attributes),
                    connect_timeout: ms(timeouts.0),
                    total_timeout: ms(timeouts.0) + ms(timeouts.1) + ms(timeouts.2),
                };
                Queue::start(
                    format!("opentelemetry {url}"),
                    conf,
                    export::sender(endpoint),
                )
            })
        });
        Arc::new(OpenTelemetry {
            propagation: c.typed.propagation.clone(),
            trace_header: c.typed.trace_header.clone(),
            sampling_rate: spec.sampling_rate,
            queue,
        })
    }
}

/// Kong's probability sampler: the trace id's first 8 bytes, read as the machine reads them
/// (little-endian here, as LuaJIT's cast on x86 and ARM), against `rate` of 2^64.
fn sample(trace_id: &[u8; 16], rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 {
        return false;
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&trace_id[..8]);
    (u64::from_le_bytes(first) as f64) < rate * 2f64.powi(64)
}

/// The request's facts on the root span (Kong's `http.*` attributes).
fn facts(session: &Session, trace: &mut Trace, request_id: Option<&HeaderValue>) {
    let req = session.req_header();
    let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
    let scheme = if tls { "https" } else { "http" };
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(req.uri.host())
        .unwrap_or("")
        .to_string();
    let target = req
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let client = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let flavor = match req.version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2.0",
        _ => "1.1",
    };
    trace.attributes = vec![
        ("http.method", req.method.as_str().to_string()),
        ("http.url", format!("{scheme}://{host}{target}")),
        ("http.host", host),
        ("http.scheme", scheme.to_string()),
        ("http.flavor", flavor.to_string()),
        ("http.client_ip", client.clone()),
        ("net.peer.ip", client),
        (
            "kong.request.id",
            request_id
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        ),
    ];
}

impl OpenTelemetry {
    /// Kong's `get_inject_ctx`: the trace takes the caller's ids, the sampling decision is
    /// made, and the context to send upstream is returned.
    fn decide(&self, trace: &mut Trace, found: Option<&Context>) -> Context {
        let found = found.cloned().unwrap_or_default();
        if let Some(id) = found.trace_id {
            trace.trace_id = id;
            trace.trace_id_size = found.trace_id_size;
        }
        if let Some(parent) = found.span_id.or(found.parent_id) {
            trace.root_parent = Some(parent);
        }
        trace.sampled = trace.recording()
            && found.sampled != Some(false)
            && sample(
                &trace.trace_id,
                self.sampling_rate.unwrap_or(trace.settings.sampling_rate),
            );
        // The upstream's parent: the balancer span made for the last try, else the root.
        let (span_id, parent_id) = match trace.balancer_id {
            Some(b) => (b, Some(trace.root_id)),
            None => (trace.root_id, trace.root_parent),
        };
        Context {
            trace_id: Some(trace.trace_id),
            trace_id_size: trace.trace_id_size,
            span_id: Some(span_id),
            parent_id,
            sampled: Some(trace.sampled),
            debug: found.debug,
            single_header: found.single_header,
        }
    }
}

#[async_trait]
impl Plugin for OpenTelemetry {
    fn name(&self) -> &'static str {
        "opentelemetry"
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::LOG).with(Phases::TRACE)
    }

    crate::plugins::access_by_admit!();

    fn log(&self, record: &AccessRecord, state: &RequestState) {
        let (Some(queue), Some(trace)) = (&self.queue, state.trace.as_deref()) else {
            return;
        };
        if !trace.recording() || !trace.sampled {
            return;
        }
        let outcome = export::Outcome {
            status: record.status,
            from_service: record.from_service,
            end: Instant::now(),
        };
        for span in export::encode(trace, &outcome) {
            queue.push(span);
        }
    }
}

impl OpenTelemetry {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        let Some(trace) = state.trace.as_deref_mut() else {
            return Ok(Flow::Continue);
        };
        let headers = &session.req_header().headers;
        let found = propagation::extract(&self.propagation.extract, headers);
        let ctx = self.decide(trace, found.as_ref().map(|(_, c)| c));
        if trace.sampled {
            facts(session, trace, state.request_id.as_ref());
        }
        let trace_hex = self
            .trace_header
            .as_ref()
            .map(|_| hex::encode(trace.trace_id));
        state
            .edits_mut()
            .upstream_removed
            .extend(self.propagation.clear.iter().cloned());
        for inject in &self.propagation.inject {
            let format = match inject {
                Inject::Format(f) => *f,
                Inject::Preserve => match found.as_ref().map(|(f, _)| *f) {
                    Some(Format::B3) if ctx.single_header => Format::B3Single,
                    Some(f) => f,
                    None => self.propagation.default_format.unwrap_or(Format::W3c),
                },
            };
            match propagation::inject(format, &ctx) {
                Ok(set) => {
                    for (name, value) in set {
                        // Set after the `clear` list is applied, as Kong clears then injects.
                        if let Ok(v) = HeaderValue::from_str(&value) {
                            state
                                .edits_mut()
                                .upstream_set
                                .push((http::HeaderName::from_static(name), v));
                        }
                    }
                }
                Err(e) => tracing::error!("opentelemetry: {e}"),
            }
        }
        if let (Some(name), Some(v)) = (&self.trace_header, trace_hex) {
            if let Ok(v) = HeaderValue::from_str(&v) {
                state.edits_mut().response_set.push((name.clone(), v));
            }
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sampler_follows_the_rate() {
        let mut id = [0u8; 16];
        assert!(sample(&id, 0.5));
        id[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(!sample(&id, 0.5));
        assert!(sample(&id, 1.0));
        assert!(!sample(&[0u8; 16], 0.0));
    }

    #[test]
    fn legacy_header_type_maps_as_kong_maps_it() {
        let mut out = Vec::new();
        let p = propagation(&OpenTelemetryConfig::default(), &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(p.extract, Format::LEGACY_ORDER.to_vec());
        assert_eq!(p.inject, vec![Inject::Preserve]);
        let c = OpenTelemetryConfig {
            header_type: "jaeger".into(),
            ..OpenTelemetryConfig::default()
        };
        let p = propagation(&c, &mut out);
        assert_eq!(
            p.inject,
            vec![Inject::Preserve, Inject::Format(Format::Jaeger)]
        );
        let c = OpenTelemetryConfig {
            propagation: Some(PropagationConfig {
                extract: Some(vec!["w3c".into()]),
                inject: Some(vec!["b3-single".into()]),
                default_format: Some("w3c".into()),
                ..PropagationConfig::default()
            }),
            header_type: "ignore".into(),
            ..OpenTelemetryConfig::default()
        };
        let p = propagation(&c, &mut out);
        assert_eq!(p.extract, vec![Format::W3c]);
        assert_eq!(p.inject, vec![Inject::Format(Format::B3Single)]);
        let c = OpenTelemetryConfig {
            propagation: Some(PropagationConfig {
                extract: Some(vec!["b3-single".into()]),
                ..PropagationConfig::default()
            }),
            ..OpenTelemetryConfig::default()
        };
        propagation(&c, &mut out);
        assert_eq!(
            out.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            ["propagation.default_format", "propagation.extract.1"]
        );
    }
}
