//! Kong's `response-transformer` plugin (priority 800): the answer's headers, and the
//! properties of a JSON body, changed in Kong's order (remove, rename, replace, add, append)
//! before the client gets them. A body is buffered only when a JSON change is configured and
//! the answer is JSON; one over [`MAX_BUFFERED`] goes out unchanged with a log line.

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Phases, Plugin, RequestState, Scope};
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The most of one JSON body held to change it.
pub const MAX_BUFFERED: usize = 4 * 1024 * 1024;

/// `remove`: names only.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Names {
    pub json: Vec<String>,
    pub headers: Vec<String>,
}

/// `rename`: `old:new` pairs.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Renames {
    pub json: Vec<String>,
    pub headers: Vec<String>,
}

/// `replace`, `add`, `append`: `name:value` pairs, JSON values typed by position.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Pairs {
    pub json: Vec<String>,
    pub json_types: Vec<String>,
    pub headers: Vec<String>,
}

/// Kong's `response-transformer` config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseTransformerConfig {
    pub remove: Names,
    pub rename: Renames,
    pub replace: Pairs,
    pub add: Pairs,
    pub append: Pairs,
}

/// A JSON value to write, as Kong casts it (`json_types`).
#[derive(Debug, Clone, PartialEq)]
enum JsonValue {
    Text(String),
    /// `number` of a value that is not one: the entry does nothing.
    Skip,
    Typed(Value),
}

/// The config compiled once.
#[derive(Debug, Default)]
pub struct Compiled {
    remove_headers: Vec<String>,
    rename_headers: Vec<(String, HeaderName)>,
    replace_headers: Vec<(String, HeaderValue)>,
    add_headers: Vec<(String, HeaderValue)>,
    append_headers: Vec<(String, HeaderValue)>,
    remove_json: Vec<String>,
    rename_json: Vec<(String, String)>,
    replace_json: Vec<(String, JsonValue)>,
    add_json: Vec<(String, JsonValue)>,
    append_json: Vec<(String, JsonValue)>,
}

impl Compiled {
    fn changes_json(&self) -> bool {
        !(self.remove_json.is_empty()
            && self.rename_json.is_empty()
            && self.replace_json.is_empty()
            && self.add_json.is_empty()
            && self.append_json.is_empty())
    }
}

/// A configured `response-transformer` instance.
#[derive(Debug)]
pub struct ResponseTransformer {
    c: Arc<Compiled>,
}

/// Splits `name:value` (Kong's `^[^:]+:.*$`).
fn split<'a>(at: &str, entry: &'a str, out: &mut FieldIssues) -> Option<(&'a str, &'a str)> {
    match entry.split_once(':') {
        Some((n, v)) if !n.is_empty() => Some((n, v)),
        _ => {
            out.push((at.to_string(), format!("invalid value: {entry}")));
            None
        }
    }
}

fn header_pairs(op: &str, list: &[String], out: &mut FieldIssues) -> Vec<(String, HeaderValue)> {
    let mut pairs = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{op}.headers[{i}]");
        let Some((name, value)) = split(&at, entry, out) else {
            continue;
        };
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(_), Ok(v)) => pairs.push((name.to_string(), v)),
            (Err(_), _) => out.push((at, format!("'{name}' is not a valid header"))),
            (_, Err(_)) => out.push((at, format!("invalid value: {entry}"))),
        }
    }
    pairs
}

fn json_pairs(op: &str, p: &Pairs, out: &mut FieldIssues) -> Vec<(String, JsonValue)> {
    for (i, t) in p.json_types.iter().enumerate() {
        if !["boolean", "number", "string"].contains(&t.as_str()) {
            out.push((
                format!("{op}.json_types[{i}]"),
                "expected one of: boolean, number, string".into(),
            ));
        }
    }
    let mut pairs = Vec::new();
    for (i, entry) in p.json.iter().enumerate() {
        let Some((name, value)) = split(&format!("{op}.json[{i}]"), entry, out) else {
            continue;
        };
        let v = match p.json_types.get(i).map(String::as_str) {
            Some("number") => value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(|n| Value::Number(number(n))))
                .map_or(JsonValue::Skip, JsonValue::Typed),
            Some("boolean") => JsonValue::Typed(Value::Bool(value == "true")),
            _ => JsonValue::Text(value.to_string()),
        };
        pairs.push((name.to_string(), v));
    }
    pairs
}

/// Whole numbers are written without a fraction, as Lua prints them.
fn number(n: serde_json::Number) -> serde_json::Number {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => serde_json::Number::from(f as i64),
        _ => n,
    }
}

impl Factory for ResponseTransformer {
    type Spec = ResponseTransformerConfig;
    type Typed = Arc<Compiled>;

    fn check(
        spec: &ResponseTransformerConfig,
        _: &CheckCtx<'_>,
    ) -> Result<Arc<Compiled>, FieldIssues> {
        let mut out = Vec::new();
        let mut rename_headers = Vec::new();
        for (i, entry) in spec.rename.headers.iter().enumerate() {
            let at = format!("rename.headers[{i}]");
            let Some((old, new)) = split(&at, entry, &mut out) else {
                continue;
            };
            match (
                HeaderName::from_bytes(old.as_bytes()),
                HeaderName::from_bytes(new.as_bytes()),
            ) {
                (Ok(_), Ok(n)) => rename_headers.push((old.to_string(), n)),
                (Err(_), _) => out.push((at, format!("'{old}' is not a valid header"))),
                (_, Err(_)) => out.push((at, format!("'{new}' is not a valid header"))),
            }
        }
        let mut rename_json = Vec::new();
        for (i, entry) in spec.rename.json.iter().enumerate() {
            if let Some((old, new)) = split(&format!("rename.json[{i}]"), entry, &mut out) {
                rename_json.push((old.to_string(), new.to_string()));
            }
        }
        let c = Compiled {
            remove_headers: spec.remove.headers.clone(),
            rename_headers,
            replace_headers: header_pairs("replace", &spec.replace.headers, &mut out),
            add_headers: header_pairs("add", &spec.add.headers, &mut out),
            append_headers: header_pairs("append", &spec.append.headers, &mut out),
            remove_json: spec.remove.json.clone(),
            rename_json,
            replace_json: json_pairs("replace", &spec.replace, &mut out),
            add_json: json_pairs("add", &spec.add, &mut out),
            append_json: json_pairs("append", &spec.append, &mut out),
        };
        if out.is_empty() {
            Ok(Arc::new(c))
        } else {
            Err(out)
        }
    }

    fn build(
        c: &Checked<ResponseTransformerConfig, Arc<Compiled>>,
        _: &BuildCtx,
        _: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(ResponseTransformer { c: c.typed.clone() })
    }
}

/// Whether a `Content-Type` names JSON (`application/json`, any parameters).
fn is_json(resp: &ResponseHeader) -> bool {
    resp.headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(',').any(|t| {
                let media = t.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/json")
            })
        })
}

/// The JSON body with the changes made, or `None` when it is not a JSON object.
fn transform(c: &Compiled, body: &[u8]) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let value = |v: &JsonValue| match v {
        JsonValue::Text(t) => Some(Value::String(t.clone())),
        JsonValue::Typed(t) => Some(t.clone()),
        JsonValue::Skip => None,
    };
    let truthy =
        |m: &Map<String, Value>, n: &str| m.get(n).is_some_and(|v| *v != Value::Bool(false));
    for name in &c.remove_json {
        map.remove(name);
    }
    for (old, new) in &c.rename_json {
        if let Some(v) = map.remove(old) {
            map.insert(new.clone(), v);
        }
    }
    for (name, v) in &c.replace_json {
        if let Some(v) = value(v).filter(|_| truthy(&map, name)) {
            map.insert(name.clone(), v);
        }
    }
    for (name, v) in &c.add_json {
        if let Some(v) = value(v).filter(|_| !truthy(&map, name)) {
            map.insert(name.clone(), v);
        }
    }
    for (name, v) in &c.append_json {
        if let Some(v) = value(v) {
            crate::plugins::request_transformer::params::append_json(&mut map, name, v);
        }
    }
    serde_json::to_vec(&Value::Object(map)).ok()
}

/// A JSON body being gathered for the change.
#[derive(Debug, Default)]
pub struct Gathered {
    buf: BytesMut,
    /// Over the bound: the rest goes out as it comes.
    passing: bool,
}

impl ResponseTransformer {
    fn headers(&self, resp: &mut ResponseHeader) -> Result<(), GatewayError> {
        let c = &self.c;
        let fail = |e: Box<pingora::Error>| GatewayError::Internal(e.to_string());
        for name in &c.remove_headers {
            resp.remove_header(name.as_str());
        }
        for (old, new) in &c.rename_headers {
            let values: Vec<HeaderValue> =
                resp.headers.get_all(old.as_str()).iter().cloned().collect();
            if !values.is_empty() {
                resp.remove_header(old.as_str());
                resp.remove_header(new);
                for v in values {
                    resp.append_header(new.clone(), v).map_err(fail)?;
                }
            }
        }
        for (name, v) in &c.replace_headers {
            if resp.headers.contains_key(name.as_str()) {
                resp.insert_header(name.clone(), v.clone()).map_err(fail)?;
            }
        }
        for (name, v) in &c.add_headers {
            if !resp.headers.contains_key(name.as_str()) {
                resp.insert_header(name.clone(), v.clone()).map_err(fail)?;
            }
        }
        for (name, v) in &c.append_headers {
            resp.append_header(name.clone(), v.clone()).map_err(fail)?;
        }
        Ok(())
    }
}

impl Plugin for ResponseTransformer {
    fn name(&self) -> &'static str {
        "response-transformer"
    }

    fn phases(&self) -> Phases {
        if self.c.changes_json() {
            Phases::RESPONSE.with(Phases::BODY)
        } else {
            Phases::RESPONSE
        }
    }

    fn response(
        &self,
        resp: &mut ResponseHeader,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        self.headers(resp)?;
        if self.c.changes_json() && is_json(resp) {
            // The body will change length: it goes out without one (chunked).
            resp.remove_header(&http::header::CONTENT_LENGTH);
            state.gathered = Some(Box::default());
        }
        Ok(())
    }

    fn body(
        &self,
        chunk: &mut Option<Bytes>,
        end: bool,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let Some(g) = state.gathered.as_deref_mut() else {
            return Ok(());
        };
        if g.passing {
            return Ok(());
        }
        if let Some(c) = chunk.take() {
            g.buf.extend_from_slice(&c);
        }
        if g.buf.len() > MAX_BUFFERED {
            tracing::warn!(
                "response-transformer: a JSON body over {} MiB is sent unchanged",
                MAX_BUFFERED >> 20
            );
            g.passing = true;
            *chunk = Some(std::mem::take(&mut g.buf).freeze());
            return Ok(());
        }
        if end {
            let body = std::mem::take(&mut g.buf).freeze();
            *chunk = match transform(&self.c, &body) {
                Some(changed) => Some(Bytes::from(changed)),
                None => {
                    if !body.is_empty() {
                        tracing::warn!(
                            "response-transformer: body transform failed: not a JSON object"
                        );
                    }
                    Some(body).filter(|b| !b.is_empty())
                }
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(v: serde_json::Value) -> Result<Arc<Compiled>, FieldIssues> {
        let spec: ResponseTransformerConfig = serde_json::from_value(v).expect("spec");
        let exists = |_: &str| false;
        ResponseTransformer::check(
            &spec,
            &CheckCtx {
                name: "response-transformer",
                consumer_scoped: false,
                consumer_exists: &exists,
            },
        )
    }

    #[test]
    fn json_changes_follow_kongs_order_and_types() {
        let c = compiled(serde_json::json!({
            "remove": {"json": ["secret"]},
            "rename": {"json": ["old:new"]},
            "replace": {"json": ["status:ok", "absent:x"]},
            "add": {"json": ["count:5", "flag:true", "text:5", "status:never"], "json_types": ["number", "boolean", "string"]},
            "append": {"json": ["list:b", "bad:abc"], "json_types": ["string", "number"]},
        }))
        .expect("valid");
        let out =
            transform(&c, br#"{"secret":1,"old":"o","status":"s","list":"a"}"#).expect("object");
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"new": "o", "status": "ok", "list": ["a", "b"],
                "count": 5, "flag": true, "text": "5"})
        );
        assert!(transform(&c, b"[1]").is_none());
        assert!(transform(&c, b"nope").is_none());
    }

    #[test]
    fn kongs_checks() {
        let errs = compiled(serde_json::json!({
            "rename": {"headers": ["a:b c"]},
            "add": {"headers": ["no-colon"], "json_types": ["date"]},
        }))
        .expect_err("invalid");
        let at: Vec<&str> = errs.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            at,
            ["rename.headers[0]", "add.headers[0]", "add.json_types[0]"]
        );
        assert_eq!(errs[0].1, "'b c' is not a valid header");
        assert_eq!(errs[1].1, "invalid value: no-colon");
    }
}
