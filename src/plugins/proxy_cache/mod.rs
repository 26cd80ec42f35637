//! Kong's `proxy-cache` plugin (priority 100) with the `memory` strategy: answers to cacheable
//! requests are kept (status, headers, body) under Kong's cache key and served without
//! contacting the upstream while fresh, with Kong's `X-Cache-Status` (Miss, Hit, Refresh,
//! Bypass), `X-Cache-Key` and `Age`. Auth and rate-limiting plugins still run first on hits.

pub mod store;

use crate::error::{Exit, GatewayError};
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Phases, Plugin, RequestState, Scope};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{now, Cached, STORE};

/// The largest body kept (bigger answers pass uncached).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Kong's `memory` record.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    pub dictionary_name: String,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            dictionary_name: "kong_db_cache".into(),
        }
    }
}

/// Kong's `response_headers` record: which of its headers the answer carries.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseHeaders {
    pub age: bool,
    #[serde(rename = "X-Cache-Status")]
    pub x_cache_status: bool,
    #[serde(rename = "X-Cache-Key")]
    pub x_cache_key: bool,
}

impl Default for ResponseHeaders {
    fn default() -> Self {
        ResponseHeaders {
            age: true,
            x_cache_status: true,
            x_cache_key: true,
        }
    }
}

/// Kong's `proxy-cache` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyCacheConfig {
    pub response_code: Vec<u16>,
    pub request_method: Vec<String>,
    pub content_type: Vec<String>,
    pub cache_ttl: u64,
    pub strategy: Option<String>,
    pub cache_control: bool,
    pub ignore_uri_case: bool,
    pub storage_ttl: Option<u64>,
    pub memory: MemoryConfig,
    pub vary_query_params: Option<Vec<String>>,
    pub vary_headers: Option<Vec<String>>,
    pub response_headers: ResponseHeaders,
}

impl Default for ProxyCacheConfig {
    fn default() -> Self {
        ProxyCacheConfig {
            response_code: vec![200, 301, 404],
            request_method: vec!["GET".into(), "HEAD".into()],
            content_type: vec!["text/plain".into(), "application/json".into()],
            cache_ttl: 300,
            strategy: None,
            cache_control: false,
            ignore_uri_case: false,
            storage_ttl: None,
            memory: MemoryConfig::default(),
            vary_query_params: None,
            vary_headers: None,
            response_headers: ResponseHeaders::default(),
        }
    }
}

/// A configured instance.
#[derive(Debug)]
pub struct ProxyCache {
    c: Arc<ProxyCacheConfig>,
    /// The route id of the scope, the key's prefix (Kong: `default` without a route).
    route: Option<String>,
    /// `content_type` as media types, lower-case, made once: `*/*`, `type/*` kept as `type/`.
    types: Vec<String>,
}

/// What a request's lookup decided, for the answer's phases.
#[derive(Debug)]
pub struct Pending {
    key: String,
    status: &'static str,
    /// The answer is being kept: its header and the body so far.
    keeping: Option<(u16, Vec<(HeaderName, HeaderValue)>, u64, BytesMut)>,
}

impl Factory for ProxyCache {
    type Spec = ProxyCacheConfig;
    type Typed = ();

    fn check(c: &ProxyCacheConfig, _: &CheckCtx<'_>) -> Result<(), FieldIssues> {
        let mut out = Vec::new();
        match c.strategy.as_deref() {
            None => out.push(("strategy".into(), "required field missing".into())),
            Some("memory") => {}
            Some("redis") => out.push((
                "strategy".into(),
                "strategy 'redis' is not supported by Skyport yet (use memory)".into(),
            )),
            Some(_) => out.push(("strategy".into(), "expected one of: memory".into())),
        }
        for (i, code) in c.response_code.iter().enumerate() {
            if !(100..=900).contains(code) {
                out.push((
                    format!("response_code[{i}]"),
                    "value should be between 100 and 900".into(),
                ));
            }
        }
        if c.response_code.is_empty() {
            out.push(("response_code".into(), "length must be at least 1".into()));
        }
        for (i, m) in c.request_method.iter().enumerate() {
            if !["HEAD", "GET", "POST", "PATCH", "PUT"].contains(&m.as_str()) {
                out.push((
                    format!("request_method[{i}]"),
                    "expected one of: HEAD, GET, POST, PATCH, PUT".into(),
                ));
            }
        }
        if c.cache_ttl == 0 {
            out.push(("cache_ttl".into(), "value must be greater than 0".into()));
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<ProxyCacheConfig, ()>, _: &BuildCtx, scope: &Scope) -> Arc<dyn Plugin> {
        let types = c
            .spec
            .content_type
            .iter()
            .map(|t| {
                let t = t
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                t.strip_suffix('*').map(str::to_string).unwrap_or(t)
            })
            .collect();
        Arc::new(ProxyCache {
            types,
            c: Arc::new(c.spec.clone()),
            route: Some(scope.route_id.clone())
                .filter(|r| r != "00000000-0000-0000-0000-000000000000"),
        })
    }
}

/// Cache-Control directives (lower-case names; `max-age=5` -> Some(5)).
fn directives(v: Option<&HeaderValue>) -> BTreeMap<String, Option<u64>> {
    let mut out = BTreeMap::new();
    for part in v.and_then(|v| v.to_str().ok()).unwrap_or("").split(',') {
        let part = part.trim().to_ascii_lowercase();
        if part.is_empty() {
            continue;
        }
        match part.split_once('=') {
            Some((k, v)) => out.insert(
                k.trim().to_string(),
                v.trim().trim_matches('"').parse().ok(),
            ),
            None => out.insert(part, None),
        };
    }
    out
}

/// `field=value` pairs of the names asked for (all, sorted, when none), values sorted.
fn vary_key(pairs: &[(String, String)], fields: Option<&[String]>) -> String {
    let mut names: Vec<String> = match fields.filter(|f| !f.is_empty()) {
        Some(f) => f.to_vec(),
        None => {
            let mut all: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            all.sort();
            all.dedup();
            all
        }
    };
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let mut values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_unstable();
        out.push(match values.as_slice() {
            [""] => name,
            _ => format!("{name}={}", values.join(",")),
        });
    }
    out.join(":")
}

impl ProxyCache {
    /// Kong's cache key: sha256 of `prefix|method|uri|params|headers`.
    fn key(&self, req: &pingora::http::RequestHeader, consumer: Option<&str>) -> String {
        let prefix = match (consumer, &self.route) {
            (Some(c), Some(r)) => format!("{c}:{r}"),
            (_, Some(r)) => r.clone(),
            _ => "default".into(),
        };
        let mut uri = req.uri.path().to_string();
        if self.c.ignore_uri_case {
            uri = uri.to_ascii_lowercase();
        }
        let params: Vec<(String, String)> = req
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        let params_key = vary_key(&params, self.c.vary_query_params.as_deref());
        let headers_key = match self.c.vary_headers.as_deref().filter(|v| !v.is_empty()) {
            None => String::new(),
            Some(names) => {
                let pairs: Vec<(String, String)> = names
                    .iter()
                    .flat_map(|n| {
                        req.headers
                            .get_all(n.to_ascii_lowercase().as_str())
                            .iter()
                            .map(move |v| {
                                (
                                    n.clone(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                    })
                    .collect();
                vary_key(&pairs, Some(names))
            }
        };
        let text = format!(
            "{prefix}|{}|{uri}|{params_key}|{headers_key}",
            req.method.as_str()
        );
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            text.as_bytes(),
        ))
    }

    fn header(
        &self,
        on: bool,
        name: &'static str,
        value: &str,
        out: &mut Vec<(HeaderName, HeaderValue)>,
    ) {
        if let (true, Ok(v)) = (on, HeaderValue::from_str(value)) {
            out.push((HeaderName::from_static(name), v));
        }
    }

    fn cacheable_answer(&self, resp: &ResponseHeader) -> Option<u64> {
        let c = &self.c;
        if !c.response_code.contains(&resp.status.as_u16()) {
            return None;
        }
        let ct = resp
            .headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // `*/*` became `*/`; `type/*` became `type/`, a prefix.
        let listed = self.types.iter().any(|t| {
            t == "*/" || *t == media || (t.ends_with('/') && media.starts_with(t.as_str()))
        });
        if !listed {
            return None;
        }
        if !c.cache_control {
            return Some(c.cache_ttl);
        }
        let cc = directives(resp.headers.get(http::header::CACHE_CONTROL));
        if cc.contains_key("private") || cc.contains_key("no-store") || cc.contains_key("no-cache")
        {
            return None;
        }
        let ttl = cc
            .get("s-maxage")
            .or_else(|| cc.get("max-age"))
            .copied()
            .flatten()
            .unwrap_or(c.cache_ttl);
        (ttl > 0).then_some(ttl)
    }
}

#[async_trait]
impl Plugin for ProxyCache {
    fn name(&self) -> &'static str {
        "proxy-cache"
    }

    fn phases(&self) -> Phases {
        Phases::ACCESS.with(Phases::RESPONSE).with(Phases::BODY)
    }

    crate::plugins::access_by_admit!();

    fn response(
        &self,
        resp: &mut ResponseHeader,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let Some(p) = state.cache.as_deref_mut() else {
            return Ok(());
        };
        let rh = &self.c.response_headers;
        let fail = |e: Box<pingora::Error>| GatewayError::Internal(e.to_string());
        match self.cacheable_answer(resp) {
            Some(ttl) => {
                if rh.x_cache_status {
                    resp.insert_header("X-Cache-Status", p.status)
                        .map_err(fail)?;
                }
                if rh.x_cache_key {
                    resp.insert_header("X-Cache-Key", p.key.as_str())
                        .map_err(fail)?;
                }
                let headers = resp
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        !matches!(
                            n.as_str(),
                            "connection"
                                | "keep-alive"
                                | "transfer-encoding"
                                | "content-length"
                                | "x-cache-key"
                                | "x-cache-status"
                                | "age"
                        )
                    })
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect();
                p.keeping = Some((resp.status.as_u16(), headers, ttl, BytesMut::new()));
            }
            None => {
                if rh.x_cache_status {
                    resp.insert_header("X-Cache-Status", "Bypass")
                        .map_err(fail)?;
                }
                state.cache = None;
            }
        }
        Ok(())
    }

    fn body(
        &self,
        chunk: &mut Option<Bytes>,
        end: bool,
        state: &mut RequestState,
    ) -> Result<(), GatewayError> {
        let Some(p) = state.cache.as_deref_mut() else {
            return Ok(());
        };
        let Some((_, _, _, buf)) = p.keeping.as_mut() else {
            return Ok(());
        };
        if let Some(c) = chunk {
            buf.extend_from_slice(c);
        }
        if buf.len() > MAX_BODY {
            state.cache = None;
            return Ok(());
        }
        if end {
            if let Some(Pending {
                key,
                keeping: Some((status, headers, ttl, body)),
                ..
            }) = state.cache.take().map(|b| *b)
            {
                STORE.put(
                    key,
                    Cached {
                        status,
                        headers,
                        body: body.freeze(),
                        stored_at: now(),
                        ttl,
                        keep: self.c.storage_ttl.unwrap_or(ttl),
                    },
                );
            }
        }
        Ok(())
    }
}

impl ProxyCache {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(&self, session: &mut Session, state: &mut RequestState) -> Result<Flow, GatewayError> {
        let c = &self.c;
        let req = session.req_header();
        let cc = directives(req.headers.get(http::header::CACHE_CONTROL));
        let method_ok = c.request_method.iter().any(|m| m == req.method.as_str());
        let refused = c.cache_control
            && (cc.contains_key("no-store")
                || cc.contains_key("no-cache")
                || cc.contains_key("private"));
        if !method_ok || refused {
            if c.response_headers.x_cache_status {
                state.edits_mut().response_set.push((
                    HeaderName::from_static("x-cache-status"),
                    HeaderValue::from_static("Bypass"),
                ));
            }
            return Ok(Flow::Continue);
        }
        let key = self.key(req, state.consumer.as_deref().map(|c| c.id.as_str()));
        let mut status = "Miss";
        if let Some(hit) = STORE.get(&key) {
            let age = now().saturating_sub(hit.stored_at);
            let stale = age > hit.ttl
                || (c.cache_control
                    && (cc
                        .get("max-age")
                        .copied()
                        .flatten()
                        .is_some_and(|m| age > m)
                        || cc
                            .get("min-fresh")
                            .copied()
                            .flatten()
                            .is_some_and(|m| hit.ttl.saturating_sub(age) < m)));
            if stale {
                status = "Refresh";
            } else {
                let mut headers: Vec<(HeaderName, HeaderValue)> = hit
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        n != http::header::CONTENT_TYPE
                            && n.as_str() != "x-cache-status"
                            && n.as_str() != "age"
                    })
                    .cloned()
                    .collect();
                let rh = &c.response_headers;
                self.header(rh.age, "age", &age.to_string(), &mut headers);
                self.header(rh.x_cache_status, "x-cache-status", "Hit", &mut headers);
                self.header(rh.x_cache_key, "x-cache-key", &key, &mut headers);
                let content_type = hit
                    .headers
                    .iter()
                    .find(|(n, _)| n == http::header::CONTENT_TYPE)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| HeaderValue::from_static("text/plain"));
                return Ok(Flow::Respond(Exit {
                    status: hit.status,
                    headers,
                    body: hit.body.clone(),
                    content_type,
                    proxied: true,
                }));
            }
        }
        state.cache = Some(Box::new(Pending {
            key,
            status,
            keeping: None,
        }));
        Ok(Flow::Continue)
    }
}
