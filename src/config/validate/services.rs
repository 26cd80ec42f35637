//! The passes over CA certificates, services and routes.

use super::common::{assign_id, parse, unique, HashMap, Raw};
use super::Validation;
use crate::config::entities::{check_name, placeholder_route, placeholder_service, route, service};
use crate::config::file::{CaCertificateSpec, RouteSpec, ServiceSpec};
use crate::issues::join;
use crate::model::CaCertificate;

/// CA certificates, each bundle decoded once (services refer to them).
pub(super) fn ca_certificates(v: &mut Validation, raws: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    for raw in raws {
        let Some(spec) = parse::<CaCertificateSpec>(raw.value, &raw.path, &mut v.issues) else {
            continue;
        };
        let id = assign_id(
            "ca_certificates",
            spec.id.as_deref(),
            &spec.cert,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        let der = crate::config::tls::pem_certificates(&spec.cert)
            .map_err(|e| v.issues.push(join(&raw.path, "cert"), e))
            .unwrap_or_default();
        v.model.ca_certificates.push(CaCertificate {
            id,
            cert: spec.cert,
            der,
            tags: spec.tags,
        });
    }
}

/// Services; one that fails leaves a placeholder so that indexes stay aligned.
pub(super) fn services(v: &mut Validation, raws: &[Raw<'_>]) {
    let mut ids = HashMap::default();
    let mut names = HashMap::default();
    for (i, raw) in raws.iter().enumerate() {
        if let Some(n) = raw.str_field("name") {
            v.services.by_key.insert(n.to_string(), i);
            v.services.add_name(n);
        }
        let spec = parse::<ServiceSpec>(raw.value, &raw.path, &mut v.issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "services",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        v.services.by_key.insert(id.clone(), i);
        if let Some(n) = spec.as_ref().and_then(|s| s.name.as_deref()) {
            check_name(n, &raw.path, &mut v.issues);
            unique("services", "name", n, &raw.path, &mut names, &mut v.issues);
        }
        let svc =
            spec.and_then(|s| service(s, id, &raw.path, &v.model.ca_certificates, &mut v.issues));
        v.service_ok.push(svc.is_some());
        v.model
            .services
            .push(svc.unwrap_or_else(placeholder_service));
    }
}

/// Routes, with their service resolved (a nested route belongs to its parent).
pub(super) fn routes(v: &mut Validation, raws: &[Raw<'_>], legacy: bool) {
    let mut ids = HashMap::default();
    let mut names = HashMap::default();
    for (i, raw) in raws.iter().enumerate() {
        if let Some(n) = raw.str_field("name") {
            v.routes.by_key.insert(n.to_string(), i);
            v.routes.add_name(n);
        }
        let spec = parse::<RouteSpec>(raw.value, &raw.path, &mut v.issues);
        let key = spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| raw.path.clone());
        let id = assign_id(
            "routes",
            spec.as_ref().and_then(|s| s.id.as_deref()),
            &key,
            &raw.path,
            &mut ids,
            &mut v.issues,
        );
        v.routes.by_key.insert(id.clone(), i);
        let Some(spec) = spec else {
            v.model.routes.push(placeholder_route());
            continue;
        };
        if let Some(n) = spec.name.as_deref() {
            check_name(n, &raw.path, &mut v.issues);
            unique("routes", "name", n, &raw.path, &mut names, &mut v.issues);
        }
        let at = join(&raw.path, "service");
        let service = match (&spec.service, raw.parent) {
            (Some(r), Some(parent)) => {
                let named = v.services.resolve(r, &at, &mut v.issues);
                if named.is_some_and(|n| n != parent) {
                    v.issues
                        .push(at, "a nested route cannot name another service");
                }
                Some(parent)
            }
            (Some(r), None) => v.services.resolve(r, &at, &mut v.issues),
            (None, parent) => parent,
        };
        let r = route(spec, id, service, legacy, &raw.path, &mut v.issues);
        v.model.routes.push(r);
    }
}
