//! Node settings, Kong's `kong.conf` equivalent: `key = value` lines in `skyport.conf`,
//! each key overridable by the environment as `SKYPORT_<KEY>` (like `KONG_<KEY>`).
//! Every key, its default and its meaning are listed in [`KEYS`]; unknown keys are errors.

use crate::spans::{Instrumentations, TracingSettings};
use std::path::{Path, PathBuf};

/// Every node setting: (key, default, description). The starter `conf/skyport.conf`
/// documents the same list.
pub const KEYS: [(&str, &str, &str); 30] = [
    (
        "proxy_listen",
        "0.0.0.0:8000",
        "proxy listeners, comma-separated; add `ssl` for TLS (HTTP/2 via ALPN)",
    ),
    (
        "admin_listen",
        "127.0.0.1:8001",
        "admin API listeners, comma-separated; `off` disables",
    ),
    (
        "declarative_config",
        "",
        "path of the Kong-format kong.yml to serve",
    ),
    (
        "worker_threads",
        "auto",
        "proxy worker threads; auto = one per core",
    ),
    (
        "worker_work_stealing",
        "on",
        "on: worker threads share one work-stealing scheduler; off: one scheduler per thread, \
         each with its own idle upstream connections (cheaper per request)",
    ),
    ("log_level", "info", "error, warn, info, debug or trace"),
    (
        "pid_file",
        "/tmp/skyport.pid",
        "pid file, written at start (read by `skyport reload` and `stop`)",
    ),
    ("error_log", "", "log file in daemon mode (empty: stderr)"),
    (
        "upgrade_sock",
        "/tmp/skyport_upgrade.sock",
        "socket the old and new process hand listeners over on (-u)",
    ),
    (
        "grace_period",
        "10",
        "seconds in-flight requests get to finish after SIGTERM/SIGQUIT",
    ),
    (
        "graceful_shutdown_timeout",
        "5",
        "seconds the runtimes get to stop after the grace period",
    ),
    (
        "upstream_keepalive_pool_size",
        "512",
        "idle upstream connections kept for reuse",
    ),
    (
        "admin_token",
        "",
        "if set, the admin API requires `Authorization: Bearer <token>` (all but /status/ready)",
    ),
    (
        "access_log",
        "off",
        "one JSON line per request: off, stdout, or a file path",
    ),
    (
        "watch_config",
        "on",
        "reload the declarative config when its file changes: on or off",
    ),
    (
        "client_max_body_size",
        "0",
        "largest request body accepted (e.g. 8m); larger gets 413; 0 = no limit",
    ),
    (
        "client_max_header_size",
        "64k",
        "largest request header block accepted; larger gets 400",
    ),
    (
        "client_body_timeout",
        "60",
        "seconds the client may stay silent while sending a body; then 408",
    ),
    (
        "client_header_timeout",
        "60",
        "seconds a request header may take in all, from its first byte, however slowly it \
         trickles in; then the connection is closed",
    ),
    (
        "headers",
        HeaderSettings::DEFAULT,
        "Skyport's own response headers (Kong's `headers`): server_tokens (Server, Via), \
         latency_tokens (the X-Skyport-*-Latency headers), X-Skyport-Request-Id, any of those \
         names alone, or off",
    ),
    (
        "headers_upstream",
        HeaderSettings::DEFAULT_UPSTREAM,
        "Skyport's own headers on the upstream request (Kong's `headers_upstream`): \
         X-Skyport-Request-Id or off",
    ),
    (
        "large_client_header_buffers",
        "4 8k",
        "nginx's number and size of header buffers: no single header line (or request target) may exceed the size (400)",
    ),
    (
        "keepalive_timeout",
        "60",
        "seconds an idle keep-alive client connection (HTTP/1.1 or HTTP/2) stays open; 0 = no keep-alive",
    ),
    (
        "max_connections",
        "auto",
        "client connections open at once per worker thread (nginx's worker_connections); past \
         it a new connection is closed at once; auto = what the descriptor limit allows",
    ),
    (
        "keepalive_requests",
        "1000",
        "requests served on one client connection before it is closed (nginx's default)",
    ),
    (
        "rate_limit_store_size",
        "12m",
        "memory for rate-limiting `local` counters (Kong's 12m dictionary); idle keys are \
         evicted first when full, so limits then apply late, never early",
    ),
    (
        "tracing_instrumentations",
        "off",
        "spans tracing plugins (`opentelemetry`) export: off (headers are only propagated), \
         all, or a list of request, router, balancer, plugin_access, plugin_header_filter",
    ),
    (
        "tracing_sampling_rate",
        "0.01",
        "share of traces exported, 0 to 1 (a plugin's `sampling_rate` overrides it)",
    ),
    ("ssl_cert", "", "PEM certificate for `ssl` proxy listeners"),
    (
        "ssl_cert_key",
        "",
        "PEM private key for `ssl` proxy listeners",
    ),
];

/// Which of Skyport's own headers go out: Kong's `headers` and `headers_upstream` settings.
/// The X-Forwarded-* and Via headers of the upstream request are not among them (they are
/// the proxy's protocol, as in Kong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderSettings {
    /// `Server` on responses Skyport makes itself, and on proxied ones that have none.
    pub server: bool,
    /// `Via` on proxied responses.
    pub via: bool,
    /// `X-Skyport-Upstream-Latency` on proxied responses.
    pub upstream_latency: bool,
    /// `X-Skyport-Proxy-Latency` on proxied responses.
    pub proxy_latency: bool,
    /// `X-Skyport-Response-Latency` on responses Skyport makes itself.
    pub response_latency: bool,
    /// `X-Skyport-Request-Id` on every response.
    pub request_id: bool,
    /// `X-Skyport-Request-Id` on the upstream request.
    pub upstream_request_id: bool,
}

impl Default for HeaderSettings {
    /// Every header on, as the default `headers` and `headers_upstream` values say.
    fn default() -> Self {
        let mut errors = Vec::new();
        HeaderSettings::parse(Self::DEFAULT, Self::DEFAULT_UPSTREAM, &mut errors)
    }
}

impl HeaderSettings {
    const DEFAULT: &str = "server_tokens, latency_tokens, X-Skyport-Request-Id";
    const DEFAULT_UPSTREAM: &str = "X-Skyport-Request-Id";

    /// Parses the `headers` and `headers_upstream` values (names case-insensitive, as Kong).
    fn parse(headers: &str, upstream: &str, errors: &mut Vec<String>) -> HeaderSettings {
        let mut h = HeaderSettings {
            server: false,
            via: false,
            upstream_latency: false,
            proxy_latency: false,
            response_latency: false,
            request_id: false,
            upstream_request_id: false,
        };
        let tokens = |v: &str| -> Vec<String> {
            v.split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        };
        let list = tokens(headers);
        for t in &list {
            match t.as_str() {
                "off" if list.len() == 1 => {}
                "off" => errors.push("headers: `off` cannot be combined with other values".into()),
                "server_tokens" => (h.server, h.via) = (true, true),
                "latency_tokens" => {
                    (h.upstream_latency, h.proxy_latency, h.response_latency) = (true, true, true)
                }
                "server" => h.server = true,
                "via" => h.via = true,
                // Kong's names (a kong.conf or KONG_HEADERS) turn on Skyport's headers.
                "x-skyport-upstream-latency" | "x-kong-upstream-latency" => {
                    h.upstream_latency = true
                }
                "x-skyport-proxy-latency" | "x-kong-proxy-latency" => h.proxy_latency = true,
                "x-skyport-response-latency" | "x-kong-response-latency" => {
                    h.response_latency = true
                }
                "x-skyport-request-id" | "x-kong-request-id" => h.request_id = true,
                // Kong's headers Skyport does not send: accepted, nothing to turn on.
                "x-kong-upstream-status" | "x-kong-admin-latency" => {}
                other => errors.push(format!(
                    "headers: unknown value \"{other}\" (expected server_tokens, latency_tokens, \
                     Server, Via, X-Skyport-Upstream-Latency, X-Skyport-Proxy-Latency, \
                     X-Skyport-Response-Latency, X-Skyport-Request-Id or off)"
                )),
            }
        }
        for t in tokens(upstream) {
            match t.as_str() {
                "off" => {}
                "x-skyport-request-id" | "x-kong-request-id" => h.upstream_request_id = true,
                other => errors.push(format!(
                    "headers_upstream: unknown value \"{other}\" (expected X-Skyport-Request-Id or off)"
                )),
            }
        }
        h
    }
}

/// One listen address and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// `ip:port`.
    pub addr: String,
    /// TLS on this listener.
    pub ssl: bool,
    /// `http2`: on a plain listener, HTTP/2 with prior knowledge (h2c, what gRPC clients
    /// speak) besides HTTP/1; TLS listeners always offer HTTP/2.
    pub http2: bool,
}

/// The node's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    pub proxy_listen: Vec<Listen>,
    pub admin_listen: Vec<Listen>,
    pub declarative_config: Option<PathBuf>,
    pub worker_threads: usize,
    /// Tokio work stealing between the proxy's worker threads.
    pub worker_work_stealing: bool,
    pub log_level: String,
    pub pid_file: String,
    pub error_log: Option<String>,
    pub upgrade_sock: String,
    pub grace_period: u64,
    pub graceful_shutdown_timeout: u64,
    pub upstream_keepalive_pool_size: usize,
    pub ssl_cert: Option<String>,
    pub ssl_cert_key: Option<String>,
    pub admin_token: Option<String>,
    pub access_log: String,
    pub watch_config: bool,
    /// Bytes; 0 = no limit.
    pub client_max_body_size: u64,
    /// Bytes.
    pub client_max_header_size: u64,
    /// Seconds between body reads before 408.
    pub client_body_timeout: u64,
    /// Seconds a request header may take in all, from its first byte.
    pub client_header_timeout: u64,
    /// Skyport's own headers on responses and upstream requests.
    pub headers: HeaderSettings,
    /// Bytes of rate-limiting `local` counters.
    pub rate_limit_store_size: u64,
    /// Seconds an idle keep-alive client connection stays open (0: no keep-alive).
    pub keepalive_timeout: u64,
    /// nginx's `large_client_header_buffers`: (number, bytes each).
    pub large_client_header_buffers: (u64, u64),
    /// Requests served on one client connection.
    pub keepalive_requests: u32,
    /// Client connections per worker thread; `None`: from the descriptor limit.
    pub max_connections: Option<u64>,
    /// `tracing_instrumentations` and `tracing_sampling_rate`.
    pub tracing: crate::spans::TracingSettings,
    /// `KONG_*` settings that were ignored (no equivalent), for the log.
    pub ignored: Vec<String>,
}

/// Parses a size with an optional k/m/g suffix (`8m`, `64k`, `1024`).
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1024),
        'm' => (&v[..v.len() - 1], 1024 * 1024),
        'g' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        _ => (v.as_str(), 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

fn parse_listen(key: &str, v: &str, errors: &mut Vec<String>) -> Vec<Listen> {
    if v.trim() == "off" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for part in v.split(',') {
        let mut words = part.split_whitespace();
        let Some(addr) = words.next() else {
            errors.push(format!("{key}: empty listen address"));
            continue;
        };
        if addr.parse::<std::net::SocketAddr>().is_err() {
            errors.push(format!(
                "{key}: invalid address \"{addr}\" (expected ip:port, e.g. 0.0.0.0:8000)"
            ));
        }
        let (mut ssl, mut http2) = (false, false);
        for flag in words {
            match flag {
                "ssl" => ssl = true,
                "http2" => http2 = true,
                // Accepted for kong.conf compatibility: Skyport always reuses ports.
                "reuseport" | "deferred" | "bind" => {}
                f if f.starts_with("backlog=")
                    || f.starts_with("ipv6only=")
                    || f.starts_with("so_keepalive=") => {}
                "proxy_protocol" => errors.push(format!(
                    "{key}: proxy_protocol is not supported by Skyport (client addresses would be read differently)"
                )),
                f => errors.push(format!(
                    "{key}: unknown flag \"{f}\" (known: ssl, http2, reuseport, backlog=N, deferred, bind, ipv6only=, so_keepalive=)"
                )),
            }
        }
        out.push(Listen {
            addr: addr.to_string(),
            ssl,
            http2,
        });
    }
    out
}

/// Kong's settings (`KONG_<KEY>`, lower-cased) that have a Skyport equivalent, and that key.
const KONG_ALIASES: [(&str, &str); 18] = [
    ("nginx_events_worker_connections", "max_connections"),
    ("nginx_http_client_header_timeout", "client_header_timeout"),
    ("nginx_http_client_body_timeout", "client_body_timeout"),
    (
        "nginx_http_large_client_header_buffers",
        "large_client_header_buffers",
    ),
    ("nginx_http_keepalive_timeout", "keepalive_timeout"),
    ("nginx_http_keepalive_requests", "keepalive_requests"),
    ("proxy_listen", "proxy_listen"),
    ("admin_listen", "admin_listen"),
    ("declarative_config", "declarative_config"),
    ("log_level", "log_level"),
    ("nginx_worker_processes", "worker_threads"),
    ("ssl_cert", "ssl_cert"),
    ("ssl_cert_key", "ssl_cert_key"),
    ("headers", "headers"),
    ("headers_upstream", "headers_upstream"),
    ("proxy_error_log", "error_log"),
    ("proxy_access_log", "access_log"),
    ("nginx_http_client_max_body_size", "client_max_body_size"),
];

/// Kong settings that need no equivalent: accepted silently.
const KONG_ACCEPTED: [&str; 3] = ["database", "plugins", "prefix"];

/// Kong's log levels in Skyport's (nginx has more).
fn kong_log_level(v: &str) -> String {
    match v {
        "notice" => "info".into(),
        "crit" | "alert" | "emerg" => "error".into(),
        other => other.into(),
    }
}

/// The raw value of every key after the file and the environment, in [`KEYS`] order, and
/// the `KONG_*` settings that were ignored.
struct Values(Vec<(String, String)>, Vec<String>);

impl Values {
    /// Reads the settings file (if any), then applies `SKYPORT_<KEY>` overrides.
    fn read(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
        errors: &mut Vec<String>,
    ) -> Values {
        let mut values = Values(
            KEYS.iter()
                .map(|(k, d, _)| (k.to_string(), d.to_string()))
                .collect(),
            Vec::new(),
        );
        if let Some(path) = file {
            match std::fs::read_to_string(path) {
                Ok(text) => values.read_file(path, &text, errors),
                Err(e) => errors.push(format!("cannot read {}: {e}", path.display())),
            }
        }
        let env: Vec<(String, String)> = env.collect();
        // Kong's names first, so that a `SKYPORT_` setting wins when both are given.
        for (k, v) in &env {
            if let Some(key) = k.strip_prefix("KONG_") {
                values.kong(&key.to_ascii_lowercase(), v, errors);
            }
        }
        for (k, v) in env {
            if let Some(key) = k.strip_prefix("SKYPORT_") {
                let key = key.to_ascii_lowercase();
                if KEYS.iter().any(|(name, _, _)| *name == key) {
                    values.set(&key, v, &k, errors);
                }
            }
        }
        values
    }

    /// One `KONG_<KEY>` setting: its Skyport equivalent, accepted, refused when it would
    /// change behaviour silently, or ignored with a warning.
    fn kong(&mut self, key: &str, v: &str, errors: &mut Vec<String>) {
        let origin = format!("KONG_{}", key.to_ascii_uppercase());
        if let Some((_, ours)) = KONG_ALIASES.iter().find(|(k, _)| *k == key) {
            let value = if *ours == "log_level" {
                kong_log_level(v)
            } else {
                v.to_string()
            };
            self.set(ours, value, &origin, errors);
        } else if key == "database" && v != "off" {
            errors.push(format!(
                "{origin}: Skyport serves a declarative config only (database = off), got \"{v}\""
            ));
        } else if key == "prefix" {
            let dir = v.trim_end_matches('/');
            self.set("pid_file", format!("{dir}/skyport.pid"), &origin, errors);
            self.set(
                "upgrade_sock",
                format!("{dir}/skyport_upgrade.sock"),
                &origin,
                errors,
            );
        } else if !KONG_ACCEPTED.contains(&key) {
            self.1
                .push(format!("{origin} has no Skyport equivalent and is ignored"));
        }
    }

    fn read_file(&mut self, path: &Path, text: &str, errors: &mut Vec<String>) {
        for (n, line) in text.lines().enumerate() {
            let line = match line.find(" #") {
                Some(i) => &line[..i],
                None => line,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let origin = format!("{}:{}", path.display(), n + 1);
            match line.split_once('=') {
                Some((k, v)) => self.set(k.trim(), v.trim().to_string(), &origin, errors),
                None => errors.push(format!("{origin}: expected `key = value`")),
            }
        }
    }

    fn set(&mut self, key: &str, value: String, origin: &str, errors: &mut Vec<String>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => errors.push(format!("{origin}: unknown setting \"{key}\"")),
        }
    }

    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn opt(&self, key: &str) -> Option<String> {
        Some(self.get(key).to_string()).filter(|s| !s.is_empty())
    }

    fn num(&self, key: &str, errors: &mut Vec<String>) -> u64 {
        self.get(key).parse::<u64>().unwrap_or_else(|_| {
            errors.push(format!(
                "{key}: expected a whole number (got \"{}\")",
                self.get(key)
            ));
            0
        })
    }

    fn switch(&self, key: &str, errors: &mut Vec<String>) -> bool {
        match self.get(key) {
            "on" | "true" => true,
            "off" | "false" => false,
            other => {
                errors.push(format!("{key}: expected on or off (got \"{other}\")"));
                false
            }
        }
    }

    /// A size (`8m`); `fallback` after an error, or when zero is refused (`nonzero`).
    fn size(&self, key: &str, example: &str, nonzero: bool, errors: &mut Vec<String>) -> u64 {
        match parse_size(self.get(key)).filter(|n| !nonzero || *n > 0) {
            Some(n) => n,
            None => {
                errors.push(format!(
                    "{key}: expected a size such as {example} (got \"{}\")",
                    self.get(key)
                ));
                0
            }
        }
    }

    /// nginx's `<number> <size>` (`4 8k`).
    fn buffers(&self, key: &str, errors: &mut Vec<String>) -> (u64, u64) {
        let v = self.get(key);
        let mut parts = v.split_whitespace();
        let parsed = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(size), None) => n
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .zip(parse_size(size).filter(|s| *s > 0)),
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            errors.push(format!(
                "{key}: expected a number and a size such as 4 8k (got \"{v}\")"
            ));
            (4, 8192)
        })
    }

    fn seconds(&self, key: &str, errors: &mut Vec<String>) -> u64 {
        let v = self.get(key);
        v.trim_end_matches('s')
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| {
                errors.push(format!("{key}: expected seconds such as 60 (got \"{v}\")"));
                60
            })
    }
}

/// Kong's tracing settings, with Kong's messages.
fn tracing_settings(v: &Values, errors: &mut Vec<String>) -> TracingSettings {
    let instrumentations = Instrumentations::parse(v.get("tracing_instrumentations"))
        .unwrap_or_else(|e| {
            errors.push(format!("tracing_instrumentations: {e}"));
            Instrumentations::OFF
        });
    let rate = v.get("tracing_sampling_rate");
    let sampling_rate = match rate.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => r,
        _ => {
            errors.push(format!(
                "tracing_sampling_rate: tracing_sampling_rate must be between 0 and 1 (got \"{rate}\")"
            ));
            0.01
        }
    };
    TracingSettings {
        instrumentations,
        sampling_rate,
    }
}

impl NodeSettings {
    /// Reads the settings file (if any), then applies `SKYPORT_<KEY>` overrides from `env`.
    /// Every problem is reported.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<NodeSettings, Vec<String>> {
        let mut errors = Vec::new();
        let v = Values::read(file, env, &mut errors);
        let settings = NodeSettings::from_values(&v, &mut errors);
        if settings.proxy_listen.iter().any(|l| l.ssl)
            && (settings.ssl_cert.is_none() || settings.ssl_cert_key.is_none())
        {
            errors.push("proxy_listen: an `ssl` listener needs ssl_cert and ssl_cert_key".into());
        }
        if settings.proxy_listen.is_empty() {
            errors.push("proxy_listen: at least one address is required".into());
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }

    fn from_values(v: &Values, errors: &mut Vec<String>) -> NodeSettings {
        let worker_threads = match v.get("worker_threads") {
            "auto" => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            _ => v.num("worker_threads", errors).max(1) as usize,
        };
        let log_level = v.get("log_level").to_string();
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
            errors.push(format!(
                "log_level: expected one of: error, warn, info, debug, trace (got \"{log_level}\")"
            ));
        }
        NodeSettings {
            proxy_listen: parse_listen("proxy_listen", v.get("proxy_listen"), errors),
            admin_listen: parse_listen("admin_listen", v.get("admin_listen"), errors),
            declarative_config: v.opt("declarative_config").map(PathBuf::from),
            worker_threads,
            log_level,
            pid_file: v.get("pid_file").to_string(),
            error_log: v.opt("error_log"),
            upgrade_sock: v.get("upgrade_sock").to_string(),
            grace_period: v.num("grace_period", errors),
            graceful_shutdown_timeout: v.num("graceful_shutdown_timeout", errors),
            upstream_keepalive_pool_size: v.num("upstream_keepalive_pool_size", errors) as usize,
            ssl_cert: v.opt("ssl_cert"),
            ssl_cert_key: v.opt("ssl_cert_key"),
            client_max_body_size: v.size("client_max_body_size", "8m", false, errors),
            client_max_header_size: v.size("client_max_header_size", "64k", true, errors),
            client_body_timeout: v.seconds("client_body_timeout", errors),
            client_header_timeout: v.seconds("client_header_timeout", errors),
            admin_token: v.opt("admin_token"),
            access_log: v.get("access_log").to_string(),
            watch_config: v.switch("watch_config", errors),
            worker_work_stealing: v.switch("worker_work_stealing", errors),
            headers: HeaderSettings::parse(v.get("headers"), v.get("headers_upstream"), errors),
            rate_limit_store_size: v.size("rate_limit_store_size", "12m", true, errors),
            keepalive_timeout: v.num("keepalive_timeout", errors),
            large_client_header_buffers: v.buffers("large_client_header_buffers", errors),
            keepalive_requests: u32::try_from(v.num("keepalive_requests", errors))
                .unwrap_or(u32::MAX)
                .max(1),
            max_connections: match v.get("max_connections") {
                "auto" => None,
                n => match n.parse::<u64>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        errors.push(format!(
                            "max_connections: expected auto or a whole number above 0 (got \"{n}\")"
                        ));
                        None
                    }
                },
            },
            tracing: tracing_settings(v, errors),
            ignored: v.1.clone(),
        }
    }

    /// What an operator should hear about settings that load but are risky; logged once
    /// logging is set up.
    pub fn warnings(&self) -> Vec<String> {
        let beyond_loopback = self.admin_listen.iter().any(|l| {
            l.addr
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| !a.ip().is_loopback())
        });
        let mut out = self.ignored.clone();
        if beyond_loopback && self.admin_token.is_none() {
            out.push("admin_listen is reachable beyond loopback without admin_token: anyone who can reach it can read and replace the config".to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_env() {
        let dir = std::env::temp_dir().join(format!("skyport-node-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("skyport.conf");
        std::fs::write(&f, "# comment\nproxy_listen = 127.0.0.1:9000, 127.0.0.1:9443 ssl http2\nssl_cert = a.pem\nssl_cert_key = a.key # inline\nworker_threads = 3\n").expect("write");
        let env = vec![
            ("SKYPORT_WORKER_THREADS".to_string(), "2".to_string()),
            ("PATH".into(), "x".into()),
        ];
        let s = NodeSettings::load(Some(&f), env.into_iter()).expect("valid");
        assert_eq!(
            s.proxy_listen,
            vec![
                Listen {
                    addr: "127.0.0.1:9000".into(),
                    ssl: false,
                    http2: false
                },
                Listen {
                    addr: "127.0.0.1:9443".into(),
                    ssl: true,
                    http2: true
                },
            ]
        );
        assert_eq!(s.worker_threads, 2);
        assert_eq!(s.admin_listen[0].addr, "127.0.0.1:8001");
        assert_eq!(s.ssl_cert_key.as_deref(), Some("a.key"));
        assert_eq!(s.upstream_keepalive_pool_size, 512);
    }

    #[test]
    fn reports_every_bad_key() {
        let env = vec![
            ("SKYPORT_PROXY_LISTEN".to_string(), "nope".to_string()),
            ("SKYPORT_GRACE_PERIOD".to_string(), "soon".to_string()),
            ("SKYPORT_LOG_LEVEL".to_string(), "loud".to_string()),
        ];
        let errs = NodeSettings::load(None, env.into_iter()).expect_err("invalid");
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn headers_as_kong_reads_them() {
        let load = |headers: &str, upstream: &str| {
            let env = vec![
                ("SKYPORT_HEADERS".to_string(), headers.to_string()),
                ("SKYPORT_HEADERS_UPSTREAM".to_string(), upstream.to_string()),
            ];
            NodeSettings::load(None, env.into_iter()).map(|s| s.headers)
        };
        let defaults = NodeSettings::load(None, std::iter::empty()).expect("defaults");
        let d = defaults.headers;
        assert!(d.server && d.via && d.request_id && d.upstream_request_id);
        assert!(d.upstream_latency && d.proxy_latency && d.response_latency);
        assert_eq!(d, HeaderSettings::default());
        let off = load("off", "off").expect("off");
        assert!(!off.server && !off.via && !off.request_id && !off.upstream_request_id);
        assert!(!off.upstream_latency && !off.proxy_latency && !off.response_latency);
        let some = load("Via, x-skyport-request-id", "X-Skyport-Request-Id").expect("some");
        assert!(some.via && some.request_id && some.upstream_request_id);
        assert!(!some.server && !some.upstream_latency && !some.response_latency);
        let latency = load("latency_tokens", "off").expect("latency");
        assert!(latency.upstream_latency && latency.proxy_latency && latency.response_latency);
        assert!(!latency.via && !latency.request_id);
        let kong = load(
            "X-Kong-Request-Id, X-Kong-Upstream-Latency, X-Kong-Upstream-Status",
            "X-Kong-Request-Id",
        )
        .expect("Kong's names");
        assert!(kong.request_id && kong.upstream_latency && kong.upstream_request_id);
        assert!(!kong.via && !kong.proxy_latency);
        let errs = load("off, via, X-Kong-Bogus", "nope").expect_err("invalid");
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs.iter().any(|e| e.contains("\"x-kong-bogus\"")),
            "{errs:?}"
        );
    }
}
