//! The running config: one `ArcSwap<Snapshot>`, the [`Lasting`] state every compile gets,
//! and reload bookkeeping (how many swaps, the last error). Requests take the snapshot once,
//! in `new_ctx`.

use crate::lasting::Lasting;
use crate::snapshot::Snapshot;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The current snapshot and what happened to it.
#[derive(Debug)]
pub struct State {
    current: ArcSwap<Snapshot>,
    lasting: Arc<Lasting>,
    version: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl State {
    /// Starts with a loaded snapshot (version 1) or the empty one (version 0), compiled with
    /// `lasting`.
    pub fn new(snapshot: Snapshot, lasting: Arc<Lasting>) -> State {
        let version = if snapshot.is_empty() { 0 } else { 1 };
        State {
            current: ArcSwap::from_pointee(snapshot),
            lasting,
            version: AtomicU64::new(version),
            last_error: Mutex::new(None),
        }
    }

    /// The snapshot requests should use now.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// What every compile for this state must be given.
    pub fn lasting(&self) -> &Arc<Lasting> {
        &self.lasting
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
