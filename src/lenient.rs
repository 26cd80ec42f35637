//! Deserializing one entity field by field: every bad field is reported once in Kong's schema
//! phrases and dropped, so the rest of the entity is still parsed and checked.
//!
//! serde stops at the first bad field. To report them all, a failed parse is retried on a copy
//! of the tree with the reported field taken out (an unknown field removed, a mistyped value
//! removed so its `Option` reads as absent, a bad array element replaced by an element that
//! already parsed). Findings that would only follow from a dropped field are muted: see
//! [`Parsed::mutes`].

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// Bound on retries: one per reported field.
const MAX_PROBLEMS: usize = 128;

/// The outcome of a lenient parse.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The entity without its bad fields; `None` when a problem cannot be dropped (a required
    /// field missing).
    pub value: Option<T>,
    /// `(path inside the entity, Kong's message)`, in the order found.
    pub problems: Vec<(String, String)>,
    /// Paths (inside the entity) whose later findings are consequences of a dropped field;
    /// `""` mutes the entity's own checks (a mistyped field may be one they read).
    muted: Vec<String>,
}

impl<T> Parsed<T> {
    /// The paths of dropped fields (inside the entity), `""` when entity-wide checks are muted.
    pub fn mutes(&self) -> &[String] {
        &self.muted
    }
}

/// Whether `path` is `muted` or lies under it (`a.b` mutes `a.b.c` and `a.b[0]`).
pub fn is_under(path: &str, muted: &str) -> bool {
    path == muted
        || (!muted.is_empty()
            && path.starts_with(muted)
            && matches!(path.as_bytes().get(muted.len()), Some(b'.' | b'[')))
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// How a problem can be taken out of the tree.
#[derive(PartialEq)]
enum Fix {
    /// An unknown field: removing it changes nothing else.
    Remove,
    /// A bad value: removing it may change what entity checks see.
    RemoveValue,
    /// Nothing to remove (a required field missing).
    Stop,
}

/// Parses `v` as `T`, reporting every bad field.
pub fn parse<T: DeserializeOwned>(v: &Value) -> Parsed<T> {
    let mut out = Parsed {
        value: None,
        problems: Vec::new(),
        muted: Vec::new(),
    };
    if let Ok(t) = T::deserialize(v) {
        out.value = Some(t);
        return out;
    }
    let mut tree = v.clone();
    // Leading elements removed from an array (by the array's path in the current tree), to
    // report later elements at their index in the file.
    let mut shifts: HashMap<String, usize> = HashMap::new();
    for _ in 0..MAX_PROBLEMS {
        let err = match serde_path_to_error::deserialize::<_, T>(&tree) {
            Ok(t) => {
                out.value = Some(t);
                return out;
            }
            Err(e) => e,
        };
        let mut segs: Vec<Seg> = Vec::new();
        let mut known = true;
        for s in err.path().iter() {
            match s {
                serde_path_to_error::Segment::Map { key } => segs.push(Seg::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => segs.push(Seg::Index(*index)),
                _ => known = false,
            }
        }
        let (message, fix) = phrase(&err.into_inner().to_string(), &mut segs);
        let shown = file_path(&segs, &shifts);
        if !out
            .problems
            .iter()
            .any(|(p, m)| *p == shown && *m == message)
        {
            out.problems.push((shown.clone(), message));
        }
        if fix == Fix::RemoveValue && !out.muted.iter().any(String::is_empty) {
            out.muted.push(String::new());
        }
        out.muted.push(shown);
        if fix == Fix::Stop || !known || segs.is_empty() || !take_out(&mut tree, &segs, &mut shifts)
        {
            return out;
        }
    }
    out
}

/// Kong's phrase for a serde message, and how to take the problem out.
fn phrase(serde: &str, segs: &mut Vec<Seg>) -> (String, Fix) {
    if serde.starts_with("unknown field") {
        return ("unknown field".into(), Fix::Remove);
    }
    if let Some(rest) = serde.strip_prefix("missing field `") {
        if let Some(name) = rest.split('`').next() {
            segs.push(Seg::Key(name.to_string()));
        }
        return ("required field missing".into(), Fix::Stop);
    }
    if let Some(rest) = serde.strip_prefix("invalid type: ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return (expected_phrase(expected), Fix::RemoveValue);
    }
    if let Some(rest) = serde.strip_prefix("invalid value: integer `") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        if let Some((lo, hi)) = int_range(expected) {
            return (
                format!("value should be between {lo} and {hi}"),
                Fix::RemoveValue,
            );
        }
    }
    if let Some(rest) = serde.strip_prefix("unknown variant `") {
        let expected = rest.split_once("expected ").map_or("", |(_, e)| e);
        let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if !names.is_empty() {
            return (
                format!("expected one of: {}", names.join(", ")),
                Fix::RemoveValue,
            );
        }
    }
    if serde.starts_with("data did not match any variant of untagged enum RefSpec") {
        return (
            "expected a name, an id or a record with one".into(),
            Fix::RemoveValue,
        );
    }
    (serde.to_string(), Fix::RemoveValue)
}

/// Kong's "expected ..." for what serde expected.
fn expected_phrase(serde: &str) -> String {
    let kong = match serde {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize"
        | "an integer" => "an integer",
        "f32" | "f64" | "a number" => "a number",
        "a string" | "a borrowed string" | "a character" | "a char" => "a string",
        "a boolean" => "a boolean",
        "a sequence" => "an array",
        "a map" => "a map",
        s if s.starts_with("struct ") => "a record",
        other => return format!("expected {other}"),
    };
    format!("expected {kong}")
}

/// The range of a Rust integer type serde names.
fn int_range(serde: &str) -> Option<(i128, i128)> {
    Some(match serde {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// `segs` written as a path, each index as it is in the file.
fn file_path(segs: &[Seg], shifts: &HashMap<String, usize>) -> String {
    let mut tree_path = String::new();
    let mut shown = String::new();
    for s in segs {
        match s {
            Seg::Key(k) => {
                for p in [&mut tree_path, &mut shown] {
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(k);
                }
            }
            Seg::Index(i) => {
                let shift = shifts.get(&tree_path).copied().unwrap_or(0);
                shown.push_str(&format!("[{}]", i + shift));
                tree_path.push_str(&format!("[{i}]"));
            }
        }
    }
    shown
}

/// Takes the value at `segs` out of `tree`; false when it is not there.
fn take_out(tree: &mut Value, segs: &[Seg], shifts: &mut HashMap<String, usize>) -> bool {
    let Some((last, parent_segs)) = segs.split_last() else {
        return false;
    };
    let Some(parent) = walk(tree, parent_segs) else {
        return false;
    };
    match (last, parent) {
        (Seg::Key(k), Value::Object(map)) => map.remove(k).is_some(),
        (Seg::Index(i), Value::Array(items)) if *i < items.len() => {
            if *i > 0 {
                // Every element before it parsed: stand one of them in for the bad one.
                items[*i] = items[0].clone();
                true
            } else if items.len() > 1 {
                items.remove(0);
                *shifts
                    .entry(file_path(parent_segs, &HashMap::new()))
                    .or_default() += 1;
                true
            } else {
                take_out(tree, parent_segs, shifts)
            }
        }
        _ => false,
    }
}

fn walk<'a>(tree: &'a mut Value, segs: &[Seg]) -> Option<&'a mut Value> {
    segs.iter().try_fold(tree, |v, s| match s {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Route {
        name: Option<String>,
        paths: Option<Vec<String>>,
        strip_path: Option<bool>,
        regex_priority: Option<i64>,
        port: Option<u16>,
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        A,
        B,
    }

    #[test]
    fn every_bad_field_is_reported_once_in_kongs_words() {
        let p = parse::<Route>(&json!({
            "name": "r", "strip_pth": true, "regex_priority": "abc",
            "paths": [5, "/ok", 6, true], "port": 70000, "kind": "c"
        }));
        let r = p.value.as_ref().expect("parsed without the bad fields");
        assert_eq!(r.name.as_deref(), Some("r"));
        assert_eq!(
            p.problems,
            [
                ("kind", "expected one of: a, b"),
                ("paths[0]", "expected a string"),
                ("paths[2]", "expected a string"),
                ("paths[3]", "expected a string"),
                ("port", "value should be between 0 and 65535"),
                ("regex_priority", "expected an integer"),
                ("strip_pth", "unknown field"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert!(p.mutes().iter().any(String::is_empty));
    }

    #[test]
    fn an_unknown_field_alone_mutes_only_itself() {
        let p = parse::<Route>(&json!({"name": "r", "bogus": 1}));
        assert!(p.value.is_some());
        assert_eq!(p.mutes(), ["bogus"]);
        assert!(is_under("bogus.x", "bogus") && is_under("bogus[1]", "bogus"));
        assert!(!is_under("bogus2", "bogus"));
    }

    #[test]
    fn a_missing_required_field_stops() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        let p = parse::<Named>(&json!({}));
        assert!(p.value.is_none());
        assert_eq!(
            p.problems,
            [("name".into(), "required field missing".into())]
        );
    }
}
