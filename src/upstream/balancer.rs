//! An upstream, compiled: its target addresses in a pingora-load-balancing selector
//! (weighted round-robin or Ketama consistent hashing), each address with its shared
//! [`Health`], and the rules for counting live traffic. `select` is the per-request step.

use super::health::{Event, Health, HealthRegistry, Thresholds};
use super::probe::Probe;
use super::trust::TrustList;
use crate::model::healthchecks::Healthchecks;
use crate::model::{BalanceAlgorithm, HashOn, Target, Upstream};
use http::HeaderValue;
use pingora::lb::selection::{consistent::KetamaHashing, RoundRobin};
use pingora::lb::{discovery, Backend, Backends, LoadBalancer};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One address of a target.
pub struct Member {
    /// The target as written (`host:port`).
    pub target: String,
    /// The address connected to.
    pub addr: SocketAddr,
    /// The target's weight.
    pub weight: u32,
    /// The target's host (SNI of TLS services).
    pub host: String,
    /// `Host` sent upstream when `preserve_host` is off.
    pub host_header: HeaderValue,
    /// Up or down; shared across reloads.
    pub health: Arc<Health>,
    /// The active probe, when active checks are on.
    pub probe: Option<Probe>,
}

/// The hash key a request offers for one input.
trait HashKey {
    fn key(&self, r: &HashRequest<'_>) -> Option<Vec<u8>>;
}

impl HashKey for HashOn {
    fn key(&self, r: &HashRequest<'_>) -> Option<Vec<u8>> {
        match self {
            HashOn::None => None,
            HashOn::Consumer => r.consumer.map(|c| c.as_bytes().to_vec()),
            HashOn::Ip => r.client_ip.map(|ip| ip.to_string().into_bytes()),
            HashOn::Header(h) => {
                let mut values = r.headers.get_all(h).iter().peekable();
                values.peek()?;
                let joined: Vec<&[u8]> = values.map(HeaderValue::as_bytes).collect();
                Some(joined.join(&b","[..]))
            }
            HashOn::Path => Some(r.path.as_bytes().to_vec()),
            HashOn::QueryArg(name) => form_urlencoded::parse(r.query?.as_bytes())
                .find(|(k, _)| k == name.as_str())
                .map(|(_, v)| v.into_owned().into_bytes()),
        }
    }
}

/// What a request offers for hashing.
pub struct HashRequest<'a> {
    /// The authenticated consumer's id.
    pub consumer: Option<&'a str>,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The request path.
    pub path: &'a str,
    /// The query string.
    pub query: Option<&'a str>,
}

enum Selector {
    RoundRobin(LoadBalancer<RoundRobin>),
    Hash(LoadBalancer<KetamaHashing>),
}

/// An upstream, ready to pick targets.
pub struct Balancer {
    /// The upstream's name (what services name as their host).
    pub name: String,
    /// Every address of every target, in config order (weight-0 targets included).
    pub members: Vec<Arc<Member>>,
    /// Health check settings.
    pub checks: Healthchecks,
    /// Passive counting thresholds (None = passive checks off).
    passive: Option<Thresholds>,
    selector: Selector,
    hash_on: HashOn,
    hash_fallback: HashOn,
    /// Requests with nothing to hash spread by this counter.
    spread: AtomicU64,
    total_weight: u64,
}

/// Bound on candidates looked at per pick.
fn max_iterations(members: usize) -> usize {
    members * 2 + 8
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Balancer {
    /// Compiles an upstream and its targets at the addresses their names resolved to (a
    /// name that did not resolve contributes none). `trust` verifies https probes: the CA
    /// certificates of the services that use it. Health comes from `health`, so what was
    /// learnt about an address survives the reload.
    pub fn new(
        up: &Upstream,
        targets: &[(&Target, Vec<SocketAddr>)],
        trust: Option<TrustList>,
        health: &HealthRegistry,
    ) -> Balancer {
        let mut members = Vec::new();
        for (t, addrs) in targets {
            let host_header = match &up.host_header {
                Some(h) => h.clone(),
                None if t.port == 80 || t.port == 443 => t.host.clone(),
                None => t.target.clone(),
            };
            let Ok(host_header) = HeaderValue::from_str(&host_header) else {
                continue;
            };
            for &addr in addrs {
                let probe = up.healthchecks.active.enabled().then(|| {
                    Probe::new(
                        &up.healthchecks.active,
                        &t.host,
                        &host_header,
                        trust.clone(),
                    )
                });
                members.push(Arc::new(Member {
                    target: t.target.clone(),
                    addr,
                    weight: t.weight,
                    host: t.host.clone(),
                    host_header: host_header.clone(),
                    health: health.shared(&up.name, addr),
                    probe,
                }));
            }
        }
        let divisor = members
            .iter()
            .map(|m| m.weight)
            .filter(|w| *w > 0)
            .fold(0, gcd)
            .max(1);
        let set: BTreeSet<Backend> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.weight > 0)
            .map(|(i, m)| {
                let mut b = Backend {
                    addr: pingora::protocols::l4::socket::SocketAddr::Inet(m.addr),
                    weight: (m.weight / divisor) as usize,
                    ext: Default::default(),
                };
                b.ext.insert(i);
                b
            })
            .collect();
        let total_weight = members.iter().map(|m| u64::from(m.weight)).sum();
        let selector = match up.algorithm {
            BalanceAlgorithm::ConsistentHashing => Selector::Hash(load_balancer(set)),
            BalanceAlgorithm::RoundRobin => Selector::RoundRobin(load_balancer(set)),
        };
        let p = &up.healthchecks.passive;
        let passive = p.enabled().then_some(Thresholds {
            successes: p.healthy.successes,
            http_failures: p.unhealthy.http_failures,
            tcp_failures: p.unhealthy.tcp_failures,
            timeouts: p.unhealthy.timeouts,
        });
        Balancer {
            name: up.name.clone(),
            members,
            checks: up.healthchecks.clone(),
            passive,
            selector,
            hash_on: up.hashing.0.clone(),
            hash_fallback: up.hashing.1.clone(),
            spread: AtomicU64::new(0),
            total_weight,
        }
    }

    /// True when the healthy share of the weight is below `healthchecks.threshold`.
    fn below_threshold(&self) -> bool {
        let threshold = self.checks.threshold;
        if threshold <= 0.0 || self.total_weight == 0 {
            return false;
        }
        let healthy: u64 = self
            .members
            .iter()
            .filter(|m| m.health.is_up())
            .map(|m| u64::from(m.weight))
            .sum();
        (healthy as f64) * 100.0 / (self.total_weight as f64) < threshold
    }

    /// Picks a healthy member for a request, preferring ones not in `tried`. None when
    /// every target is down or disabled.
    pub fn select(&self, req: &HashRequest<'_>, tried: &[SocketAddr]) -> Option<Arc<Member>> {
        if self.below_threshold() {
            return None;
        }
        // Round-robin ignores the key: build one only for consistent hashing.
        let key = match &self.selector {
            Selector::RoundRobin(_) => Vec::new(),
            Selector::Hash(_) => self
                .hash_on
                .key(req)
                .or_else(|| self.hash_fallback.key(req))
                .unwrap_or_else(|| {
                    self.spread
                        .fetch_add(1, Ordering::Relaxed)
                        .to_le_bytes()
                        .to_vec()
                }),
        };
        let max = max_iterations(self.members.len());
        let member = |b: &Backend| b.ext.get::<usize>().and_then(|i| self.members.get(*i));
        let pick = |avoid: &[SocketAddr]| {
            let accept = |b: &Backend, _: bool| {
                member(b).is_some_and(|m| m.health.is_up() && !avoid.contains(&m.addr))
            };
            match &self.selector {
                Selector::RoundRobin(lb) => lb.select_with(&key, max, accept),
                Selector::Hash(lb) => lb.select_with(&key, max, accept),
            }
        };
        let chosen = pick(tried).or_else(|| (!tried.is_empty()).then(|| pick(&[])).flatten())?;
        member(&chosen).cloned()
    }

    /// Counts a proxied request's outcome when passive checks are on.
    pub fn observe(&self, member: &Member, event: Event) {
        if let Some(t) = &self.passive {
            if let Some(up) = member.health.report(event, t) {
                log::warn!(
                    "upstream {}: target {} ({}) is now {} (passive check)",
                    self.name,
                    member.target,
                    member.addr,
                    if up { "healthy" } else { "unhealthy" }
                );
            }
        }
    }

    /// Counts a proxied response's status when passive checks are on.
    pub fn observe_status(&self, member: &Member, status: u16) {
        if self.passive.is_none() {
            return;
        }
        let p = &self.checks.passive;
        if p.unhealthy.http_statuses.contains(&status) {
            self.observe(member, Event::HttpFailure);
        } else if p.healthy.http_statuses.contains(&status) {
            self.observe(member, Event::Success);
        }
    }
}

fn load_balancer<S>(set: BTreeSet<Backend>) -> LoadBalancer<S>
where
    S: pingora::lb::selection::BackendSelection + 'static,
    S::Iter: pingora::lb::selection::BackendIter,
{
    let lb = LoadBalancer::from_backends(Backends::new(discovery::Static::new(set)));
    // Static discovery never waits and never fails: one poll builds the selector.
    use futures::FutureExt;
    if let Some(Err(e)) = lb.update().now_or_never() {
        log::error!("building a balancer failed: {e}");
    }
    lb
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balancer")
            .field("name", &self.name)
            .field("members", &self.members.len())
            .finish()
    }
}
