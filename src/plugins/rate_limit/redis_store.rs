//! The `redis` policy: counters shared by every gateway node. One atomic round trip per
//! request for all configured periods together (a Lua script: INCR, and EXPIRE on the first
//! hit, per period), on one multiplexed, auto-reconnecting connection per Redis server.

use once_cell::sync::Lazy;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::OnceCell;

/// INCR each key; EXPIRE it when this created it. Returns the new counts in key order.
const SCRIPT: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('INCR', key)
  if v == 1 then redis.call('EXPIRE', key, ARGV[i]) end
  out[i] = v
end
return out
";

static SCRIPT_HANDLE: Lazy<redis::Script> = Lazy::new(|| redis::Script::new(SCRIPT));

/// After a failed connect, requests fail fast for this long instead of each trying again.
const RETRY_AFTER_MS: i64 = 1000;
/// Errors are logged at most this often per server.
const LOG_EVERY_MS: i64 = 10_000;

/// Where and how to reach a Redis server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: u32,
    pub timeout_ms: u64,
}

/// A shared connection to one Redis server.
pub struct RedisStore {
    target: RedisTarget,
    conn: OnceCell<ConnectionManager>,
    down_until: AtomicI64,
    last_log: AtomicI64,
}

/// The connections of the running node, by server; an entry lives while an instance holds it.
#[derive(Debug, Default)]
pub struct RedisPool {
    stores: Mutex<HashMap<RedisTarget, Weak<RedisStore>>>,
}

impl RedisPool {
    /// The store for a target: the one in use (by the running config), or a new one.
    pub fn store(&self, target: &RedisTarget) -> Arc<RedisStore> {
        let mut all = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, w| w.strong_count() > 0);
        if let Some(s) = all.get(target).and_then(Weak::upgrade) {
            return s;
        }
        let store = Arc::new(RedisStore {
            target: target.clone(),
            conn: OnceCell::new(),
            down_until: AtomicI64::new(0),
            last_log: AtomicI64::new(0),
        });
        all.insert(target.clone(), Arc::downgrade(&store));
        store
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .finish()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl RedisStore {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.target.timeout_ms.max(1))
    }

    async fn connect(&self) -> Result<ConnectionManager, String> {
        let t = &self.target;
        use redis::IntoConnectionInfo;
        let mut settings = redis::RedisConnectionInfo::default().set_db(t.database as i64);
        if let Some(u) = &t.username {
            settings = settings.set_username(u);
        }
        if let Some(p) = &t.password {
            settings = settings.set_password(p);
        }
        let info = (t.host.as_str(), t.port)
            .into_connection_info()
            .map_err(|e| e.to_string())?
            .set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout()))
            .set_response_timeout(Some(self.timeout()))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| e.to_string())
    }

    /// Increments every `(key, ttl seconds)` in one round trip; returns the new counts.
    pub async fn incr(&self, keys: &[(String, i64)]) -> Result<Vec<i64>, String> {
        let result = self.try_incr(keys).await;
        if let Err(e) = &result {
            let now = now_ms();
            let last = self.last_log.load(Ordering::Relaxed);
            if now - last >= LOG_EVERY_MS
                && self
                    .last_log
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                log::error!(
                    "rate-limiting: redis {}:{} failed: {e} (logged at most every {} s)",
                    self.target.host,
                    self.target.port,
                    LOG_EVERY_MS / 1000
                );
            }
        }
        result
    }

    async fn try_incr(&self, keys: &[(String, i64)]) -> Result<Vec<i64>, String> {
        if now_ms() < self.down_until.load(Ordering::Relaxed) {
            return Err("redis unreachable (retrying shortly)".into());
        }
        let conn = match self.conn.get_or_try_init(|| self.connect()).await {
            Ok(c) => c,
            Err(e) => {
                self.down_until
                    .store(now_ms() + RETRY_AFTER_MS, Ordering::Relaxed);
                return Err(e);
            }
        };
        let mut conn = conn.clone();
        let mut invocation = SCRIPT_HANDLE.prepare_invoke();
        for (k, ttl) in keys {
            invocation.key(k).arg(*ttl);
        }
        match tokio::time::timeout(
            self.timeout(),
            invocation.invoke_async::<Vec<i64>>(&mut conn),
        )
        .await
        {
            Ok(Ok(v)) if v.len() == keys.len() => Ok(v),
            Ok(Ok(v)) => Err(format!("unexpected reply of {} counts", v.len())),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {} ms", self.target.timeout_ms)),
        }
    }
}
