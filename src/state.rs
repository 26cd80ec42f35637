//! The running config: one `ArcSwap<Snapshot>` plus reload bookkeeping (how many swaps,
//! the last error). Requests take the snapshot once, in `new_ctx`.

use crate::snapshot::Snapshot;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The current snapshot and what happened to it.
#[derive(Debug)]
pub struct State {
    current: ArcSwap<Snapshot>,
    version: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl State {
    /// Starts with a loaded snapshot (version 1) or the empty one (version 0).
    pub fn new(snapshot: Snapshot) -> State {
        let version = if snapshot.is_empty() { 0 } else { 1 };
        State {
            current: ArcSwap::from_pointee(snapshot),
            version: AtomicU64::new(version),
            last_error: Mutex::new(None),
        }
    }

    /// The snapshot requests should use now.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Installs a new snapshot; in-flight requests keep the one they hold.
    pub fn swap(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
        self.version.fetch_add(1, Ordering::Relaxed);
        self.set_error(None);
    }

    /// Records why the last reload was refused (or clears it).
    pub fn set_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e;
        }
    }

    /// How many configs have been installed.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Why the last reload was refused, if it was.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|g| g.clone())
    }
}
