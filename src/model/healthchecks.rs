//! An upstream's `healthchecks` block: one typed tree with Kong's defaults, read from the file
//! as it stands (every field optional) and shown by the admin API with the defaults filled in.

use crate::issues::{join, Issues};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `healthchecks`: active probes, passive failure counting, and the capacity threshold.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Healthchecks {
    /// Below this percentage of healthy weight the whole upstream counts as down (0 = off).
    pub threshold: f64,
    /// Probes sent by the gateway.
    pub active: Active,
    /// Counting on live traffic.
    pub passive: Passive,
}

/// How a target is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum CheckKind {
    /// An HTTP request.
    Http,
    /// An HTTP request over TLS.
    Https,
    /// A TCP connect.
    Tcp,
}

impl TryFrom<String> for CheckKind {
    type Error = String;

    fn try_from(k: String) -> Result<CheckKind, String> {
        match k.as_str() {
            "http" => Ok(CheckKind::Http),
            "https" => Ok(CheckKind::Https),
            "tcp" => Ok(CheckKind::Tcp),
            _ => Err(format!("expected one of: http, https, tcp (got \"{k}\")")),
        }
    }
}

/// `healthchecks.active`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Active {
    /// `http`, `https` or `tcp`.
    #[serde(rename = "type")]
    pub kind: CheckKind,
    /// The path probed.
    pub http_path: String,
    /// Seconds a probe may take.
    pub timeout: f64,
    /// Probes in flight at once per upstream.
    pub concurrency: u32,
    /// Verify the target's certificate (type https).
    pub https_verify_certificate: bool,
    /// SNI for https probes (default: the target's host).
    pub https_sni: Option<String>,
    /// Extra request headers of the probe.
    pub headers: BTreeMap<String, Vec<String>>,
    /// When a target counts as healthy.
    pub healthy: ActiveHealthy,
    /// When a target counts as unhealthy.
    pub unhealthy: ActiveUnhealthy,
}

/// `healthchecks.active.healthy`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveHealthy {
    /// Seconds between probes of a healthy target (0 = do not probe healthy targets).
    pub interval: f64,
    /// Consecutive good probes that make an unhealthy target healthy.
    pub successes: u32,
    /// Statuses that count as good.
    pub http_statuses: Vec<u16>,
}

/// `healthchecks.active.unhealthy`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveUnhealthy {
    /// Seconds between probes of an unhealthy target (0 = do not probe unhealthy targets).
    pub interval: f64,
    /// Bad statuses that make a target unhealthy.
    pub http_failures: u32,
    /// Connection failures that make a target unhealthy.
    pub tcp_failures: u32,
    /// Timeouts that make a target unhealthy.
    pub timeouts: u32,
    /// Statuses that count as bad.
    pub http_statuses: Vec<u16>,
}

/// `healthchecks.passive`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Passive {
    /// `http`, `https` or `tcp`.
    #[serde(rename = "type")]
    pub kind: CheckKind,
    /// When a target counts as healthy again.
    pub healthy: PassiveHealthy,
    /// When a target counts as unhealthy.
    pub unhealthy: PassiveUnhealthy,
}

/// `healthchecks.passive.healthy`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PassiveHealthy {
    /// Consecutive good answers that make an unhealthy target healthy.
    pub successes: u32,
    /// Statuses that count as good.
    pub http_statuses: Vec<u16>,
}

/// `healthchecks.passive.unhealthy`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PassiveUnhealthy {
    /// Bad statuses that make a target unhealthy.
    pub http_failures: u32,
    /// Connection failures that make a target unhealthy.
    pub tcp_failures: u32,
    /// Timeouts that make a target unhealthy.
    pub timeouts: u32,
    /// Statuses that count as bad.
    pub http_statuses: Vec<u16>,
}

impl Default for Healthchecks {
    fn default() -> Self {
        Healthchecks {
            threshold: 0.0,
            active: Active::default(),
            passive: Passive::default(),
        }
    }
}

impl Default for Active {
    fn default() -> Self {
        Active {
            kind: CheckKind::Http,
            http_path: "/".into(),
            timeout: 1.0,
            concurrency: 10,
            https_verify_certificate: true,
            https_sni: None,
            headers: BTreeMap::new(),
            healthy: ActiveHealthy::default(),
            unhealthy: ActiveUnhealthy::default(),
        }
    }
}

impl Default for ActiveHealthy {
    fn default() -> Self {
        ActiveHealthy {
            interval: 0.0,
            successes: 0,
            http_statuses: vec![200, 302],
        }
    }
}

impl Default for ActiveUnhealthy {
    fn default() -> Self {
        ActiveUnhealthy {
            interval: 0.0,
            http_failures: 0,
            tcp_failures: 0,
            timeouts: 0,
            http_statuses: vec![429, 404, 500, 501, 502, 503, 504, 505],
        }
    }
}

impl Default for Passive {
    fn default() -> Self {
        Passive {
            kind: CheckKind::Http,
            healthy: PassiveHealthy::default(),
            unhealthy: PassiveUnhealthy::default(),
        }
    }
}

impl Default for PassiveHealthy {
    fn default() -> Self {
        PassiveHealthy {
            successes: 0,
            http_statuses: vec![
                200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305,
                306, 307, 308,
            ],
        }
    }
}

impl Default for PassiveUnhealthy {
    fn default() -> Self {
        PassiveUnhealthy {
            http_failures: 0,
            tcp_failures: 0,
            timeouts: 0,
            http_statuses: vec![429, 500, 503],
        }
    }
}

impl Active {
    /// Probes run at all (some interval is set).
    pub fn enabled(&self) -> bool {
        self.healthy.interval > 0.0 || self.unhealthy.interval > 0.0
    }
}

impl Passive {
    /// Live traffic is counted at all (some threshold is set).
    pub fn enabled(&self) -> bool {
        let u = &self.unhealthy;
        self.healthy.successes > 0 || u.http_failures > 0 || u.tcp_failures > 0 || u.timeouts > 0
    }
}

/// Kong's limits for counters (`successes`, `*_failures`, `timeouts`).
const MAX_COUNTER: u32 = 255;
/// Kong's limit for intervals and timeouts, in seconds.
const MAX_SECONDS: f64 = 65535.0;

fn counter(v: u32, path: &str, field: &str, issues: &mut Issues) {
    if v > MAX_COUNTER {
        issues.push(
            join(path, field),
            format!("value should be between 0 and {MAX_COUNTER}"),
        );
    }
}

fn seconds(v: f64, path: &str, field: &str, issues: &mut Issues) {
    if !(0.0..=MAX_SECONDS).contains(&v) {
        issues.push(
            join(path, field),
            format!("value should be between 0 and {MAX_SECONDS}"),
        );
    }
}

fn statuses(list: &[u16], path: &str, issues: &mut Issues) {
    for (i, s) in list.iter().enumerate() {
        if !(100..=999).contains(s) {
            issues.push(
                format!("{}[{i}]", join(path, "http_statuses")),
                "value should be between 100 and 999",
            );
        }
    }
}

/// Checks ranges and enumerations of a parsed block at `path` (`upstreams[0].healthchecks`).
pub fn check(h: &Healthchecks, path: &str, issues: &mut Issues) {
    if !(0.0..=100.0).contains(&h.threshold) {
        issues.push(join(path, "threshold"), "value should be between 0 and 100");
    }
    let a = join(path, "active");
    if !h.active.http_path.starts_with('/') {
        issues.push(join(&a, "http_path"), "should start with: /");
    }
    seconds(h.active.timeout, &a, "timeout", issues);
    if h.active.concurrency == 0 {
        issues.push(join(&a, "concurrency"), "value should be at least 1");
    }
    for name in h.active.headers.keys() {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            issues.push(join(&join(&a, "headers"), name), "invalid header name");
        }
    }
    let ah = join(&a, "healthy");
    seconds(h.active.healthy.interval, &ah, "interval", issues);
    counter(h.active.healthy.successes, &ah, "successes", issues);
    statuses(&h.active.healthy.http_statuses, &ah, issues);
    let au = join(&a, "unhealthy");
    let u = &h.active.unhealthy;
    seconds(u.interval, &au, "interval", issues);
    failures(
        [u.http_failures, u.tcp_failures, u.timeouts],
        &u.http_statuses,
        &au,
        issues,
    );

    let p = join(path, "passive");
    let ph = join(&p, "healthy");
    counter(h.passive.healthy.successes, &ph, "successes", issues);
    statuses(&h.passive.healthy.http_statuses, &ph, issues);
    let u = &h.passive.unhealthy;
    failures(
        [u.http_failures, u.tcp_failures, u.timeouts],
        &u.http_statuses,
        &join(&p, "unhealthy"),
        issues,
    );
}

/// The failure counters and status list of an `unhealthy` block.
fn failures(counts: [u32; 3], list: &[u16], path: &str, issues: &mut Issues) {
    for (v, field) in counts
        .into_iter()
        .zip(["http_failures", "tcp_failures", "timeouts"])
    {
        counter(v, path, field, issues);
    }
    statuses(list, path, issues);
}
