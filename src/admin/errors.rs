//! `POST /config` refusals in Kong's shape: `fields` (every problem at its place in the
//! file's structure) and, with `?flatten_errors=1`, `flattened_errors` (one entry per
//! entity: its type, name, id, tags, the entity as written, and its errors).

use crate::issues::Issue;
use serde_json::{json, Map, Value};

/// One step of an issue's path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `services[0].routes[1].paths[0]` as steps.
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(Step::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(close) = rest.find(']') {
                match rest[1..close].parse() {
                    Ok(n) => out.push(Step::Index(n)),
                    Err(_) => out.push(Step::Key(rest[1..close].to_string())),
                }
                rest = &rest[close + 1..];
            }
        } else {
            out.push(Step::Key(rest.to_string()));
        }
    }
    out
}

/// Puts `message` at `steps` inside `into` (arrays padded with null).
fn place(into: &mut Value, steps: &[Step], message: &str) {
    let Some((first, rest)) = steps.split_first() else {
        *into = match into.take() {
            Value::Null => Value::from(message),
            Value::Array(mut a) => {
                a.push(Value::from(message));
                Value::Array(a)
            }
            Value::String(prev) => json!([prev, message]),
            // A problem of a whole entity that also has field problems: Kong's `@entity`.
            Value::Object(mut m) => {
                let list = m.entry("@entity").or_insert_with(|| json!([]));
                if let Value::Array(a) = list {
                    a.push(Value::from(message));
                }
                Value::Object(m)
            }
            other => other,
        };
        return;
    };
    let slot = match first {
        Step::Key(k) => {
            if !into.is_object() {
                *into = Value::Object(Map::new());
            }
            match into {
                Value::Object(m) => m.entry(k.clone()).or_insert(Value::Null),
                _ => return,
            }
        }
        Step::Index(i) => {
            if !into.is_array() {
                *into = Value::Array(Vec::new());
            }
            match into {
                Value::Array(a) => {
                    if a.len() <= *i {
                        a.resize(*i + 1, Value::Null);
                    }
                    &mut a[*i]
                }
                _ => return,
            }
        }
    };
    place(slot, rest, message);
}

/// Every problem at its place in the file's structure (Kong's `fields`).
pub fn fields(issues: &[Issue]) -> Value {
    let mut out = Value::Object(Map::new());
    for i in issues {
        let s = steps(&i.path);
        if s.is_empty() {
            place(&mut out, &[Step::Key("@entity".into())], &i.message);
        } else {
            place(&mut out, &s, &i.message);
        }
    }
    out
}

/// Kong's name for the entities of a collection.
fn entity_type(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "services" => "service",
        "routes" => "route",
        "consumers" => "consumer",
        "plugins" => "plugin",
        "upstreams" => "upstream",
        "targets" => "target",
        "ca_certificates" => "ca_certificate",
        "certificates" => "certificate",
        "snis" => "sni",
        "jwt_secrets" => "jwt_secrets",
        "keyauth_credentials" => "keyauth_credentials",
        "basicauth_credentials" => "basicauth_credentials",
        "acls" => "acls",
        _ => return None,
    })
}

/// Kong's `flattened_errors`: per entity, what is wrong with it; problems outside any
/// entity (the top level) under no entity.
pub fn flattened(tree: Option<&Value>, issues: &[Issue]) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for issue in issues {
        let s = steps(&issue.path);
        // The deepest `collection[index]` pair names the entity.
        let at = s
            .windows(2)
            .enumerate()
            .rev()
            .find_map(|(i, w)| match (&w[0], &w[1]) {
                (Step::Key(k), Step::Index(_)) if entity_type(k).is_some() => Some(i),
                _ => None,
            });
        let (entity_steps, field_steps) = match at {
            Some(i) => s.split_at(i + 2),
            None => (&s[..0], &s[..]),
        };
        let key = format!("{entity_steps:?}");
        let field = field_steps
            .iter()
            .map(|st| match st {
                Step::Key(k) => k.clone(),
                Step::Index(n) => n.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let error = json!({
            "field": field,
            "message": issue.message,
            "type": if field.is_empty() { "entity" } else { "field" },
        });
        if let Some((_, e)) = out.iter_mut().find(|(k, _)| *k == key) {
            if let Some(list) = e["errors"].as_array_mut() {
                list.push(error);
            }
            continue;
        }
        let entity = walk(tree, entity_steps).cloned().unwrap_or(Value::Null);
        let kind = entity_steps.iter().rev().find_map(|st| match st {
            Step::Key(k) => entity_type(k),
            Step::Index(_) => None,
        });
        let name = ["name", "username", "key", "target", "group"]
            .iter()
            .find_map(|f| entity.get(*f).and_then(Value::as_str));
        out.push((
            key,
            json!({
                "entity_type": kind,
                "entity_name": name,
                "entity_id": entity.get("id"),
                "entity_tags": entity.get("tags"),
                "entity": entity,
                "errors": [error],
            }),
        ));
    }
    out.into_iter().map(|(_, v)| v).collect()
}

fn walk<'a>(tree: Option<&'a Value>, steps: &[Step]) -> Option<&'a Value> {
    let mut v = tree?;
    for st in steps {
        v = match st {
            Step::Key(k) => v.get(k)?,
            Step::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(path: &str, message: &str) -> Issue {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }

    #[test]
    fn problems_take_their_place_and_group_by_entity() {
        let issues = [
            issue("services[1].host", "required field missing"),
            issue("services[1].routes[0].paths[0]", "should start with: /"),
            issue(
                "services[1].routes[0]",
                "must set one of 'methods', 'hosts', 'headers', 'paths'",
            ),
            issue("_format_version", "required field missing"),
        ];
        assert_eq!(
            fields(&issues),
            json!({
                "services": [null, {
                    "host": "required field missing",
                    "routes": [{
                        "paths": ["should start with: /"],
                        "@entity": ["must set one of 'methods', 'hosts', 'headers', 'paths'"]
                    }]
                }],
                "_format_version": "required field missing",
            })
        );
        let tree =
            json!({"services": [{}, {"name": "users", "tags": ["t"], "routes": [{"name": "r"}]}]});
        let flat = flattened(Some(&tree), &issues);
        assert_eq!(flat.len(), 3);
        assert_eq!(flat[0]["entity_type"], "service");
        assert_eq!(flat[0]["entity_name"], "users");
        assert_eq!(flat[0]["entity_tags"], json!(["t"]));
        assert_eq!(
            flat[0]["errors"][0],
            json!({"field": "host", "message": "required field missing", "type": "field"})
        );
        assert_eq!(flat[1]["entity_type"], "route");
        assert_eq!(flat[1]["errors"].as_array().map(Vec::len), Some(2));
        assert_eq!(flat[1]["errors"][0]["field"], "paths.0");
        assert_eq!(flat[1]["errors"][1]["type"], "entity");
        assert_eq!(flat[2]["entity_type"], Value::Null);
        assert_eq!(flat[2]["errors"][0]["field"], "_format_version");
    }
}
