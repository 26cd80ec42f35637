//! Reload: re-read the declarative file with the same `config::load` as startup and swap
//! only on success; a bad file is logged with every problem and the running config stays.
//! Triggered by SIGHUP (a background service, since Pingora leaves SIGHUP to us).

use crate::config;
use crate::state::State;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::path::PathBuf;
use std::sync::Arc;

/// Reloads `path` into `state`. Returns the problems when the file is refused.
pub fn from_file(state: &State, path: &std::path::Path) -> Result<(), Vec<String>> {
    match config::load_file(path) {
        Ok(snapshot) => {
            log::info!("reloaded {} (hash {})", path.display(), snapshot.hash);
            state.swap(snapshot);
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
            Err(lines)
        }
    }
}

/// Listens for SIGHUP and reloads the declarative file.
pub struct SighupReloader {
    /// The shared state.
    pub state: Arc<State>,
    /// The declarative config file, if the node has one.
    pub path: Option<PathBuf>,
}

#[async_trait]
impl BackgroundService for SighupReloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                log::error!("cannot listen for SIGHUP: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = hup.recv() => match &self.path {
                    Some(p) => { let _ = from_file(&self.state, p); }
                    None => log::warn!("SIGHUP: no declarative_config set, nothing to reload"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}
