//! The pass over plugins: scope references, the plugin's own parse and checks (from the
//! registry), uniqueness per scope.

use super::common::{assign_id, parse, HashMap, Raw};
use super::Validation;
use crate::config::file::PluginSpec;
use crate::issues::join;
use crate::model::Plugin;
use crate::plugins::registry::{self, CheckCtx, ON_SCOPE};

/// Every plugin instance, with its scope resolved and its config checked.
pub(super) fn plugins(v: &mut Validation, raws: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    let mut scopes = HashMap::default();
    for raw in raws {
        let Some(spec) = parse::<PluginSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let service = match (&spec.service, raw.scope.0) {
            (_, Some(s)) => Some(s),
            (Some(r), None) => v
                .services
                .resolve(r, &join(&raw.path, "service"), &mut v.issues),
            (None, None) => None,
        };
        let route = match (&spec.route, raw.scope.1) {
            (_, Some(r)) => Some(r),
            (Some(r), None) => v
                .routes
                .resolve(r, &join(&raw.path, "route"), &mut v.issues),
            (None, None) => None,
        };
        let consumer = match (&spec.consumer, raw.scope.2) {
            (_, Some(c)) => Some(c),
            (Some(r), None) => v
                .consumers
                .resolve(r, &join(&raw.path, "consumer"), &mut v.issues),
            (None, None) => None,
        };
        let config = check_config(v, &spec, consumer.is_some(), &raw.path);
        // The scope's ids; `None` when a reference was written but names nothing valid (its
        // problem is reported already, and the scope is unknown, so no duplicate is claimed).
        let named = |written: bool, id: Option<&str>| match id {
            Some("") => None,
            Some(id) => Some(id.to_string()),
            None if written => None,
            None => Some(String::new()),
        };
        let parts = [
            named(
                spec.service.is_some(),
                service
                    .and_then(|s| v.model.services.get(s))
                    .map(|s| s.id.as_str()),
            ),
            named(
                spec.route.is_some(),
                route
                    .and_then(|r| v.model.routes.get(r))
                    .map(|r| r.id.as_str()),
            ),
            named(
                spec.consumer.is_some(),
                consumer
                    .and_then(|c| v.model.consumers.get(c))
                    .map(|c| c.id.as_str()),
            ),
        ];
        let scope_key = format!(
            "{}|{}|{}|{}|{}",
            spec.name,
            parts[0].as_deref().unwrap_or("?"),
            parts[1].as_deref().unwrap_or("?"),
            parts[2].as_deref().unwrap_or("?"),
            spec.instance_name.as_deref().unwrap_or("")
        );
        let known_scope = parts.iter().all(Option::is_some);
        if let Some(first) = scopes
            .insert(scope_key.clone(), raw.path.clone())
            .filter(|_| known_scope)
        {
            v.issues.push(
                raw.path.clone(),
                format!("uniqueness violation: plugin '{}' with the same scope already declared at {first}", spec.name),
            );
        }
        let id = assign_id(
            "plugins",
            spec.id.as_deref(),
            &scope_key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        let Some(config) = config else { continue };
        v.model.plugins.push(Plugin {
            id,
            name: spec.name,
            instance_name: spec.instance_name,
            config,
            service,
            route,
            consumer,
            protocols: spec.protocols.unwrap_or_else(|| {
                ["grpc", "grpcs", "http", "https"]
                    .map(String::from)
                    .to_vec()
            }),
            enabled: spec.enabled.unwrap_or(true),
            tags: spec.tags,
        });
    }
}

/// The plugin's `config:` parsed and checked by its registry entry; problems reported.
fn check_config(
    v: &mut Validation,
    spec: &PluginSpec,
    consumer_scoped: bool,
    path: &str,
) -> Option<crate::model::PluginConfig> {
    if spec.name == "pre-function" || spec.name == "post-function" {
        v.issues.push(
            join(path, "name"),
            format!(
                "plugin '{}' runs inline Lua: Lua functions are not supported by Skyport",
                spec.name
            ),
        );
        return None;
    }
    let Some(entry) = registry::find(&spec.name) else {
        let known: Vec<&str> = registry::names().collect();
        v.issues.push(
            join(path, "name"),
            format!(
                "plugin '{}' is not supported by Skyport (known plugins: {})",
                spec.name,
                known.join(", ")
            ),
        );
        return None;
    };
    let consumers = &v.consumers;
    let exists = |key: &str| consumers.by_key.contains_key(key);
    let ctx = CheckCtx {
        name: &spec.name,
        consumer_scoped,
        consumer_exists: &exists,
    };
    match (entry.parse)(spec.config.as_ref(), &ctx) {
        Ok(c) => Some(c),
        Err(list) => {
            for (field, msg) in list {
                let at = if field == ON_SCOPE {
                    path.to_string()
                } else {
                    join(&join(path, "config"), &field)
                };
                v.issues.push(at, msg);
            }
            None
        }
    }
}
