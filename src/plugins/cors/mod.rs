//! Kong's `cors` plugin (priority 2000): preflight requests (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) are answered by the gateway with 200 and the allowed
//! origin, methods, headers, credentials, max age and private-network answer (unless
//! `preflight_continue`); other requests get the origin, credentials and exposed headers on
//! whatever answer they receive, with `Vary: Origin` where the answer depends on the origin.
//! Origins are exact (`https://a.example:8443`, default ports dropped), `*`, or regexes
//! (matched on the host unless they name a port), exactly as Kong's handler reads them.

use crate::error::{Exit, GatewayError};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, HeaderCase, Plugin, RequestState, Scope};
use async_trait::async_trait;
use http::HeaderValue;
use pingora::http::HeaderNames;
use pingora::proxy::Session;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const METHODS: [&str; 9] = [
    "GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT",
];
static ALLOW_ORIGIN_NAMES: HeaderNames =
    HeaderNames::new_static("access-control-allow-origin", "Access-Control-Allow-Origin");
const ALLOW_ORIGIN: HeaderCase = &ALLOW_ORIGIN_NAMES;
static ALLOW_CREDENTIALS_NAMES: HeaderNames = HeaderNames::new_static(
    "access-control-allow-credentials",
    "Access-Control-Allow-Credentials",
);
const ALLOW_CREDENTIALS: HeaderCase = &ALLOW_CREDENTIALS_NAMES;
static ALLOW_HEADERS_NAMES: HeaderNames = HeaderNames::new_static(
    "access-control-allow-headers",
    "Access-Control-Allow-Headers",
);
const ALLOW_HEADERS: HeaderCase = &ALLOW_HEADERS_NAMES;
static ALLOW_METHODS_NAMES: HeaderNames = HeaderNames::new_static(
    "access-control-allow-methods",
    "Access-Control-Allow-Methods",
);
const ALLOW_METHODS: HeaderCase = &ALLOW_METHODS_NAMES;
static MAX_AGE_NAMES: HeaderNames =
    HeaderNames::new_static("access-control-max-age", "Access-Control-Max-Age");
const MAX_AGE: HeaderCase = &MAX_AGE_NAMES;
static EXPOSE_HEADERS_NAMES: HeaderNames = HeaderNames::new_static(
    "access-control-expose-headers",
    "Access-Control-Expose-Headers",
);
const EXPOSE_HEADERS: HeaderCase = &EXPOSE_HEADERS_NAMES;
static ALLOW_PRIVATE_NETWORK_NAMES: HeaderNames = HeaderNames::new_static(
    "access-control-allow-private-network",
    "Access-Control-Allow-Private-Network",
);
const ALLOW_PRIVATE_NETWORK: HeaderCase = &ALLOW_PRIVATE_NETWORK_NAMES;
static VARY_NAMES: HeaderNames = HeaderNames::new_static("vary", "Vary");
const VARY: HeaderCase = &VARY_NAMES;

/// Kong's `cors` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    pub origins: Option<Vec<String>>,
    pub headers: Option<Vec<String>>,
    pub exposed_headers: Option<Vec<String>>,
    pub methods: Vec<String>,
    pub max_age: Option<f64>,
    pub credentials: bool,
    pub private_network: bool,
    pub preflight_continue: bool,
    pub allow_origin_absent: bool,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: None,
            headers: None,
            exposed_headers: None,
            methods: METHODS.map(String::from).to_vec(),
            max_age: None,
            credentials: false,
            private_network: false,
            preflight_continue: false,
            allow_origin_absent: true,
        }
    }
}

/// One configured origin.
#[derive(Debug, Clone)]
enum Origin {
    Any,
    Exact(String),
    /// A regex, matched on the request origin's host (`by_host`) or its whole domain.
    Pattern(Regex, bool),
}

/// How origins are answered, decided at load.
#[derive(Debug, Clone)]
enum Origins {
    /// No list, or only `*`: `Access-Control-Allow-Origin: *`.
    All,
    /// One literal origin, sent as written whatever the request says.
    Single(HeaderValue),
    /// Matched against the request's `Origin`.
    List(Vec<Origin>),
}

/// The values computed once.
#[derive(Debug, Clone)]
pub struct Prepared {
    origins: Origins,
    allow_headers: Option<HeaderValue>,
    allow_methods: HeaderValue,
    max_age: Option<HeaderValue>,
    expose: Option<HeaderValue>,
}

fn literal(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".:/-".contains(c))
}

/// `scheme://host[:port]` without default ports; the input itself when it has no host.
fn normalize(origin: &str) -> (String, String) {
    match http::Uri::try_from(origin) {
        Ok(u) if u.host().is_some() => {
            let host = u.host().unwrap_or_default().to_string();
            let scheme = u.scheme_str();
            let port = u
                .port_u16()
                .filter(|p| !matches!((scheme, *p), (Some("http"), 80) | (Some("https"), 443)));
            let mut domain = scheme.map(|s| format!("{s}://")).unwrap_or_default();
            domain.push_str(&host);
            if let Some(p) = port {
                domain.push_str(&format!(":{p}"));
            }
            (domain, host)
        }
        _ => (origin.to_string(), origin.to_string()),
    }
}

fn joined(list: &Option<Vec<String>>) -> Option<HeaderValue> {
    list.as_ref()
        .filter(|l| !l.is_empty())
        .and_then(|l| HeaderValue::from_str(&l.join(",")).ok())
}

impl Factory for Cors {
    type Spec = CorsConfig;
    type Typed = Arc<Prepared>;
    const ON_CONSUMERS: bool = false;

    fn check(spec: &CorsConfig, _ctx: &CheckCtx<'_>) -> Result<Arc<Prepared>, FieldIssues> {
        let mut out = Vec::new();
        let list = spec.origins.clone().unwrap_or_default();
        let mut parsed = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            if entry == "*" {
                parsed.push(Origin::Any);
            } else if literal(entry) {
                parsed.push(Origin::Exact(normalize(entry).0));
            } else {
                let mut re = entry.strip_prefix('^').unwrap_or(entry).to_string();
                if !re.ends_with('$') {
                    re.push('$');
                }
                match Regex::new(&format!("^(?:{re})")) {
                    Ok(r) => parsed.push(Origin::Pattern(r, !entry.contains(':'))),
                    Err(_) => out.push((
                        format!("origins[{i}]"),
                        format!("'{entry}' is not a valid regex"),
                    )),
                }
            }
        }
        for (i, m) in spec.methods.iter().enumerate() {
            if !METHODS.contains(&m.as_str()) {
                out.push((
                    format!("methods[{i}]"),
                    format!("expected one of: {}", METHODS.join(", ")),
                ));
            }
        }
        if !out.is_empty() {
            return Err(out);
        }
        let origins = match list.as_slice() {
            [] => Origins::All,
            [one] if one == "*" => Origins::All,
            [one] if literal(one) => match HeaderValue::from_str(one) {
                Ok(v) => Origins::Single(v),
                Err(_) => Origins::List(parsed),
            },
            _ => Origins::List(parsed),
        };
        Ok(Arc::new(Prepared {
            origins,
            allow_headers: joined(&spec.headers),
            allow_methods: HeaderValue::from_str(&spec.methods.join(",")).unwrap_or(
                HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"),
            ),
            max_age: spec.max_age.and_then(|a| {
                let text = if a.fract() == 0.0 {
                    format!("{a:.0}")
                } else {
                    a.to_string()
                };
                HeaderValue::from_str(&text).ok()
            }),
            expose: joined(&spec.exposed_headers),
        }))
    }

    fn build(c: &Checked<CorsConfig, Arc<Prepared>>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(Cors {
            config: c.spec.clone(),
            prepared: c.typed.clone(),
        })
    }
}

/// A configured `cors` instance.
#[derive(Debug)]
pub struct Cors {
    config: CorsConfig,
    prepared: Arc<Prepared>,
}

impl Cors {
    /// An instance from a config (checked here).
    pub fn new(config: CorsConfig) -> Result<Cors, FieldIssues> {
        let nobody = |_: &str| false;
        let ctx = CheckCtx {
            name: "cors",
            consumer_scoped: false,
            consumer_exists: &nobody,
        };
        let prepared = <Cors as Factory>::check(&config, &ctx)?;
        Ok(Cors { config, prepared })
    }

    /// The headers a non-preflight answer gets for a request from `origin`.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(HeaderCase, HeaderValue)> {
        let mut headers = Vec::with_capacity(4);
        if origin.is_none() && !self.config.allow_origin_absent {
            return headers;
        }
        self.origin_headers(origin, &mut headers);
        if let Some(e) = &self.prepared.expose {
            headers.push((EXPOSE_HEADERS, e.clone()));
        }
        headers
    }

    /// Kong's `configure_origin` and `configure_credentials`: the headers to set.
    fn origin_headers(&self, origin: Option<&str>, out: &mut Vec<(HeaderCase, HeaderValue)>) {
        let star = || HeaderValue::from_static("*");
        let vary = || HeaderValue::from_static("Origin");
        let allow_all = match &self.prepared.origins {
            Origins::All => {
                out.push((ALLOW_ORIGIN, star()));
                true
            }
            Origins::Single(v) => {
                out.push((VARY, vary()));
                out.push((ALLOW_ORIGIN, v.clone()));
                false
            }
            Origins::List(list) => {
                out.push((VARY, vary()));
                self.match_origin(list, origin, out)
            }
        };
        if !self.config.credentials {
            return;
        }
        let yes = || HeaderValue::from_static("true");
        if !allow_all {
            out.push((ALLOW_CREDENTIALS, yes()));
        } else if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
            out.push((VARY, vary()));
            out.retain(|(k, _)| k.name() != ALLOW_ORIGIN.name());
            out.push((ALLOW_ORIGIN, o));
            out.push((ALLOW_CREDENTIALS, yes()));
        }
    }

    /// The request's origin against the list; true when `*` allowed it.
    fn match_origin(
        &self,
        list: &[Origin],
        origin: Option<&str>,
        out: &mut Vec<(HeaderCase, HeaderValue)>,
    ) -> bool {
        let Some(origin) = origin else { return false };
        let (domain, host) = normalize(origin);
        for entry in list {
            let found = match entry {
                Origin::Any => {
                    out.push((ALLOW_ORIGIN, HeaderValue::from_static("*")));
                    return true;
                }
                Origin::Exact(d) => *d == domain,
                Origin::Pattern(re, by_host) => re.is_match(if *by_host { &host } else { &domain }),
            };
            if found {
                if let Ok(v) = HeaderValue::from_str(&domain) {
                    out.push((ALLOW_ORIGIN, v));
                }
                return false;
            }
        }
        false
    }

    fn preflight(&self, session: &Session, origin: &str) -> Exit {
        let req = &session.req_header().headers;
        let mut headers = Vec::new();
        self.origin_headers(Some(origin), &mut headers);
        let p = &self.prepared;
        match (&p.allow_headers, req.get("access-control-request-headers")) {
            (Some(h), _) => headers.push((ALLOW_HEADERS, h.clone())),
            (None, Some(asked)) => headers.push((ALLOW_HEADERS, asked.clone())),
            (None, None) => {}
        }
        headers.push((ALLOW_METHODS, p.allow_methods.clone()));
        if let Some(age) = &p.max_age {
            headers.push((MAX_AGE, age.clone()));
        }
        let private = req
            .get("access-control-request-private-network")
            .is_some_and(|v| v == "true");
        if self.config.private_network && private {
            headers.push((ALLOW_PRIVATE_NETWORK, HeaderValue::from_static("true")));
        }
        let mut exit = Exit::empty(200);
        for (k, v) in headers {
            // The gateway's own answer sets each header once.
            exit.headers.retain(|(n, _)| n != k.name());
            exit.headers.push((k.name().clone(), v));
        }
        exit
    }
}

#[async_trait]
impl Plugin for Cors {
    fn name(&self) -> &'static str {
        "cors"
    }

    crate::plugins::access_by_admit!();
}

impl Cors {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        let req = session.req_header();
        let origin = req
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| !o.is_empty());
        let is_preflight = req.method == http::Method::OPTIONS
            && origin.is_some()
            && req.headers.contains_key("access-control-request-method");
        if is_preflight {
            if self.config.preflight_continue {
                return Ok(Flow::Continue);
            }
            let origin = origin.unwrap_or_default().to_string();
            return Ok(Flow::Respond(self.preflight(session, &origin)));
        }
        let headers = self.response_headers(origin);
        // Kong clears an upstream's own Allow-Origin when the list refused the origin.
        let refused = matches!(self.prepared.origins, Origins::List(_))
            && (origin.is_some() || self.config.allow_origin_absent)
            && !headers.iter().any(|(k, _)| k.name() == ALLOW_ORIGIN.name());
        if refused {
            state.edits_mut().response_removed.push(ALLOW_ORIGIN);
        }
        state.response_headers.extend(headers);
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalize_as_kong_does() {
        assert_eq!(normalize("https://a.example:443").0, "https://a.example");
        assert_eq!(
            normalize("http://a.example:8080").0,
            "http://a.example:8080"
        );
        assert_eq!(normalize("http://a.example:8080").1, "a.example");
        assert_eq!(normalize("null").0, "null");
    }
}
