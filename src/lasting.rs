//! What outlives a snapshot: the health learnt about each target, the rate-limit counters and
//! the Redis connections. The running state owns one; every compile gets
//! it, so a reload keeps what was learnt and counted for everything it did not change.

use crate::plugins;
use crate::upstream::health::HealthRegistry;
use std::sync::Arc;

/// State kept across reloads.
#[derive(Debug, Default)]
pub struct Lasting {
    /// Health of every target address, by upstream name and address.
    pub health: HealthRegistry,
    /// Plugin counters and connections.
    pub plugins: Arc<plugins::Lasting>,
}

impl Lasting {
    /// Lasting state whose local rate-limit store holds at most `counter_bytes`.
    pub fn new(counter_bytes: u64) -> Lasting {
        Lasting {
            health: HealthRegistry::default(),
            plugins: Arc::new(plugins::Lasting {
                counters: Arc::new(plugins::rate_limit::local::LocalStore::new(counter_bytes)),
                redis: Default::default(),
            }),
        }
    }
}
