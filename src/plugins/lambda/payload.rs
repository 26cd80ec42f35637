//! The JSON sent to the function, as Kong builds it: the default (query and body arguments
//! merged), the `forward_request_*` object, or an API Gateway (REST, v1.0) event.

use super::LambdaConfig;
use base64::Engine;
use serde_json::{json, Map, Value};

/// What the payload is built from.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// Path and query as the client sent them.
    pub uri: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub client_ip: &'a str,
    pub request_id: &'a str,
    pub now_ms: i64,
    /// The route path the request matched, if the route has paths.
    pub route_path: Option<&'a crate::router::PathMatcher>,
    /// `HTTP/1.1`, `HTTP/2.0` ...
    pub protocol: &'a str,
}

/// Query arguments: repeated names become arrays, a bare name becomes `true`.
fn query_args(query: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(q) = query else { return out };
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (decode(k), Value::String(decode(v))),
            None => (decode(part), Value::Bool(true)),
        };
        insert_multi(&mut out, k, v);
    }
    out
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn insert_multi(map: &mut Map<String, Value>, k: String, v: Value) {
    match map.get_mut(&k) {
        Some(Value::Array(a)) => a.push(v),
        Some(prev) => {
            let first = prev.take();
            *prev = Value::Array(vec![first, v]);
        }
        None => {
            map.insert(k, v);
        }
    }
}

fn content_type(headers: &http::HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Body arguments for form and JSON bodies (a JSON array stays an array, as Kong's
/// `kong.request.get_body`); `None` when the type is not parseable.
fn body_args(headers: &http::HeaderMap, body: &[u8]) -> Option<Value> {
    let ct = content_type(headers);
    if ct == "application/x-www-form-urlencoded" {
        let mut m = Map::new();
        for (k, v) in form_urlencoded::parse(body) {
            insert_multi(&mut m, k.into_owned(), Value::String(v.into_owned()));
        }
        Some(Value::Object(m))
    } else if ct == "application/json" || ct.ends_with("+json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
            _ => Some(Value::Object(Map::new())),
        }
    } else {
        None
    }
}

const TEXT_TYPES: [&str; 5] = [
    "text/plain",
    "text/html",
    "application/xml",
    "text/xml",
    "application/soap+xml",
];

fn headers_map(headers: &http::HeaderMap) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in headers {
        insert_multi(
            &mut m,
            k.as_str().to_string(),
            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    m
}

/// Builds the invocation payload.
pub fn build(c: &LambdaConfig, r: &RequestParts<'_>) -> Value {
    if c.awsgateway_compatible {
        return api_gateway_event(c, r);
    }
    let parsed = body_args(r.headers, r.body);
    let any_forward = c.forward_request_method
        || c.forward_request_uri
        || c.forward_request_headers
        || c.forward_request_body;
    if !any_forward {
        let mut args = query_args(r.query);
        match parsed {
            // Kong merges query and body arguments; an array body with no query is the array.
            Some(Value::Array(items)) if args.is_empty() => return Value::Array(items),
            Some(Value::Array(items)) => {
                for (i, v) in items.into_iter().enumerate() {
                    args.insert((i + 1).to_string(), v);
                }
            }
            Some(Value::Object(m)) => args.extend(m),
            _ => {}
        }
        return Value::Object(args);
    }
    let mut out = Map::new();
    if c.forward_request_method {
        out.insert("request_method".into(), json!(r.method));
    }
    if c.forward_request_uri {
        out.insert("request_uri".into(), json!(r.uri));
        out.insert(
            "request_uri_args".into(),
            Value::Object(query_args(r.query)),
        );
    }
    if c.forward_request_headers {
        out.insert(
            "request_headers".into(),
            Value::Object(headers_map(r.headers)),
        );
    }
    if c.forward_request_body {
        let ct = content_type(r.headers);
        let textual = parsed.is_some() || TEXT_TYPES.contains(&ct.as_str());
        if !textual && c.base64_encode_body && !r.body.is_empty() {
            out.insert(
                "request_body".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(r.body)),
            );
            out.insert("request_body_base64".into(), json!(true));
        } else {
            out.insert(
                "request_body".into(),
                json!(String::from_utf8_lossy(r.body)),
            );
        }
        out.insert(
            "request_body_args".into(),
            parsed.unwrap_or_else(|| Value::Object(Map::new())),
        );
    }
    Value::Object(out)
}

fn api_gateway_event(c: &LambdaConfig, r: &RequestParts<'_>) -> Value {
    let mut single = Map::new();
    let mut multi = Map::new();
    for (k, v) in r.headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        single
            .entry(k.as_str().to_string())
            .or_insert_with(|| json!(v.clone()));
        if let Value::Array(a) = multi
            .entry(k.as_str().to_string())
            .or_insert_with(|| json!([]))
        {
            a.push(json!(v));
        }
    }
    let qs = query_args(r.query);
    let mut qs_single = Map::new();
    let mut qs_multi = Map::new();
    for (k, v) in &qs {
        let all = match v {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        qs_single.insert(k.clone(), all.first().cloned().unwrap_or(Value::Null));
        qs_multi.insert(k.clone(), Value::Array(all));
    }
    let (body, b64) = if r.body.is_empty() {
        (Value::Null, false)
    } else if c.base64_encode_body {
        (
            json!(base64::engine::general_purpose::STANDARD.encode(r.body)),
            true,
        )
    } else {
        (json!(String::from_utf8_lossy(r.body)), false)
    };
    let host = r
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Kong: the named captures of a regex route path.
    let mut params = Map::new();
    if let Some(crate::router::PathMatcher::Regex(re)) = r.route_path {
        if let Some(caps) = re.captures(r.path) {
            for name in re.capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    params.insert(name.to_string(), json!(m.as_str()));
                }
            }
        }
    }
    let started = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(r.now_ms)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S %z")
        .to_string();
    let mut event = json!({
        "version": "1.0",
        "path": r.path,
        "httpMethod": r.method,
        "headers": single,
        "multiValueHeaders": multi,
        "pathParameters": params,
        "queryStringParameters": if qs_single.is_empty() { Value::Null } else { Value::Object(qs_single) },
        "multiValueQueryStringParameters": if qs_multi.is_empty() { Value::Null } else { Value::Object(qs_multi) },
        "body": body,
        "isBase64Encoded": b64,
        "requestContext": {
            "path": r.path,
            "protocol": r.protocol,
            "httpMethod": r.method,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "identity": {
                "sourceIp": r.client_ip,
                "userAgent": r.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()),
            },
            "requestId": r.request_id,
            "requestTime": started,
            "requestTimeEpoch": r.now_ms,
            "resourcePath": r.path,
        },
    });
    // Kong's `resource` is the route path that matched, absent for a route without paths.
    if let (Some(p), Value::Object(m)) = (r.route_path, &mut event) {
        m.insert("resource".into(), json!(p.source()));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(
        h: &'a http::HeaderMap,
        body: &'a [u8],
        query: Option<&'a str>,
    ) -> RequestParts<'a> {
        RequestParts {
            method: "POST",
            uri: "/login?x=1",
            path: "/login",
            query,
            headers: h,
            body,
            client_ip: "127.0.0.1",
            request_id: "id",
            now_ms: 0,
            route_path: None,
            protocol: "HTTP/1.1",
        }
    }

    #[test]
    fn the_api_gateway_event_names_the_matched_route_path_and_its_captures() {
        let h = http::HeaderMap::new();
        let re = crate::router::PathMatcher::Regex(
            regex::Regex::new(r"^(?:/(?<version>\d+)/strip)").expect("re"),
        );
        let c = LambdaConfig {
            awsgateway_compatible: true,
            ..LambdaConfig::default()
        };
        let mut r = parts(&h, b"", None);
        r.path = "/123/strip/more";
        r.route_path = Some(&re);
        r.now_ms = 1_662_436_514_000;
        let p = build(&c, &r);
        assert_eq!(p["resource"], r"/(?<version>\d+)/strip");
        assert_eq!(p["pathParameters"], json!({"version": "123"}));
        assert_eq!(
            p["requestContext"]["requestTime"],
            "06/Sep/2022:03:55:14 +0000"
        );
        let plain = crate::router::PathMatcher::Prefix("/plain/strip".into());
        r.route_path = Some(&plain);
        let p = build(&c, &r);
        assert_eq!(p["resource"], "/plain/strip");
        assert_eq!(p["pathParameters"], json!({}));
        r.route_path = None;
        assert!(build(&c, &r).get("resource").is_none());
    }

    #[test]
    fn default_payload_merges_query_and_body_args() {
        let mut h = http::HeaderMap::new();
        h.insert("content-type", "application/json".parse().expect("v"));
        let p = build(
            &LambdaConfig::default(),
            &parts(&h, br#"{"a":"body","b":2}"#, Some("a=query&c=3&c=4&flag")),
        );
        assert_eq!(
            p,
            json!({"a": "body", "b": 2, "c": ["3", "4"], "flag": true})
        );
    }

    #[test]
    fn forward_body_sends_raw_and_parsed_body() {
        let mut h = http::HeaderMap::new();
        h.insert("content-type", "application/json".parse().expect("v"));
        let c = LambdaConfig {
            forward_request_body: true,
            ..LambdaConfig::default()
        };
        let p = build(
            &c,
            &parts(&h, br#"{"email":"a@b.c","password":"pw"}"#, None),
        );
        assert_eq!(
            p,
            json!({"request_body": r#"{"email":"a@b.c","password":"pw"}"#, "request_body_args": {"email": "a@b.c", "password": "pw"}})
        );
        let mut bin = http::HeaderMap::new();
        bin.insert(
            "content-type",
            "application/octet-stream".parse().expect("v"),
        );
        let p = build(&c, &parts(&bin, b"\x00\x01", None));
        assert_eq!(
            p,
            json!({"request_body": "AAE=", "request_body_base64": true, "request_body_args": {}})
        );
    }
}
