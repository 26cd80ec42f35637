//! The `local` policy: per-node counters on pingora-limits' count-min estimators, one pair per
//! period rotated at each calendar window. Memory is fixed whatever the number of clients.
//!
//! Better than Kong: the check and the increment are one step under a per-key stripe lock,
//! so N concurrent clients get exactly `limit` requests through, never more (Kong reads,
//! then increments later, and bursts overshoot). Collisions in the estimator can only
//! over-count, so an error, if any, is towards limiting early, never late.

use super::window::Period;
use once_cell::sync::Lazy;
use pingora_limits::estimator::Estimator;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

/// Rows of each estimator.
const HASHES: usize = 4;
/// Counters per row: 4 x 65536 x 8 bytes = 2 MiB per estimator, two per period in use.
const SLOTS: usize = 1 << 16;
/// Stripe locks that serialize the check of one key.
const STRIPES: usize = 512;

/// The two estimators of one period: the current window's and the previous one's.
struct Rotating {
    estimators: [Estimator; 2],
    current: AtomicUsize,
    window: AtomicI64,
    rotation: RwLock<()>,
}

impl Rotating {
    fn new() -> Rotating {
        Rotating {
            estimators: [Estimator::new(HASHES, SLOTS), Estimator::new(HASHES, SLOTS)],
            current: AtomicUsize::new(0),
            window: AtomicI64::new(i64::MIN),
            rotation: RwLock::new(()),
        }
    }

    /// Adds `delta` to `key` in the window starting at `window`; returns the new count and
    /// the estimator used (to undo with the same one).
    fn add(&self, window: i64, key: u64, delta: isize) -> (isize, usize) {
        loop {
            {
                let _r = self.rotation.read().unwrap_or_else(|e| e.into_inner());
                // A request whose clock read an older window is counted in the current one.
                if self.window.load(Ordering::Acquire) >= window {
                    let idx = self.current.load(Ordering::Acquire);
                    return (self.estimators[idx].incr(key, delta), idx);
                }
            }
            let _w = self.rotation.write().unwrap_or_else(|e| e.into_inner());
            if self.window.load(Ordering::Acquire) < window {
                let next = self.current.load(Ordering::Acquire) ^ 1;
                self.estimators[next].reset();
                self.current.store(next, Ordering::Release);
                self.window.store(window, Ordering::Release);
            }
        }
    }

    fn undo(&self, idx: usize, key: u64) {
        self.estimators[idx].decr(key, 1);
    }
}

/// All local counters of this process. They outlive config reloads: a plugin whose scope
/// and identifier did not change keeps counting where it was.
pub struct LocalStore {
    periods: [once_cell::sync::OnceCell<Rotating>; 6],
    stripes: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
}

static GLOBAL: Lazy<LocalStore> = Lazy::new(LocalStore::new);

impl Default for LocalStore {
    fn default() -> Self {
        LocalStore::new()
    }
}

impl LocalStore {
    /// A fresh store (tests and benches); the gateway uses [`LocalStore::global`].
    pub fn new() -> LocalStore {
        LocalStore {
            periods: Default::default(),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: Default::default(),
        }
    }

    /// The process-wide store.
    pub fn global() -> &'static LocalStore {
        &GLOBAL
    }

    fn period(&self, p: Period) -> &Rotating {
        self.periods[p as usize].get_or_init(Rotating::new)
    }

    /// Counts one request of `key` against `limits` at `now`. Returns whether it is allowed
    /// and, per period, the usage before it. A rejected request is not counted (as Kong's
    /// local policy).
    pub fn check(
        &self,
        key: impl Hash,
        limits: &[(Period, i64)],
        now: i64,
        before: &mut Vec<i64>,
    ) -> bool {
        let h = self.hasher.hash_one(key);
        let _stripe = self.stripes[(h as usize) % STRIPES]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        before.clear();
        let mut used = [(0usize, false); 6];
        let mut allowed = true;
        for (i, (p, limit)) in limits.iter().enumerate() {
            let (after, idx) = self.period(*p).add(p.window_start(now), h, 1);
            used[i] = (idx, true);
            before.push(after as i64 - 1);
            if after as i64 > *limit {
                allowed = false;
            }
        }
        if !allowed {
            for (i, (p, _)) in limits.iter().enumerate() {
                if used[i].1 {
                    self.period(*p).undo(used[i].0, h);
                }
            }
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_limit_pass_then_the_window_resets() {
        let store = LocalStore::new();
        let limits = [(Period::Minute, 3)];
        let t0 = 1_700_000_040; // :00 of a minute
        let mut before = Vec::new();
        let mut passed = 0;
        for i in 0..5 {
            if store.check("k", &limits, t0 + i, &mut before) {
                passed += 1;
            }
        }
        assert_eq!(passed, 3);
        assert_eq!(
            before,
            vec![3],
            "a rejected request sees usage 3 and is not counted"
        );
        assert!(
            store.check("k", &limits, t0 + 60, &mut before),
            "next minute starts afresh"
        );
        assert_eq!(before, vec![0]);
        assert!(
            store.check("other", &limits, t0 + 1, &mut before),
            "keys count apart"
        );
    }

    #[test]
    fn every_period_must_allow() {
        let store = LocalStore::new();
        let limits = [(Period::Second, 2), (Period::Minute, 3)];
        let t0 = 1_700_000_040;
        let mut b = Vec::new();
        assert!(store.check("k", &limits, t0, &mut b));
        assert!(store.check("k", &limits, t0, &mut b));
        assert!(!store.check("k", &limits, t0, &mut b), "second limit");
        assert_eq!(b, vec![2, 2]);
        assert!(store.check("k", &limits, t0 + 1, &mut b));
        assert!(!store.check("k", &limits, t0 + 2, &mut b), "minute limit");
        assert_eq!(b, vec![0, 3]);
    }

    #[test]
    fn concurrent_clients_get_exactly_the_limit() {
        let store = std::sync::Arc::new(LocalStore::new());
        let limits = [(Period::Minute, 50)];
        let passed = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (store, passed) = (store.clone(), passed.clone());
                std::thread::spawn(move || {
                    let mut b = Vec::new();
                    for _ in 0..50 {
                        if store.check("hot", &limits, 1_700_000_040, &mut b) {
                            passed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(passed.load(Ordering::SeqCst), 50);
    }
}
