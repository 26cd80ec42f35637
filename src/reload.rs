//! Reload: re-read the declarative file with the same `config::load` as startup and swap
//! only on success; a bad file is logged with every problem and the running config stays.
//! Triggers: SIGHUP, and a change of the file (watched, debounced). `POST /config` in the
//! admin API uses the same loader.

use crate::config;
use crate::state::State;
use crate::telemetry::Metrics;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after the last file event before reloading (editors write in several steps).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Reloads `path` into `state`; returns the problems when the file is refused. Target names
/// are looked up without blocking the runtime.
pub async fn from_file(state: &State, metrics: &Metrics, path: &Path) -> Result<(), Vec<String>> {
    let loaded = match config::read_file(path) {
        Ok(text) => config::load_async(&text, state.lasting()).await,
        Err(e) => Err(e),
    };
    match loaded {
        Ok(snapshot) => {
            log::info!("reloaded {} (hash {})", path.display(), snapshot.hash);
            state.swap(snapshot);
            metrics.reloads.with_label_values(&["ok"]).inc();
            Ok(())
        }
        Err(e) => {
            let lines = e.lines();
            log::error!(
                "reload of {} refused, keeping the running config:\n{}",
                path.display(),
                lines.join("\n")
            );
            state.set_error(Some(lines.join("; ")));
            metrics.reloads.with_label_values(&["error"]).inc();
            Err(lines)
        }
    }
}

/// Reloads on SIGHUP and, when asked, on changes of the declarative file.
pub struct Reloader {
    /// The shared state.
    pub state: Arc<State>,
    /// Reload outcomes are counted here.
    pub metrics: Arc<Metrics>,
    /// The declarative config file, if the node has one.
    pub path: Option<PathBuf>,
    /// Watch the file for changes.
    pub watch: bool,
}

impl Reloader {
    async fn reload(&self) {
        match &self.path {
            Some(p) => {
                // An unchanged file (e.g. touched, or the watcher seeing our own read) is not a reload.
                if let Ok(text) = std::fs::read_to_string(p) {
                    if config::hash(&text) == self.state.load().hash {
                        return;
                    }
                }
                let _ = from_file(&self.state, &self.metrics, p).await;
            }
            None => log::warn!("reload: no declarative_config set, nothing to reload"),
        }
    }

    /// Watches the file's directory (editors replace files by renaming) for events on it.
    fn watcher(
        &self,
        tx: tokio::sync::mpsc::UnboundedSender<()>,
    ) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher;
        let path = self.path.clone()?;
        let name = path.file_name()?.to_os_string();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if ev
                    .paths
                    .iter()
                    .any(|p| p.file_name() == Some(name.as_os_str()))
                    && !ev.kind.is_access()
                {
                    let _ = tx.send(());
                }
            }
        })
        .map_err(|e| log::error!("cannot watch {}: {e}", dir.display()))
        .ok()?;
        w.watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| log::error!("cannot watch {}: {e}", dir.display()))
            .ok()?;
        Some(w)
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot listen for SIGHUP: {e}");
                return;
            }
        };
        let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let _watcher = if self.watch { self.watcher(tx) } else { None };
        loop {
            tokio::select! {
                _ = hup.recv() => self.reload().await,
                Some(()) = changes.recv() => {
                    // Debounce: wait until the file has been quiet for a moment.
                    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {}
                    self.reload().await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
