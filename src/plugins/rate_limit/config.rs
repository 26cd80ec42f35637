//! The `rate-limiting` plugin's configuration schema: Kong's fields, defaults and checks.

use super::redis_store::RedisTarget;
use super::window::Period;
use http::HeaderName;
use serde::{Deserialize, Serialize};

/// Redis connection settings of the `redis` policy (`config.redis`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSpec {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: Option<u32>,
    pub timeout: Option<u64>,
    pub ssl: Option<bool>,
    pub ssl_verify: Option<bool>,
    pub server_name: Option<String>,
}

/// Kong's `rate-limiting` plugin config.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub second: Option<f64>,
    pub minute: Option<f64>,
    pub hour: Option<f64>,
    pub day: Option<f64>,
    pub month: Option<f64>,
    pub year: Option<f64>,
    pub limit_by: String,
    pub header_name: Option<String>,
    pub path: Option<String>,
    pub policy: String,
    pub fault_tolerant: bool,
    pub hide_client_headers: bool,
    pub error_code: u16,
    pub error_message: String,
    pub sync_rate: f64,
    pub redis: RedisSpec,
    pub redis_host: Option<String>,
    pub redis_port: Option<u16>,
    pub redis_username: Option<String>,
    pub redis_password: Option<String>,
    pub redis_database: Option<u32>,
    pub redis_timeout: Option<u64>,
    pub redis_ssl: Option<bool>,
    pub redis_ssl_verify: Option<bool>,
    pub redis_server_name: Option<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            second: None,
            minute: None,
            hour: None,
            day: None,
            month: None,
            year: None,
            limit_by: "consumer".into(),
            header_name: None,
            path: None,
            policy: "local".into(),
            fault_tolerant: true,
            hide_client_headers: false,
            error_code: 429,
            error_message: "API rate limit exceeded".into(),
            sync_rate: -1.0,
            redis: RedisSpec::default(),
            redis_host: None,
            redis_port: None,
            redis_username: None,
            redis_password: None,
            redis_database: None,
            redis_timeout: None,
            redis_ssl: None,
            redis_ssl_verify: None,
            redis_server_name: None,
        }
    }
}

/// The periods in ascending length, with their names as Kong spells them.
pub const PERIODS: [&str; 6] = ["second", "minute", "hour", "day", "month", "year"];

impl RateLimitConfig {
    /// The configured limits in period order (`None` where unset).
    pub fn limits(&self) -> [Option<f64>; 6] {
        [
            self.second,
            self.minute,
            self.hour,
            self.day,
            self.month,
            self.year,
        ]
    }

    /// Every field-level problem as `(field, message)` pairs, or the typed settings.
    pub fn check(&self) -> Result<Settings, Vec<(String, String)>> {
        let mut out = Vec::new();
        let limits = self.limits();
        if limits.iter().all(Option::is_none) {
            out.push((
                String::new(),
                "at least one of these fields must be non-empty: 'config.second', \
                 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'"
                    .into(),
            ));
        }
        for (i, l) in limits.iter().enumerate() {
            if let Some(v) = l {
                if *v <= 0.0 || !v.is_finite() {
                    out.push((PERIODS[i].into(), "value must be greater than 0".into()));
                }
            }
        }
        // A longer period may not allow fewer requests than a shorter one.
        for (i, short) in limits.iter().enumerate() {
            for (j, long) in limits.iter().enumerate().skip(i + 1) {
                if let (Some(s), Some(l)) = (short, long) {
                    if l < s {
                        out.push((
                            PERIODS[j].into(),
                            format!(
                                "The limit for {}({:.1}) cannot be lower than the limit for {}({:.1})",
                                PERIODS[j], l, PERIODS[i], s
                            ),
                        ));
                    }
                }
            }
        }
        let by = self.limit_by(&mut out);
        let policy = match self.policy.as_str() {
            "local" => Some(Policy::Local),
            "redis" => match self.redis.host.clone().or(self.redis_host.clone()) {
                Some(host) => Some(Policy::Redis(self.redis_target(host))),
                None => {
                    out.push((
                        "redis.host".into(),
                        "required field missing (policy is redis)".into(),
                    ));
                    None
                }
            },
            other => {
                out.push((
                    "policy".into(),
                    format!("expected one of: local, redis (got \"{other}\")"),
                ));
                None
            }
        };
        if self.redis.ssl == Some(true) || self.redis_ssl == Some(true) {
            out.push((
                "redis.ssl".into(),
                "TLS to Redis is not supported by Skyport yet".into(),
            ));
        }
        if self.sync_rate != -1.0 {
            if self.policy != "redis" {
                out.push((
                    "sync_rate".into(),
                    "sync_rate can only be used with the redis policy".into(),
                ));
            } else if self.sync_rate < 0.02 {
                out.push((
                    "sync_rate".into(),
                    "sync_rate must be greater than 0.02, or -1 to disable".into(),
                ));
            }
        }
        if !(100..=599).contains(&self.error_code) {
            out.push((
                "error_code".into(),
                "value should be between 100 and 599".into(),
            ));
        }
        match (by, policy) {
            (Some(by), Some(policy)) if out.is_empty() => Ok(Settings {
                limits: Period::ALL
                    .iter()
                    .zip(limits)
                    .filter_map(|(p, l)| l.map(|l| (*p, l.ceil() as i64)))
                    .collect(),
                by,
                policy,
            }),
            _ => Err(out),
        }
    }

    /// `limit_by` with the header or path it names.
    fn limit_by(&self, out: &mut Vec<(String, String)>) -> Option<LimitBy> {
        let by = match self.limit_by.as_str() {
            "consumer" => LimitBy::Consumer,
            "credential" => LimitBy::Credential,
            "ip" => LimitBy::Ip,
            "service" => LimitBy::Service,
            "header" => match self.header_name.as_deref() {
                None => {
                    out.push((
                        "header_name".into(),
                        "required field missing (limit_by is header)".into(),
                    ));
                    return None;
                }
                Some(h) => match HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()) {
                    Ok(name) => LimitBy::Header(name),
                    Err(_) => {
                        out.push(("header_name".into(), "invalid header name".into()));
                        return None;
                    }
                },
            },
            "path" => match &self.path {
                Some(p) => LimitBy::Path(p.clone()),
                None => {
                    out.push((
                        "path".into(),
                        "required field missing (limit_by is path)".into(),
                    ));
                    return None;
                }
            },
            other => {
                out.push((
                    "limit_by".into(),
                    format!(
                        "expected one of: consumer, credential, ip, service, header, path (got \"{other}\")"
                    ),
                ));
                return None;
            }
        };
        Some(by)
    }

    /// The Redis server of the `redis` policy: the `redis` block, then the legacy fields.
    fn redis_target(&self, host: String) -> RedisTarget {
        let r = &self.redis;
        RedisTarget {
            host,
            port: r.port.or(self.redis_port).unwrap_or(6379),
            username: r.username.clone().or(self.redis_username.clone()),
            password: r.password.clone().or(self.redis_password.clone()),
            database: r.database.or(self.redis_database).unwrap_or(0),
            timeout_ms: r.timeout.or(self.redis_timeout).unwrap_or(2000),
        }
    }
}

/// Whose requests are counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitBy {
    /// The authenticated consumer (then the credential, then the client address).
    Consumer,
    /// The credential (then the client address).
    Credential,
    /// The client address.
    Ip,
    /// The route's service (then the client address).
    Service,
    /// A request header's value (then the client address).
    Header(HeaderName),
    /// Requests to exactly this path together (others by client address).
    Path(String),
}

/// Where the counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// In this node's memory.
    Local,
    /// In a Redis server shared by many nodes.
    Redis(RedisTarget),
}

/// A checked config's typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Each configured period with its (whole) limit, shortest period first.
    pub limits: Vec<(Period, i64)>,
    /// Whose requests count together.
    pub by: LimitBy,
    /// Where they are counted.
    pub policy: Policy,
}
