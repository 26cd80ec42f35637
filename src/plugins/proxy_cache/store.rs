//! The memory strategy's store: cached answers by key, bounded in bytes, the least recently
//! used evicted first (pingora-lru keeps the order and the weights). One store per process,
//! so a reload keeps what was cached (keys carry the route id, stable across reloads).

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Kong's default size of the cache its memory strategy uses (`mem_cache_size`, 128m).
pub const LIMIT_BYTES: usize = 128 * 1024 * 1024;

/// One cached answer.
#[derive(Debug)]
pub struct Cached {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// Unix seconds when it was stored.
    pub stored_at: u64,
    /// Seconds it stays fresh (Kong's `ttl` of the entry).
    pub ttl: u64,
    /// Seconds it is kept at all (`storage_ttl`, else `ttl`).
    pub keep: u64,
}

impl Cached {
    fn weight(&self, key: &str) -> usize {
        key.len()
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>()
            + 128
    }
}

/// The store.
pub struct Store {
    entries: Mutex<HashMap<u64, (String, Arc<Cached>)>>,
    /// Recency and weight of each key (the data is the key itself, so evictions name it).
    order: pingora_lru::Lru<u64, 16>,
}

fn hash(key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Store {
    fn new(limit: usize) -> Store {
        Store {
            entries: Mutex::new(HashMap::new()),
            order: pingora_lru::Lru::with_capacity(limit, 1024),
        }
    }

    /// The entry for a key, if kept and not past its storage time.
    pub fn get(&self, key: &str) -> Option<Arc<Cached>> {
        let h = hash(key);
        let mut entries = self.entries.lock().ok()?;
        let (k, e) = entries.get(&h)?;
        if k != key {
            return None;
        }
        if now().saturating_sub(e.stored_at) > e.keep {
            entries.remove(&h);
            drop(entries);
            self.order.remove(h);
            return None;
        }
        let e = e.clone();
        drop(entries);
        self.order.promote(h);
        Some(e)
    }

    /// Stores an answer, evicting the least recently used past the bound.
    pub fn put(&self, key: String, entry: Cached) {
        let h = hash(&key);
        let weight = entry.weight(&key);
        if weight > self.order.weight_limit() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(h, (key, Arc::new(entry)));
        }
        self.order.admit(h, h, weight);
        let evicted = self.order.evict_to_limit();
        if evicted.is_empty() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            for (k, _) in evicted {
                entries.remove(&k);
            }
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The process's store.
pub static STORE: Lazy<Store> = Lazy::new(|| Store::new(LIMIT_BYTES));

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: usize) -> Cached {
        Cached {
            status: 200,
            headers: Vec::new(),
            body: Bytes::from(vec![b'x'; body]),
            stored_at: now(),
            ttl: 60,
            keep: 60,
        }
    }

    #[test]
    fn the_store_stays_within_its_bound() {
        // pingora-lru keeps recency per shard (16): with several entries in each shard the
        // least recently used of a shard goes first, and the total stays under the bound.
        let s = Store::new(200_000);
        for i in 0..1000 {
            s.put(format!("k{i}"), entry(1_000));
        }
        assert!(s.len() <= 200_000 / 1_000, "{}", s.len());
        assert!(s.len() >= 100, "most of the room is used: {}", s.len());
        assert!(s.get("k999").is_some(), "the newest is kept");
        assert!(s.get("k0").is_none(), "the oldest went first");
    }
}
