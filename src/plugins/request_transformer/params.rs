//! Kong's order of operations (remove, rename, replace, add, append) on name/value lists: the
//! query string, form-encoded and JSON bodies. Pure functions; the plugin feeds them.

use super::template::{Template, Values};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

/// What ngx.escape_uri leaves as it is in an argument: letters, digits and `-_.~`.
const ARG: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One section of the config (`headers`, `querystring` or `body`) of each operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ops {
    pub remove: Vec<String>,
    pub rename: Vec<(String, String)>,
    pub replace: Vec<(String, Template)>,
    pub add: Vec<(String, Template)>,
    pub append: Vec<(String, Template)>,
}

impl Ops {
    /// Nothing configured in this section.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.rename.is_empty()
            && self.replace.is_empty()
            && self.add.is_empty()
            && self.append.is_empty()
    }
}

/// An argument's value: a bare name (`?flag`), one value or several.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Bare,
    One(String),
    Many(Vec<String>),
}

impl Arg {
    /// The first value, as templates read it (`true` for a bare name).
    pub fn first(&self) -> String {
        match self {
            Arg::Bare => "true".into(),
            Arg::One(v) => v.clone(),
            Arg::Many(v) => v.first().cloned().unwrap_or_default(),
        }
    }

    /// The value with `v` added after it (a bare name becomes the value).
    pub fn appended(self, v: String) -> Arg {
        match self {
            Arg::One(old) => Arg::Many(vec![old, v]),
            Arg::Many(mut all) => {
                all.push(v);
                Arg::Many(all)
            }
            Arg::Bare => Arg::One(v),
        }
    }
}

/// Arguments in the order they came, repeated names gathered.
pub type Args = Vec<(String, Arg)>;

/// Decodes `a=1&a=2&flag` (ngx.decode_args).
pub fn decode(text: &str) -> Args {
    let mut out: Args = Vec::new();
    for part in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = match part.split_once('=') {
            Some((k, v)) => (unescape(k), Some(unescape(v))),
            None => (unescape(part), None),
        };
        match (out.iter_mut().find(|(n, _)| *n == k), v) {
            (Some((_, old)), Some(v)) => *old = std::mem::replace(old, Arg::Bare).appended(v),
            (Some(_), None) => {}
            (None, Some(v)) => out.push((k, Arg::One(v))),
            (None, None) => out.push((k, Arg::Bare)),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Encodes arguments (ngx.encode_args): repeated names repeat, a bare name stands alone.
pub fn encode(args: &Args) -> String {
    let mut out = Vec::new();
    for (k, v) in args {
        let k = utf8_percent_encode(k, ARG).to_string();
        match v {
            Arg::Bare => out.push(k),
            Arg::One(v) => out.push(format!("{k}={}", utf8_percent_encode(v, ARG))),
            Arg::Many(all) => {
                for v in all {
                    out.push(format!("{k}={}", utf8_percent_encode(v, ARG)));
                }
            }
        }
    }
    out.join("&")
}

/// Applies the operations to arguments; true when something changed. `had_body`: remove,
/// rename and replace apply only to a body that was sent (Kong), always to a query.
pub fn apply_args(args: &mut Args, ops: &Ops, values: &dyn Values, had_body: bool) -> bool {
    let mut changed = false;
    let pos = |args: &Args, name: &str| args.iter().position(|(n, _)| n == name);
    if had_body {
        for name in &ops.remove {
            if let Some(i) = pos(args, name) {
                args.remove(i);
                changed = true;
            }
        }
        for (old, new) in &ops.rename {
            if old != new {
                if let Some(i) = pos(args, old) {
                    let (_, v) = args.remove(i);
                    args.retain(|(n, _)| n != new);
                    args.push((new.clone(), v));
                    changed = true;
                }
            }
        }
        for (name, t) in &ops.replace {
            if let Some(i) = pos(args, name) {
                args[i].1 = Arg::One(t.render(values));
                changed = true;
            }
        }
    }
    for (name, t) in &ops.add {
        if pos(args, name).is_none() {
            args.push((name.clone(), Arg::One(t.render(values))));
            changed = true;
        }
    }
    for (name, t) in &ops.append {
        let v = t.render(values);
        match pos(args, name) {
            Some(i) => args[i].1 = std::mem::replace(&mut args[i].1, Arg::Bare).appended(v),
            None => args.push((name.clone(), Arg::One(v))),
        }
        changed = true;
    }
    changed
}

/// Kong's `append` on a JSON property: a string becomes a list of it and the value, a list
/// grows, anything else is replaced by a list of the value.
pub fn append_json(map: &mut Map<String, Value>, name: &str, v: Value) {
    let next = match map.remove(name) {
        Some(Value::String(old)) => Value::Array(vec![Value::String(old), v]),
        Some(Value::Array(mut all)) => {
            all.push(v);
            Value::Array(all)
        }
        _ => Value::Array(vec![v]),
    };
    map.insert(name.to_string(), next);
}

/// A JSON body with the operations applied, or `None` when it stays as sent (unchanged, or
/// not a JSON object: Kong passes a body it cannot decode).
pub fn apply_json(body: &[u8], ops: &Ops, values: &dyn Values) -> Option<Vec<u8>> {
    let had_body = !body.is_empty();
    let mut map = if had_body {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            _ => return None,
        }
    } else {
        Map::new()
    };
    let present =
        |m: &Map<String, Value>, n: &str| m.get(n).is_some_and(|v| *v != Value::Bool(false));
    let mut changed = false;
    if had_body {
        for name in &ops.remove {
            changed |= map.remove(name).is_some();
        }
        for (old, new) in &ops.rename {
            if old != new {
                if let Some(v) = map.remove(old) {
                    map.insert(new.clone(), v);
                    changed = true;
                }
            }
        }
        for (name, t) in &ops.replace {
            if present(&map, name) {
                map.insert(name.clone(), Value::String(t.render(values)));
                changed = true;
            }
        }
    }
    for (name, t) in &ops.add {
        if !present(&map, name) {
            map.insert(name.clone(), Value::String(t.render(values)));
            changed = true;
        }
    }
    for (name, t) in &ops.append {
        append_json(&mut map, name, Value::String(t.render(values)));
        changed = true;
    }
    changed.then(|| serde_json::to_vec(&Value::Object(map)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::super::template::Key;
    use super::*;

    struct NoValues;
    impl Values for NoValues {
        fn header(&self, _: &str) -> Option<String> {
            None
        }
        fn query(&self, _: &str) -> Option<String> {
            None
        }
        fn capture(&self, _: &Key) -> Option<String> {
            None
        }
    }

    fn t(s: &str) -> Template {
        Template::parse(s).expect("template")
    }

    fn ops() -> Ops {
        Ops {
            remove: vec!["drop".into()],
            rename: vec![("old".into(), "new".into())],
            replace: vec![("swap".into(), t("s")), ("absent".into(), t("x"))],
            add: vec![("added".into(), t("a")), ("swap".into(), t("never"))],
            append: vec![("list".into(), t("2")), ("fresh".into(), t("f"))],
        }
    }

    #[test]
    fn arguments_follow_kongs_order() {
        let mut args = decode("drop=1&old=o&swap=1&list=1&flag&sp=a%20b");
        assert!(apply_args(&mut args, &ops(), &NoValues, true));
        assert_eq!(
            encode(&args),
            "swap=s&list=1&list=2&flag&sp=a%20b&new=o&added=a&fresh=f"
        );
        // Without a body only add and append apply.
        let mut args = decode("drop=1");
        apply_args(&mut args, &ops(), &NoValues, false);
        assert_eq!(encode(&args), "drop=1&added=a&swap=never&list=2&fresh=f");
    }

    #[test]
    fn json_bodies_follow_kongs_order() {
        let body = br#"{"drop":1,"old":"o","swap":true,"list":"1","n":5}"#;
        let out = apply_json(body, &ops(), &NoValues).expect("changed");
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"new": "o", "swap": "s", "list": ["1", "2"], "n": 5,
                "added": "a", "fresh": ["f"]})
        );
        assert!(
            apply_json(b"[1]", &ops(), &NoValues).is_none(),
            "not an object"
        );
        assert!(apply_json(b"{bad", &ops(), &NoValues).is_none(), "not JSON");
        let empty = apply_json(b"", &ops(), &NoValues).expect("added to nothing");
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).expect("json"),
            serde_json::json!({"added": "a", "swap": "never", "list": ["2"], "fresh": ["f"]})
        );
    }
}
