//! The `rate-limiting` plugin's configuration schema: Kong's fields, defaults and checks.

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

    /// Field-level problems, as `(field, message)` pairs.
    pub fn check(&self) -> Vec<(String, String)> {
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
        const LIMIT_BY: [&str; 6] = ["consumer", "credential", "ip", "service", "header", "path"];
        if !LIMIT_BY.contains(&self.limit_by.as_str()) {
            out.push((
                "limit_by".into(),
                format!(
                    "expected one of: {} (got \"{}\")",
                    LIMIT_BY.join(", "),
                    self.limit_by
                ),
            ));
        }
        if self.limit_by == "header" && self.header_name.is_none() {
            out.push((
                "header_name".into(),
                "required field missing (limit_by is header)".into(),
            ));
        }
        if self.limit_by == "path" && self.path.is_none() {
            out.push((
                "path".into(),
                "required field missing (limit_by is path)".into(),
            ));
        }
        match self.policy.as_str() {
            "local" => {}
            "redis" => {
                if self.redis.host.is_none() && self.redis_host.is_none() {
                    out.push((
                        "redis.host".into(),
                        "required field missing (policy is redis)".into(),
                    ));
                }
            }
            other => out.push((
                "policy".into(),
                format!("expected one of: local, redis (got \"{other}\")"),
            )),
        }
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
        out
    }
}
