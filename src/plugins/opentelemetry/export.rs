//! A request's trace as OTLP spans (Kong's names, kinds and attributes), and the sender that
//! posts batches of them to an OTLP/HTTP endpoint as one `ExportTraceServiceRequest`
//! (protobuf). Spans wait in the queue already encoded; a batch is framed around them without
//! decoding them again.

use crate::plugins::queue;
use crate::spans::{SpanKind as Measured, Trace};
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use quanta::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// An attribute.
fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

/// What the log phase knows at the end.
pub struct Outcome {
    /// The status sent.
    pub status: u16,
    /// The answer came from the upstream (the last try did not fail).
    pub from_service: bool,
    /// When the response was done.
    pub end: Instant,
}

fn span(t: &Trace, name: String, id: [u8; 8], parent: Option<[u8; 8]>) -> Span {
    Span {
        trace_id: t.trace_id.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name,
        kind: SpanKind::Internal as i32,
        ..Span::default()
    }
}

/// Every span of a sampled trace, encoded, in Kong's order (root first).
pub fn encode(t: &Trace, out: &Outcome) -> Vec<Vec<u8>> {
    let mut spans = Vec::with_capacity(2 + t.spans.len() + t.tries.len());
    let mut root = span(t, "kong".into(), t.root_id, t.root_parent);
    root.kind = SpanKind::Server as i32;
    root.start_time_unix_nano = t.started_unix_ns;
    root.end_time_unix_nano = t.unix_ns(out.end);
    root.attributes = t
        .attributes
        .iter()
        .map(|(k, v)| text(k, v.clone()))
        .collect();
    root.attributes.extend([
        kv("http.status_code", Value::IntValue(i64::from(out.status))),
        text("http.route", t.route.as_deref().unwrap_or("")),
    ]);
    spans.push(root);
    for c in &t.spans {
        let name = match c.kind {
            Measured::Router => "kong.router".to_string(),
            Measured::Access(p) => format!("kong.access.plugin.{p}"),
            Measured::HeaderFilter(p) => format!("kong.header_filter.plugin.{p}"),
        };
        let mut s = span(t, name, c.id, Some(t.root_id));
        s.start_time_unix_nano = t.unix_ns(c.start);
        s.end_time_unix_nano = t.unix_ns(c.end);
        spans.push(s);
    }
    let last = t.tries.len().saturating_sub(1);
    for (i, try_) in t.tries.iter().enumerate() {
        // The last try carries the id the upstream was told; earlier ones get their own.
        let id = match t.balancer_id {
            Some(id) if i == last => id,
            _ => crate::spans::random_id(),
        };
        let mut s = span(t, "kong.balancer".into(), id, Some(t.root_id));
        s.kind = SpanKind::Client as i32;
        s.start_time_unix_nano = t.unix_ns(try_.start);
        let end = t.tries.get(i + 1).map_or(out.end, |n| n.start);
        s.end_time_unix_nano = t.unix_ns(end);
        s.attributes = vec![
            kv("try_count", Value::DoubleValue((i + 1) as f64)),
            text("net.peer.ip", try_.addr.ip().to_string()),
            kv(
                "net.peer.port",
                Value::DoubleValue(f64::from(try_.addr.port())),
            ),
        ];
        let failed = i < last || !out.from_service;
        if failed {
            if i == last {
                s.attributes.push(kv(
                    "http.status_code",
                    Value::IntValue(i64::from(out.status)),
                ));
            }
            s.status = Some(Status {
                message: String::new(),
                code: StatusCode::Error as i32,
            });
        }
        if let Some(host) = &t.peer_name {
            s.attributes.push(text("net.peer.name", host.clone()));
        }
        spans.push(s);
    }
    spans.iter().map(Message::encode_to_vec).collect()
}

/// The resource every batch is sent under: Kong's defaults, then the configured attributes.
pub fn resource(configured: &BTreeMap<String, String>) -> Resource {
    let mut all: BTreeMap<String, String> = BTreeMap::from([
        ("service.name".to_string(), "kong".to_string()),
        (
            "service.instance.id".to_string(),
            crate::telemetry::kong::NODE_ID.clone(),
        ),
        (
            "service.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    all.extend(configured.clone());
    Resource {
        attributes: all.into_iter().map(|(k, v)| text(&k, v)).collect(),
        ..Resource::default()
    }
}

/// A length-delimited field `tag` holding `bytes`.
fn field(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One `ExportTraceServiceRequest` around already encoded spans.
pub fn request(resource: &Resource, spans: &[Vec<u8>]) -> Vec<u8> {
    let scope = ScopeSpans {
        scope: Some(InstrumentationScope {
            name: "kong-internal".into(),
            version: "0.1.0".into(),
            ..InstrumentationScope::default()
        }),
        ..ScopeSpans::default()
    };
    let mut scope_bytes = scope.encode_to_vec();
    for s in spans {
        field(2, s, &mut scope_bytes); // ScopeSpans.spans
    }
    let mut resource_bytes = ResourceSpans {
        resource: Some(resource.clone()),
        ..ResourceSpans::default()
    }
    .encode_to_vec();
    field(2, &scope_bytes, &mut resource_bytes); // ResourceSpans.scope_spans
    let mut out = Vec::with_capacity(resource_bytes.len() + 8);
    field(1, &resource_bytes, &mut out); // ExportTraceServiceRequest.resource_spans
    out
}

/// Where and how batches go.
pub struct Endpoint {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub resource: Resource,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
}

/// The queue's sender: one POST per batch; anything but 200 is retried (as Kong).
pub fn sender(e: Endpoint) -> queue::Send {
    let client = reqwest::Client::builder()
        .connect_timeout(e.connect_timeout)
        .timeout(e.total_timeout)
        .build()
        .unwrap_or_default();
    let e = Arc::new(e);
    Arc::new(move |batch: Vec<Vec<u8>>| {
        let (client, e) = (client.clone(), e.clone());
        Box::pin(async move {
            let body = request(&e.resource, &batch);
            let mut req = client.post(e.url.as_str());
            let mut typed = false;
            for (name, value) in &e.headers {
                typed |= name.eq_ignore_ascii_case("content-type");
                req = req.header(name.as_str(), value.as_str());
            }
            if !typed {
                req = req.header(http::header::CONTENT_TYPE, "application/x-protobuf");
            }
            let res = req
                .body(body)
                .send()
                .await
                .map_err(|err| format!("failed to send request: {err}"))?;
            let status = res.status().as_u16();
            if status == 200 {
                return Ok(());
            }
            let text = res.text().await.unwrap_or_default();
            Err(format!("response error: {status}, body: {text}"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::{Instrumentations, TracingSettings, Try};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    #[test]
    fn a_batch_decodes_as_one_export_request() {
        let settings = TracingSettings {
            instrumentations: Instrumentations::ALL,
            sampling_rate: 1.0,
        };
        let start = Instant::now();
        let mut t = Trace::new(settings, start);
        t.push(Measured::Router, start, start + Duration::from_micros(3));
        t.push(
            Measured::Access("key-auth"),
            start + Duration::from_micros(4),
            start + Duration::from_micros(9),
        );
        t.tries.push(Try {
            start: start + Duration::from_micros(10),
            addr: "127.0.0.1:8080".parse().expect("addr"),
        });
        let out = Outcome {
            status: 200,
            from_service: true,
            end: start + Duration::from_millis(2),
        };
        let spans = encode(&t, &out);
        let body = request(&resource(&BTreeMap::new()), &spans);
        let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let ss = &req.resource_spans[0].scope_spans[0];
        assert_eq!(
            ss.scope.as_ref().map(|s| s.name.as_str()),
            Some("kong-internal")
        );
        let names: Vec<&str> = ss.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kong",
                "kong.router",
                "kong.access.plugin.key-auth",
                "kong.balancer"
            ]
        );
        let balancer = &ss.spans[3];
        assert_eq!(balancer.span_id, t.balancer_id.expect("made").to_vec());
        assert_eq!(balancer.parent_span_id, t.root_id.to_vec());
        assert_eq!(
            ss.spans[0].end_time_unix_nano - ss.spans[0].start_time_unix_nano,
            2_000_000
        );
    }
}
