//! The admin API (a separate Pingora service on `admin_listen`): Kong's DB-less read side,
//! `GET/POST /config`, `/status`, `/status/ready` and Prometheus `/metrics`. Writes to
//! entities answer 405 as Kong's do. Secrets are redacted in every answer, and an optional
//! `admin_token` guards everything but the readiness probe.

pub mod entities;
pub mod errors;

use crate::config;
use crate::state::State;
use crate::telemetry::Metrics;
use async_trait::async_trait;
use entities::{find, page, ref_id, PageError};
use http::{Method, Response};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest `POST /config` body accepted.
const MAX_CONFIG: usize = 64 * 1024 * 1024;

/// The admin application.
pub struct AdminApp {
    /// The running config.
    pub state: Arc<State>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Required bearer token, if set.
    pub token: Option<String>,
}

fn respond(status: u16, body: Vec<u8>, content_type: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len())
        .header(http::header::SERVER, crate::error::SERVER)
        .body(body)
        .unwrap_or_default()
}

fn json_response(status: u16, body: Value) -> Response<Vec<u8>> {
    respond(
        status,
        body.to_string().into_bytes(),
        "application/json; charset=utf-8",
    )
}

fn not_found() -> Response<Vec<u8>> {
    json_response(404, json!({"message": "Not found"}))
}

/// Kong's 405 for writes in DB-less mode.
fn unsupported(method: &Method, entity: &str) -> Response<Vec<u8>> {
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "create or update",
        Method::PATCH => "update",
        Method::DELETE => "remove",
        _ => return json_response(405, json!({"message": "Method not allowed"})),
    };
    json_response(
        405,
        json!({
            "code": 12,
            "name": "operation unsupported",
            "message": format!("cannot {verb} '{entity}' entities when not using a database"),
        }),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AdminApp {
    fn authorized(&self, req: &pingora::http::RequestHeader) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = req
            .headers
            .get("skyport-admin-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                req.headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            });
        given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes()))
    }

    async fn read_body(session: &mut ServerSession) -> Option<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_CONFIG {
                        return None;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Some(body),
                Err(_) => return None,
            }
        }
    }

    /// `POST /config`: validate with the startup loader, swap atomically, or keep the old one.
    async fn post_config(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let query = session.req_header().uri.query().unwrap_or("").to_string();
        let flag = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .any(|(k, v)| k == name && v != "0" && v != "false")
        };
        let (check_hash, flatten) = (flag("check_hash"), flag("flatten_errors"));
        let Some(body) = Self::read_body(session).await else {
            return json_response(413, json!({"message": "Configuration too large"}));
        };
        let text = String::from_utf8_lossy(&body).into_owned();
        // A JSON or form body may carry the config as a string in `config`.
        let text = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) if !m.contains_key("_format_version") => match m.get("config") {
                Some(Value::String(s)) => s.clone(),
                _ => text,
            },
            _ => form_urlencoded::parse(text.as_bytes())
                .find(|(k, _)| k == "config")
                .map(|(_, v)| v.into_owned())
                .unwrap_or(text),
        };
        if text.trim().is_empty() {
            return json_response(
                400,
                json!({"message": "expected a declarative configuration"}),
            );
        }
        if check_hash && config::hash(&text) == self.state.load().hash {
            return respond(304, Vec::new(), "application/json; charset=utf-8");
        }
        match config::load_async(&text, self.state.lasting()).await {
            Ok(snapshot) => {
                self.state.swap(snapshot);
                self.metrics.reloads.with_label_values(&["ok"]).inc();
                log::info!("config replaced through the admin API");
                json_response(201, entities::flattened(&self.state.load()))
            }
            Err(e) => {
                self.metrics.reloads.with_label_values(&["error"]).inc();
                let lines = e.lines();
                self.state.set_error(Some(lines.join("; ")));
                let issues = match &e {
                    config::ConfigError::Invalid(list) => list.clone(),
                    other => vec![config::Issue {
                        path: String::new(),
                        message: other.to_string(),
                    }],
                };
                // Kong's entity list with `?flatten_errors=1`; Skyport's path list otherwise.
                let flattened: Vec<Value> = if flatten {
                    let tree = config::parse_text(&text).ok();
                    errors::flattened(tree.as_ref(), &issues)
                } else {
                    issues
                        .iter()
                        .map(|i| json!({"path": i.path, "message": i.message}))
                        .collect()
                };
                json_response(
                    400,
                    json!({
                        "code": 14,
                        "name": "invalid declarative configuration",
                        "message": format!("declarative config is invalid: {}", lines.join("; ")),
                        "fields": errors::fields(&issues),
                        "flattened_errors": flattened,
                    }),
                )
            }
        }
    }

    fn get_config(&self) -> Response<Vec<u8>> {
        let s = self.state.load();
        let at = s.loaded_at;
        let doc = json!({
            "_format_version": "3.0",
            "services": entities::services(&s.model, at),
            "routes": entities::routes(&s.model, at),
            "consumers": entities::consumers(&s.model, at),
            "jwt_secrets": entities::jwts(&s.model, at),
            "keyauth_credentials": entities::keyauths(&s.model, at),
            "basicauth_credentials": entities::basicauths(&s.model, at),
            "acls": entities::acls(&s.model, at),
            "plugins": entities::plugins(&s.model, at),
            "upstreams": entities::upstreams(&s.model, at),
            "targets": entities::targets(&s.model, at),
        });
        let yaml = serde_saphyr::to_string(&doc).unwrap_or_else(|_| doc.to_string());
        json_response(200, json!({ "config": yaml }))
    }

    fn status(&self) -> Response<Vec<u8>> {
        let s = self.state.load();
        json_response(
            200,
            json!({
                "server": { "total_requests": self.metrics.total() },
                "configuration_hash": s.hash,
                "configuration_version": self.state.version(),
                "last_reload_error": self.state.last_error(),
            }),
        )
    }

    fn root(&self) -> Response<Vec<u8>> {
        let available: serde_json::Map<String, Value> = crate::plugins::registry::PLUGINS
            .iter()
            .map(|r| {
                (
                    r.name.to_string(),
                    json!({"version": env!("CARGO_PKG_VERSION"), "priority": r.priority}),
                )
            })
            .collect();
        let s = self.state.load();
        let mut enabled: Vec<&str> = s.model.plugins.iter().map(|p| p.name.as_str()).collect();
        enabled.sort();
        enabled.dedup();
        json_response(
            200,
            json!({
                "tagline": "Welcome to skyport",
                "version": env!("CARGO_PKG_VERSION"),
                "edition": "community",
                "node_id": crate::config::validate::derive_id("node", &std::process::id().to_string()),
                "plugins": { "available_on_server": available, "enabled_in_cluster": enabled },
                "pids": { "master": std::process::id() },
            }),
        )
    }

    /// Credentials and groups: `/key-auths`, `/basic-auths`, `/acls`, and each under
    /// `/consumers/{c}/key-auth|basic-auth|acls`, by id (keys and passwords never shown).
    fn read_credentials(
        &self,
        parts: &[&str],
        query: Option<&str>,
        path: &str,
    ) -> Option<Response<Vec<u8>>> {
        type List = fn(&crate::model::Model, i64) -> Vec<Value>;
        const KINDS: [(&str, &str, List); 3] = [
            ("key-auths", "key-auth", entities::keyauths),
            ("basic-auths", "basic-auth", entities::basicauths),
            ("acls", "acls", entities::acls),
        ];
        let s = self.state.load();
        let (m, at) = (&s.model, s.loaded_at);
        let paged = |list: Vec<Value>| paged_response(list, query, path);
        let of_consumer = |key: &str, list: List| -> Option<Vec<Value>> {
            let consumers = entities::consumers(m, at);
            let c = find(&consumers, key, "username")?;
            let id = c["id"].as_str().map(str::to_string);
            Some(
                list(m, at)
                    .into_iter()
                    .filter(|e| ref_id(e, "consumer").map(str::to_string) == id)
                    .collect(),
            )
        };
        Some(match parts {
            [top] => paged(KINDS.iter().find(|k| k.0 == *top)?.2(m, at)),
            [top, id] => one(find(
                &KINDS.iter().find(|k| k.0 == *top)?.2(m, at),
                id,
                "id",
            )),
            ["consumers", c, nested] => {
                let kind = KINDS.iter().find(|k| k.1 == *nested)?;
                of_consumer(c, kind.2).map_or_else(not_found, paged)
            }
            ["consumers", c, nested, id] => {
                let kind = KINDS.iter().find(|k| k.1 == *nested)?;
                match of_consumer(c, kind.2) {
                    Some(list) => one(find(&list, id, "id")),
                    None => not_found(),
                }
            }
            _ => return None,
        })
    }

    /// The read side: collections, entities, and their relations.
    fn read(&self, parts: &[&str], query: Option<&str>, path: &str) -> Response<Vec<u8>> {
        if let Some(r) = self.read_credentials(parts, query, path) {
            return r;
        }
        let s = self.state.load();
        let (m, at) = (&s.model, s.loaded_at);
        let paged = |list: Vec<Value>| paged_response(list, query, path);
        match parts {
            ["services"] => paged(entities::services(m, at)),
            ["routes"] => paged(entities::routes(m, at)),
            ["consumers"] => {
                let list = entities::consumers(m, at);
                let custom = form_urlencoded::parse(query.unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "custom_id")
                    .map(|(_, v)| v.into_owned());
                match custom {
                    Some(c) => paged(
                        list.into_iter()
                            .filter(|v| v["custom_id"] == c.as_str())
                            .collect(),
                    ),
                    None => paged(list),
                }
            }
            ["jwts"] => paged(entities::jwts(m, at)),
            ["plugins"] => paged(entities::plugins(m, at)),
            ["plugins", "enabled"] => {
                let names: Vec<&str> = crate::plugins::registry::names().collect();
                json_response(200, json!({ "enabled_plugins": names }))
            }
            ["services", key] => one(find(&entities::services(m, at), key, "name")),
            ["routes", key] => one(find(&entities::routes(m, at), key, "name")),
            ["consumers", key] => one(find(&entities::consumers(m, at), key, "username")),
            ["jwts", key] => one(find(&entities::jwts(m, at), key, "key")),
            ["plugins", key] => one(find(&entities::plugins(m, at), key, "id")),
            ["services", key, "routes"] => match find(&entities::services(m, at), key, "name") {
                Some(svc) => paged(
                    entities::routes(m, at)
                        .into_iter()
                        .filter(|r| ref_id(r, "service") == svc["id"].as_str())
                        .collect(),
                ),
                None => not_found(),
            },
            ["services", key, "plugins"]
            | ["routes", key, "plugins"]
            | ["consumers", key, "plugins"] => {
                let (list, field, name) = match parts[0] {
                    "services" => (entities::services(m, at), "service", "name"),
                    "routes" => (entities::routes(m, at), "route", "name"),
                    _ => (entities::consumers(m, at), "consumer", "username"),
                };
                match find(&list, key, name) {
                    Some(e) => paged(
                        entities::plugins(m, at)
                            .into_iter()
                            .filter(|p| ref_id(p, field) == e["id"].as_str())
                            .collect(),
                    ),
                    None => not_found(),
                }
            }
            ["routes", key, "service"] => match find(&entities::routes(m, at), key, "name")
                .and_then(|r| ref_id(r, "service").map(str::to_string))
            {
                Some(id) => one(find(&entities::services(m, at), &id, "name")),
                None => not_found(),
            },
            ["consumers", key, "jwt"] => match find(&entities::consumers(m, at), key, "username") {
                Some(c) => paged(
                    entities::jwts(m, at)
                        .into_iter()
                        .filter(|j| ref_id(j, "consumer") == c["id"].as_str())
                        .collect(),
                ),
                None => not_found(),
            },
            ["consumers", key, "jwt", jwt] => {
                match find(&entities::consumers(m, at), key, "username") {
                    Some(c) => {
                        let list: Vec<Value> = entities::jwts(m, at)
                            .into_iter()
                            .filter(|j| ref_id(j, "consumer") == c["id"].as_str())
                            .collect();
                        one(find(&list, jwt, "key"))
                    }
                    None => not_found(),
                }
            }
            ["certificates"] => paged(entities::certificates(m, at)),
            ["certificates", key] => one(find(&entities::certificates(m, at), key, "id")),
            ["certificates", key, "snis"] => {
                match find(&entities::certificates(m, at), key, "id") {
                    Some(c) => paged(
                        entities::snis(m, at)
                            .into_iter()
                            .filter(|s| ref_id(s, "certificate") == c["id"].as_str())
                            .collect(),
                    ),
                    None => not_found(),
                }
            }
            ["snis"] => paged(entities::snis(m, at)),
            ["snis", key] => one(find(&entities::snis(m, at), key, "name")),
            ["upstreams"] => paged(entities::upstreams(m, at)),
            ["upstreams", key] => one(find(&entities::upstreams(m, at), key, "name")),
            ["upstreams", key, "targets"] | ["upstreams", key, "health"] => {
                match find(&entities::upstreams(m, at), key, "name") {
                    Some(u) if parts[2] == "health" => paged(entities::health(&s, u)),
                    Some(u) => paged(
                        entities::targets(m, at)
                            .into_iter()
                            .filter(|t| ref_id(t, "upstream") == u["id"].as_str())
                            .collect(),
                    ),
                    None => not_found(),
                }
            }
            ["jwts", key, "consumer"] => match find(&entities::jwts(m, at), key, "key")
                .and_then(|j| ref_id(j, "consumer").map(str::to_string))
            {
                Some(id) => one(find(&entities::consumers(m, at), &id, "username")),
                None => not_found(),
            },
            _ => not_found(),
        }
    }
}

const ENTITY_TABLES: [(&str, &str); 12] = [
    ("certificates", "certificates"),
    ("snis", "snis"),
    ("upstreams", "upstreams"),
    ("targets", "targets"),
    ("services", "services"),
    ("routes", "routes"),
    ("consumers", "consumers"),
    ("jwts", "jwt_secrets"),
    ("key-auths", "keyauth_credentials"),
    ("basic-auths", "basicauth_credentials"),
    ("acls", "acls"),
    ("plugins", "plugins"),
];

/// A page of a collection (400 for a bad paging request).
fn paged_response(list: Vec<Value>, query: Option<&str>, path: &str) -> Response<Vec<u8>> {
    match page(list, query, path) {
        Ok(v) => json_response(200, v),
        Err(PageError::Bad(v)) => json_response(400, v),
    }
}

/// One entity, or 404.
fn one(v: Option<&Value>) -> Response<Vec<u8>> {
    v.map(|v| json_response(200, v.clone()))
        .unwrap_or_else(not_found)
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let query = req.uri.query().map(str::to_string);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts != ["status", "ready"] && !self.authorized(req) {
            return json_response(
                401,
                json!({"message": "Unauthorized: a valid admin token is required"}),
            );
        }
        let read = method == Method::GET || method == Method::HEAD;
        match (parts.as_slice(), read) {
            ([], true) => self.root(),
            (["status"], true) => self.status(),
            (["status", "ready"], true) => {
                if self.state.load().is_empty() {
                    json_response(
                        503,
                        json!({"message": "no configuration available (empty configuration present)"}),
                    )
                } else {
                    json_response(200, json!({"message": "ready"}))
                }
            }
            (["metrics"], true) => {
                let counters = &self.state.lasting().plugins.counters;
                self.metrics
                    .observe_rate_limit_store(counters.evictions(), counters.entries());
                respond(200, self.metrics.render(), "text/plain; version=0.0.4")
            }
            (["config"], true) => self.get_config(),
            (["config"], false) if method == Method::POST => self.post_config(session).await,
            (_, true) => self.read(&parts, query.as_deref(), &path),
            ([first, rest @ ..], false) => match ENTITY_TABLES.iter().find(|(p, _)| p == first) {
                // POST to a collection or PUT/PATCH/DELETE on an entity: Kong's structured 405.
                Some((_, table))
                    if (rest.is_empty() && method == Method::POST)
                        || (rest.len() == 1 && method != Method::POST) =>
                {
                    unsupported(&method, table)
                }
                Some(_) => json_response(405, json!({"message": "Method not allowed"})),
                None => not_found(),
            },
            _ => json_response(405, json!({"message": "Method not allowed"})),
        }
    }
}
