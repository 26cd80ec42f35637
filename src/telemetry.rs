//! Telemetry: logging set-up and the counters the admin API reports.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters, shared by the proxy and the admin API.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests the proxy finished (any status).
    pub total_requests: AtomicU64,
}

impl Metrics {
    /// Counts one finished request.
    pub fn request_done(&self) {
        self.total_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests finished so far.
    pub fn total(&self) -> u64 {
        self.total_requests.load(Ordering::Relaxed)
    }
}

/// Sends `tracing` and `log` records (Pingora logs through `log`) to stderr at `level`.
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKYPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
