//! Health of one target address: up or down, and the consecutive counts that flip it (the
//! rules of Kong's healthchecker: a success clears the failure counts, a failure clears the
//! success count, a count of 0 in the config is never reached). Kept in a [`HealthRegistry`]
//! keyed by upstream name and address that the running state owns, so a reload keeps what
//! was learnt.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What one probe or one proxied request said about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A status in the healthy list (or a TCP connect for tcp checks).
    Success,
    /// A status in the unhealthy list.
    HttpFailure,
    /// The connection could not be made or broke.
    TcpFailure,
    /// Connect, read or write timed out.
    Timeout,
}

/// How many consecutive events flip a target (0 = this kind is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Successes that bring a down target back.
    pub successes: u32,
    /// Bad statuses that take a target down.
    pub http_failures: u32,
    /// Connection failures that take a target down.
    pub tcp_failures: u32,
    /// Timeouts that take a target down.
    pub timeouts: u32,
}

/// One target address's health.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
    /// Consecutive successes, http failures, tcp failures, timeouts.
    counts: Mutex<[u32; 4]>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            up: AtomicBool::new(true),
            counts: Mutex::new([0; 4]),
        }
    }
}

impl Health {
    /// True while the target may receive traffic.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Counts one event; returns the new state when it flipped.
    pub fn report(&self, event: Event, t: &Thresholds) -> Option<bool> {
        let (slot, limit) = match event {
            Event::Success => (0, t.successes),
            Event::HttpFailure => (1, t.http_failures),
            Event::TcpFailure => (2, t.tcp_failures),
            Event::Timeout => (3, t.timeouts),
        };
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let up = self.is_up();
        if event == Event::Success {
            counts[1..].fill(0);
            if up || limit == 0 {
                counts[0] = 0;
                return None;
            }
        } else {
            counts[0] = 0;
            if !up || limit == 0 {
                return None;
            }
        }
        counts[slot] += 1;
        if counts[slot] < limit {
            return None;
        }
        *counts = [0; 4];
        let now_up = event == Event::Success;
        self.up.store(now_up, Ordering::Relaxed);
        Some(now_up)
    }
}

type Key = (String, SocketAddr);

/// The health of every target address in use, by upstream name and address; an entry lives
/// while a snapshot's balancer holds it.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    map: Mutex<HashMap<Key, Weak<Health>>>,
}

impl HealthRegistry {
    /// The health of `addr` in `upstream`: the one already known (from a running or previous
    /// config still in use), or a fresh healthy one.
    pub fn shared(&self, upstream: &str, addr: SocketAddr) -> Arc<Health> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, w| w.strong_count() > 0);
        let key = (upstream.to_string(), addr);
        if let Some(h) = map.get(&key).and_then(Weak::upgrade) {
            return h;
        }
        let h = Arc::new(Health::default());
        map.insert(key, Arc::downgrade(&h));
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        successes: 2,
        http_failures: 3,
        tcp_failures: 1,
        timeouts: 0,
    };

    #[test]
    fn consecutive_failures_take_a_target_down_and_successes_bring_it_back() {
        let h = Health::default();
        assert_eq!(h.report(Event::HttpFailure, &T), None);
        assert_eq!(h.report(Event::HttpFailure, &T), None);
        // A success in between starts the count again.
        assert_eq!(h.report(Event::Success, &T), None);
        assert_eq!(h.report(Event::HttpFailure, &T), None);
        assert_eq!(h.report(Event::HttpFailure, &T), None);
        assert_eq!(h.report(Event::HttpFailure, &T), Some(false));
        assert!(!h.is_up());
        // Failures while down change nothing; successes must be consecutive.
        assert_eq!(h.report(Event::TcpFailure, &T), None);
        assert_eq!(h.report(Event::Success, &T), None);
        assert_eq!(h.report(Event::TcpFailure, &T), None);
        assert_eq!(h.report(Event::Success, &T), None);
        assert_eq!(h.report(Event::Success, &T), Some(true));
        assert!(h.is_up());
    }

    #[test]
    fn a_zero_threshold_never_flips() {
        let h = Health::default();
        for _ in 0..100 {
            assert_eq!(h.report(Event::Timeout, &T), None);
        }
        assert!(h.is_up());
        assert_eq!(h.report(Event::TcpFailure, &T), Some(false));
    }

    #[test]
    fn health_is_shared_while_a_config_holds_it() {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!());
        let registry = HealthRegistry::default();
        let a = registry.shared("up-test-shared", addr);
        a.report(Event::TcpFailure, &T);
        let b = registry.shared("up-test-shared", addr);
        assert!(!b.is_up());
        drop((a, b));
        assert!(registry.shared("up-test-shared", addr).is_up());
    }
}
