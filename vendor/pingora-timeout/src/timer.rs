// Copyright 2026 Cloudflare, Inc.
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
// Modified by the Skyport authors (2026): see vendor/PATCHES.md for each change.

//! Lightweight timer for systems with high rate of operations with timeout
//! associated with them
//!
//! Users don't need to interact with this module.
//!
//! The idea is to bucket timers into finite time slots so that operations that
//! start and end quickly don't have to create their own timers all the time
//!
//! Benchmark:
//! - create 7.809622ms total, 78ns avg per iteration
//! - drop: 1.348552ms total, 13ns avg per iteration
//!
//! tokio timer:
//! - create 34.317439ms total, 343ns avg per iteration
//! - drop: 10.694154ms total, 106ns avg per iteration

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thread_local::ThreadLocal;
use tokio::sync::Notify;

const RESOLUTION_MS: u64 = 10;
const RESOLUTION_DURATION: Duration = Duration::from_millis(RESOLUTION_MS);

// round to the NEXT timestamp based on the resolution
#[inline]
fn round_to(raw: u64, resolution: u64) -> u64 {
    raw - 1 + resolution - (raw - 1) % resolution
}

// Skyport patch: whole milliseconds of a duration in 64 bits (585 million years), not
// `as_millis`'s 128: the rounding divides without a 128-bit division call.
#[inline]
fn millis(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
}

// millisecond resolution as most
#[derive(PartialEq, PartialOrd, Eq, Ord, Clone, Copy, Debug)]
struct Time(u64);

impl From<u64> for Time {
    fn from(raw_ms: u64) -> Self {
        Time(round_to(raw_ms, RESOLUTION_MS))
    }
}

impl From<Duration> for Time {
    fn from(d: Duration) -> Self {
        Time(round_to(millis(d), RESOLUTION_MS))
    }
}

impl Time {
    pub fn not_after(&self, ts: u64) -> bool {
        self.0 <= ts
    }
}

/// the stub for waiting for a timer to be expired.
pub struct TimerStub(Arc<Notify>, Arc<AtomicBool>);

impl TimerStub {
    /// Wait for the timer to expire.
    pub async fn poll(self) {
        self.wait().await
    }

    /// Skyport patch: the wait as a named future, so a timeout can keep it inline (no box per
    /// timer). Its notification is registered before the fired flag is read, so a timer
    /// firing between the two is not missed.
    pub fn wait(self) -> TimerWait {
        TimerWait {
            notified: self.0.notified_owned(),
            fired: self.1,
        }
    }
}

pin_project_lite::pin_project! {
    /// Skyport patch: the future of [`TimerStub::wait`]: ready once the timer has fired.
    pub struct TimerWait {
        #[pin]
        notified: tokio::sync::futures::OwnedNotified,
        fired: Arc<AtomicBool>,
    }
}

impl std::future::Future for TimerWait {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let me = self.project();
        if me.fired.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        me.notified.poll(cx)
    }
}

struct Timer(Arc<Notify>, Arc<AtomicBool>);

impl Timer {
    pub fn new() -> Self {
        Timer(Arc::new(Notify::new()), Arc::new(AtomicBool::new(false)))
    }

    pub fn fire(&self) {
        self.1.store(true, Ordering::SeqCst);
        self.0.notify_waiters();
    }

    pub fn subscribe(&self) -> TimerStub {
        TimerStub(self.0.clone(), self.1.clone())
    }
}

/// The object that holds all the timers registered to it.
pub struct TimerManager {
    // each thread insert into its local timer tree to avoid lock contention
    timers: ThreadLocal<RwLock<BTreeMap<Time, Timer>>>,
    zero: Instant, // the reference zero point of Timestamp
    // Start a new clock thread if this is -1 or staled. The clock thread should keep updating this
    clock_watchdog: AtomicI64,
    paused: AtomicBool,
    // Skyport patch: tells this manager's entry in a thread's `LAST` from another's.
    id: u64,
}

// Skyport patch: the timers a thread registered last (a few: a proxy alternates a short read
// timeout and a long one), each with its manager's id and deadline. Timeouts of the same length
// started within one resolution step share a deadline: the next one is answered from here,
// without the thread's lock or a search of its tree.
const LAST_KEPT: usize = 4;

struct LastTimers {
    kept: [Option<(u64, Time, TimerStub)>; LAST_KEPT],
    // The slot the next new deadline replaces (round robin).
    next: usize,
}

thread_local! {
    static LAST: std::cell::RefCell<LastTimers> = const {
        std::cell::RefCell::new(LastTimers {
            kept: [None, None, None, None],
            next: 0,
        })
    };
}

// Skyport patch: the source of `TimerManager::id`.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// Consider the clock thread is dead after it fails to update the thread in DELAYS_SEC
const DELAYS_SEC: i64 = 2; // TODO: make sure this value is larger than RESOLUTION_DURATION

impl Default for TimerManager {
    fn default() -> Self {
        TimerManager {
            timers: ThreadLocal::new(),
            zero: Instant::now(),
            clock_watchdog: AtomicI64::new(-DELAYS_SEC),
            paused: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl TimerManager {
    /// Create a new [TimerManager]
    pub fn new() -> Self {
        Self::default()
    }

    // This thread sleeps for a resolution time and then fires all the timers that are due to fire
    pub(crate) fn clock_thread(&self) {
        loop {
            std::thread::sleep(RESOLUTION_DURATION);
            let now = Instant::now() - self.zero;
            self.clock_watchdog
                .store(now.as_secs() as i64, Ordering::Relaxed);
            if self.is_paused_for_fork() {
                // just stop acquiring the locks, waiting for fork to happen
                continue;
            }
            let now = millis(now);
            // iterate through the timer tree for all threads
            for thread_timer in self.timers.iter() {
                let mut timers = thread_timer.write();
                // Fire all timers until now
                loop {
                    let key_to_remove = timers.iter().next().and_then(|(k, _)| {
                        if k.not_after(now) {
                            Some(*k)
                        } else {
                            None
                        }
                    });
                    if let Some(k) = key_to_remove {
                        let timer = timers.remove(&k);
                        // safe to unwrap, the key is from iter().next()
                        timer.unwrap().fire();
                    } else {
                        break;
                    }
                }
                // write lock drops here
            }
        }
    }

    // False if the clock is already started
    // If true, the caller must start the clock thread next
    pub(crate) fn should_i_start_clock(&self) -> bool {
        let Err(prev) = self.is_clock_running() else {
            return false;
        };
        let now = Instant::now().duration_since(self.zero).as_secs() as i64;
        let res =
            self.clock_watchdog
                .compare_exchange(prev, now, Ordering::SeqCst, Ordering::SeqCst);
        res.is_ok()
    }

    // Ok(()) if clock is running (watch dog is within DELAYS_SEC of now)
    // Err(time) if watch do stopped at `time`
    pub(crate) fn is_clock_running(&self) -> Result<(), i64> {
        let now = Instant::now().duration_since(self.zero).as_secs() as i64;
        let prev = self.clock_watchdog.load(Ordering::SeqCst);
        if now < prev + DELAYS_SEC {
            Ok(())
        } else {
            Err(prev)
        }
    }

    /// Register a timer.
    ///
    /// When the timer expires, the [TimerStub] will be notified.
    pub fn register_timer(&self, duration: Duration) -> TimerStub {
        self.register_timer_watched(duration).0
    }

    /// Skyport patch: [`Self::register_timer`], telling also whether the clock thread's watchdog
    /// is stale (read with the same clock reading as the deadline; the caller starts a clock).
    pub(crate) fn register_timer_watched(&self, duration: Duration) -> (TimerStub, bool) {
        if self.is_paused_for_fork() {
            // Return a dummy TimerStub that will trigger right away.
            // This is fine assuming pause_for_fork() is called right before fork().
            // The only possible register_timer() is from another thread which will
            // be entirely lost after fork()
            // TODO: buffer these register calls instead (without a lock)
            let timer = Timer::new();
            timer.fire();
            return (timer.subscribe(), false);
        }
        let since_zero = Instant::now().saturating_duration_since(self.zero);
        let stale =
            since_zero.as_secs() as i64 >= self.clock_watchdog.load(Ordering::SeqCst) + DELAYS_SEC;
        let now: Time = (since_zero + duration).into();
        let kept = LAST.with(|last| {
            let last = last.borrow();
            last.kept.iter().flatten().find_map(|(id, at, stub)| {
                // Not fired yet: the deadline is still ahead (or the clock is late).
                (*id == self.id && *at == now && !stub.1.load(Ordering::SeqCst))
                    .then(|| TimerStub(stub.0.clone(), stub.1.clone()))
            })
        });
        if let Some(stub) = kept {
            return (stub, stale);
        }
        let stub = self.register_in_tree(now);
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            let slot = last.next;
            last.kept[slot] = Some((self.id, now, TimerStub(stub.0.clone(), stub.1.clone())));
            last.next = (slot + 1) % LAST_KEPT;
        });
        (stub, stale)
    }

    fn register_in_tree(&self, now: Time) -> TimerStub {
        {
            let timers = self.timers.get_or(|| RwLock::new(BTreeMap::new())).read();
            if let Some(t) = timers.get(&now) {
                return t.subscribe();
            }
        } // drop read lock

        let timer = Timer::new();
        let mut timers = self.timers.get_or(|| RwLock::new(BTreeMap::new())).write();
        // Usually we check if another thread has insert the same node before we get the write lock,
        // but because only this thread will insert anything to its local timers tree, there
        // is no possible race that can happen. The only other thread is the clock thread who
        // only removes timer from the tree
        let stub = timer.subscribe();
        timers.insert(now, timer);
        stub
    }

    fn is_paused_for_fork(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Pause the timer for fork()
    ///
    /// Because RwLock across fork() is undefined behavior, this function makes sure that no one
    /// holds any locks.
    ///
    /// This function should be called right before fork().
    pub fn pause_for_fork(&self) {
        self.paused.store(true, Ordering::SeqCst);
        // wait for everything to get out of their locks
        std::thread::sleep(RESOLUTION_DURATION * 2);
    }

    /// Unpause the timer after fork()
    ///
    /// This function should be called right after fork().
    pub fn unpause(&self) {
        self.paused.store(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_round() {
        assert_eq!(round_to(30, 10), 30);
        assert_eq!(round_to(31, 10), 40);
        assert_eq!(round_to(29, 10), 30);
    }

    #[test]
    fn test_time() {
        let t: Time = 128.into(); // t will round to 130
        assert_eq!(t, Duration::from_millis(130).into());
        assert!(!t.not_after(128));
        assert!(!t.not_after(129));
        assert!(t.not_after(130));
        assert!(t.not_after(131));
    }

    #[tokio::test]
    async fn test_timer_manager() {
        let tm_a = Arc::new(TimerManager::new());
        let tm = tm_a.clone();
        std::thread::spawn(move || tm_a.clock_thread());

        let now = Instant::now();
        let t1 = tm.register_timer(Duration::from_secs(1));
        let t2 = tm.register_timer(Duration::from_secs(1));
        t1.poll().await;
        assert_eq!(now.elapsed().as_secs(), 1);
        let now = Instant::now();
        t2.poll().await;
        // t2 fired along t1 so no extra wait time
        assert_eq!(now.elapsed().as_secs(), 0);
    }

    #[test]
    fn test_timer_manager_start_check() {
        let tm = Arc::new(TimerManager::new());
        assert!(tm.should_i_start_clock());
        assert!(!tm.should_i_start_clock());
        assert!(tm.is_clock_running().is_ok());
    }

    #[test]
    fn test_timer_manager_watchdog() {
        let tm = Arc::new(TimerManager::new());
        assert!(tm.should_i_start_clock());
        assert!(!tm.should_i_start_clock());

        // we don't actually start the clock thread, sleep for the watchdog to expire
        std::thread::sleep(Duration::from_secs(DELAYS_SEC as u64 + 1));
        assert!(tm.is_clock_running().is_err());
        assert!(tm.should_i_start_clock());
    }

    #[tokio::test]
    async fn test_timer_manager_pause() {
        let tm_a = Arc::new(TimerManager::new());
        let tm = tm_a.clone();
        std::thread::spawn(move || tm_a.clock_thread());

        let now = Instant::now();
        let t1 = tm.register_timer(Duration::from_secs(2));
        tm.pause_for_fork();
        // no actual fork happen, we just test that pause and unpause work

        // any timer in this critical section is timed out right away
        let t2 = tm.register_timer(Duration::from_secs(2));
        t2.poll().await;
        assert_eq!(now.elapsed().as_secs(), 0);

        std::thread::sleep(Duration::from_secs(1));
        tm.unpause();
        t1.poll().await;
        assert_eq!(now.elapsed().as_secs(), 2);
    }

    // Skyport patch: the thread's last timer.
    #[test]
    fn timers_of_one_deadline_share_one_timer_until_it_fires() {
        let tm = TimerManager::new();
        let a = tm.register_timer(Duration::from_secs(30));
        let b = tm.register_timer(Duration::from_secs(30));
        // One deadline (unless the two readings straddle a 10 ms step): one timer.
        let c = tm.register_timer(Duration::from_secs(30));
        assert!(Arc::ptr_eq(&a.0, &b.0) || Arc::ptr_eq(&b.0, &c.0));
        // Fired as the clock thread does (taken from the tree, then fired): a later
        // registration gets a new timer.
        let tree = tm.timers.get().map(|t| std::mem::take(&mut *t.write()));
        for timer in tree.into_iter().flat_map(|t| t.into_values()) {
            timer.fire();
        }
        assert!(c.1.load(Ordering::SeqCst));
        let d = tm.register_timer(Duration::from_secs(30));
        assert!(!d.1.load(Ordering::SeqCst));
        assert!(!Arc::ptr_eq(&c.0, &d.0));
    }

    #[test]
    fn alternating_deadlines_each_keep_their_timer() {
        let tm = TimerManager::new();
        // A short and a long timeout in turn, as a proxy's downstream and upstream reads.
        let short = tm.register_timer(Duration::from_millis(50));
        let long = tm.register_timer(Duration::from_secs(60));
        let (mut same_short, mut same_long) = (false, false);
        for _ in 0..3 {
            same_short |= Arc::ptr_eq(&short.0, &tm.register_timer(Duration::from_millis(50)).0);
            same_long |= Arc::ptr_eq(&long.0, &tm.register_timer(Duration::from_secs(60)).0);
        }
        assert!(same_short && same_long);
    }

    #[test]
    fn another_manager_does_not_share_the_last_timer() {
        let one = TimerManager::new();
        let other = TimerManager::new();
        for _ in 0..3 {
            let a = one.register_timer(Duration::from_secs(30));
            let b = other.register_timer(Duration::from_secs(30));
            assert!(!Arc::ptr_eq(&a.0, &b.0));
        }
    }

    #[test]
    fn a_stale_clock_is_reported_with_the_timer() {
        let tm = TimerManager::new();
        assert!(tm.register_timer_watched(Duration::from_secs(1)).1);
        assert!(tm.should_i_start_clock());
        assert!(!tm.register_timer_watched(Duration::from_secs(1)).1);
    }

    // Skyport patch: the named wait future.
    #[tokio::test]
    async fn wait_sees_a_fire_between_its_creation_and_its_first_poll() {
        let timer = Timer::new();
        let wait = timer.subscribe().wait();
        timer.fire();
        let done = tokio::time::timeout(Duration::from_secs(5), wait).await;
        assert!(done.is_ok(), "a fired timer's wait must be ready");
    }

    #[tokio::test]
    async fn wait_is_woken_by_a_later_fire() {
        let timer = Timer::new();
        let wait = tokio::spawn(timer.subscribe().wait());
        tokio::task::yield_now().await;
        timer.fire();
        let done = tokio::time::timeout(Duration::from_secs(5), wait).await;
        assert!(matches!(done, Ok(Ok(()))), "the waiting task must be woken");
    }
}
