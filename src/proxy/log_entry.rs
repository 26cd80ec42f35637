//! Kong's log serializer (`kong.log.serialize`): the JSON object `http-log` and `file-log`
//! send for each request (request, response, route, service, consumer, latencies, tries,
//! client_ip, started_at, upstream_uri ...), encoded once per request, straight to bytes, and
//! only for chains that log it. Credentials in `Authorization` and `Proxy-Authorization` are
//! redacted, as in Kong.

use super::ctx::RequestCtx;
use crate::model::{Route, Service};
use crate::plugins::Consumer;
use crate::telemetry::access_log::AccessRecord;
use pingora::proxy::Session;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::borrow::Cow;

/// Header values as Kong lists them: one value as a string, several as an array.
struct Headers<'a> {
    map: &'a http::HeaderMap,
    redact: bool,
}

/// One header's values.
struct Values<'a> {
    all: http::header::GetAll<'a, http::HeaderValue>,
    secret: bool,
}

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let secret = self.secret;
        fn text(v: &http::HeaderValue, secret: bool) -> Cow<'_, str> {
            if secret {
                Cow::Borrowed("REDACTED")
            } else {
                String::from_utf8_lossy(v.as_bytes())
            }
        }
        let mut it = self.all.iter();
        match (it.next(), it.next()) {
            (Some(one), None) => s.serialize_str(&text(one, secret)),
            _ => {
                let mut seq = s.serialize_seq(None)?;
                for v in self.all.iter() {
                    seq.serialize_element(&text(v, secret))?;
                }
                seq.end()
            }
        }
    }
}

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.map.keys_len()))?;
        for name in self.map.keys() {
            let secret = self.redact
                && (name == http::header::AUTHORIZATION
                    || name == http::header::PROXY_AUTHORIZATION);
            m.serialize_entry(
                name.as_str(),
                &Values {
                    all: self.map.get_all(name),
                    secret,
                },
            )?;
        }
        m.end()
    }
}

/// Query arguments as Kong's `get_query`: a bare name is `true`, repeats are arrays.
struct Query<'a>(Option<&'a str>);

/// One argument's value.
enum Arg {
    Bare,
    Text(String),
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Bare => s.serialize_bool(true),
            Arg::Text(t) => s.serialize_str(t),
        }
    }
}

impl Serialize for Query<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut groups: Vec<(String, Vec<Arg>)> = Vec::new();
        for part in self.0.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = match part.split_once('=') {
                Some((k, v)) => (decode(k), Arg::Text(decode(v))),
                None => (decode(part), Arg::Bare),
            };
            match groups.iter_mut().find(|(n, _)| *n == k) {
                Some((_, all)) => all.push(v),
                None => groups.push((k, vec![v])),
            }
        }
        let mut m = s.serialize_map(Some(groups.len()))?;
        for (k, vs) in &groups {
            match vs.as_slice() {
                [one] => m.serialize_entry(k, one)?,
                all => m.serialize_entry(k, all)?,
            }
        }
        m.end()
    }
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[derive(Serialize)]
struct Request<'a> {
    id: &'a str,
    uri: &'a str,
    url: String,
    querystring: Query<'a>,
    method: &'a str,
    headers: Headers<'a>,
    size: usize,
}

#[derive(Serialize)]
struct Response<'a> {
    status: u16,
    headers: Option<Headers<'a>>,
    size: usize,
}

#[derive(Serialize)]
struct Latencies {
    kong: u64,
    proxy: i64,
    request: u64,
    receive: u64,
}

#[derive(Serialize)]
struct Try {
    ip: String,
    port: u16,
    balancer_latency: u64,
}

#[derive(Serialize)]
struct Authenticated<'a> {
    id: &'a str,
    consumer_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Entry<'a> {
    request: Request<'a>,
    upstream_uri: &'a str,
    upstream_status: String,
    response: Response<'a>,
    latencies: Latencies,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tries: Vec<Try>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authenticated_entity: Option<Authenticated<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer: Option<&'a Consumer>,
    client_ip: String,
    started_at: u64,
    source: &'static str,
    workspace_name: &'static str,
}

/// The entry for one finished request, as JSON bytes.
pub fn build(session: &Session, ctx: &RequestCtx, record: &AccessRecord<'_>, tls: bool) -> Vec<u8> {
    let req = session.req_header();
    let snapshot = &ctx.snapshot;
    let request_uri = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(crate::router::field_text)
        .or_else(|| req.uri.host())
        .unwrap_or("");
    let host = crate::router::host_of(host);
    let port = session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.port())
        .unwrap_or(0);
    let scheme = if tls { "https" } else { "http" };
    let route = ctx.route.and_then(|i| snapshot.model.routes.get(i));
    let consumer = ctx.plugins.consumer.as_deref();
    // The answer as it went out: its map with the fields written apart folded in.
    let written = session.response_written().map(|r| r.as_owned_parts());
    let started_at = std::time::SystemTime::now()
        .checked_sub(ctx.started.elapsed())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    let entry = Entry {
        request: Request {
            id: record.request_id,
            uri: request_uri,
            url: format!("{scheme}://{host}:{port}{request_uri}"),
            querystring: Query(req.uri.query()),
            method: req.method.as_str(),
            headers: Headers {
                map: &req.headers,
                redact: true,
            },
            size: record.request_bytes,
        },
        upstream_uri: ctx.sent_target(&req.uri).unwrap_or(""),
        upstream_status: if record.from_service {
            record.status.to_string()
        } else {
            String::new()
        },
        response: Response {
            status: record.status,
            headers: written.as_ref().map(|r| Headers {
                map: &r.headers,
                redact: false,
            }),
            size: record.response_bytes,
        },
        latencies: Latencies {
            kong: (record.latency_ms - record.upstream_wait_ms.unwrap_or(0.0))
                .max(0.0)
                .round() as u64,
            proxy: record.upstream_wait_ms.map_or(-1, |w| w.round() as i64),
            request: record.latency_ms.round() as u64,
            receive: 0,
        },
        tries: ctx
            .tried
            .iter()
            .map(|a| Try {
                ip: a.ip().to_string(),
                port: a.port(),
                balancer_latency: 0,
            })
            .collect(),
        authenticated_entity: ctx.plugins.credential.as_deref().map(|id| Authenticated {
            id,
            consumer_id: consumer.map(|c| c.id.as_str()),
        }),
        route,
        service: route
            .and_then(|r| r.service)
            .and_then(|s| snapshot.model.services.get(s)),
        consumer,
        client_ip: record.client.map(|c| c.to_string()).unwrap_or_default(),
        started_at,
        source: if record.from_service {
            "upstream"
        } else {
            "kong"
        },
        workspace_name: crate::telemetry::kong::WORKSPACE,
    };
    serde_json::to_vec(&entry).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_and_headers_as_kong_lists_them() {
        assert_eq!(
            serde_json::to_value(Query(Some("a=1&a=2&flag&s=x%20y"))).expect("json"),
            json!({"a": ["1", "2"], "flag": true, "s": "x y"})
        );
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().expect("v"));
        h.append("x-multi", "1".parse().expect("v"));
        h.append("x-multi", "2".parse().expect("v"));
        assert_eq!(
            serde_json::to_value(Headers {
                map: &h,
                redact: true
            })
            .expect("json"),
            json!({"authorization": "REDACTED", "x-multi": ["1", "2"]})
        );
    }
}
