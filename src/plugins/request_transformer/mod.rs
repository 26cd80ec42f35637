//! Kong's `request-transformer` plugin (priority 801): the request sent upstream gets its
//! method, path, headers, query string and (JSON or form-encoded) body changed in Kong's order
//! of operations (remove, rename, replace, add, append), values rendered from the client's
//! request (`$(headers.x)`, `$(query_params.y)`, `$(uri_captures.z)`).

pub mod params;
pub mod template;

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope, UpstreamEdit};
use async_trait::async_trait;
use bytes::Bytes;
use params::{Arg, Ops};
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use template::{Key, Template, Values};

pub use crate::plugins::body::MAX_BODY;
use crate::plugins::body::{kind as body_kind, read_body, BodyKind};

/// One operation's lists (`remove`, `rename`, `add`, `append`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Section {
    pub body: Vec<String>,
    pub headers: Vec<String>,
    pub querystring: Vec<String>,
}

/// `replace`, which may also set the upstream path (`uri`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaceSection {
    pub body: Vec<String>,
    pub headers: Vec<String>,
    pub querystring: Vec<String>,
    pub uri: Option<String>,
}

/// Kong's `request-transformer` config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RequestTransformerConfig {
    pub http_method: Option<String>,
    pub remove: Section,
    pub rename: Section,
    pub replace: ReplaceSection,
    pub add: Section,
    pub append: Section,
}

/// The config compiled once: templates parsed, names checked.
#[derive(Debug, Default, PartialEq)]
pub struct Compiled {
    method: Option<http::Method>,
    uri: Option<Template>,
    headers: Ops,
    query: Ops,
    body: Ops,
}

/// A configured `request-transformer` instance.
#[derive(Debug)]
pub struct RequestTransformer {
    c: Arc<Compiled>,
}

/// Which list of a section is being read (Kong validates each differently).
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Headers,
    Query,
    Body,
}

impl Part {
    fn field(self) -> &'static str {
        match self {
            Part::Headers => "headers",
            Part::Query => "querystring",
            Part::Body => "body",
        }
    }
}

fn valid_header(name: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
}

/// `name:value` entries (`replace`, `add`, `append`), templates compiled.
fn pairs(op: &str, part: Part, list: &[String], out: &mut FieldIssues) -> Vec<(String, Template)> {
    let mut pairs = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{op}.{}[{i}]", part.field());
        let Some((name, value)) = entry.split_once(':') else {
            out.push((at, format!("invalid value: {entry}")));
            continue;
        };
        if name.is_empty() {
            out.push((at, format!("invalid value: {entry}")));
            continue;
        }
        if part == Part::Headers && !valid_header(name) {
            out.push((at, format!("'{name}' is not a valid header")));
            continue;
        }
        if part != Part::Headers && value.is_empty() {
            out.push((at, format!("key '{name}' has no value")));
            continue;
        }
        match Template::parse(value) {
            Ok(t) => pairs.push((name.to_string(), t)),
            Err(e) => out.push((at, e)),
        }
    }
    pairs
}

/// `old:new` entries of `rename`.
fn renames(part: Part, list: &[String], out: &mut FieldIssues) -> Vec<(String, String)> {
    let mut renames = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("rename.{}[{i}]", part.field());
        match entry.split_once(':') {
            Some((old, new)) if !old.is_empty() && !new.is_empty() => {
                if part == Part::Headers {
                    for n in [old, new] {
                        if !valid_header(n) {
                            out.push((at.clone(), format!("'{n}' is not a valid header")));
                        }
                    }
                }
                renames.push((old.to_string(), new.to_string()));
            }
            Some((old, "")) if part != Part::Headers => {
                out.push((at, format!("key '{old}' has no value")));
            }
            _ => out.push((at, format!("invalid value: {entry}"))),
        }
    }
    renames
}

fn section(c: &RequestTransformerConfig, part: Part, out: &mut FieldIssues) -> Ops {
    let pick = |s: &Section| match part {
        Part::Headers => s.headers.clone(),
        Part::Query => s.querystring.clone(),
        Part::Body => s.body.clone(),
    };
    let replace = match part {
        Part::Headers => &c.replace.headers,
        Part::Query => &c.replace.querystring,
        Part::Body => &c.replace.body,
    };
    let remove = pick(&c.remove);
    if part == Part::Headers {
        for (i, n) in remove.iter().enumerate() {
            if !valid_header(n) {
                out.push((
                    format!("remove.headers[{i}]"),
                    format!("'{n}' is not a valid header"),
                ));
            }
        }
    }
    Ops {
        remove,
        rename: renames(part, &pick(&c.rename), out),
        replace: pairs("replace", part, replace, out),
        add: pairs("add", part, &pick(&c.add), out),
        append: pairs("append", part, &pick(&c.append), out),
    }
}

impl Factory for RequestTransformer {
    type Spec = RequestTransformerConfig;
    type Typed = Arc<Compiled>;

    fn check(
        spec: &RequestTransformerConfig,
        _: &CheckCtx<'_>,
    ) -> Result<Arc<Compiled>, FieldIssues> {
        let mut out = Vec::new();
        let method = spec.http_method.as_deref().and_then(|m| {
            let ok = !m.is_empty() && m.chars().all(|c| c.is_ascii_uppercase());
            if !ok {
                out.push(("http_method".into(), format!("invalid value: {m}")));
            }
            ok.then(|| http::Method::from_bytes(m.as_bytes()).ok())
                .flatten()
        });
        let uri = spec
            .replace
            .uri
            .as_deref()
            .and_then(|u| match Template::parse(u) {
                Ok(t) => Some(t),
                Err(e) => {
                    out.push(("replace.uri".into(), e));
                    None
                }
            });
        let compiled = Compiled {
            method,
            uri,
            headers: section(spec, Part::Headers, &mut out),
            query: section(spec, Part::Query, &mut out),
            body: section(spec, Part::Body, &mut out),
        };
        if out.is_empty() {
            Ok(Arc::new(compiled))
        } else {
            Err(out)
        }
    }

    fn build(
        c: &Checked<RequestTransformerConfig, Arc<Compiled>>,
        _: &BuildCtx,
        _: &Scope,
    ) -> Arc<dyn Plugin> {
        Arc::new(RequestTransformer { c: c.typed.clone() })
    }
}

/// The client's request as templates read it.
struct Request<'a> {
    headers: &'a http::HeaderMap,
    query: &'a params::Args,
    path: &'a str,
    route_path: Option<&'a crate::router::PathMatcher>,
}

impl Values for Request<'_> {
    fn header(&self, name: &str) -> Option<String> {
        // As ngx.req.get_headers: `x_user` also finds `x-user`.
        let v = self
            .headers
            .get(name)
            .or_else(|| self.headers.get(name.replace('_', "-")))?;
        Some(String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn query(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.first())
    }

    fn capture(&self, key: &Key) -> Option<String> {
        let crate::router::PathMatcher::Regex(re) = self.route_path? else {
            // A prefix path: Kong's only capture is the whole match.
            return match (key, self.route_path?) {
                (Key::Index(0), crate::router::PathMatcher::Prefix(p)) => Some(p.clone()),
                _ => None,
            };
        };
        let caps = re.captures(self.path)?;
        let m = match key {
            Key::Name(n) => caps.name(n),
            Key::Index(i) => caps.get(*i),
        };
        m.map(|m| m.as_str().to_string())
    }
}

impl RequestTransformer {
    /// The header operations, as the final values of each name touched (`None`: removed), and
    /// the upstream Host when `replace` sets it.
    fn headers(&self, req: &Request<'_>, edit: &mut UpstreamEdit) {
        let ops = &self.c.headers;
        let mut work = req.headers.clone();
        work.remove(http::header::HOST);
        let mut touched: Vec<String> = Vec::new();
        for name in &ops.remove {
            if work.remove(name.as_str()).is_some() {
                touched.push(name.clone());
            }
        }
        for (old, new) in &ops.rename {
            let values: Vec<http::HeaderValue> =
                work.get_all(old.as_str()).iter().cloned().collect();
            if !values.is_empty() && !old.eq_ignore_ascii_case(new) {
                work.remove(old.as_str());
                if let Ok(n) = http::HeaderName::from_bytes(new.as_bytes()) {
                    work.remove(&n);
                    for v in values {
                        work.append(n.clone(), v);
                    }
                }
                touched.extend([old.clone(), new.clone()]);
            }
        }
        let set = |work: &mut http::HeaderMap, name: &str, v: String, append: bool| {
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&v),
            ) else {
                return;
            };
            if append {
                work.append(n, v);
            } else {
                work.insert(n, v);
            }
        };
        for (name, t) in &ops.replace {
            if name.eq_ignore_ascii_case("host") {
                edit.host = http::HeaderValue::from_str(&t.render(req)).ok();
            } else if work.contains_key(name.as_str()) {
                set(&mut work, name, t.render(req), false);
                touched.push(name.clone());
            }
        }
        for (name, t) in &ops.add {
            if !name.eq_ignore_ascii_case("host") && !work.contains_key(name.as_str()) {
                set(&mut work, name, t.render(req), false);
                touched.push(name.clone());
            }
        }
        for (name, t) in &ops.append {
            if name.eq_ignore_ascii_case("host") {
                edit.host = http::HeaderValue::from_str(&t.render(req)).ok();
            } else {
                set(&mut work, name, t.render(req), true);
                touched.push(name.clone());
            }
        }
        for name in touched {
            if edit
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                continue;
            }
            let values: Vec<http::HeaderValue> =
                work.get_all(name.as_str()).iter().cloned().collect();
            edit.headers.push((name, values));
        }
    }
}

#[async_trait]
impl Plugin for RequestTransformer {
    fn name(&self) -> &'static str {
        "request-transformer"
    }

    async fn access(
        &self,
        session: &mut Session,
        state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let c = &self.c;
        let kind = body_kind(&session.req_header().headers);
        let moves_form = kind == Some(BodyKind::Form)
            && matches!(
                c.method,
                Some(http::Method::GET | http::Method::HEAD | http::Method::TRACE)
            );
        let wants_body = (kind.is_some() && !c.body.is_empty()) || moves_form;
        let body = if wants_body {
            Some(read_body(session).await?)
        } else {
            None
        };
        let req = session.req_header();
        let mut query = params::decode(req.uri.query().unwrap_or(""));
        let original_query = query.clone();
        let values = Request {
            headers: &req.headers,
            query: &original_query,
            path: req.uri.path(),
            route_path: state.route_path.as_deref(),
        };
        let mut edit = UpstreamEdit::default();
        if let Some(t) = &c.uri {
            let path = t.render(&values);
            if !path.starts_with('/') {
                return Err(GatewayError::Internal(format!(
                    "request-transformer: replace.uri rendered '{path}', not a path"
                )));
            }
            edit.path = Some(path);
        }
        edit.method.clone_from(&c.method);
        let mut query_changed = false;
        match &body {
            Some(Ok(b)) if moves_form => {
                // Kong: a form body of a request turned into GET goes into the query string.
                for (name, v) in params::decode(&String::from_utf8_lossy(b)) {
                    match query.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, old)) => {
                            let extra = match v {
                                Arg::Many(all) => all,
                                other => vec![other.first()],
                            };
                            for e in extra {
                                *old = std::mem::replace(old, Arg::Bare).appended(e);
                            }
                        }
                        None => query.push((name, v)),
                    }
                    query_changed = true;
                }
            }
            Some(Err(prefix)) => {
                tracing::warn!(
                    "request-transformer: a request body over {} KiB is sent unchanged",
                    MAX_BODY / 1024
                );
                if !prefix.is_empty() {
                    edit.body_prefix = Some(prefix.clone());
                }
            }
            _ => {}
        }
        self.headers(&values, &mut edit);
        if let (Some(Ok(b)), Some(kind)) = (&body, kind) {
            if !c.body.is_empty() {
                edit.body = match kind {
                    BodyKind::Json => params::apply_json(b, &c.body, &values).map(Bytes::from),
                    BodyKind::Form => {
                        let mut args = params::decode(&String::from_utf8_lossy(b));
                        params::apply_args(&mut args, &c.body, &values, !b.is_empty())
                            .then(|| Bytes::from(params::encode(&args)))
                    }
                };
            }
        }
        if !c.query.is_empty() {
            query_changed |= params::apply_args(&mut query, &c.query, &values, true);
        }
        if query_changed {
            edit.query = Some(params::encode(&query));
        }
        state.upstream_edit = Some(Box::new(edit));
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: serde_json::Value) -> Result<Arc<Compiled>, FieldIssues> {
        let spec: RequestTransformerConfig = serde_json::from_value(v).expect("spec");
        let exists = |_: &str| false;
        RequestTransformer::check(
            &spec,
            &CheckCtx {
                name: "request-transformer",
                consumer_scoped: false,
                consumer_exists: &exists,
            },
        )
    }

    #[test]
    fn kongs_checks_and_messages() {
        assert!(check(serde_json::json!({})).is_ok());
        let errs = check(serde_json::json!({
            "http_method": "get",
            "remove": {"headers": ["bad header"]},
            "add": {"headers": ["no-colon"], "querystring": ["q:"], "body": ["b:$(10 * 2)"]},
            "rename": {"headers": ["a:b c"]},
        }))
        .expect_err("invalid");
        let at: Vec<&str> = errs.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            at,
            [
                "http_method",
                "remove.headers[0]",
                "rename.headers[0]",
                "add.headers[0]",
                "add.querystring[0]",
                "add.body[0]"
            ],
            "{errs:?}"
        );
        assert_eq!(errs[4].1, "key 'q' has no value");
        assert_eq!(errs[1].1, "'bad header' is not a valid header");
    }
}
