//! Active health checks: a background service that probes the targets of every upstream of
//! the running config at their interval (healthy and unhealthy targets each at their own),
//! at most `concurrency` probes per upstream at a time. It reads the current snapshot on
//! each tick, so reloads need no restart, and health lives in the lasting registry. A
//! server-level service, beside the proxy, the admin API and the reloader.

use crate::state::State;
use crate::upstream::balancer::{Balancer, Member};
use crate::upstream::health::Thresholds;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How often due probes are looked for.
const TICK: Duration = Duration::from_millis(50);

/// The active health checker.
pub struct Checker {
    /// The running config.
    pub state: Arc<State>,
}

/// Per-address bookkeeping of the checker.
struct Due {
    next: Instant,
    in_flight: Arc<std::sync::atomic::AtomicBool>,
}

fn thresholds(b: &Balancer) -> Thresholds {
    let a = &b.checks.active;
    Thresholds {
        successes: a.healthy.successes,
        http_failures: a.unhealthy.http_failures,
        tcp_failures: a.unhealthy.tcp_failures,
        timeouts: a.unhealthy.timeouts,
    }
}

impl Checker {
    /// Starts the probes that are due now.
    fn tick(
        &self,
        due: &mut HashMap<(String, SocketAddr), Due>,
        limits: &mut HashMap<String, Arc<Semaphore>>,
    ) {
        let snapshot = self.state.load();
        let now = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for b in snapshot.balancers.values() {
            let active = &b.checks.active;
            if !active.enabled() {
                continue;
            }
            let limit = limits
                .entry(b.name.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(active.concurrency as usize)))
                .clone();
            for m in &b.members {
                let key = (b.name.clone(), m.addr);
                seen.insert(key.clone());
                let entry = due.entry(key).or_insert_with(|| Due {
                    next: now,
                    in_flight: Default::default(),
                });
                use std::sync::atomic::Ordering;
                if entry.next > now || entry.in_flight.load(Ordering::Relaxed) {
                    continue;
                }
                let interval = if m.health.is_up() {
                    active.healthy.interval
                } else {
                    active.unhealthy.interval
                };
                if interval <= 0.0 {
                    // Not probed in this state; look again soon in case it flips.
                    entry.next = now + TICK;
                    continue;
                }
                entry.next = now + Duration::from_secs_f64(interval);
                entry.in_flight.store(true, Ordering::Relaxed);
                let flag = entry.in_flight.clone();
                tokio::spawn(probe(
                    b.clone(),
                    m.clone(),
                    thresholds(b),
                    limit.clone(),
                    flag,
                ));
            }
        }
        due.retain(|k, _| seen.contains(k));
        limits.retain(|name, _| snapshot.balancers.contains_key(name));
    }
}

async fn probe(
    b: Arc<Balancer>,
    m: Arc<Member>,
    t: Thresholds,
    limit: Arc<Semaphore>,
    in_flight: Arc<std::sync::atomic::AtomicBool>,
) {
    if let (Ok(_permit), Some(p)) = (limit.acquire().await, &m.probe) {
        if let Some(event) = p.run(m.addr).await {
            if let Some(up) = m.health.report(event, &t) {
                log::warn!(
                    "upstream {}: target {} ({}) is now {} (active check: {event:?})",
                    b.name,
                    m.target,
                    m.addr,
                    if up { "healthy" } else { "unhealthy" }
                );
            }
        }
    }
    in_flight.store(false, std::sync::atomic::Ordering::Relaxed);
}

#[async_trait]
impl BackgroundService for Checker {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut due = HashMap::new();
        let mut limits = HashMap::new();
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.tick(&mut due, &mut limits),
                _ = shutdown.changed() => return,
            }
        }
    }
}
