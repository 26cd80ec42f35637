//! The `local` policy: exact per-node counters, one entry per (plugin scope, identifier)
//! holding the current window's count of every period, in a bounded store of 64 shards
//! (each an index map behind its own lock).
//!
//! Exact: an identifier is never charged for another's requests, so no client is limited
//! before its own limit (a count-min sketch over-counts when keys collide: with enough
//! distinct clients every client is limited). The check and the increment of all periods
//! are one step under the shard's lock, so N concurrent clients get exactly `limit`
//! requests through, never more (Kong reads, then increments later, and bursts overshoot).
//!
//! Bounded: the store holds at most `capacity` bytes' worth of entries (the node's
//! `rate_limit_store_size`, [`ENTRY_BYTES`] each). When a shard is full, a new identifier
//! evicts one of a few sampled entries, the most idle one (entries whose longest window has
//! passed go first), and the eviction is counted. An evicted identifier starts again from
//! zero, so a full store errs towards limiting late, never early. Every operation is O(1):
//! a flood of new identifiers costs a hash, an allocation and a sampled eviction each.
//!
//! Measured against a bounded concurrent cache (moka, with TinyLFU admission): the same
//! exactness, but 3x the cost on a hot key and ~10 µs per check while the store was full of
//! one-shot identifiers (`benches/RESULTS.md`), which an attacker controls.

use super::window::{PerPeriod, Period};
use crate::plugins::Scope;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Kong's default size of its rate-limiting counters dictionary (12 MiB).
pub const DEFAULT_CAPACITY: u64 = 12 * 1024 * 1024;

/// Resident bytes one tracked identifier costs, key included, as measured with IPv4-shaped
/// identifiers (`cargo bench --bench rate_limit -- memory_per_key`, `benches/RESULTS.md`).
pub const ENTRY_BYTES: u64 = 256;

/// Shards: locks taken by different identifiers rarely meet.
const SHARDS: usize = 64;
/// Entries looked at to choose one to evict.
const SAMPLE: usize = 8;

/// One identifier's usage: per period, the window it counts and the count in it.
#[derive(Debug)]
struct Usage {
    slots: [(i64, i64); 6],
    /// When it was last counted (Unix seconds).
    last_seen: i64,
    /// How long it stays useful when idle: its longest period.
    idle: i64,
}

impl Usage {
    fn new(limits: &[(Period, i64)], now: i64) -> Usage {
        let longest = limits
            .iter()
            .map(|(p, _)| *p)
            .max()
            .unwrap_or(Period::Second);
        // Calendar months and years run longer than Kong's nominal length.
        let idle = match longest {
            Period::Month => 31 * 86_400,
            Period::Year => 366 * 86_400,
            p => p.seconds(),
        };
        Usage {
            slots: [(i64::MIN, 0); 6],
            last_seen: now,
            idle,
        }
    }
}

/// One shard: its entries, and the state of its sampling.
struct Shard {
    entries: IndexMap<Box<str>, Usage, foldhash::fast::RandomState>,
    rng: u64,
}

impl Shard {
    /// Removes the most idle of a few sampled entries; true when it was still in use.
    fn evict(&mut self, now: i64) -> bool {
        let len = self.entries.len();
        if len == 0 {
            return false;
        }
        let mut victim = (i64::MIN, 0);
        // xorshift: cheap, and the sample need not be unpredictable. The sample is a run of
        // neighbours from a random place: one region of memory, not SAMPLE cache misses.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let start = (self.rng % len as u64) as usize;
        for k in 0..SAMPLE.min(len) {
            let i = (start + k) % len;
            if let Some((_, u)) = self.entries.get_index(i) {
                let idle_for = now - u.last_seen - u.idle;
                if idle_for > victim.0 {
                    victim = (idle_for, i);
                }
            }
        }
        self.entries.swap_remove_index(victim.1);
        victim.0 < 0
    }
}

/// A plugin scope, interned: entries carry its number instead of two UUIDs. It holds the
/// number as the keys start with it (`1f:`), written once.
#[derive(Debug)]
pub struct ScopeTag(Box<str>);

/// A scope as a plugin instance holds it.
pub type ScopeId = Arc<ScopeTag>;

/// All local counters of this process. They outlive config reloads (the running state owns
/// the store): a plugin whose scope and identifier did not change keeps counting.
pub struct LocalStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    route: foldhash::fast::RandomState,
    scopes: Mutex<(u64, HashMap<Scope, Weak<ScopeTag>>)>,
    evictions: AtomicU64,
    capacity: u64,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("capacity", &self.capacity)
            .field("entries", &self.entries())
            .finish()
    }
}

impl Default for LocalStore {
    fn default() -> Self {
        LocalStore::new(DEFAULT_CAPACITY)
    }
}

thread_local! {
    /// The lookup key of the current check, reused: a hit allocates nothing.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

impl LocalStore {
    /// A store holding at most `capacity` bytes' worth of entries.
    pub fn new(capacity: u64) -> LocalStore {
        let total = (capacity / ENTRY_BYTES).max(SHARDS as u64) as usize;
        let per_shard = total / SHARDS;
        let shards = (0..SHARDS)
            .map(|i| {
                Mutex::new(Shard {
                    entries: IndexMap::with_hasher(Default::default()),
                    rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
                })
            })
            .collect();
        LocalStore {
            shards,
            per_shard,
            route: Default::default(),
            scopes: Mutex::new((0, HashMap::new())),
            evictions: AtomicU64::new(0),
            capacity,
        }
    }

    /// The interned tag of a plugin scope (the same while any instance holds it).
    pub fn scope_id(&self, scope: &Scope) -> ScopeId {
        let mut g = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        let (next, map) = &mut *g;
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(tag) = map.get(scope).and_then(Weak::upgrade) {
            return tag;
        }
        *next += 1;
        let tag = Arc::new(ScopeTag(format!("{:x}:", *next).into()));
        map.insert(scope.clone(), Arc::downgrade(&tag));
        tag
    }

    /// Counts one request of identifier `id` in `scope` against `limits` at `now`. Returns
    /// whether it is allowed and, per period, the usage before it. A rejected request is
    /// not counted (as Kong's local policy).
    pub fn check(
        &self,
        scope: &ScopeTag,
        id: &str,
        limits: &[(Period, i64)],
        now: i64,
        before: &mut PerPeriod,
    ) -> bool {
        KEY.with_borrow_mut(|key| {
            key.clear();
            key.push_str(&scope.0);
            key.push_str(id);
            let shard = &self.shards[(self.route.hash_one(key.as_str()) as usize) % SHARDS];
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let index = match shard.entries.get_index_of(key.as_str()) {
                Some(i) => i,
                None => {
                    if shard.entries.len() >= self.per_shard && shard.evict(now) {
                        self.evictions.fetch_add(1, Ordering::Relaxed);
                    }
                    let usage = Usage::new(limits, now);
                    shard.entries.insert_full(key.as_str().into(), usage).0
                }
            };
            match shard.entries.get_index_mut(index) {
                Some((_, usage)) => count(usage, limits, now, before),
                None => true,
            }
        })
    }

    /// Entries dropped while still in use because the store was full, since start.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Identifiers tracked now.
    pub fn entries(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |g| g.entries.len() as u64))
            .sum()
    }

    /// Bytes of entries held now, as the bound counts them.
    pub fn used_bytes(&self) -> u64 {
        self.entries() * ENTRY_BYTES
    }

    /// The bound on [`LocalStore::used_bytes`].
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}

/// The check and the increment of every period, under the shard's lock.
fn count(usage: &mut Usage, limits: &[(Period, i64)], now: i64, before: &mut PerPeriod) -> bool {
    usage.last_seen = now;
    before.clear();
    let mut allowed = true;
    for (p, limit) in limits {
        let slot = &mut usage.slots[*p as usize];
        let window = p.window_start(now);
        // A request whose clock read an older window is counted in the current one.
        if window > slot.0 {
            *slot = (window, 0);
        }
        before.push(slot.1);
        if slot.1 >= *limit {
            allowed = false;
        }
    }
    if allowed {
        for (p, _) in limits {
            usage.slots[*p as usize].1 += 1;
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(store: &LocalStore, route: &str) -> ScopeId {
        store.scope_id(&Scope {
            route_id: route.into(),
            service_id: "s".into(),
        })
    }

    #[test]
    fn exactly_limit_pass_then_the_window_resets() {
        let store = LocalStore::default();
        let s = scope(&store, "r");
        let limits = [(Period::Minute, 3)];
        let t0 = 1_700_000_040; // :00 of a minute
        let mut before = PerPeriod::new();
        let mut passed = 0;
        for i in 0..5 {
            if store.check(&s, "k", &limits, t0 + i, &mut before) {
                passed += 1;
            }
        }
        assert_eq!(passed, 3);
        assert_eq!(
            before.as_slice(),
            [3],
            "a rejected request sees usage 3 and is not counted"
        );
        assert!(
            store.check(&s, "k", &limits, t0 + 60, &mut before),
            "next minute starts afresh"
        );
        assert_eq!(before.as_slice(), [0]);
        assert!(
            store.check(&s, "other", &limits, t0 + 1, &mut before),
            "keys count apart"
        );
        let other_scope = scope(&store, "r2");
        assert!(
            store.check(&other_scope, "k", &limits, t0 + 1, &mut before),
            "scopes count apart"
        );
        assert_eq!(before.as_slice(), [0]);
    }

    #[test]
    fn every_period_must_allow() {
        let store = LocalStore::default();
        let s = scope(&store, "r");
        let limits = [(Period::Second, 2), (Period::Minute, 3)];
        let t0 = 1_700_000_040;
        let mut b = PerPeriod::new();
        assert!(store.check(&s, "k", &limits, t0, &mut b));
        assert!(store.check(&s, "k", &limits, t0, &mut b));
        assert!(!store.check(&s, "k", &limits, t0, &mut b), "second limit");
        assert_eq!(b.as_slice(), [2, 2]);
        assert!(store.check(&s, "k", &limits, t0 + 1, &mut b));
        assert!(
            !store.check(&s, "k", &limits, t0 + 2, &mut b),
            "minute limit"
        );
        assert_eq!(b.as_slice(), [0, 3]);
    }

    #[test]
    fn concurrent_clients_get_exactly_the_limit() {
        let store = Arc::new(LocalStore::default());
        let s = scope(&store, "r");
        let limits = [(Period::Minute, 50)];
        let passed = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (store, passed, s) = (store.clone(), passed.clone(), s.clone());
                std::thread::spawn(move || {
                    let mut b = PerPeriod::new();
                    for _ in 0..50 {
                        if store.check(&s, "hot", &limits, 1_700_000_040, &mut b) {
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

    #[test]
    fn a_million_distinct_clients_are_never_limited_early() {
        let store = LocalStore::new(1 << 30);
        let s = scope(&store, "r");
        let limits = [(Period::Minute, 3)];
        let t0 = 1_700_000_040;
        // Two threads of half a million clients each, as two workers would send them.
        let limited = AtomicU64::new(0);
        std::thread::scope(|t| {
            for half in 0..2u32 {
                let (store, s, limited) = (&store, &s, &limited);
                t.spawn(move || {
                    let mut b = PerPeriod::new();
                    for i in half * 500_000..(half + 1) * 500_000 {
                        if !store.check(s, &i.to_string(), &limits, t0 + 1, &mut b) {
                            limited.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(
            limited.load(Ordering::Relaxed),
            0,
            "no client sent more than one request"
        );
        let mut b = PerPeriod::new();
        let fresh: Vec<bool> = (0..4)
            .map(|_| store.check(&s, "fresh", &limits, t0 + 2, &mut b))
            .collect();
        assert_eq!(
            fresh,
            [true, true, true, false],
            "a new client gets exactly 3"
        );
        assert!(store.used_bytes() <= store.capacity());
    }

    #[test]
    fn a_full_store_evicts_and_never_limits_early() {
        // Room for about 1,000 entries.
        let store = LocalStore::new(1_000 * ENTRY_BYTES);
        let s = scope(&store, "r");
        let limits = [(Period::Minute, 2)];
        let t0 = 1_700_000_040;
        let mut b = PerPeriod::new();
        for round in 0..3 {
            for i in 0..20_000u32 {
                let allowed = store.check(&s, &format!("c{i}"), &limits, t0 + 1, &mut b);
                if round < 2 {
                    assert!(allowed, "client c{i} limited in round {round}: early");
                }
            }
        }
        assert!(store.evictions() > 0, "the store evicted");
        assert!(
            store.used_bytes() <= store.capacity(),
            "memory stays bounded"
        );
        assert!(store.entries() <= 1_000);
    }
}
