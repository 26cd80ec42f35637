//! Field checks of upstreams and targets, with Kong's defaults; references and uniqueness
//! stay in `validate`.

use super::file::UpstreamSpec;
use crate::issues::{join, Issues};
use crate::model::{BalanceAlgorithm, HashKind, HashOn, Upstream};

const ALGORITHMS: [&str; 2] = ["round-robin", "consistent-hashing"];
const UNSUPPORTED_ALGORITHMS: [&str; 2] = ["least-connections", "latency"];
const HASH_ON: [&str; 6] = ["none", "consumer", "ip", "header", "path", "query_arg"];
const UNSUPPORTED_HASH_ON: [&str; 2] = ["cookie", "uri_capture"];
/// Kong's port for a target written without one.
pub const DEFAULT_TARGET_PORT: u16 = 8000;

fn unsupported(path: &str, field: &str, what: &str, issues: &mut Issues) {
    issues.push(
        join(path, field),
        format!("{what} is not supported by Skyport yet"),
    );
}

/// One of `hash_on` / `hash_fallback`, with the field naming its header or query argument.
fn hash_input(
    value: Option<&str>,
    header: Option<&str>,
    query_arg: Option<&str>,
    path: &str,
    field: &str,
    issues: &mut Issues,
) -> Option<HashKind> {
    let v = value.unwrap_or("none");
    if UNSUPPORTED_HASH_ON.contains(&v) {
        unsupported(path, field, &format!("{field} '{v}'"), issues);
    } else if !HASH_ON.contains(&v) {
        issues.push(
            join(path, field),
            format!(
                "expected one of: {} (got \"{v}\")",
                [&HASH_ON[..], &UNSUPPORTED_HASH_ON[..]].concat().join(", ")
            ),
        );
    }
    let prefix = if field == "hash_on" {
        "hash_on"
    } else {
        "hash_fallback"
    };
    if v == "header" && header.is_none_or(str::is_empty) {
        issues.push(
            join(path, &format!("{prefix}_header")),
            format!("required field missing (when {field} is 'header')"),
        );
    }
    if v == "query_arg" && query_arg.is_none_or(str::is_empty) {
        issues.push(
            join(path, &format!("{prefix}_query_arg")),
            format!("required field missing (when {field} is 'query_arg')"),
        );
    }
    if let Some(h) = header {
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            issues.push(
                join(path, &format!("{prefix}_header")),
                "invalid header name",
            );
        }
    }
    let kind = match v {
        "none" => HashKind::None,
        "consumer" => HashKind::Consumer,
        "ip" => HashKind::Ip,
        "header" => HashKind::Header,
        "path" => HashKind::Path,
        "query_arg" => HashKind::QueryArg,
        _ => return None,
    };
    Some(kind)
}

/// A hash input with the header or argument it names (validated before).
fn hash_on_typed(kind: HashKind, header: &Option<String>, arg: &Option<String>) -> Option<HashOn> {
    Some(match kind {
        HashKind::None => HashOn::None,
        HashKind::Consumer => HashOn::Consumer,
        HashKind::Ip => HashOn::Ip,
        HashKind::Path => HashOn::Path,
        HashKind::Header => {
            HashOn::Header(http::HeaderName::from_bytes(header.as_deref()?.as_bytes()).ok()?)
        }
        HashKind::QueryArg => HashOn::QueryArg(arg.clone()?),
    })
}

/// Checks one upstream and fills in Kong's defaults.
pub(super) fn upstream(
    spec: UpstreamSpec,
    id: String,
    path: &str,
    issues: &mut Issues,
) -> Option<Upstream> {
    // Without a name the entity is dropped at the end, after its other fields are checked.
    let name = spec.name.clone().unwrap_or_default();
    if name.is_empty() {
        issues.push(join(path, "name"), "required field missing");
    }
    let hostname = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if !name.is_empty() && (!hostname || name.starts_with(['.', '-']) || name.ends_with('.')) {
        issues.push(join(path, "name"), format!("invalid hostname '{name}'"));
    }
    let algorithm = spec.algorithm.unwrap_or_else(|| "round-robin".into());
    let balance = match algorithm.as_str() {
        "round-robin" => Some(BalanceAlgorithm::RoundRobin),
        "consistent-hashing" => Some(BalanceAlgorithm::ConsistentHashing),
        _ => None,
    };
    if UNSUPPORTED_ALGORITHMS.contains(&algorithm.as_str()) {
        unsupported(
            path,
            "algorithm",
            &format!("algorithm '{algorithm}'"),
            issues,
        );
    } else if !ALGORITHMS.contains(&algorithm.as_str()) {
        issues.push(
            join(path, "algorithm"),
            format!(
                "expected one of: {} (got \"{algorithm}\")",
                [&ALGORITHMS[..], &UNSUPPORTED_ALGORITHMS[..]]
                    .concat()
                    .join(", ")
            ),
        );
    }
    let hash_on = hash_input(
        spec.hash_on.as_deref(),
        spec.hash_on_header.as_deref(),
        spec.hash_on_query_arg.as_deref(),
        path,
        "hash_on",
        issues,
    );
    let hash_fallback = hash_input(
        spec.hash_fallback.as_deref(),
        spec.hash_fallback_header.as_deref(),
        spec.hash_fallback_query_arg.as_deref(),
        path,
        "hash_fallback",
        issues,
    );
    let hashing = hash_on.is_some_and(|k| k != HashKind::None);
    if hashing && balance != Some(BalanceAlgorithm::ConsistentHashing) {
        issues.push(
            join(path, "hash_on"),
            format!(
                "hashing on '{}' needs algorithm 'consistent-hashing'",
                spec.hash_on.as_deref().unwrap_or("none")
            ),
        );
    }
    if hash_on == Some(HashKind::None) && hash_fallback.is_some_and(|k| k != HashKind::None) {
        issues.push(
            join(path, "hash_fallback"),
            "must be 'none' when hash_on is 'none'",
        );
    }
    // deck writes Kong's default cookie path out; only a cookie name turns cookie hashing on.
    let cookie_path_set = spec
        .hash_on_cookie_path
        .as_deref()
        .is_some_and(|p| p != "/");
    if spec.hash_on_cookie.is_some() || cookie_path_set {
        unsupported(path, "hash_on_cookie", "hashing on a cookie", issues);
    }
    if spec.hash_on_uri_capture.is_some() || spec.hash_fallback_uri_capture.is_some() {
        unsupported(
            path,
            "hash_on_uri_capture",
            "hashing on a URI capture",
            issues,
        );
    }
    let slots = spec.slots.unwrap_or(10_000);
    if !(10..=65_536).contains(&slots) {
        issues.push(join(path, "slots"), "value should be between 10 and 65536");
    }
    if let Some(h) = &spec.host_header {
        if http::HeaderValue::from_str(h).is_err() || h.is_empty() || h.contains(['/', ' ']) {
            issues.push(join(path, "host_header"), format!("invalid hostname '{h}'"));
        }
    }
    if spec.client_certificate.is_some() {
        unsupported(path, "client_certificate", "client certificates", issues);
    }
    if spec.use_srv_name == Some(true) {
        unsupported(path, "use_srv_name", "SRV names", issues);
    }
    let healthchecks = spec.healthchecks.unwrap_or_default();
    crate::model::healthchecks::check(&healthchecks, &join(path, "healthchecks"), issues);
    // Where a value was refused an issue was recorded and the model will not be used: the
    // entity stays (its name still resolves for targets) with neutral values.
    let algorithm = balance.unwrap_or(BalanceAlgorithm::RoundRobin);
    let hash_on = hash_on.unwrap_or(HashKind::None);
    let hash_fallback = hash_fallback.unwrap_or(HashKind::None);
    let hashing = (
        hash_on_typed(hash_on, &spec.hash_on_header, &spec.hash_on_query_arg)
            .unwrap_or(HashOn::None),
        hash_on_typed(
            hash_fallback,
            &spec.hash_fallback_header,
            &spec.hash_fallback_query_arg,
        )
        .unwrap_or(HashOn::None),
    );
    if name.is_empty() {
        return None;
    }
    Some(Upstream {
        id,
        name,
        algorithm,
        hash_on,
        hash_fallback,
        hashing,
        hash_on_header: spec.hash_on_header,
        hash_fallback_header: spec.hash_fallback_header,
        hash_on_query_arg: spec.hash_on_query_arg,
        hash_fallback_query_arg: spec.hash_fallback_query_arg,
        slots,
        healthchecks,
        host_header: spec.host_header,
        use_srv_name: false,
        tags: spec.tags,
    })
}

/// Splits `host[:port]` (IPv6 in brackets), filling in Kong's default port 8000.
pub fn parse_target(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("invalid target '{s}': expected host[:port]");
    if s.is_empty() || s.contains(['/', ' ', '?', '#', '@']) {
        return Err(bad());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad()),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad()),
            None => (s, None),
        }
    };
    let hostname = host.split('.').all(|l| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if host.is_empty() || !(hostname || host.parse::<std::net::IpAddr>().is_ok()) {
        return Err(format!(
            "Invalid target ('{s}'); not a valid hostname or ip address"
        ));
    }
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("invalid port in target '{s}'")),
        },
        None => DEFAULT_TARGET_PORT,
    };
    Ok((host.to_string(), port))
}

/// Kong's display form of a target: `host:port`, IPv6 in brackets.
pub fn target_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_as_kong_writes_them() {
        assert_eq!(parse_target("10.0.0.1"), Ok(("10.0.0.1".into(), 8000)));
        assert_eq!(parse_target("a.example:81"), Ok(("a.example".into(), 81)));
        assert_eq!(parse_target("[::1]:9"), Ok(("::1".into(), 9)));
        assert_eq!(parse_target("[::1]"), Ok(("::1".into(), 8000)));
        assert!(parse_target("::1").is_err());
        assert!(parse_target("h:0").is_err());
        assert!(parse_target("h:99999").is_err());
        assert!(parse_target("").is_err());
        assert!(parse_target("http://h:1").is_err());
        assert_eq!(target_name("::1", 9), "[::1]:9");
    }
}
