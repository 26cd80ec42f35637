//! Kong's DB-less read side: entities of the running snapshot as Kong's Admin API shows them
//! (references as `{"id": ...}`), found by id or by name, paged, with secrets redacted.

use crate::config::model::Model;
use crate::snapshot::Snapshot;
use serde_json::{json, Map, Value};

/// What replaces a secret in every admin answer.
pub const REDACTED: &str = "<redacted>";

fn reference(id: Option<&str>) -> Value {
    id.map(|i| json!({ "id": i })).unwrap_or(Value::Null)
}

fn with(mut v: Value, extra: &[(&str, Value)]) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, x) in extra {
            m.insert((*k).to_string(), x.clone());
        }
    }
    v
}

/// Replaces secret values anywhere in a plugin config (AWS secret, Redis passwords).
fn redact_config(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let secret = matches!(k.as_str(), "aws_secret" | "password" | "redis_password");
                if secret && !x.is_null() {
                    *x = Value::String(REDACTED.into());
                } else {
                    redact_config(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_config),
        _ => {}
    }
}

/// One entity type's rendering.
pub fn services(m: &Model, at: i64) -> Vec<Value> {
    m.services
        .iter()
        .map(|s| {
            with(
                serde_json::to_value(s).unwrap_or_default(),
                &[("created_at", json!(at)), ("updated_at", json!(at))],
            )
        })
        .collect()
}

pub fn routes(m: &Model, at: i64) -> Vec<Value> {
    m.routes
        .iter()
        .map(|r| {
            let svc = r.service.map(|s| m.services[s].id.as_str());
            with(
                serde_json::to_value(r).unwrap_or_default(),
                &[
                    ("service", reference(svc)),
                    ("created_at", json!(at)),
                    ("updated_at", json!(at)),
                ],
            )
        })
        .collect()
}

pub fn consumers(m: &Model, at: i64) -> Vec<Value> {
    m.consumers
        .iter()
        .map(|c| {
            with(
                serde_json::to_value(c).unwrap_or_default(),
                &[("created_at", json!(at))],
            )
        })
        .collect()
}

pub fn jwts(m: &Model, at: i64) -> Vec<Value> {
    m.jwt_secrets
        .iter()
        .map(|j| {
            with(
                serde_json::to_value(j).unwrap_or_default(),
                &[
                    ("secret", json!(REDACTED)),
                    (
                        "consumer",
                        reference(Some(m.consumers[j.consumer].id.as_str())),
                    ),
                    ("created_at", json!(at)),
                ],
            )
        })
        .collect()
}

pub fn plugins(m: &Model, at: i64) -> Vec<Value> {
    m.plugins
        .iter()
        .map(|p| {
            let mut config = serde_json::to_value(&p.config).unwrap_or_default();
            redact_config(&mut config);
            with(
                serde_json::to_value(p).unwrap_or_default(),
                &[
                    ("config", config),
                    (
                        "service",
                        reference(p.service.map(|s| m.services[s].id.as_str())),
                    ),
                    ("route", reference(p.route.map(|r| m.routes[r].id.as_str()))),
                    (
                        "consumer",
                        reference(p.consumer.map(|c| m.consumers[c].id.as_str())),
                    ),
                    ("created_at", json!(at)),
                ],
            )
        })
        .collect()
}

/// Every entity keyed by type then id (the shape `POST /config` answers with).
pub fn flattened(s: &Snapshot) -> Value {
    let at = s.loaded_at;
    let keyed = |list: Vec<Value>| -> Value {
        let mut m = Map::new();
        for v in list {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                m.insert(id.to_string(), v.clone());
            }
        }
        Value::Object(m)
    };
    json!({
        "services": keyed(services(&s.model, at)),
        "routes": keyed(routes(&s.model, at)),
        "consumers": keyed(consumers(&s.model, at)),
        "jwt_secrets": keyed(jwts(&s.model, at)),
        "plugins": keyed(plugins(&s.model, at)),
    })
}

/// Finds the entity whose `id` or name field equals `key`.
pub fn find<'a>(list: &'a [Value], key: &str, name_field: &str) -> Option<&'a Value> {
    list.iter().find(|v| {
        v.get("id").and_then(Value::as_str) == Some(key)
            || v.get(name_field).and_then(Value::as_str) == Some(key)
    })
}

/// The id inside a reference field (`{"id": ...}`).
pub fn ref_id<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field)
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
}

/// Why a page could not be served.
pub enum PageError {
    /// Kong's 400 for a bad offset or size.
    Bad(Value),
}

/// Kong's paging: `size` (default 100, at most 1000) and an opaque `offset`.
pub fn page(list: Vec<Value>, query: Option<&str>, path: &str) -> Result<Value, PageError> {
    use base64::Engine;
    let mut size = 100usize;
    let mut start = 0usize;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "size" => match v.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => size = n,
                _ => {
                    return Err(PageError::Bad(json!({
                        "code": 9, "name": "invalid size", "message": "size must be an integer between 1 and 1000"
                    })))
                }
            },
            "offset" => {
                let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v.as_bytes())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.parse::<usize>().ok());
                match decoded {
                    Some(n) => start = n,
                    None => {
                        return Err(PageError::Bad(json!({
                            "code": 7, "name": "invalid offset", "message": format!("'{v}' is not a valid offset: bad base64 encoding")
                        })))
                    }
                }
            }
            _ => {}
        }
    }
    let total = list.len();
    let data: Vec<Value> = list.into_iter().skip(start).take(size).collect();
    let end = start + data.len();
    let (offset, next) = if end < total {
        let o = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(end.to_string());
        (json!(o), json!(format!("{path}?offset={o}&size={size}")))
    } else {
        (Value::Null, Value::Null)
    };
    let mut out = json!({ "data": data, "next": next });
    if !offset.is_null() {
        out["offset"] = offset;
    }
    Ok(out)
}
