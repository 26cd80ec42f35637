//! Kong's plugin queue (`kong.tools.queue`) for log senders: entries wait in a bounded queue
//! (the oldest dropped when full), go out in batches of `max_batch_size` after at most
//! `max_coalescing_delay`, and a failed batch is retried with exponential backoff from
//! `initial_retry_delay` up to `max_retry_delay` until `max_retry_time` has passed. One thread
//! per queue does the sending, so a slow or dead collector never holds up a request.

use once_cell::sync::Lazy;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Kong's `queue` record.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub max_batch_size: u64,
    pub max_coalescing_delay: f64,
    pub max_entries: u64,
    pub max_bytes: Option<u64>,
    pub max_retry_time: f64,
    pub initial_retry_delay: f64,
    pub max_retry_delay: f64,
    pub concurrency_limit: i64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_batch_size: 1,
            max_coalescing_delay: 1.0,
            max_entries: 10_000,
            max_bytes: None,
            max_retry_time: 60.0,
            initial_retry_delay: 0.01,
            max_retry_delay: 60.0,
            concurrency_limit: 1,
        }
    }
}

impl QueueConfig {
    /// Kong's ranges, as `(field, message)`.
    pub fn check(&self, out: &mut Vec<(String, String)>) {
        let mut range = |field: &str, v: f64, lo: f64, hi: f64| {
            if !(lo..=hi).contains(&v) {
                out.push((
                    format!("queue.{field}"),
                    format!("value should be between {lo} and {hi}"),
                ));
            }
        };
        range(
            "max_batch_size",
            self.max_batch_size as f64,
            1.0,
            1_000_000.0,
        );
        range(
            "max_coalescing_delay",
            self.max_coalescing_delay,
            0.0,
            3600.0,
        );
        range("max_entries", self.max_entries as f64, 1.0, 1_000_000.0);
        range(
            "initial_retry_delay",
            self.initial_retry_delay,
            0.001,
            1_000_000.0,
        );
        range("max_retry_delay", self.max_retry_delay, 0.001, 1_000_000.0);
        if ![-1, 1].contains(&self.concurrency_limit) {
            out.push((
                "queue.concurrency_limit".into(),
                "expected one of: -1, 1".into(),
            ));
        }
    }
}

/// What a queue's sender does with one batch: `Err` to retry it.
pub type Send = Arc<
    dyn Fn(
            Vec<Vec<u8>>,
        )
            -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + std::marker::Send>>
        + std::marker::Send
        + Sync,
>;

/// Entries waiting and what happened to them.
#[derive(Default)]
struct Waiting {
    entries: VecDeque<Vec<u8>>,
    bytes: usize,
}

/// A queue and its sending thread.
pub struct Queue {
    name: String,
    conf: QueueConfig,
    waiting: Mutex<Waiting>,
    wake: tokio::sync::Notify,
    /// Entries dropped (queue full, or a batch given up).
    pub dropped: AtomicU64,
    /// Batches sent.
    pub sent: AtomicU64,
    /// No instance uses the queue any more: its thread sends what is left, then ends.
    closed: AtomicBool,
    /// The thread has ended.
    finished: AtomicBool,
}

/// What plugin instances hold: the queue, closed when the last holder is gone (a reload
/// that removes or changes the plugin), so no thread outlives its configuration.
pub struct Handle(Arc<Queue>);

impl std::ops::Deref for Handle {
    type Target = Queue;
    fn deref(&self) -> &Queue {
        &self.0
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// Queues in use, by their settings: instances with the same settings share one, also
/// across a reload (the running snapshot still holds it while the next is built).
static SHARED: Lazy<Mutex<HashMap<String, Weak<Handle>>>> = Lazy::new(Default::default);

/// The queue in use under `key`, or a new one from `start`.
pub fn shared(key: String, start: impl FnOnce() -> Arc<Handle>) -> Arc<Handle> {
    let mut map = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, q| q.strong_count() > 0);
    if let Some(q) = map.get(&key).and_then(Weak::upgrade) {
        return q;
    }
    let q = start();
    map.insert(key, Arc::downgrade(&q));
    q
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("name", &self.name).finish()
    }
}

impl Queue {
    /// Starts a queue with its thread, which ends once the handle is dropped and what was
    /// queued is sent (or given up).
    pub fn start(name: String, conf: QueueConfig, send: Send) -> Arc<Handle> {
        let q = Arc::new(Queue {
            name,
            conf,
            waiting: Mutex::new(Waiting::default()),
            wake: tokio::sync::Notify::new(),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        });
        let worker = q.clone();
        let spawned = std::thread::Builder::new()
            .name("skyport-log-queue".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(worker.clone().run(send));
                worker.finished.store(true, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::error!("log queue {}: cannot start its thread: {e}", q.name);
        }
        Arc::new(Handle(q))
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Adds an entry; never blocks. When full, the oldest entry is dropped.
    pub fn push(&self, entry: Vec<u8>) {
        let Ok(mut w) = self.waiting.lock() else {
            return;
        };
        w.bytes += entry.len();
        w.entries.push_back(entry);
        let max_bytes = self.conf.max_bytes.map_or(usize::MAX, |b| b as usize);
        while w.entries.len() > self.conf.max_entries as usize || w.bytes > max_bytes {
            let Some(old) = w.entries.pop_front() else {
                break;
            };
            w.bytes -= old.len();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "log queue {}: full, the oldest entry was dropped",
                self.name
            );
        }
        drop(w);
        self.wake.notify_one();
    }

    fn take(&self, n: usize) -> Vec<Vec<u8>> {
        let Ok(mut w) = self.waiting.lock() else {
            return Vec::new();
        };
        let n = n.min(w.entries.len());
        let batch: Vec<Vec<u8>> = w.entries.drain(..n).collect();
        w.bytes -= batch.iter().map(Vec::len).sum::<usize>();
        batch
    }

    fn len(&self) -> usize {
        self.waiting.lock().map_or(0, |w| w.entries.len())
    }

    async fn run(self: Arc<Self>, send: Send) {
        let batch_size = self.conf.max_batch_size.max(1) as usize;
        let coalesce = Duration::from_secs_f64(self.conf.max_coalescing_delay.max(0.0));
        loop {
            while self.len() == 0 {
                if self.closed() {
                    return;
                }
                self.wake.notified().await;
            }
            // Gather a batch: full, or the first entry has waited max_coalescing_delay
            // (or the queue was closed: what is left goes now).
            let first = Instant::now();
            while self.len() < batch_size && !self.closed() {
                let left = coalesce.saturating_sub(first.elapsed());
                if left.is_zero()
                    || tokio::time::timeout(left, self.wake.notified())
                        .await
                        .is_err()
                {
                    break;
                }
            }
            let batch = self.take(batch_size);
            if !batch.is_empty() {
                self.deliver(&send, batch).await;
            }
        }
    }

    async fn deliver(&self, send: &Send, batch: Vec<Vec<u8>>) {
        let started = Instant::now();
        let mut delay = self.conf.initial_retry_delay.max(0.001);
        loop {
            match send(batch.clone()).await {
                Ok(()) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    if started.elapsed().as_secs_f64() + delay > self.conf.max_retry_time {
                        self.dropped
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        tracing::error!(
                            "log queue {}: could not send a batch of {} after {:.0} s, dropped: {e}",
                            self.name,
                            batch.len(),
                            started.elapsed().as_secs_f64()
                        );
                        return;
                    }
                    tracing::warn!(
                        "log queue {}: sending failed, retrying in {delay} s: {e}",
                        self.name
                    );
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                    delay = (delay * 2.0).min(self.conf.max_retry_delay);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(sent: Arc<AtomicU64>) -> Send {
        Arc::new(move |batch: Vec<Vec<u8>>| {
            let sent = sent.clone();
            Box::pin(async move {
                sent.fetch_add(batch.len() as u64, Ordering::SeqCst);
                Ok(())
            })
        })
    }

    #[test]
    fn a_queue_is_shared_while_held_and_its_thread_ends_with_the_last_holder() {
        let sent = Arc::new(AtomicU64::new(0));
        let conf = QueueConfig {
            max_batch_size: 10,
            max_coalescing_delay: 3600.0,
            ..QueueConfig::default()
        };
        let start = || Queue::start("test".into(), conf.clone(), sink(sent.clone()));
        let key = format!("test {}", std::process::id());
        let a = shared(key.clone(), start);
        let b = shared(key.clone(), || panic!("the held queue is reused"));
        assert!(Arc::ptr_eq(&a, &b));
        a.push(b"one".to_vec());
        let inner = a.0.clone();
        drop(a);
        drop(b);
        // Closed: the entry waiting for a full batch goes at once, then the thread ends.
        for _ in 0..500 {
            if inner.finished.load(Ordering::Acquire) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(inner.finished.load(Ordering::Acquire), "the thread ended");
        assert_eq!(sent.load(Ordering::SeqCst), 1, "what was queued was sent");
        let c = shared(key, start);
        assert!(
            !Arc::ptr_eq(&c.0, &inner),
            "a new queue after the last holder left"
        );
    }
}
