//! Field checks of single entities (services, routes) and Kong's defaults for them; the
//! cross-entity work (references, uniqueness, ids) stays in `validate`.

use super::file::{RouteSpec, ServiceSpec};
use crate::issues::{join, Issues};
use crate::model::{CaCertificate, Protocol, Route, RouteMatchers, Service};
use crate::router::{normalize::normalize, HeaderRule, HostRule, PathMatcher};
use regex::Regex;

pub(super) fn check_name(name: &str, path: &str, issues: &mut Issues) {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-~".contains(c) || !c.is_ascii());
    if !ok {
        issues.push(
            join(path, "name"),
            format!("invalid value '{name}': the only accepted ascii characters are alphanumerics or ., -, _, and ~"),
        );
    }
}

pub(super) fn placeholder_service() -> Service {
    Service {
        id: String::new(),
        name: None,
        protocol: Protocol::Http,
        host: String::new(),
        port: 80,
        path: None,
        retries: 0,
        connect_timeout: 1,
        write_timeout: 1,
        read_timeout: 1,
        enabled: false,
        tls_verify: None,
        ca_certificates: None,
        tags: None,
        host_header: http::HeaderValue::from_static(""),
    }
}

pub(super) fn placeholder_route() -> Route {
    Route {
        id: String::new(),
        name: None,
        protocols: Vec::new(),
        methods: None,
        hosts: None,
        paths: None,
        headers: None,
        snis: None,
        strip_path: true,
        preserve_host: false,
        path_handling: "v0".into(),
        regex_priority: 0,
        https_redirect_status_code: 426,
        request_buffering: true,
        response_buffering: true,
        service: None,
        tags: None,
        matchers: RouteMatchers::default(),
    }
}

const MAX_TIMEOUT: i64 = 2_147_483_646;

pub(super) fn service(
    spec: ServiceSpec,
    id: String,
    path: &str,
    cas: &[CaCertificate],
    issues: &mut Issues,
) -> Option<Service> {
    let before = issues.len();
    let (protocol, host, port, svc_path) = match &spec.url {
        // As Kong: `url` is shorthand, and its parts win over protocol/host/port/path.
        Some(url) => match parse_url(url) {
            Ok(parts) => parts,
            Err(e) => {
                issues.push(join(path, "url"), e);
                return None;
            }
        },
        None => {
            let Some(host) = spec.host.clone() else {
                issues.push(join(path, "host"), "required field missing");
                return None;
            };
            (
                spec.protocol.clone().unwrap_or_else(|| "http".into()),
                host,
                spec.port.unwrap_or(80),
                spec.path.clone(),
            )
        }
    };
    let typed = Protocol::parse(&protocol);
    match protocol.as_str() {
        _ if typed.is_some() => {}
        "tcp" | "tls" | "tls_passthrough" | "udp" => issues.push(
            join(path, "protocol"),
            format!("protocol '{protocol}' is not supported by Skyport yet (use http, https, grpc, grpcs, ws or wss)"),
        ),
        other => issues.push(
            join(path, "protocol"),
            format!("expected one of: http, https, grpc, grpcs, ws, wss (got \"{other}\")"),
        ),
    }
    if let Err(e) = check_host(&host) {
        issues.push(join(path, "host"), e);
    }
    if port > 65535 {
        issues.push(join(path, "port"), "value should be between 0 and 65535");
    }
    if let Some(p) = &svc_path {
        if !p.starts_with('/') {
            issues.push(join(path, "path"), "should start with: /");
        } else if p.contains("//") {
            issues.push(join(path, "path"), "must not have empty segments");
        } else if p.contains(['?', '#', ' ']) {
            issues.push(
                join(path, "path"),
                "invalid path: only RFC 3986 path characters are allowed",
            );
        }
    }
    service_limits(&spec, path, issues);
    service_trust(&spec, typed, path, cas, issues);
    let default_port = if typed.is_some_and(Protocol::is_tls) {
        443
    } else {
        80
    };
    let host_header = if port == default_port {
        http::HeaderValue::from_str(&host)
    } else {
        http::HeaderValue::from_str(&format!("{host}:{port}"))
    };
    let (Some(protocol), Ok(host_header)) = (typed, host_header) else {
        return None;
    };
    if issues.len() > before {
        return None;
    }
    Some(Service {
        id,
        name: spec.name,
        protocol,
        host,
        port: port as u16,
        path: svc_path,
        // In range once checked (service_limits); the clamp only keeps a placeholder sane.
        retries: spec.retries.unwrap_or(5).clamp(0, 32767) as u32,
        connect_timeout: spec.connect_timeout.unwrap_or(60_000).clamp(1, MAX_TIMEOUT) as u64,
        write_timeout: spec.write_timeout.unwrap_or(60_000).clamp(1, MAX_TIMEOUT) as u64,
        read_timeout: spec.read_timeout.unwrap_or(60_000).clamp(1, MAX_TIMEOUT) as u64,
        enabled: spec.enabled.unwrap_or(true),
        tls_verify: spec.tls_verify,
        ca_certificates: spec
            .ca_certificates
            .map(|v| v.into_iter().map(|s| s.to_ascii_lowercase()).collect()),
        tags: spec.tags,
        host_header,
    })
}

/// Splits Kong's `url` shorthand into protocol, host, port and path.
fn parse_url(url: &str) -> Result<(String, String, u32, Option<String>), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("invalid url \"{url}\": {e}"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| format!("invalid url \"{url}\": missing scheme (http:// or https://)"))?
        .to_ascii_lowercase();
    let host = uri
        .host()
        .ok_or_else(|| format!("invalid url \"{url}\": missing host"))?
        .to_string();
    if uri.query().is_some() {
        return Err(format!(
            "invalid url \"{url}\": a service url cannot carry a query string"
        ));
    }
    let port = match uri.port_u16() {
        Some(p) => p as u32,
        None if matches!(scheme.as_str(), "https" | "grpcs" | "wss") => 443,
        None => 80,
    };
    // http::Uri reports "/" for an absent path; Kong keeps it unset.
    let after_authority = url.splitn(4, '/').nth(3);
    let path = after_authority.map(|_| uri.path().to_string());
    Ok((scheme, host, port, path))
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("required field missing".into());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid hostname \"{host}\""))
    }
}

pub(super) fn route(
    spec: RouteSpec,
    id: String,
    service: Option<usize>,
    legacy: bool,
    path: &str,
    issues: &mut Issues,
) -> Route {
    let protocols = route_protocols(spec.protocols.as_deref(), path, issues);
    let mut matchers = RouteMatchers::default();
    if let Some(methods) = &spec.methods {
        for (i, m) in methods.iter().enumerate() {
            if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
                issues.push(
                    join(path, &format!("methods[{i}]")),
                    format!("invalid value: {m} (methods are upper-case tokens, e.g. GET)"),
                );
            }
        }
    }
    if let Some(hosts) = &spec.hosts {
        for (i, h) in hosts.iter().enumerate() {
            match HostRule::parse(h) {
                Ok(rule) => matchers.hosts.push(rule),
                Err(e) => issues.push(join(path, &format!("hosts[{i}]")), e),
            }
        }
    }
    let paths = spec.paths.clone().map(|ps| {
        ps.into_iter()
            .enumerate()
            .map(|(i, p)| {
                let p = if legacy
                    && !p.starts_with('~')
                    && p.contains([
                        '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\',
                    ]) {
                    format!("~{p}")
                } else {
                    p
                };
                let at = join(path, &format!("paths[{i}]"));
                if let Some(m) = path_matcher(&p, &at, issues) {
                    matchers.paths.push(m);
                }
                p
            })
            .collect::<Vec<_>>()
    });
    if let Some(headers) = &spec.headers {
        route_headers(headers, path, &mut matchers, issues);
    }
    route_snis(&spec, &protocols, path, &mut matchers, issues);
    let grpc = route_protocol_rules(&spec, &protocols, paths.as_deref(), path, issues);
    let path_handling = spec.path_handling.clone().unwrap_or_else(|| "v0".into());
    if path_handling != "v0" && path_handling != "v1" {
        issues.push(
            join(path, "path_handling"),
            format!("expected one of: v0, v1 (got \"{path_handling}\")"),
        );
    }
    let redirect = spec.https_redirect_status_code.unwrap_or(426);
    if ![426, 301, 302, 307, 308].contains(&redirect) {
        issues.push(
            join(path, "https_redirect_status_code"),
            "expected one of: 426, 301, 302, 307, 308",
        );
    }
    Route {
        id,
        name: spec.name,
        protocols,
        methods: spec.methods,
        hosts: spec.hosts,
        paths,
        headers: spec.headers,
        snis: spec.snis,
        // Kong's grpc routes default to keeping the path (and may not strip it).
        strip_path: spec.strip_path.unwrap_or(!grpc),
        preserve_host: spec.preserve_host.unwrap_or(false),
        path_handling,
        regex_priority: spec.regex_priority.unwrap_or(0),
        https_redirect_status_code: redirect,
        request_buffering: spec.request_buffering.unwrap_or(true),
        response_buffering: spec.response_buffering.unwrap_or(true),
        service,
        tags: spec.tags,
        matchers,
    }
}

/// A route's `snis`: only with a protocol over TLS, each a name without port.
fn route_snis(
    spec: &RouteSpec,
    protocols: &[Protocol],
    path: &str,
    matchers: &mut RouteMatchers,
    issues: &mut Issues,
) {
    let Some(snis) = spec.snis.as_ref().filter(|v| !v.is_empty()) else {
        return;
    };
    if !protocols.iter().any(|p| p.is_tls()) {
        issues.push(
            join(path, "snis"),
            "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
        );
    }
    for (i, sni) in snis.iter().enumerate() {
        match sni_matcher(sni) {
            Ok(m) => matchers.snis.push(m),
            Err(e) => issues.push(join(path, &format!("snis[{i}]")), e),
        }
    }
}

/// Kong's per-protocol route rules (its http and grpc subschemas, chosen by the first
/// protocol): what must be set and what may not be. True for a gRPC route.
fn route_protocol_rules(
    spec: &RouteSpec,
    protocols: &[Protocol],
    paths: Option<&[String]>,
    path: &str,
    issues: &mut Issues,
) -> bool {
    let set = |o: Option<&[String]>| o.is_some_and(|v| !v.is_empty());
    let grpc = protocols.first().is_some_and(|p| p.is_grpc());
    let (methods, hosts, snis) = (
        set(spec.methods.as_deref()),
        set(spec.hosts.as_deref()),
        set(spec.snis.as_deref()),
    );
    let headers = spec.headers.as_ref().is_some_and(|h| !h.is_empty());
    let matchable = hosts || headers || set(paths);
    let has = |p: Protocol| protocols.contains(&p);
    let (names, fields) = if grpc {
        ("'grpc' or 'grpcs'", "'hosts', 'headers', 'paths'")
    } else {
        (
            "'http' or 'https'",
            "'methods', 'hosts', 'headers', 'paths'",
        )
    };
    let missing = if grpc {
        if has(Protocol::Grpcs) {
            (!matchable && !snis).then_some(("'grpcs'", true))
        } else {
            (!matchable).then_some(("'grpc'", false))
        }
    } else if has(Protocol::Https) || has(Protocol::Wss) {
        (!matchable && !methods && !snis).then_some(("'https'", true))
    } else {
        (!matchable && !methods).then_some(("'http'", false))
    };
    if let Some((which, with_snis)) = missing {
        let sni = if with_snis { ", 'snis'" } else { "" };
        issues.push(
            path.to_string(),
            format!("must set one of {fields}{sni} when 'protocols' is {which}"),
        );
    }
    let mut cannot = |field: &str| {
        issues.push(
            join(path, field),
            format!("cannot set '{field}' when 'protocols' is {names}"),
        )
    };
    if grpc && spec.strip_path == Some(true) {
        cannot("strip_path");
    }
    if grpc && methods {
        cannot("methods");
    }
    for (field, written) in [
        ("sources", &spec.sources),
        ("destinations", &spec.destinations),
    ] {
        if written.as_ref().is_some_and(|v| !v.is_empty()) {
            cannot(field);
        }
    }
    grpc
}

/// One of a route's `snis` (Kong's wildcard host: `*.example.com`, `example.*`), no port;
/// a trailing dot is not part of the name.
fn sni_matcher(sni: &str) -> Result<crate::router::HostMatcher, String> {
    let name = sni
        .strip_suffix('.')
        .filter(|n| !n.is_empty())
        .unwrap_or(sni);
    let rule = HostRule::parse(name)?;
    if rule.port.is_some() {
        return Err(format!("invalid SNI '{sni}', must not have a port"));
    }
    let bare = match &rule.matcher {
        crate::router::HostMatcher::Exact(h) => h.as_str(),
        crate::router::HostMatcher::Suffix(h) | crate::router::HostMatcher::Prefix(h) => {
            h.trim_matches('.')
        }
    };
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("invalid SNI '{sni}', must not be an IP"));
    }
    check_host(bare).map_err(|_| format!("invalid SNI: '{sni}'"))?;
    Ok(rule.matcher)
}

/// A route path checked and compiled: a prefix, or (`~`) an anchored regex.
fn path_matcher(p: &str, at: &str, issues: &mut Issues) -> Option<PathMatcher> {
    if let Some(re) = p.strip_prefix('~') {
        match Regex::new(&format!("^(?:{re})")) {
            Ok(r) => return Some(PathMatcher::Regex(r)),
            Err(e) => issues.push(at, format!("invalid regex '{re}': {}", regex_reason(&e))),
        }
    } else if !p.starts_with('/') {
        issues.push(at, "should start with: / (fixed path) or ~/ (regex path)");
    } else {
        let n = normalize(p);
        if n == p {
            return Some(PathMatcher::Prefix(p.to_string()));
        }
        issues.push(
            at,
            format!("non-normalized path, consider use '{n}' instead"),
        );
    }
    None
}

/// The one-line reason of a regex error (its display spans several lines).
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("");
    last.trim().trim_start_matches("error: ").to_string()
}

/// A route's `headers` checked and compiled (exact values lower-cased, `~*` regexes).
fn route_headers(
    headers: &std::collections::BTreeMap<String, Vec<String>>,
    path: &str,
    matchers: &mut RouteMatchers,
    issues: &mut Issues,
) {
    for (name, values) in headers {
        let hpath = join(path, &format!("headers.{name}"));
        if name.eq_ignore_ascii_case("host") {
            issues.push(
                hpath,
                "cannot contain 'host' header, which must be specified in the 'hosts' attribute",
            );
            continue;
        }
        let header = http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes());
        if header.is_err() {
            issues.push(hpath.clone(), format!("invalid header name \"{name}\""));
        }
        if values.is_empty() {
            issues.push(hpath.clone(), "expected at least one value");
        }
        let (mut exact, mut regexes) = (Vec::new(), Vec::new());
        for v in values {
            match v.strip_prefix("~*") {
                Some(re) => match Regex::new(&format!("(?i){re}")) {
                    Ok(r) => regexes.push(r),
                    Err(e) => issues.push(
                        hpath.clone(),
                        format!("invalid regex '{v}': {}", regex_reason(&e)),
                    ),
                },
                None => exact.push(v.to_ascii_lowercase()),
            }
        }
        if let Ok(name) = header {
            matchers.headers.push(HeaderRule {
                name,
                values: exact,
                regexes,
            });
        }
    }
}

/// A route's `protocols` (default http, https); the ones Skyport does not serve reported.
fn route_protocols(written: Option<&[String]>, path: &str, issues: &mut Issues) -> Vec<Protocol> {
    match written {
        None => vec![Protocol::Http, Protocol::Https],
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let typed = Protocol::parse(p);
                if typed.is_none() {
                    issues.push(
                        join(path, &format!("protocols[{i}]")),
                        format!(
                            "protocol '{p}' is not supported by Skyport yet (use http, https, grpc, grpcs, ws or wss)"
                        ),
                    );
                }
                typed
            })
            .collect(),
    }
}

/// A service's timeouts, retries and client certificate.
fn service_limits(spec: &ServiceSpec, path: &str, issues: &mut Issues) {
    for (field, v) in [
        ("connect_timeout", spec.connect_timeout),
        ("write_timeout", spec.write_timeout),
        ("read_timeout", spec.read_timeout),
    ] {
        if let Some(v) = v {
            if !(1..=MAX_TIMEOUT).contains(&v) {
                issues.push(
                    join(path, field),
                    format!("value should be between 1 and {MAX_TIMEOUT}"),
                );
            }
        }
    }
    if spec.retries.is_some_and(|r| !(0..=32767).contains(&r)) {
        issues.push(join(path, "retries"), "value should be between 0 and 32767");
    }
    if spec.client_certificate.is_some() {
        issues.push(
            join(path, "client_certificate"),
            "client certificates are not supported by Skyport yet",
        );
    }
}

/// A service's `ca_certificates`: https only, each naming a known certificate.
fn service_trust(
    spec: &ServiceSpec,
    protocol: Option<Protocol>,
    path: &str,
    cas: &[CaCertificate],
    issues: &mut Issues,
) {
    if let Some(list) = &spec.ca_certificates {
        if !protocol.is_some_and(Protocol::is_tls) {
            issues.push(
                join(path, "ca_certificates"),
                "only allowed when protocol is https",
            );
        }
        for (i, c) in list.iter().enumerate() {
            if !cas.iter().any(|ca| ca.id.eq_ignore_ascii_case(c)) {
                let known: Vec<&str> = cas.iter().map(|c| c.id.as_str()).collect();
                issues.push(
                    join(path, &format!("ca_certificates[{i}]")),
                    format!(
                        "unknown ca_certificate \"{c}\" (known: {})",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
        }
    }
}
