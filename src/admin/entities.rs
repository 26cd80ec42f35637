//! Kong's DB-less read side: entities of the running snapshot as Kong's Admin API shows them
//! (references as `{"id": ...}`), found by id or by name, paged, with secrets redacted.

use crate::model::Model;
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

/// Entities shown as they are, with their timestamps.
fn stamped<T: serde::Serialize>(list: &[T], at: i64) -> Vec<Value> {
    list.iter()
        .map(|e| {
            with(
                serde_json::to_value(e).unwrap_or_default(),
                &[("created_at", json!(at)), ("updated_at", json!(at))],
            )
        })
        .collect()
}

/// One entity type's rendering.
pub fn services(m: &Model, at: i64) -> Vec<Value> {
    stamped(&m.services, at)
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

/// A consumer's credentials or groups in Kong's shape, with `secret` fields redacted.
fn owned<T: serde::Serialize>(
    m: &Model,
    at: i64,
    list: &[T],
    owner: impl Fn(&T) -> usize,
    secret: Option<&str>,
) -> Vec<Value> {
    list.iter()
        .map(|e| {
            let mut fields = vec![
                (
                    "consumer",
                    reference(Some(m.consumers[owner(e)].id.as_str())),
                ),
                ("created_at", json!(at)),
            ];
            if let Some(field) = secret {
                fields.push((field, json!(REDACTED)));
            }
            with(serde_json::to_value(e).unwrap_or_default(), &fields)
        })
        .collect()
}

/// `keyauth_credentials` (`/key-auths`), keys redacted.
pub fn keyauths(m: &Model, at: i64) -> Vec<Value> {
    owned(m, at, &m.keyauth_credentials, |k| k.consumer, Some("key"))
}

/// `basicauth_credentials` (`/basic-auths`), password hashes redacted.
pub fn basicauths(m: &Model, at: i64) -> Vec<Value> {
    owned(
        m,
        at,
        &m.basicauth_credentials,
        |b| b.consumer,
        Some("password"),
    )
}

/// `acls` (`/acls`).
pub fn acls(m: &Model, at: i64) -> Vec<Value> {
    owned(m, at, &m.acls, |a| a.consumer, None)
}

pub fn upstreams(m: &Model, at: i64) -> Vec<Value> {
    stamped(&m.upstreams, at)
}

pub fn targets(m: &Model, at: i64) -> Vec<Value> {
    m.targets
        .iter()
        .map(|t| {
            with(
                serde_json::to_value(t).unwrap_or_default(),
                &[
                    (
                        "upstream",
                        reference(Some(m.upstreams[t.upstream].id.as_str())),
                    ),
                    ("created_at", json!(at as f64)),
                    ("updated_at", json!(at as f64)),
                ],
            )
        })
        .collect()
}

/// Kong's `GET /upstreams/{u}/health`: each target with its addresses' health.
pub fn health(s: &Snapshot, upstream: &Value) -> Vec<Value> {
    let name = upstream["name"].as_str().unwrap_or("");
    let Some(b) = s.balancers.get(name) else {
        return Vec::new();
    };
    let checked = b.checks.active.enabled() || b.checks.passive.enabled();
    let label = |up: bool| match (checked, up) {
        (false, _) => "HEALTHCHECKS_OFF",
        (true, true) => "HEALTHY",
        (true, false) => "UNHEALTHY",
    };
    targets(&s.model, s.loaded_at)
        .into_iter()
        .filter(|t| ref_id(t, "upstream") == upstream["id"].as_str())
        .map(|t| {
            let target = t["target"].as_str().unwrap_or("");
            let members: Vec<_> = b.members.iter().filter(|m| m.target == target).collect();
            let addresses: Vec<Value> = members
                .iter()
                .map(|m| {
                    json!({
                        "ip": m.addr.ip().to_string(),
                        "port": m.addr.port(),
                        "weight": m.weight,
                        "health": label(m.health.is_up()),
                    })
                })
                .collect();
            let overall = if members.is_empty() {
                "DNS_ERROR"
            } else {
                label(members.iter().any(|m| m.health.is_up()))
            };
            with(
                t,
                &[
                    ("health", json!(overall)),
                    ("data", json!({ "addresses": addresses })),
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
        "keyauth_credentials": keyed(keyauths(&s.model, at)),
        "basicauth_credentials": keyed(basicauths(&s.model, at)),
        "acls": keyed(acls(&s.model, at)),
        "plugins": keyed(plugins(&s.model, at)),
        "upstreams": keyed(upstreams(&s.model, at)),
        "targets": keyed(targets(&s.model, at)),
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

/// `certificates`, keys redacted, with the names they serve (`snis`) as Kong lists them.
pub fn certificates(m: &Model, at: i64) -> Vec<Value> {
    m.certificates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let snis: Vec<&str> = m
                .snis
                .iter()
                .filter(|s| s.certificate == i)
                .map(|s| s.name.as_str())
                .collect();
            let redacted_alt = c.key_alt.as_ref().map(|_| json!(REDACTED));
            with(
                serde_json::to_value(c).unwrap_or_default(),
                &[
                    ("key", json!(REDACTED)),
                    ("key_alt", redacted_alt.unwrap_or(Value::Null)),
                    ("snis", json!(snis)),
                    ("created_at", json!(at)),
                    ("updated_at", json!(at)),
                ],
            )
        })
        .collect()
}

/// `snis`, each with its certificate as a reference.
pub fn snis(m: &Model, at: i64) -> Vec<Value> {
    m.snis
        .iter()
        .map(|s| {
            let cert = m.certificates.get(s.certificate).map(|c| c.id.as_str());
            with(
                serde_json::to_value(s).unwrap_or_default(),
                &[
                    ("certificate", reference(cert)),
                    ("created_at", json!(at)),
                    ("updated_at", json!(at)),
                ],
            )
        })
        .collect()
}
