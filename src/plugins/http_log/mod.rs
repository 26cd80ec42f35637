//! Kong's `http-log` plugin (priority 12): Kong's serialized entry of each request sent to an
//! HTTP collector (`http_endpoint`, `method`, `content_type`, `headers`, credentials in the
//! URL as Basic auth) through Kong's queue: batched, retried, bounded, off the request path.
//! Instances with the same collector settings share one queue, which outlives reloads.

use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::file_log::no_lua_fields;
use crate::plugins::queue::{self, Queue, QueueConfig};
use crate::plugins::{BuildCtx, Phases, Plugin, RequestState, Scope};
use crate::telemetry::access_log::AccessRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Kong's `http-log` config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLogConfig {
    pub http_endpoint: Option<String>,
    pub method: String,
    pub content_type: String,
    pub timeout: f64,
    pub keepalive: f64,
    pub retry_count: Option<i64>,
    pub queue_size: Option<i64>,
    pub flush_timeout: Option<f64>,
    pub headers: Option<BTreeMap<String, String>>,
    pub queue: QueueConfig,
    pub custom_fields_by_lua: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Default for HttpLogConfig {
    fn default() -> Self {
        HttpLogConfig {
            http_endpoint: None,
            method: "POST".into(),
            content_type: "application/json".into(),
            timeout: 10_000.0,
            keepalive: 60_000.0,
            retry_count: None,
            queue_size: None,
            flush_timeout: None,
            headers: None,
            queue: QueueConfig::default(),
            custom_fields_by_lua: None,
        }
    }
}

/// A configured `http-log` instance: its (shared) queue.
#[derive(Debug)]
pub struct HttpLog {
    queue: Arc<queue::Handle>,
}

impl Factory for HttpLog {
    type Spec = HttpLogConfig;
    type Typed = ();

    fn check(c: &HttpLogConfig, _: &CheckCtx<'_>) -> Result<(), FieldIssues> {
        let mut out = Vec::new();
        match c.http_endpoint.as_deref() {
            None => out.push(("http_endpoint".into(), "required field missing".into())),
            Some(u) => check_url("http_endpoint", u, &mut out),
        }
        if !["POST", "PUT", "PATCH"].contains(&c.method.as_str()) {
            out.push(("method".into(), "expected one of: POST, PUT, PATCH".into()));
        }
        if !["application/json", "application/json; charset=utf-8"]
            .contains(&c.content_type.as_str())
        {
            out.push((
                "content_type".into(),
                "expected one of: application/json, application/json; charset=utf-8".into(),
            ));
        }
        let userinfo = c
            .http_endpoint
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .is_some_and(|u| !u.username().is_empty() || u.password().is_some());
        for (name, value) in c.headers.iter().flatten() {
            let at = format!("headers.{name}");
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                out.push((at, format!("'{name}' is not a valid header")));
                continue;
            }
            // Kong's schema: these headers are the plugin's own.
            let own = match name.to_ascii_lowercase().as_str() {
                "host" => "cannot contain 'Host' header",
                "content-length" => "cannot contain 'Content-Length' header",
                "content-type" => "cannot contain 'Content-Type' header",
                "authorization" if userinfo => {
                    "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed"
                }
                _ => continue,
            };
            out.push((at, own.into()));
        }
        c.queue.check(&mut out);
        no_lua_fields(c.custom_fields_by_lua.as_ref(), &mut out);
        if out.is_empty() {
            Ok(())
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<HttpLogConfig, ()>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        let c = c.spec.clone();
        let key = serde_json::to_string(&(
            &c.http_endpoint,
            &c.method,
            &c.content_type,
            c.timeout,
            c.keepalive,
            &c.headers,
            &c.queue,
        ))
        .unwrap_or_default();
        let queue = queue::shared(format!("http-log {key}"), || {
            let endpoint = c.http_endpoint.clone().unwrap_or_default();
            let name = format!("http-log {}", redact(&endpoint));
            Queue::start(name, c.queue.clone(), sender(c))
        });
        Arc::new(HttpLog { queue })
    }
}

/// A collector's URL: http or https with a host (Kong's `typedefs.url`).
pub fn check_url(field: &str, u: &str, out: &mut FieldIssues) {
    match reqwest::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(url) => out.push((
            field.into(),
            format!("unsupported scheme '{}' (use http or https)", url.scheme()),
        )),
        Err(e) => out.push((field.into(), format!("missing host in url ({e})"))),
    }
}

/// The endpoint without its credentials, for log lines.
fn redact(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "<invalid url>".into(),
    }
}

/// The function that sends one batch: one entry as an object, several as an array.
fn sender(c: HttpLogConfig) -> queue::Send {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(c.timeout.max(1.0) as u64))
        .pool_idle_timeout(Duration::from_millis(c.keepalive.max(1.0) as u64))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap_or_default();
    let mut url = c
        .http_endpoint
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok());
    let auth = url.as_ref().filter(|u| !u.username().is_empty()).map(|u| {
        use base64::Engine;
        let user = percent_encoding::percent_decode_str(u.username()).decode_utf8_lossy();
        let pass =
            percent_encoding::percent_decode_str(u.password().unwrap_or("")).decode_utf8_lossy();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    });
    if let Some(u) = url.as_mut() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let single = c.queue.max_batch_size == 1;
    let c = Arc::new(c);
    Arc::new(move |batch: Vec<Vec<u8>>| {
        let (client, url, auth, method, c) = (
            client.clone(),
            url.clone(),
            auth.clone(),
            method.clone(),
            c.clone(),
        );
        Box::pin(async move {
            let Some(url) = url else {
                return Err("invalid http_endpoint".to_string());
            };
            let body = if single {
                batch.into_iter().next().unwrap_or_default()
            } else {
                let mut b = vec![b'['];
                for (i, e) in batch.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    b.extend_from_slice(e);
                }
                b.push(b']');
                b
            };
            let mut req = client
                .request(method, url)
                .header(http::header::CONTENT_TYPE, c.content_type.as_str());
            if let Some(a) = &auth {
                req = req.header(http::header::AUTHORIZATION, a.as_str());
            }
            // The checks keep Host, Content-Type, Content-Length (and Authorization beside
            // credentials in the URL) out of these.
            for (name, value) in c.headers.iter().flatten() {
                req = req.header(name.as_str(), value.as_str());
            }
            let res = req.body(body).send().await.map_err(|e| e.to_string())?;
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            if status.as_u16() < 300 {
                Ok(())
            } else {
                Err(format!(
                    "returned status code {} and body {text}",
                    status.as_u16()
                ))
            }
        })
    })
}

impl Plugin for HttpLog {
    fn name(&self) -> &'static str {
        "http-log"
    }

    fn phases(&self) -> Phases {
        Phases::LOG.with(Phases::KONG_LOG)
    }

    fn log(&self, r: &AccessRecord, _: &RequestState) {
        if let Some(entry) = r.kong_log {
            self.queue.push(entry.to_vec());
        }
    }
}
