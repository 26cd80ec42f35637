//! Compilation: the validated [`Model`] -> a runnable [`Snapshot`]. Builds the router
//! entries from the matchers validation compiled, each route's plugin chain (precedence
//! resolved here, once), service peers and upstream balancers. It cannot fail and does no
//! I/O: target names arrive resolved ([`Resolved`]), lasting state arrives as [`Lasting`].

use crate::lasting::Lasting;
use crate::model::{Model, Plugin as PluginEntity, Protocol, Route};
use crate::plugins::auth::{identity_headers, ApiKey, Directory, Password};
use crate::plugins::jwt::keyring::{Credential, Keyring};
use crate::plugins::{self, registry, Chain};
use crate::router::{Entry, Priority, Router};
use crate::snapshot::{ConsumerChains, RouteRuntime, Snapshot};
use crate::upstream::balancer::Balancer;
use crate::upstream::ServicePeer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The addresses of target names, looked up before compiling (`host`, `port`) -> addresses;
/// a name missing here did not resolve.
pub type Resolved = HashMap<(String, u16), Vec<SocketAddr>>;

/// Compiles a validated model; `hash` identifies the text it came from.
pub fn compile(model: Model, hash: String, resolved: &Resolved, lasting: &Lasting) -> Snapshot {
    let balancers = balancers(&model, resolved, lasting);
    let services = model
        .services
        .iter()
        .map(|svc| {
            let balancer = balancers.get(&svc.host).cloned();
            Arc::new(ServicePeer::new(svc, &model.ca_certificates, balancer))
        })
        .collect();
    let ctx = build_ctx(&model, lasting);
    let mut entries = Vec::new();
    let mut routes = Vec::with_capacity(model.routes.len());
    for (i, route) in model.routes.iter().enumerate() {
        if route.service.is_none_or(|s| model.services[s].enabled) {
            entries.extend(route_entries(i, route));
        }
        let (chain, consumer_chains) = chains_for(&model, i, &ctx);
        routes.push(RouteRuntime {
            id: route.id.clone(),
            name: route.name.clone(),
            service: route.service,
            service_id: route
                .service
                .map(|s| Arc::from(model.services[s].id.as_str())),
            first_path: route
                .paths
                .as_ref()
                .and_then(|p| p.first())
                .map(|p| Arc::from(p.as_str())),
            strip_path: route.strip_path,
            preserve_host: route.preserve_host,
            // As Kong: `https` without `http` (gRPC routes are checked by their own rule).
            https_only: route
                .protocols
                .iter()
                .any(|p| matches!(p, Protocol::Https | Protocol::Wss))
                && !route
                    .protocols
                    .iter()
                    .any(|p| matches!(p, Protocol::Http | Protocol::Ws)),
            https_redirect_status_code: route.https_redirect_status_code,
            grpc: route.protocols.iter().any(|p| p.is_grpc()),
            grpcs_only: route.protocols.contains(&Protocol::Grpcs)
                && !route.protocols.contains(&Protocol::Grpc),
            chain,
            consumer_chains,
            metrics: Default::default(),
        });
    }
    Snapshot {
        loaded_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
        hash,
        router: Router::new(entries),
        routes,
        services,
        balancers,
        certs: crate::model::certificates::CertIndex::new(&model.snis),
        model: Arc::new(model),
    }
}

/// Every upstream, its targets at their resolved addresses.
fn balancers(
    model: &Model,
    resolved: &Resolved,
    lasting: &Lasting,
) -> HashMap<String, Arc<Balancer>> {
    model
        .upstreams
        .iter()
        .enumerate()
        .map(|(i, up)| {
            let targets: Vec<_> = model
                .targets
                .iter()
                .filter(|t| t.upstream == i)
                .map(|t| {
                    let addrs = match t.host.parse() {
                        Ok(ip) => vec![SocketAddr::new(ip, t.port)],
                        Err(_) => resolved
                            .get(&(t.host.clone(), t.port))
                            .cloned()
                            .unwrap_or_default(),
                    };
                    (t, addrs)
                })
                .collect();
            // Probes over https trust what the services using this upstream trust.
            let ids: Vec<String> = model
                .services
                .iter()
                .filter(|s| s.host == up.name)
                .flat_map(|s| s.ca_certificates.iter().flatten().cloned())
                .collect();
            let trust = (!ids.is_empty())
                .then(|| crate::upstream::trust::trust(&ids, &model.ca_certificates));
            let balancer = Balancer::new(up, &targets, trust, &lasting.health);
            (up.name.clone(), Arc::new(balancer))
        })
        .collect()
}

/// The target names of a model that need a lookup (IP literals do not).
pub fn target_names(model: &Model) -> Vec<(String, u16)> {
    let mut names: Vec<(String, u16)> = model
        .targets
        .iter()
        .filter(|t| t.host.parse::<std::net::IpAddr>().is_err())
        .map(|t| (t.host.clone(), t.port))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Consumers (with their groups) and credentials, prepared once for every plugin of the
/// snapshot.
fn build_ctx(model: &Model, lasting: &Lasting) -> plugins::BuildCtx {
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); model.consumers.len()];
    for acl in &model.acls {
        groups[acl.consumer].push(acl.group.clone());
    }
    let consumers: Vec<Arc<plugins::Consumer>> = model
        .consumers
        .iter()
        .zip(groups)
        .map(|(c, groups)| {
            Arc::new(plugins::Consumer {
                id: c.id.clone(),
                username: c.username.clone(),
                custom_id: c.custom_id.clone(),
                groups_header: (!groups.is_empty())
                    .then(|| http::HeaderValue::from_str(&groups.join(", ")).ok())
                    .flatten(),
                groups: groups.into(),
            })
        })
        .collect();
    let credentials = model
        .jwt_secrets
        .iter()
        .map(|s| {
            Credential::with_material(
                &s.id,
                &s.key,
                s.algorithm,
                s.material.clone(),
                consumers[s.consumer].clone(),
            )
        })
        .collect();
    let keys = model.keyauth_credentials.iter().map(|k| {
        let consumer = consumers[k.consumer].clone();
        let key = ApiKey {
            headers: identity_headers(&consumer, Some(&k.id)),
            id: Arc::from(k.id.as_str()),
            consumer,
        };
        (k.key.clone(), key)
    });
    let passwords = model.basicauth_credentials.iter().map(|b| {
        let consumer = consumers[b.consumer].clone();
        let password = Password {
            headers: identity_headers(&consumer, Some(&b.username)),
            username: Arc::from(b.username.as_str()),
            hash: b.password.clone(),
            consumer,
        };
        (b.username.clone(), password)
    });
    plugins::BuildCtx {
        directory: Arc::new(Directory::new(&consumers, keys, passwords)),
        keyring: Arc::new(Keyring::new(credentials)),
        clock: plugins::system_clock(),
        lasting: lasting.plugins.clone(),
    }
}

/// A plugin's own namespace: its route and service ids, nil when unscoped.
fn scope_of(model: &Model, p: &PluginEntity) -> plugins::Scope {
    const NIL: &str = "00000000-0000-0000-0000-000000000000";
    plugins::Scope {
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

/// One router entry per path (or one for a path-less route), from the route's compiled
/// matchers.
fn route_entries(index: usize, route: &Route) -> Vec<Entry> {
    let template = Entry {
        route: index,
        route_id: route.id.clone(),
        methods: route.methods.clone().unwrap_or_default(),
        hosts: route.matchers.hosts.clone(),
        headers: route.matchers.headers.clone(),
        path: None,
        priority: Priority::default(),
        tls_ok: route.protocols.iter().any(|p| p.is_tls()),
        snis: route.matchers.snis.clone(),
        websocket_only: !route.protocols.is_empty()
            && route.protocols.iter().all(|p| p.is_websocket()),
        prefix_header: None,
    };
    let mut out = Vec::with_capacity(route.matchers.paths.len().max(1));
    if route.matchers.paths.is_empty() {
        let mut e = template.clone();
        e.rank(route.regex_priority, false);
        out.push(e);
    }
    for p in &route.matchers.paths {
        let mut e = template.clone();
        e.prefix_header = p.prefix_header();
        e.path = Some(std::sync::Arc::new(p.clone()));
        e.rank(route.regex_priority, false);
        out.push(e);
    }
    out
}

/// The plugins that apply to a route for a consumer (None: before or without
/// authentication), one instance per plugin name, the most specific scope winning as in
/// Kong: consumer+route+service > consumer+route > consumer+service > route+service >
/// consumer > route > service > global; ordered by priority.
fn chain_for(
    model: &Model,
    route_index: usize,
    consumer: Option<usize>,
    ctx: &plugins::BuildCtx,
) -> Chain {
    let route = &model.routes[route_index];
    let mut chosen: Vec<(u8, &PluginEntity)> = Vec::new();
    for p in model.plugins.iter().filter(|p| p.enabled) {
        let route_ok = p.route.is_none_or(|r| r == route_index);
        let service_ok = p.service.is_none_or(|s| Some(s) == route.service);
        let consumer_ok = p.consumer.is_none_or(|c| Some(c) == consumer);
        if !route_ok || !service_ok || !consumer_ok {
            continue;
        }
        let rank = match (p.consumer.is_some(), p.route.is_some(), p.service.is_some()) {
            (true, true, true) => 7,
            (true, true, false) => 6,
            (true, false, true) => 5,
            (false, true, true) => 4,
            (true, false, false) => 3,
            (false, true, false) => 2,
            (false, false, true) => 1,
            (false, false, false) => 0,
        };
        match chosen.iter_mut().find(|(_, q)| q.name == p.name) {
            Some(slot) if slot.0 < rank => *slot = (rank, p),
            Some(_) => {}
            None => chosen.push((rank, p)),
        }
    }
    Chain::new(
        chosen
            .into_iter()
            .filter_map(|(_, p)| {
                let entry = registry::find(&p.name)?;
                let plugin = (entry.build)(&p.config, ctx, &scope_of(model, p))?;
                Some((entry.priority, plugin))
            })
            .collect(),
    )
}

/// A route's chains: the one every request starts with, and one per consumer that has
/// plugins of its own applying to this route.
fn chains_for(
    model: &Model,
    route_index: usize,
    ctx: &plugins::BuildCtx,
) -> (Arc<Chain>, ConsumerChains) {
    let route = &model.routes[route_index];
    let mut consumers: Vec<usize> = model
        .plugins
        .iter()
        .filter(|p| p.enabled && p.route.is_none_or(|r| r == route_index))
        .filter(|p| p.service.is_none_or(|s| Some(s) == route.service))
        .filter_map(|p| p.consumer)
        .collect();
    consumers.sort_unstable();
    consumers.dedup();
    let by_consumer = consumers
        .into_iter()
        .map(|c| {
            let chain = Arc::new(chain_for(model, route_index, Some(c), ctx));
            (model.consumers[c].id.clone(), chain)
        })
        .collect();
    (
        Arc::new(chain_for(model, route_index, None, ctx)),
        by_consumer,
    )
}

#[cfg(test)]
mod tests;
