//! What every validation pass shares: entities found in the tree with their paths, the
//! index of names and ids that resolves references, id assignment and uniqueness.

use crate::issues::{join, Issues};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Validation builds several maps keyed by every entity's id and name: a fast hasher (still
/// randomly seeded) keeps a 10,000-route config quick to load.
pub(super) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Namespace of the deterministic (UUIDv5) ids of entities written without an `id`.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1e_2b7c_5d3f_4e10_9a8b_7c6d_5e4f_3a2b);

/// Derives an entity's id from its type and endpoint key, so re-loading the same file
/// yields the same ids.
pub fn derive_id(kind: &str, key: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, format!("{kind}:{key}").as_bytes()).to_string()
}

/// Deserializes one entity, reporting each bad field at its path in Kong's words; the entity
/// comes back without those fields (and findings they would cause are muted) unless a
/// required field is missing.
pub(super) fn parse<T: DeserializeOwned>(v: &Value, path: &str, issues: &mut Issues) -> Option<T> {
    let parsed = crate::lenient::parse::<T>(v);
    for (at, message) in &parsed.problems {
        issues.push(join(path, at), message.clone());
    }
    for m in parsed.mutes() {
        if m.is_empty() {
            issues.mute(path, true);
        } else {
            issues.mute(join(path, m), false);
        }
    }
    parsed.value
}

/// The raw array under `key` of an object, with an issue if it is not an array.
fn children<'a>(v: &'a Value, key: &str, path: &str, issues: &mut Issues) -> &'a [Value] {
    match v.get(key) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            issues.push(join(path, key), "expected an array");
            &[]
        }
    }
}

/// The (service, route, consumer) a plugin's nesting implies.
pub(super) type Nesting = (Option<usize>, Option<usize>, Option<usize>);

/// Where an entity sits and which parent it was nested in.
pub(super) struct Raw<'a> {
    pub path: String,
    pub value: &'a Value,
    pub parent: Option<usize>,
    /// For plugins: the scope implied by nesting.
    pub scope: Nesting,
}

impl<'a> Raw<'a> {
    fn at(path: String, value: &'a Value) -> Raw<'a> {
        Raw {
            path,
            value,
            parent: None,
            scope: (None, None, None),
        }
    }

    pub fn child_of(mut self, parent: usize) -> Raw<'a> {
        self.parent = Some(parent);
        self
    }

    pub fn scoped(mut self, scope: Nesting) -> Raw<'a> {
        self.scope = scope;
        self
    }

    /// A string field of the raw entity (used before it parses, to avoid cascades).
    pub fn str_field(&self, key: &str) -> Option<&'a str> {
        self.value.get(key).and_then(Value::as_str)
    }
}

/// The entities of a top-level array, each with its path.
pub(super) fn top_level<'a>(tree: &'a Value, key: &str, issues: &mut Issues) -> Vec<Raw<'a>> {
    children(tree, key, "", issues)
        .iter()
        .enumerate()
        .map(|(i, v)| Raw::at(format!("{key}[{i}]"), v))
        .collect()
}

/// The entities written inside a parent (`services[0].routes`), each with its path.
pub(super) fn nested<'a>(parent: &Raw<'a>, key: &str, issues: &mut Issues) -> Vec<Raw<'a>> {
    children(parent.value, key, &parent.path, issues)
        .iter()
        .enumerate()
        .map(|(i, v)| Raw::at(format!("{}.{key}[{i}]", parent.path), v))
        .collect()
}

/// An index of entities by id and by name, for resolving references.
pub(super) struct Index {
    kind: &'static str,
    pub by_key: HashMap<String, usize>,
    names: Vec<String>,
    seen: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

impl Index {
    pub fn new(kind: &'static str) -> Index {
        Index {
            kind,
            by_key: HashMap::default(),
            names: Vec::new(),
            seen: Default::default(),
        }
    }

    /// Remembers a name for "known: ..." hints (once each, in order; a set keeps this
    /// linear for configs with thousands of entities).
    pub fn add_name(&mut self, n: &str) {
        if self.seen.insert(n.to_string()) {
            self.names.push(n.to_string());
        }
    }

    pub fn resolve(
        &self,
        r: &super::super::file::RefSpec,
        path: &str,
        issues: &mut Issues,
    ) -> Option<usize> {
        let Some(key) = r.key() else {
            issues.push(path, "expected a name or an id");
            return None;
        };
        match self.by_key.get(key) {
            Some(i) => Some(*i),
            None => {
                const SHOWN: usize = 20;
                // Kong's words, then the names that do exist.
                let kind = self.kind;
                let mut message =
                    format!("invalid reference '{kind}: {key}' (no such entry in '{kind}s')");
                match self.names.len() {
                    0 => {}
                    n if n <= SHOWN => {
                        message.push_str(&format!("; known: {}", self.names.join(", ")));
                    }
                    n => message.push_str(&format!(
                        "; known: {}, and {} more",
                        self.names[..SHOWN].join(", "),
                        n - SHOWN
                    )),
                }
                issues.push(path, message);
                None
            }
        }
    }
}

/// Checks an explicit id or derives one; records uniqueness per entity type.
pub(super) fn assign_id(
    kind: &str,
    explicit: Option<&str>,
    key: &str,
    path: &str,
    seen: &mut HashMap<String, String>,
    issues: &mut Issues,
) -> String {
    let id = match explicit {
        Some(id) => {
            if uuid::Uuid::parse_str(id).is_err() {
                issues.push(
                    join(path, "id"),
                    format!("expected a valid UUID (got \"{id}\")"),
                );
            }
            id.to_ascii_lowercase()
        }
        None => derive_id(kind, key),
    };
    // A clash of derived ids is a clash of keys, which `unique` reports by name.
    if let Some(first) = seen
        .insert(id.clone(), path.to_string())
        .filter(|_| explicit.is_some())
    {
        issues.push(
            join(path, "id"),
            format!(
                "uniqueness violation: '{kind}' entity with id '{id}' already declared at {first}"
            ),
        );
    }
    id
}

/// Reports a value already used by another entity of the same kind.
pub(super) fn unique(
    kind: &str,
    field: &str,
    value: &str,
    path: &str,
    seen: &mut HashMap<String, String>,
    issues: &mut Issues,
) {
    if let Some(first) = seen.insert(value.to_string(), path.to_string()) {
        issues.push(
            join(path, field),
            format!("uniqueness violation: '{kind}' entity with {field} set to '{value}' already declared at {first}"),
        );
    }
}

/// A random credential value, as Kong makes for a `key` or `secret` left out.
pub(super) fn random_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}
