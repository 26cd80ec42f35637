//! Validation: the raw tree -> typed specs -> the [`Model`]. Collects EVERY problem as an
//! [`Issue`] naming its path (`routes[1].service: invalid reference 'service: user' (no such entry in 'services'); known: ...`),
//! never stops at the first and never panics. One pass per entity kind, in reference order
//! (CA certificates, certificates and SNIs, upstreams and targets, services, routes, consumers, credentials,
//! plugins), over one shared index of names and ids.

mod certificates;
mod common;
mod consumers;
mod credentials;
mod plugins;
mod services;
mod upstreams;

use crate::issues::{Issue, Issues};
use crate::model::Model;
pub use common::derive_id;
use common::{nested, top_level, Index, Raw};
use serde_json::Value;

const ENTITY_KEYS: [&str; 13] = [
    "services",
    "routes",
    "consumers",
    "jwt_secrets",
    "keyauth_credentials",
    "basicauth_credentials",
    "acls",
    "plugins",
    "ca_certificates",
    "upstreams",
    "targets",
    "certificates",
    "snis",
];
const UNSUPPORTED_KEYS: [&str; 1] = ["vaults"];

/// The state the passes share: what was found wrong, what was built, and the names and ids
/// of what was seen (entries that failed to parse still resolve, to avoid cascades).
struct Validation {
    issues: Issues,
    model: Model,
    services: Index,
    routes: Index,
    consumers: Index,
    /// Per raw service: whether it validated (a failed one leaves a placeholder behind).
    service_ok: Vec<bool>,
}

/// The entities of the tree, nested ones flattened with their parents remembered.
#[derive(Default)]
struct Gathered<'a> {
    services: Vec<Raw<'a>>,
    routes: Vec<Raw<'a>>,
    consumers: Vec<Raw<'a>>,
    secrets: Vec<Raw<'a>>,
    keyauths: Vec<Raw<'a>>,
    basicauths: Vec<Raw<'a>>,
    acls: Vec<Raw<'a>>,
    plugins: Vec<Raw<'a>>,
    cas: Vec<Raw<'a>>,
    certificates: Vec<Raw<'a>>,
    snis: Vec<Raw<'a>>,
    upstreams: Vec<Raw<'a>>,
    targets: Vec<Raw<'a>>,
}

/// Validates a parsed declarative config tree.
pub fn validate(tree: &Value) -> Result<Model, Vec<Issue>> {
    let Some(top) = tree.as_object() else {
        return Err(vec![Issue {
            path: String::new(),
            message: "expected an object at the top level".into(),
        }]);
    };
    let mut v = Validation {
        issues: Issues::default(),
        model: Model::default(),
        services: Index::new("service"),
        routes: Index::new("route"),
        consumers: Index::new("consumer"),
        service_ok: Vec::new(),
    };
    let legacy = top_level_keys(top, &mut v.issues);
    let raw = gather(tree, &mut v.issues);
    services::ca_certificates(&mut v, &raw.cas);
    certificates::certificates(&mut v, &raw.certificates, &raw.snis);
    upstreams::upstreams_and_targets(&mut v, &raw.upstreams, &raw.targets);
    services::services(&mut v, &raw.services);
    services::routes(&mut v, &raw.routes, legacy);
    consumers::consumers(&mut v, &raw.consumers);
    consumers::jwt_secrets(&mut v, &raw.secrets);
    credentials::keyauth_credentials(&mut v, &raw.keyauths);
    credentials::basicauth_credentials(&mut v, &raw.basicauths);
    credentials::acls(&mut v, &raw.acls);
    plugins::plugins(&mut v, &raw.plugins);
    if v.issues.is_empty() && v.service_ok.iter().all(|ok| *ok) {
        Ok(v.model)
    } else {
        Err(v.issues.0)
    }
}

/// Checks `_format_version` and the top-level keys; true for a 1.1/2.1 (legacy) file.
fn top_level_keys(top: &serde_json::Map<String, Value>, issues: &mut Issues) -> bool {
    let legacy = match top.get("_format_version") {
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
    legacy
}

/// Walks the tree once, flattening nested children and remembering their parents.
fn gather<'a>(tree: &'a Value, issues: &mut Issues) -> Gathered<'a> {
    let mut g = Gathered::default();
    for svc in top_level(tree, "services", issues) {
        let i = g.services.len();
        for route in nested(&svc, "routes", issues) {
            let r = g.routes.len();
            let plugins = nested(&route, "plugins", issues);
            g.plugins
                .extend(plugins.into_iter().map(|p| p.scoped((None, Some(r), None))));
            g.routes.push(route.child_of(i));
        }
        let plugins = nested(&svc, "plugins", issues);
        g.plugins
            .extend(plugins.into_iter().map(|p| p.scoped((Some(i), None, None))));
        g.services.push(svc);
    }
    for route in top_level(tree, "routes", issues) {
        let r = g.routes.len();
        let plugins = nested(&route, "plugins", issues);
        g.plugins
            .extend(plugins.into_iter().map(|p| p.scoped((None, Some(r), None))));
        g.routes.push(route);
    }
    for consumer in top_level(tree, "consumers", issues) {
        let i = g.consumers.len();
        let secrets = nested(&consumer, "jwt_secrets", issues);
        g.secrets.extend(secrets.into_iter().map(|s| s.child_of(i)));
        for (key, list) in [
            ("keyauth_credentials", &mut g.keyauths),
            ("basicauth_credentials", &mut g.basicauths),
            ("acls", &mut g.acls),
        ] {
            list.extend(
                nested(&consumer, key, issues)
                    .into_iter()
                    .map(|c| c.child_of(i)),
            );
        }
        let plugins = nested(&consumer, "plugins", issues);
        g.plugins
            .extend(plugins.into_iter().map(|p| p.scoped((None, None, Some(i)))));
        g.consumers.push(consumer);
    }
    g.secrets.extend(top_level(tree, "jwt_secrets", issues));
    g.keyauths
        .extend(top_level(tree, "keyauth_credentials", issues));
    g.basicauths
        .extend(top_level(tree, "basicauth_credentials", issues));
    g.acls.extend(top_level(tree, "acls", issues));
    g.plugins.extend(top_level(tree, "plugins", issues));
    g.cas = top_level(tree, "ca_certificates", issues);
    for cert in top_level(tree, "certificates", issues) {
        let i = g.certificates.len();
        let snis = nested(&cert, "snis", issues);
        g.snis.extend(snis.into_iter().map(|s| s.child_of(i)));
        g.certificates.push(cert);
    }
    g.snis.extend(top_level(tree, "snis", issues));
    for up in top_level(tree, "upstreams", issues) {
        let i = g.upstreams.len();
        let targets = nested(&up, "targets", issues);
        g.targets.extend(targets.into_iter().map(|t| t.child_of(i)));
        g.upstreams.push(up);
    }
    g.targets.extend(top_level(tree, "targets", issues));
    g
}

#[cfg(test)]
mod tests;
