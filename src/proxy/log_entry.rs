//! Kong's log serializer (`kong.log.serialize`): the JSON object `http-log` and `file-log`
//! send for each request (request, response, route, service, consumer, latencies, tries,
//! client_ip, started_at, upstream_uri ...), built once per request and only for chains that
//! log it. Credentials in `Authorization` and `Proxy-Authorization` are redacted, as in Kong.

use super::ctx::RequestCtx;
use crate::telemetry::access_log::AccessRecord;
use pingora::proxy::Session;
use serde_json::{json, Map, Value};

/// Header values as Kong lists them: one value as a string, several as an array.
fn headers(h: &http::HeaderMap, redact: bool) -> Value {
    let mut out = Map::new();
    for name in h.keys() {
        let values: Vec<Value> = h
            .get_all(name)
            .iter()
            .map(|v| {
                let secret = redact
                    && (name == http::header::AUTHORIZATION
                        || name == http::header::PROXY_AUTHORIZATION);
                if secret {
                    json!("REDACTED")
                } else {
                    json!(String::from_utf8_lossy(v.as_bytes()))
                }
            })
            .collect();
        let v = match values.len() {
            1 => values.into_iter().next().unwrap_or(Value::Null),
            _ => Value::Array(values),
        };
        out.insert(name.as_str().to_string(), v);
    }
    Value::Object(out)
}

/// Query arguments as Kong's `get_query`: a bare name is `true`, repeats are arrays.
fn query(q: Option<&str>) -> Value {
    let mut out = Map::new();
    for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (k, json!(decode(v))),
            None => (part, json!(true)),
        };
        let k = decode(k);
        match out.get_mut(&k) {
            Some(Value::Array(all)) => all.push(v),
            Some(old) => *old = json!([old.clone(), v]),
            None => {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The entry for one finished request.
pub fn build(session: &Session, ctx: &RequestCtx, record: &AccessRecord<'_>, tls: bool) -> Value {
    let req = session.req_header();
    let snapshot = &ctx.snapshot;
    let request_uri = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri.host())
        .unwrap_or("");
    let host = crate::router::split_host_port(host).0;
    let port = session
        .server_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.port())
        .unwrap_or(0);
    let scheme = if tls { "https" } else { "http" };
    let route = ctx.route.and_then(|i| snapshot.model.routes.get(i));
    let service = route
        .and_then(|r| r.service)
        .and_then(|s| snapshot.model.services.get(s));
    let consumer = ctx.plugins.consumer.as_deref();
    let response = session.response_written();
    let started_ms = std::time::SystemTime::now()
        .checked_sub(ctx.started.elapsed())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    let upstream_uri = ctx
        .upstream_sent
        .as_ref()
        .and_then(|u| u.path_and_query())
        .map_or("", |p| p.as_str());
    let tries: Vec<Value> = ctx
        .tried
        .iter()
        .map(|a| json!({"ip": a.ip().to_string(), "port": a.port(), "balancer_latency": 0}))
        .collect();
    let mut entry = json!({
        "request": {
            "id": record.request_id,
            "uri": request_uri,
            "url": format!("{scheme}://{host}:{port}{request_uri}"),
            "querystring": query(req.uri.query()),
            "method": req.method.as_str(),
            "headers": headers(&req.headers, true),
            "size": record.request_bytes,
        },
        "upstream_uri": upstream_uri,
        "upstream_status": if record.from_service { record.status.to_string() } else { String::new() },
        "response": {
            "status": record.status,
            "headers": response.map(|r| headers(&r.headers, false)).unwrap_or_else(|| json!({})),
            "size": record.response_bytes,
        },
        "latencies": {
            "kong": (record.latency_ms - record.upstream_wait_ms.unwrap_or(0.0)).max(0.0).round() as u64,
            "proxy": record.upstream_wait_ms.map_or(-1, |w| w.round() as i64),
            "request": record.latency_ms.round() as u64,
            "receive": 0,
        },
        "client_ip": record.client.map(|c| c.to_string()).unwrap_or_default(),
        "started_at": started_ms,
        "source": if record.from_service { "upstream" } else { "kong" },
        "workspace_name": crate::telemetry::kong::WORKSPACE,
    });
    if let Value::Object(m) = &mut entry {
        if !tries.is_empty() {
            m.insert("tries".into(), Value::Array(tries));
        }
        if let Some(r) = route.and_then(|r| serde_json::to_value(r).ok()) {
            m.insert("route".into(), r);
        }
        if let Some(s) = service.and_then(|s| serde_json::to_value(s).ok()) {
            m.insert("service".into(), s);
        }
        if let Some(c) = consumer.and_then(|c| serde_json::to_value(c).ok()) {
            m.insert("consumer".into(), c);
        }
        if let Some(credential) = &ctx.plugins.credential {
            m.insert(
                "authenticated_entity".into(),
                json!({"id": credential, "consumer_id": consumer.map(|c| c.id.as_str())}),
            );
        }
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_headers_as_kong_lists_them() {
        assert_eq!(
            query(Some("a=1&a=2&flag&s=x%20y")),
            json!({"a": ["1", "2"], "flag": true, "s": "x y"})
        );
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().expect("v"));
        h.append("x-multi", "1".parse().expect("v"));
        h.append("x-multi", "2".parse().expect("v"));
        assert_eq!(
            headers(&h, true),
            json!({"authorization": "REDACTED", "x-multi": ["1", "2"]})
        );
    }
}
