// Copyright 2026 the Skyport authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Part of a patch to Pingora 0.9.1: see vendor/PATCHES.md.

//! Idle upstream streams kept for reuse, with no task per release: on a thread that runs its own
//! single-threaded runtime (Pingora's per-thread scheduler) a stream goes back to that thread's
//! set and is taken from there, with no lock shared between threads; tasks of a work-stealing
//! runtime move between threads, so they share one set. One sweeper task per set closes the
//! streams that outlived their idle timeout or that the peer closed.

use super::{test_reusable_stream, PoolCallback};
use crate::protocols::Stream;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use thread_local::ThreadLocal;
use tokio::runtime::RuntimeFlavor;

/// How often a thread's sweeper looks at its idle streams while it has some.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One idle stream.
struct Entry {
    key: u64,
    stream: Stream,
    since: Instant,
    /// `None`: kept until evicted or closed by the peer.
    timeout: Option<Duration>,
}

impl Entry {
    fn expired(&self, now: Instant) -> bool {
        self.timeout
            .is_some_and(|t| now.saturating_duration_since(self.since) >= t)
    }
}

/// A thread's idle streams, oldest first.
#[derive(Default)]
struct Set {
    entries: VecDeque<Entry>,
    /// A sweeper task is running for this set.
    sweeping: bool,
}

/// The idle streams of every thread, bounded in total.
pub(crate) struct IdleStreams {
    /// Per thread, for threads running a single-threaded runtime.
    sets: ThreadLocal<Arc<Mutex<Set>>>,
    /// For work-stealing runtimes (and callers outside any runtime).
    shared: Arc<Mutex<Set>>,
    /// Streams held across all threads, at most `cap`.
    held: Arc<AtomicUsize>,
    cap: usize,
    callback: Option<PoolCallback>,
    unexpected_data: Arc<AtomicU64>,
}

impl IdleStreams {
    pub(crate) fn new(
        cap: usize,
        callback: Option<PoolCallback>,
        unexpected_data: Arc<AtomicU64>,
    ) -> Self {
        IdleStreams {
            sets: ThreadLocal::new(),
            shared: Arc::default(),
            held: Arc::new(AtomicUsize::new(0)),
            cap,
            callback,
            unexpected_data,
        }
    }

    fn set(&self) -> &Arc<Mutex<Set>> {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::CurrentThread => {
                self.sets.get_or_default()
            }
            _ => &self.shared,
        }
    }

    /// The most recently released stream under `key` on this thread that has not expired.
    pub(crate) fn take(&self, key: u64) -> Option<Stream> {
        let mut set = self.set().lock();
        let now = Instant::now();
        while let Some(at) = set.entries.iter().rposition(|e| e.key == key) {
            let entry = set.entries.remove(at)?;
            self.held.fetch_sub(1, Ordering::Relaxed);
            if entry.expired(now) {
                self.left_unused(&entry, now);
                continue;
            }
            return Some(entry.stream);
        }
        None
    }

    /// Keeps `stream` for reuse under `key`: the oldest stream of this thread makes room when
    /// the total is at the cap (none to drop here: `stream` is closed instead).
    pub(crate) fn put(&self, key: u64, stream: Stream, timeout: Option<Duration>) {
        if self.cap == 0 {
            return;
        }
        let set = self.set();
        let mut guard = set.lock();
        let now = Instant::now();
        if self.held.load(Ordering::Relaxed) >= self.cap {
            match guard.entries.pop_front() {
                Some(oldest) => {
                    self.held.fetch_sub(1, Ordering::Relaxed);
                    self.left_unused(&oldest, now);
                }
                None => return,
            }
        }
        guard.entries.push_back(Entry {
            key,
            stream,
            since: now,
            timeout,
        });
        self.held.fetch_add(1, Ordering::Relaxed);
        if !guard.sweeping {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                guard.sweeping = true;
                runtime.spawn(sweep(
                    Arc::downgrade(set),
                    self.held.clone(),
                    self.callback.clone(),
                    self.unexpected_data.clone(),
                ));
            }
        }
    }

    fn left_unused(&self, entry: &Entry, now: Instant) {
        if let Some(callback) = &self.callback {
            callback(now.saturating_duration_since(entry.since));
        }
    }
}

/// Closes a set's streams that expired or that the peer closed (or sent data on), once per
/// [`SWEEP_EVERY`], until the set is empty or gone.
async fn sweep(
    set: Weak<Mutex<Set>>,
    held: Arc<AtomicUsize>,
    callback: Option<PoolCallback>,
    unexpected_data: Arc<AtomicU64>,
) {
    loop {
        pingora_timeout::sleep(SWEEP_EVERY).await;
        let Some(set) = set.upgrade() else { return };
        let mut guard = set.lock();
        let now = Instant::now();
        guard.entries.retain_mut(|entry| {
            let keep =
                !entry.expired(now) && test_reusable_stream(&mut entry.stream, &unexpected_data);
            if !keep {
                held.fetch_sub(1, Ordering::Relaxed);
                if let Some(callback) = &callback {
                    callback(now.saturating_duration_since(entry.since));
                }
            }
            keep
        });
        if guard.entries.is_empty() {
            guard.sweeping = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::l4::stream::Stream as L4Stream;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair: our side as a pooled stream, the peer's raw socket.
    async fn pair() -> (Stream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ours = TcpStream::connect(addr).await.unwrap();
        let (theirs, _) = listener.accept().await.unwrap();
        (Box::new(L4Stream::from(ours)), theirs)
    }

    #[tokio::test]
    async fn the_newest_stream_of_a_key_is_taken_back() {
        let idle = IdleStreams::new(8, None, Arc::new(AtomicU64::new(0)));
        let (a, _pa) = pair().await;
        let (b, _pb) = pair().await;
        let (c, _pc) = pair().await;
        let (ida, idb) = (a.id(), b.id());
        idle.put(1, a, None);
        idle.put(1, b, None);
        idle.put(2, c, None);
        assert_eq!(idle.take(1).map(|s| s.id()), Some(idb));
        assert_eq!(idle.take(1).map(|s| s.id()), Some(ida));
        assert!(idle.take(1).is_none());
        assert!(idle.take(3).is_none());
        assert_eq!(idle.held.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn the_oldest_stream_makes_room_at_the_cap() {
        let left = Arc::new(AtomicUsize::new(0));
        let seen = left.clone();
        let callback: PoolCallback = Arc::new(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        });
        let idle = IdleStreams::new(2, Some(callback), Arc::new(AtomicU64::new(0)));
        let (a, _pa) = pair().await;
        let (b, _pb) = pair().await;
        let (c, _pc) = pair().await;
        let (idb, idc) = (b.id(), c.id());
        idle.put(1, a, None);
        idle.put(1, b, None);
        idle.put(1, c, None);
        assert_eq!(left.load(Ordering::Relaxed), 1, "the oldest was dropped");
        assert_eq!(idle.take(1).map(|s| s.id()), Some(idc));
        assert_eq!(idle.take(1).map(|s| s.id()), Some(idb));
        assert!(idle.take(1).is_none());
    }

    #[tokio::test]
    async fn an_expired_stream_is_not_taken() {
        let idle = IdleStreams::new(8, None, Arc::new(AtomicU64::new(0)));
        let (a, _pa) = pair().await;
        idle.put(1, a, Some(Duration::ZERO));
        assert!(idle.take(1).is_none());
        assert_eq!(idle.held.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_work_stealing_runtime_shares_one_set() {
        let idle = Arc::new(IdleStreams::new(8, None, Arc::new(AtomicU64::new(0))));
        let (a, _pa) = pair().await;
        let ida = a.id();
        idle.put(1, a, None);
        let other = idle.clone();
        let taken = tokio::spawn(async move { other.take(1).map(|s| s.id()) })
            .await
            .unwrap();
        assert_eq!(taken, Some(ida));
        assert!(idle.sets.iter().next().is_none(), "no per-thread set made");
    }

    #[tokio::test]
    async fn the_sweeper_closes_what_the_peer_closed() {
        let idle = IdleStreams::new(8, None, Arc::new(AtomicU64::new(0)));
        let (a, mut pa) = pair().await;
        let (b, _pb) = pair().await;
        let idb = b.id();
        idle.put(1, a, None);
        idle.put(1, b, Some(Duration::from_secs(3600)));
        pa.shutdown().await.unwrap();
        drop(pa);
        // Bounded: the sweeper runs once a second.
        for _ in 0..50 {
            if idle.held.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(idle.held.load(Ordering::Relaxed), 1);
        assert_eq!(idle.take(1).map(|s| s.id()), Some(idb));
    }
}
