//! Name resolution off the worker threads (tokio's resolver pool), with a short cache, so a
//! slow or failing DNS never blocks a worker and an unknown name is an error, not a panic.

use crate::error::GatewayError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an answer is reused.
const TTL: Duration = Duration::from_secs(30);
/// How long a lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Addresses of a name and when they were looked up.
type Cached = (Arc<[SocketAddr]>, Instant);

/// A caching resolver shared by all requests (and kept across reloads).
#[derive(Debug, Default)]
pub struct Resolver {
    cache: Mutex<HashMap<(String, u16), Cached>>,
}

impl Resolver {
    /// Resolves `host:port`, from the cache when fresh.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Arc<[SocketAddr]>, GatewayError> {
        let key = (host.to_string(), port);
        if let Ok(cache) = self.cache.lock() {
            if let Some((addrs, at)) = cache.get(&key) {
                if at.elapsed() < TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let lookup = tokio::net::lookup_host((host, port));
        let addrs: Vec<SocketAddr> = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
            Ok(Ok(it)) => it.collect(),
            Ok(Err(e)) => {
                log::warn!("name resolution failed for {host}: {e}");
                return Err(GatewayError::NameResolution);
            }
            Err(_) => {
                log::warn!("name resolution timed out for {host}");
                return Err(GatewayError::NameResolution);
            }
        };
        if addrs.is_empty() {
            return Err(GatewayError::NameResolution);
        }
        let addrs: Arc<[SocketAddr]> = addrs.into();
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (addrs.clone(), Instant::now()));
        }
        Ok(addrs)
    }
}
