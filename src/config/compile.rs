//! Compilation: the validated [`Model`] -> a runnable [`Snapshot`]. Builds the router
//! entries, each route's plugin chain (precedence resolved here, once) and service peers.

use super::model::{Model, Route};
use super::validate::Issue;
use crate::plugins;
use crate::plugins::jwt::keyring::{Credential, Keyring};
use crate::router::{Entry, HeaderRule, HostRule, PathMatcher, Priority, Router};
use crate::snapshot::{RouteRuntime, Snapshot};
use crate::upstream::balancer::Balancer;
use crate::upstream::ServicePeer;
use regex::Regex;
use std::collections::HashMap;
use std::sync::Arc;

/// Compiles a validated model; `hash` identifies the text it came from.
pub fn compile(model: Model, hash: String) -> Result<Snapshot, Vec<Issue>> {
    let mut issues = Vec::new();
    let balancers: HashMap<String, Arc<Balancer>> = model
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, up)| {
            let targets: Vec<_> = model.targets.iter().filter(|t| t.upstream == i).collect();
            // Probes over https trust what the services using this upstream trust.
            let ids: Vec<String> = model
                .services
                .iter()
                .filter(|s| s.host == up.name)
                .flat_map(|s| s.ca_certificates.iter().flatten().cloned())
                .collect();
            let trust =
                (!ids.is_empty()).then(|| crate::upstream::trust(&ids, &model.ca_certificates));
            (
                up.name.clone(),
                Arc::new(Balancer::new(up, &targets, trust)),
            )
        })
        .collect();
    let mut services = Vec::with_capacity(model.services.len());
    for (i, svc) in model.services.iter().enumerate() {
        let balancer = balancers.get(&svc.host).cloned();
        match ServicePeer::new(svc, &model.ca_certificates, balancer) {
            Ok(p) => services.push(Arc::new(p)),
            Err(message) => issues.push(Issue {
                path: format!("services[{i}]"),
                message,
            }),
        }
    }
    let ctx = build_ctx(&model, &mut issues);
    let mut entries = Vec::new();
    let mut routes = Vec::with_capacity(model.routes.len());
    for (i, route) in model.routes.iter().enumerate() {
        let enabled = route.service.is_none_or(|s| model.services[s].enabled);
        if enabled {
            match route_entries(i, route) {
                Ok(mut e) => entries.append(&mut e),
                Err(message) => issues.push(Issue {
                    path: format!("routes[{i}]"),
                    message,
                }),
            }
        }
        routes.push(RouteRuntime {
            id: route.id.clone(),
            name: route.name.clone(),
            service: route.service,
            service_id: route
                .service
                .map(|s| Arc::from(model.services[s].id.as_str())),
            strip_path: route.strip_path,
            preserve_host: route.preserve_host,
            https_only: !route.protocols.iter().any(|p| p == "http"),
            https_redirect_status_code: route.https_redirect_status_code,
            chain: chain_for(&model, i, &ctx),
        });
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(Snapshot {
        loaded_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        hash,
        router: Router::new(entries),
        routes,
        services,
        balancers,
        model,
    })
}

/// Consumers and JWT credentials, prepared once for every plugin of the snapshot.
fn build_ctx(model: &Model, issues: &mut Vec<Issue>) -> plugins::BuildCtx {
    let consumers: Vec<Arc<plugins::Consumer>> = model
        .consumers
        .iter()
        .map(|c| {
            Arc::new(plugins::Consumer {
                id: c.id.clone(),
                username: c.username.clone(),
                custom_id: c.custom_id.clone(),
            })
        })
        .collect();
    let mut credentials = Vec::with_capacity(model.jwt_secrets.len());
    for (i, s) in model.jwt_secrets.iter().enumerate() {
        match Credential::new(
            &s.id,
            &s.key,
            &s.secret,
            &s.algorithm,
            s.rsa_public_key.as_deref(),
            consumers[s.consumer].clone(),
        ) {
            Ok(c) => credentials.push(c),
            Err(message) => issues.push(Issue {
                path: format!("jwt_secrets[{i}]"),
                message,
            }),
        }
    }
    plugins::BuildCtx {
        keyring: Arc::new(Keyring::new(credentials, &consumers)),
        clock: plugins::system_clock(),
    }
}

/// A plugin's own namespace: its route and service ids, nil when unscoped.
fn scope_of(model: &Model, p: &super::model::Plugin) -> plugins::rate_limit::Scope {
    const NIL: &str = "00000000-0000-0000-0000-000000000000";
    plugins::rate_limit::Scope {
        route_id: p
            .route
            .map(|r| model.routes[r].id.clone())
            .unwrap_or_else(|| NIL.into()),
        service_id: p
            .service
            .map(|s| model.services[s].id.clone())
            .unwrap_or_else(|| NIL.into()),
    }
}

/// One router entry per path (or one for a path-less route).
fn route_entries(index: usize, route: &Route) -> Result<Vec<Entry>, String> {
    let hosts = route
        .hosts
        .iter()
        .flatten()
        .map(|h| HostRule::parse(h))
        .collect::<Result<Vec<_>, _>>()?;
    let mut headers = Vec::new();
    for (name, values) in route.headers.iter().flatten() {
        let mut rule = HeaderRule {
            name: http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|e| format!("invalid header name {name}: {e}"))?,
            values: Vec::new(),
            regexes: Vec::new(),
        };
        for v in values {
            match v.strip_prefix("~*") {
                Some(re) => rule
                    .regexes
                    .push(Regex::new(&format!("(?i){re}")).map_err(|e| e.to_string())?),
                None => rule.values.push(v.to_ascii_lowercase()),
            }
        }
        headers.push(rule);
    }
    let template = Entry {
        route: index,
        route_id: route.id.clone(),
        methods: route.methods.clone().unwrap_or_default(),
        hosts,
        headers,
        path: None,
        priority: Priority::default(),
        tls_ok: route.protocols.iter().any(|p| p == "https"),
    };
    let paths = route.paths.clone().unwrap_or_default();
    let mut out = Vec::new();
    if paths.is_empty() {
        let mut e = template.clone();
        e.rank(route.regex_priority, false);
        out.push(e);
    }
    for p in paths {
        let mut e = template.clone();
        e.path = Some(match p.strip_prefix('~') {
            Some(re) => {
                PathMatcher::Regex(Regex::new(&format!("^(?:{re})")).map_err(|e| e.to_string())?)
            }
            None => PathMatcher::Prefix(p),
        });
        e.rank(route.regex_priority, false);
        out.push(e);
    }
    Ok(out)
}

/// The plugins that apply to a route, one instance per plugin name, most specific scope
/// first (route+service > route > service > global), ordered by priority.
/// Consumer-scoped instances are chosen after authentication, not here.
fn chain_for(
    model: &Model,
    route_index: usize,
    ctx: &plugins::BuildCtx,
) -> Vec<Arc<dyn plugins::Plugin>> {
    let route = &model.routes[route_index];
    let mut chosen: Vec<(u8, &super::model::Plugin)> = Vec::new();
    for p in model
        .plugins
        .iter()
        .filter(|p| p.enabled && p.consumer.is_none())
    {
        let route_ok = p.route.is_none_or(|r| r == route_index);
        let service_ok = p.service.is_none_or(|s| Some(s) == route.service);
        if !route_ok || !service_ok {
            continue;
        }
        let rank = match (p.route.is_some(), p.service.is_some()) {
            (true, true) => 3,
            (true, false) => 2,
            (false, true) => 1,
            (false, false) => 0,
        };
        match chosen.iter_mut().find(|(_, q)| q.name == p.name) {
            Some(slot) if slot.0 < rank => *slot = (rank, p),
            Some(_) => {}
            None => chosen.push((rank, p)),
        }
    }
    let mut chain: Vec<Arc<dyn plugins::Plugin>> = chosen
        .into_iter()
        .map(|(_, p)| plugins::build(&p.config, ctx, scope_of(model, p)))
        .collect();
    chain.sort_by_key(|p| std::cmp::Reverse(p.priority()));
    chain
}
