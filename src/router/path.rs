//! Upstream path construction from the service path, the matched route prefix and the
//! request path: Kong's `v0` path handling (its default and only honoured mode).

use std::borrow::Cow;

/// Builds the upstream path; borrowed from the service path or the request path when it is
/// one of them (the common cases: no copy).
///
/// * `base`: the service path (`None` = `/`);
/// * `req`: the normalized request path (no query);
/// * `stripped`: `Some(prefix_len)` when the route matched by path and `strip_path` is on:
///   the number of leading bytes of `req` the route's path matched.
pub fn upstream_path<'a>(
    base: Option<&'a str>,
    req: &'a str,
    stripped: Option<usize>,
) -> Cow<'a, str> {
    let base = base.unwrap_or("/");
    let base_slash = base.ends_with('/');
    match stripped {
        Some(n) => {
            let postfix = drop_dot_prefix(req.get(n..).unwrap_or(""));
            if base_slash {
                if postfix.is_empty() {
                    if base == "/" || req.ends_with('/') {
                        Cow::Borrowed(base)
                    } else {
                        Cow::Borrowed(&base[..base.len() - 1])
                    }
                } else if postfix.starts_with('/') {
                    if base == "/" {
                        Cow::Borrowed(postfix)
                    } else {
                        Cow::Owned(format!("{}{}", &base[..base.len() - 1], postfix))
                    }
                } else {
                    Cow::Owned(format!("{base}{postfix}"))
                }
            } else if postfix.is_empty() {
                if req.len() > 1 && req.ends_with('/') {
                    Cow::Owned(format!("{base}/"))
                } else {
                    Cow::Borrowed(base)
                }
            } else if postfix.starts_with('/') {
                Cow::Owned(format!("{base}{postfix}"))
            } else {
                Cow::Owned(format!("{base}/{postfix}"))
            }
        }
        None => {
            if base == "/" {
                // "/" + the request path without its leading slash: the request path itself
                // (normalized paths start with one).
                match req.strip_prefix('/') {
                    Some(_) => Cow::Borrowed(req),
                    None => Cow::Owned(format!("/{}", req.get(1..).unwrap_or(""))),
                }
            } else if base_slash {
                Cow::Owned(format!("{base}{}", req.get(1..).unwrap_or("")))
            } else if req == "/" {
                Cow::Borrowed(base)
            } else {
                Cow::Owned(format!("{base}{req}"))
            }
        }
    }
}

/// A leading `./` or `../`, or a bare `.` / `..`, is dropped from what follows the prefix.
fn drop_dot_prefix(postfix: &str) -> &str {
    if let Some(rest) = postfix.strip_prefix("../") {
        rest
    } else if let Some(rest) = postfix.strip_prefix("./") {
        rest
    } else if postfix == "." || postfix == ".." {
        ""
    } else {
        postfix
    }
}

#[cfg(test)]
mod tests {
    use super::upstream_path;
    use crate::router::normalize::normalize;

    /// Kong's 16 worked v0 examples: (service path, route path, strip, request, upstream).
    /// `None` as route path means the route matched by host, not by path.
    /// (service path, route path, strip_path, request, expected upstream path)
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<bool>,
        &'static str,
        &'static str,
    );
    const CASES: [Case; 17] = [
        ("/", Some("/route"), Some(true), "/route", "/"),
        ("/", Some("/route"), Some(true), "/routereq", "/req"),
        ("/", Some("/route"), Some(false), "/route/", "/route/"),
        ("/srv", Some("/rou"), Some(false), "/roureq", "/srv/roureq"),
        ("/srv", Some("/rou"), Some(true), "/roureq", "/srv/req"),
        ("/srv/", Some("/rou"), Some(true), "/rou", "/srv"),
        ("/service", Some("/"), None, "/", "/service"),
        (
            "/service",
            Some("/"),
            None,
            "/route/req",
            "/service/route/req",
        ),
        ("/service", Some("/route"), Some(true), "/route", "/service"),
        (
            "/service",
            Some("/route"),
            Some(true),
            "/route/",
            "/service/",
        ),
        (
            "/service",
            Some("/route/"),
            Some(true),
            "/route/",
            "/service/",
        ),
        (
            "/service/",
            Some("/route"),
            Some(true),
            "/route",
            "/service",
        ),
        ("/service/", Some("/"), None, "/", "/service/"),
        ("/service", None, None, "/route", "/service/route"),
        (
            "/service",
            Some("/route"),
            Some(true),
            "/route./req",
            "/service/req",
        ),
        (
            "/service",
            Some("/route"),
            Some(true),
            "/route%2E%2E/req",
            "/service/req",
        ),
        (
            "/service",
            Some("/route"),
            Some(false),
            "/route%2E/req",
            "/service/route./req",
        ),
    ];

    #[test]
    fn kong_v0_worked_examples() {
        for (base, route, strip, req, want) in CASES {
            let req = normalize(req);
            // "any" rows hold for both values of strip_path.
            let strips: &[bool] = match strip {
                Some(true) => &[true],
                Some(false) => &[false],
                None => &[true, false],
            };
            for &s in strips {
                let stripped = match route {
                    Some(r) if s => Some(r.len().min(req.len())),
                    _ => None,
                };
                let got = upstream_path(Some(base), &req, stripped);
                assert_eq!(got, want, "base={base} route={route:?} strip={s} req={req}");
            }
        }
    }
}
