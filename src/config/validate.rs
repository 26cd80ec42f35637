//! Validation: the raw tree -> typed specs -> the [`Model`]. Collects EVERY problem as an
//! [`Issue`] naming its path (`routes[1].service: unknown service "user" (known: ...)`),
//! never stops at the first and never panics.

use super::entities::{check_name, placeholder_route, placeholder_service, route, service};
use super::file::*;
use super::model::*;
use crate::plugins::{PluginConfig, KNOWN};
use serde::de::DeserializeOwned;
use serde_json::Value;
/// Validation builds several maps keyed by every entity's id and name: a fast hasher (still
/// randomly seeded) keeps a 10,000-route config quick to load.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// One problem in a declarative config: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Path of the offending value, e.g. `services[0].routes[1].paths[0]`.
    pub path: String,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Namespace of the deterministic (UUIDv5) ids of entities written without an `id`.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a1e_2b7c_5d3f_4e10_9a8b_7c6d_5e4f_3a2b);

/// Derives an entity's id from its type and endpoint key, so re-loading the same file
/// yields the same ids.
pub fn derive_id(kind: &str, key: &str) -> String {
    uuid::Uuid::new_v5(&ID_NAMESPACE, format!("{kind}:{key}").as_bytes()).to_string()
}

const ENTITY_KEYS: [&str; 8] = [
    "services",
    "routes",
    "consumers",
    "jwt_secrets",
    "plugins",
    "ca_certificates",
    "upstreams",
    "targets",
];
const UNSUPPORTED_KEYS: [&str; 5] = [
    "certificates",
    "snis",
    "vaults",
    "keyauth_credentials",
    "basicauth_credentials",
];
const ALGORITHMS: [&str; 13] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
    "PS384", "PS512", "EdDSA",
];

/// The problems found so far.
#[derive(Default)]
pub(super) struct Issues(pub(super) Vec<Issue>);

impl Issues {
    /// Records one problem.
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// `path.field`, or `path[i]` for an index.
pub(super) fn join(path: &str, field: &str) -> String {
    if field.is_empty() {
        path.to_string()
    } else if path.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{path}{field}")
    } else {
        format!("{path}.{field}")
    }
}

/// Deserializes one entity, reporting a failure at its path.
fn parse<T: DeserializeOwned>(v: &Value, path: &str, issues: &mut Issues) -> Option<T> {
    // Most entities are valid: deserialize directly, and only track the path on failure.
    if let Ok(t) = T::deserialize(v) {
        return Some(t);
    }
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let inner = e.path().to_string();
            let at = if inner == "." {
                path.to_string()
            } else {
                join(path, &inner)
            };
            issues.push(at, e.into_inner().to_string());
            None
        }
    }
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

/// Where an entity sits and which parent it was nested in.
struct Raw<'a> {
    path: String,
    value: &'a Value,
    parent: Option<usize>,
    /// For plugins: (service, route, consumer) implied by nesting.
    scope: (Option<usize>, Option<usize>, Option<usize>),
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

    fn child_of(mut self, parent: usize) -> Raw<'a> {
        self.parent = Some(parent);
        self
    }

    fn scoped(mut self, scope: (Option<usize>, Option<usize>, Option<usize>)) -> Raw<'a> {
        self.scope = scope;
        self
    }
}

/// The entities of a top-level array, each with its path.
fn top_level<'a>(tree: &'a Value, key: &str, issues: &mut Issues) -> Vec<Raw<'a>> {
    children(tree, key, "", issues)
        .iter()
        .enumerate()
        .map(|(i, v)| Raw::at(format!("{key}[{i}]"), v))
        .collect()
}

/// The entities written inside a parent (`services[0].routes`), each with its path.
fn nested<'a>(parent: &Raw<'a>, key: &str, issues: &mut Issues) -> Vec<Raw<'a>> {
    children(parent.value, key, &parent.path, issues)
        .iter()
        .enumerate()
        .map(|(i, v)| Raw::at(format!("{}.{key}[{i}]", parent.path), v))
        .collect()
}

/// An index of entities by id and by name, for resolving references.
struct Index {
    kind: &'static str,
    by_key: HashMap<String, usize>,
    names: Vec<String>,
    seen: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

impl Index {
    fn new(kind: &'static str) -> Index {
        Index {
            kind,
            by_key: HashMap::default(),
            names: Vec::new(),
            seen: Default::default(),
        }
    }

    /// Remembers a name for "known: ..." hints (once each, in order; a set keeps this
    /// linear for configs with thousands of entities).
    fn add_name(&mut self, n: &str) {
        if self.seen.insert(n.to_string()) {
            self.names.push(n.to_string());
        }
    }

    fn resolve(&self, r: &RefSpec, path: &str, issues: &mut Issues) -> Option<usize> {
        let Some(key) = r.key() else {
            issues.push(path, "expected a name or an id");
            return None;
        };
        match self.by_key.get(key) {
            Some(i) => Some(*i),
            None => {
                const SHOWN: usize = 20;
                let known = match self.names.len() {
                    0 => "none".to_string(),
                    n if n <= SHOWN => self.names.join(", "),
                    n => format!("{}, and {} more", self.names[..SHOWN].join(", "), n - SHOWN),
                };
                issues.push(
                    path,
                    format!("unknown {} \"{key}\" (known: {known})", self.kind),
                );
                None
            }
        }
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Checks an explicit id or derives one; records uniqueness per entity type.
fn assign_id(
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

fn unique(
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

fn random_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// Upstreams, then their targets (nested or naming their upstream).
fn upstreams_and_targets(
    raw_upstreams: &[Raw<'_>],
    raw_targets: &[Raw<'_>],
    model: &mut Model,
    issues: &mut Issues,
) {
    let mut index = Index::new("upstream");
    let mut ids = HashMap::default();
    let mut names = HashMap::default();
    // Raw position -> index in `model.upstreams` (entries that failed are left out).
    let mut placed = Vec::with_capacity(raw_upstreams.len());
    for raw in raw_upstreams {
        let spec = parse::<UpstreamSpec>(raw.value, &raw.path, issues);
        let name = str_field(raw.value, "name")
            .unwrap_or(&raw.path)
            .to_string();
        let id = assign_id(
            "upstreams",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &name,
            &raw.path,
            &mut ids,
            issues,
        );
        let up = spec.and_then(|s| super::upstreams::upstream(s, id.clone(), &raw.path, issues));
        let Some(up) = up else {
            placed.push(None);
            continue;
        };
        unique("upstreams", "name", &up.name, &raw.path, &mut names, issues);
        index.by_key.insert(up.name.clone(), model.upstreams.len());
        index.by_key.insert(id, model.upstreams.len());
        index.add_name(&up.name);
        placed.push(Some(model.upstreams.len()));
        model.upstreams.push(up);
    }
    let mut target_ids = HashMap::default();
    let mut per_upstream = HashMap::default();
    for raw in raw_targets {
        let Some(spec) = parse::<TargetSpec>(raw.value, &raw.path, issues) else {
            continue;
        };
        let upstream = match (&spec.upstream, raw.parent) {
            (_, Some(p)) => placed[p],
            (Some(r), None) => index.resolve(r, &join(&raw.path, "upstream"), issues),
            (None, None) => {
                issues.push(join(&raw.path, "upstream"), "required field missing");
                None
            }
        };
        let Some(written) = spec.target.as_deref() else {
            issues.push(join(&raw.path, "target"), "required field missing");
            continue;
        };
        let (host, port) = match super::upstreams::parse_target(written) {
            Ok(hp) => hp,
            Err(e) => {
                issues.push(join(&raw.path, "target"), e);
                continue;
            }
        };
        let weight = spec.weight.unwrap_or(100);
        if weight > 65_535 {
            issues.push(
                join(&raw.path, "weight"),
                "value should be between 0 and 65535",
            );
        }
        let Some(upstream) = upstream else { continue };
        let target = super::upstreams::target_name(&host, port);
        let up_name = &model.upstreams[upstream].name;
        let id = assign_id(
            "targets",
            spec.id.as_deref(),
            &format!("{up_name}/{target}"),
            &raw.path,
            &mut target_ids,
            issues,
        );
        if let Some(first) = per_upstream.insert((upstream, target.clone()), raw.path.clone()) {
            issues.push(
                join(&raw.path, "target"),
                format!("uniqueness violation: target '{target}' of upstream '{up_name}' already declared at {first}"),
            );
        }
        model.targets.push(Target {
            id,
            target,
            host,
            port,
            weight,
            upstream,
            tags: spec.tags,
        });
    }
}

/// Validates a parsed declarative config tree.
pub fn validate(tree: &Value) -> Result<Model, Vec<Issue>> {
    let mut issues = Issues::default();
    let Some(top) = tree.as_object() else {
        return Err(vec![Issue {
            path: String::new(),
            message: "expected an object at the top level".into(),
        }]);
    };
    let format = top.get("_format_version");
    let legacy = match format {
        None => {
            issues.push("_format_version", "required field missing");
            false
        }
        Some(Value::String(v)) if v == "3.0" => false,
        Some(Value::String(v)) if v == "1.1" || v == "2.1" => true,
        Some(v) => {
            issues.push(
                "_format_version",
                format!("expected one of: 1.1, 2.1, 3.0 (got {v})"),
            );
            false
        }
    };
    for (k, v) in top {
        match k.as_str() {
            "_format_version" | "_comment" | "_ignore" | "_workspace" => {}
            "_transform" if !v.is_boolean() => issues.push("_transform", "expected a boolean"),
            "_transform" => {}
            k if ENTITY_KEYS.contains(&k) => {}
            k if UNSUPPORTED_KEYS.contains(&k) => issues.push(
                k,
                format!("'{k}' entities are not supported by Skyport yet"),
            ),
            k => issues.push(
                k,
                format!(
                    "unknown field (expected one of: _format_version, _transform, {})",
                    ENTITY_KEYS.join(", ")
                ),
            ),
        }
    }

    // Walk the tree once, flattening nested children and remembering their parents.
    let mut raw_services = Vec::new();
    let mut raw_routes = Vec::new();
    let mut raw_consumers = Vec::new();
    let mut raw_secrets = Vec::new();
    let mut raw_plugins = Vec::new();
    for svc in top_level(tree, "services", &mut issues) {
        let i = raw_services.len();
        for route in nested(&svc, "routes", &mut issues) {
            let r = raw_routes.len();
            raw_plugins.extend(
                nested(&route, "plugins", &mut issues)
                    .into_iter()
                    .map(|p| p.scoped((None, Some(r), None))),
            );
            raw_routes.push(route.child_of(i));
        }
        raw_plugins.extend(
            nested(&svc, "plugins", &mut issues)
                .into_iter()
                .map(|p| p.scoped((Some(i), None, None))),
        );
        raw_services.push(svc);
    }
    for route in top_level(tree, "routes", &mut issues) {
        let r = raw_routes.len();
        raw_plugins.extend(
            nested(&route, "plugins", &mut issues)
                .into_iter()
                .map(|p| p.scoped((None, Some(r), None))),
        );
        raw_routes.push(route);
    }
    for consumer in top_level(tree, "consumers", &mut issues) {
        let i = raw_consumers.len();
        raw_secrets.extend(
            nested(&consumer, "jwt_secrets", &mut issues)
                .into_iter()
                .map(|s| s.child_of(i)),
        );
        raw_plugins.extend(
            nested(&consumer, "plugins", &mut issues)
                .into_iter()
                .map(|p| p.scoped((None, None, Some(i)))),
        );
        raw_consumers.push(consumer);
    }
    raw_secrets.extend(top_level(tree, "jwt_secrets", &mut issues));
    raw_plugins.extend(top_level(tree, "plugins", &mut issues));
    let raw_cas = top_level(tree, "ca_certificates", &mut issues);
    let mut raw_upstreams = Vec::new();
    let mut raw_targets = Vec::new();
    for up in top_level(tree, "upstreams", &mut issues) {
        let i = raw_upstreams.len();
        raw_targets.extend(
            nested(&up, "targets", &mut issues)
                .into_iter()
                .map(|t| t.child_of(i)),
        );
        raw_upstreams.push(up);
    }
    raw_targets.extend(top_level(tree, "targets", &mut issues));

    let mut model = Model::default();

    // CA certificates first: services refer to them.
    let mut ca_ids = HashMap::default();
    for raw in &raw_cas {
        let Some(spec) = parse::<CaCertificateSpec>(raw.value, &raw.path, &mut issues) else {
            continue;
        };
        let id = assign_id(
            "ca_certificates",
            spec.id.as_deref(),
            &spec.cert,
            &raw.path,
            &mut ca_ids,
            &mut issues,
        );
        let der = super::tls::pem_certificates(&spec.cert)
            .map_err(|e| issues.push(join(&raw.path, "cert"), e))
            .unwrap_or_default();
        model.ca_certificates.push(CaCertificate {
            id,
            cert: spec.cert,
            der,
            tags: spec.tags,
        });
    }

    upstreams_and_targets(&raw_upstreams, &raw_targets, &mut model, &mut issues);

    // Services. Names of entries that fail to parse still resolve, to avoid cascades.
    let mut services = Index::new("service");
    let mut service_ids = HashMap::default();
    let mut service_names = HashMap::default();
    let mut service_ok = Vec::new();
    for (i, raw) in raw_services.iter().enumerate() {
        if let Some(n) = str_field(raw.value, "name") {
            services.by_key.insert(n.to_string(), i);
            services.add_name(n);
        }
        let spec = parse::<ServiceSpec>(raw.value, &raw.path, &mut issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "services",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut service_ids,
            &mut issues,
        );
        services.by_key.insert(id.clone(), i);
        if let Some(n) = spec.as_ref().and_then(|s| s.name.as_deref()) {
            check_name(n, &raw.path, &mut issues);
            unique(
                "services",
                "name",
                n,
                &raw.path,
                &mut service_names,
                &mut issues,
            );
        }
        let svc = spec.and_then(|s| service(s, id, &raw.path, &model.ca_certificates, &mut issues));
        service_ok.push(svc.is_some());
        model
            .services
            .push(svc.unwrap_or_else(|| placeholder_service(raw_services.len())));
    }

    // Routes.
    let mut routes = Index::new("route");
    let mut route_ids = HashMap::default();
    let mut route_names = HashMap::default();
    for (i, raw) in raw_routes.iter().enumerate() {
        if let Some(n) = str_field(raw.value, "name") {
            routes.by_key.insert(n.to_string(), i);
            routes.add_name(n);
        }
        let spec = parse::<RouteSpec>(raw.value, &raw.path, &mut issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "routes",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut route_ids,
            &mut issues,
        );
        routes.by_key.insert(id.clone(), i);
        let Some(spec) = spec else {
            model.routes.push(placeholder_route());
            continue;
        };
        if let Some(n) = spec.name.as_deref() {
            check_name(n, &raw.path, &mut issues);
            unique(
                "routes",
                "name",
                n,
                &raw.path,
                &mut route_names,
                &mut issues,
            );
        }
        let service = match (&spec.service, raw.parent) {
            (Some(r), Some(parent)) => {
                let named = services.resolve(r, &join(&raw.path, "service"), &mut issues);
                if named.is_some_and(|n| n != parent) {
                    issues.push(
                        join(&raw.path, "service"),
                        "a nested route cannot name another service",
                    );
                }
                Some(parent)
            }
            (Some(r), None) => services.resolve(r, &join(&raw.path, "service"), &mut issues),
            (None, parent) => parent,
        };
        model
            .routes
            .push(route(spec, id, service, legacy, &raw.path, &mut issues));
    }

    // Consumers.
    let mut consumers = Index::new("consumer");
    let mut consumer_ids = HashMap::default();
    let mut usernames = HashMap::default();
    let mut custom_ids = HashMap::default();
    for (i, raw) in raw_consumers.iter().enumerate() {
        for k in ["username", "custom_id"] {
            if let Some(n) = str_field(raw.value, k) {
                consumers.by_key.insert(n.to_string(), i);
                if k == "username" {
                    consumers.add_name(n);
                }
            }
        }
        let spec = parse::<ConsumerSpec>(raw.value, &raw.path, &mut issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.username.clone().or(s.custom_id.clone()))
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "consumers",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut consumer_ids,
            &mut issues,
        );
        consumers.by_key.insert(id.clone(), i);
        let spec = spec.unwrap_or(ConsumerSpec {
            id: None,
            username: None,
            custom_id: Some(String::new()),
            tags: None,
            jwt_secrets: Nested::default(),
            plugins: Nested::default(),
            comment: None,
            ignore: None,
        });
        let username = spec.username.filter(|s| !s.is_empty());
        let custom_id = spec.custom_id.filter(|s| !s.is_empty());
        if username.is_none() && custom_id.is_none() {
            issues.push(
                raw.path.clone(),
                "at least one of these fields must be non-empty: 'custom_id', 'username'",
            );
        }
        if let Some(u) = &username {
            unique(
                "consumers",
                "username",
                u,
                &raw.path,
                &mut usernames,
                &mut issues,
            );
        }
        if let Some(c) = custom_id.as_ref().filter(|c| !c.is_empty()) {
            unique(
                "consumers",
                "custom_id",
                c,
                &raw.path,
                &mut custom_ids,
                &mut issues,
            );
        }
        model.consumers.push(Consumer {
            id,
            username,
            custom_id: custom_id.filter(|c| !c.is_empty()),
            tags: spec.tags,
        });
    }

    // JWT credentials.
    let mut secret_ids = HashMap::default();
    let mut secret_keys = HashMap::default();
    for raw in &raw_secrets {
        let Some(spec) = parse::<JwtSecretSpec>(raw.value, &raw.path, &mut issues) else {
            continue;
        };
        let consumer = match (&spec.consumer, raw.parent) {
            (_, Some(p)) => Some(p),
            (Some(r), None) => consumers.resolve(r, &join(&raw.path, "consumer"), &mut issues),
            (None, None) => {
                issues.push(join(&raw.path, "consumer"), "required field missing");
                None
            }
        };
        let key = spec.key.clone().unwrap_or_else(random_token);
        if key.is_empty() {
            issues.push(join(&raw.path, "key"), "must not be empty");
        }
        unique(
            "jwt_secrets",
            "key",
            &key,
            &raw.path,
            &mut secret_keys,
            &mut issues,
        );
        let id = assign_id(
            "jwt_secrets",
            spec.id.as_deref(),
            &key,
            &raw.path,
            &mut secret_ids,
            &mut issues,
        );
        let algorithm = spec.algorithm.clone().unwrap_or_else(|| "HS256".into());
        if !ALGORITHMS.contains(&algorithm.as_str()) {
            issues.push(
                join(&raw.path, "algorithm"),
                format!(
                    "expected one of: {} (got \"{algorithm}\")",
                    ALGORITHMS.join(", ")
                ),
            );
        } else if let Err(e) =
            super::tls::check_public_key(&algorithm, spec.rsa_public_key.as_deref())
        {
            issues.push(join(&raw.path, "rsa_public_key"), e);
        }
        if let Some(consumer) = consumer {
            model.jwt_secrets.push(JwtSecret {
                id,
                key,
                secret: spec.secret.unwrap_or_else(random_token),
                algorithm,
                rsa_public_key: spec.rsa_public_key,
                consumer,
                tags: spec.tags,
            });
        }
    }

    // Plugins.
    let mut plugin_ids = HashMap::default();
    let mut plugin_scopes = HashMap::default();
    let known: Vec<&str> = KNOWN.iter().map(|(n, _)| *n).collect();
    for raw in &raw_plugins {
        let Some(spec) = parse::<PluginSpec>(raw.value, &raw.path, &mut issues) else {
            continue;
        };
        let service = match (&spec.service, raw.scope.0) {
            (_, Some(s)) => Some(s),
            (Some(r), None) => services.resolve(r, &join(&raw.path, "service"), &mut issues),
            (None, None) => None,
        };
        let route = match (&spec.route, raw.scope.1) {
            (_, Some(r)) => Some(r),
            (Some(r), None) => routes.resolve(r, &join(&raw.path, "route"), &mut issues),
            (None, None) => None,
        };
        let consumer = match (&spec.consumer, raw.scope.2) {
            (_, Some(c)) => Some(c),
            (Some(r), None) => consumers.resolve(r, &join(&raw.path, "consumer"), &mut issues),
            (None, None) => None,
        };
        let config = match PluginConfig::parse(&spec.name, spec.config.as_ref()) {
            Ok(c) => Some(c),
            Err(None) => {
                issues.push(
                    join(&raw.path, "name"),
                    format!(
                        "plugin '{}' not enabled; known plugins: {}",
                        spec.name,
                        known.join(", ")
                    ),
                );
                None
            }
            Err(Some(list)) => {
                for (field, msg) in list {
                    issues.push(join(&join(&raw.path, "config"), &field), msg);
                }
                None
            }
        };
        let scope_key = format!(
            "{}|{}|{}|{}|{}",
            spec.name,
            service.map(|s| model.services[s].id.as_str()).unwrap_or(""),
            route
                .and_then(|r| model.routes.get(r))
                .map(|r| r.id.as_str())
                .unwrap_or(""),
            consumer
                .and_then(|c| model.consumers.get(c))
                .map(|c| c.id.as_str())
                .unwrap_or(""),
            spec.instance_name.as_deref().unwrap_or("")
        );
        if let Some(first) = plugin_scopes.insert(scope_key.clone(), raw.path.clone()) {
            issues.push(
                raw.path.clone(),
                format!("uniqueness violation: plugin '{}' with the same scope already declared at {first}", spec.name),
            );
        }
        let id = assign_id(
            "plugins",
            spec.id.as_deref(),
            &scope_key,
            &raw.path,
            &mut plugin_ids,
            &mut issues,
        );
        if spec.name == "jwt" && consumer.is_some() {
            issues.push(
                raw.path.clone(),
                "plugin 'jwt' cannot be applied to consumers",
            );
        }
        if let Some(PluginConfig::Jwt(c)) = &config {
            if let Some(anon) = &c.anonymous {
                if !consumers.by_key.contains_key(anon) {
                    issues.push(
                        join(&raw.path, "config.anonymous"),
                        format!("no consumer with id or username \"{anon}\""),
                    );
                }
            }
        }
        let protocols = spec
            .protocols
            .unwrap_or_else(|| vec!["grpc".into(), "grpcs".into(), "http".into(), "https".into()]);
        if let Some(config) = config {
            model.plugins.push(Plugin {
                id,
                name: spec.name,
                instance_name: spec.instance_name,
                config,
                service,
                route,
                consumer,
                protocols,
                enabled: spec.enabled.unwrap_or(true),
                tags: spec.tags,
            });
        }
    }

    if issues.0.is_empty() && service_ok.iter().all(|ok| *ok) {
        Ok(model)
    } else {
        Err(issues.0)
    }
}
