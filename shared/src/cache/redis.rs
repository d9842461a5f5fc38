//! The shared tier: [`MemoryCache`] in front of Redis (deadpool-redis), so
//! the origin replicas share what one of them read from storage.
//!
//! A lookup tries memory, then Redis, then the fill; the in-process single
//! flight covers all three, so a burst of misses makes one Redis read and at
//! most one storage read per process. Each Redis value carries the time it
//! was filled, so `max_age` counts from the storage read in every tier, and
//! entries with a `max_age` expire in Redis with it (`PX`).
//!
//! Redis is an accelerator, never a dependency: any Redis failure (refused,
//! timed out, broken) makes the lookup go to the fill, is counted
//! ([`ManifestCache::degraded_total`]) and logged at most every
//! [`WARN_EVERY`]; for [`SKIP_AFTER_FAILURE`] after a failure Redis is not
//! tried at all, so an outage costs no latency.

use super::{count_lookup, ManifestCache, MemoryCache, Tier};
use crate::metrics::{Counter, CACHE_DEGRADED};
use crate::store::StoreError;
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Pool, PoolConfig, Runtime, Timeouts};
use futures_util::future::BoxFuture;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest wait for a connection or a reply before Redis counts as down.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// After a failure, Redis is left alone this long.
pub const SKIP_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// At most one warning per this interval while Redis is down.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Lifetime in Redis of entries without a `max_age` (versioned manifests):
/// long enough to matter, short enough that retired versions go away.
const UNBOUNDED_TTL: Duration = Duration::from_secs(24 * 3600);

/// Connections per process.
const POOL_SIZE: usize = 16;

/// Bytes of the fill time (Unix milliseconds) in front of a Redis value.
const STAMP_LEN: usize = 8;

/// Memory in front of Redis; see the module docs.
pub struct RedisCache {
    memory: MemoryCache,
    pool: Pool,
    prefix: String,
    degraded: AtomicU64,
    /// Until when Redis is skipped, after a failure.
    skip_until: Mutex<Option<Instant>>,
    /// When the last outage warning was logged.
    last_warning: Mutex<Option<Instant>>,
}

/// What Redis said about a key.
enum Lookup {
    /// A value and how long ago it was filled.
    Hit(Bytes, Duration),
    Miss,
    /// Redis could not be asked (already counted).
    Down,
}

impl RedisCache {
    /// A cache over the Redis at `url` whose keys all start with `prefix`.
    /// Connections are made on first use.
    pub fn open(url: &str, prefix: &str, memory: MemoryCache) -> Result<Self, String> {
        let mut config = deadpool_redis::Config::from_url(url);
        let mut pool = PoolConfig::new(POOL_SIZE);
        pool.timeouts = Timeouts {
            wait: Some(REDIS_TIMEOUT),
            create: Some(REDIS_TIMEOUT),
            recycle: Some(REDIS_TIMEOUT),
        };
        config.pool = Some(pool);
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            memory,
            pool,
            prefix: prefix.to_string(),
            degraded: AtomicU64::new(0),
            skip_until: Mutex::new(None),
            last_warning: Mutex::new(None),
        })
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Whether Redis is worth trying (no failure within [`SKIP_AFTER_FAILURE`]).
    fn available(&self) -> bool {
        let skip_until = self.skip_until.lock().unwrap_or_else(|e| e.into_inner());
        skip_until.is_none_or(|until| Instant::now() >= until)
    }

    /// Records a lookup Redis could not serve.
    fn count_degraded(&self) {
        static DEGRADED: LazyLock<Arc<Counter>> = LazyLock::new(|| CACHE_DEGRADED.counter(&[]));
        self.degraded.fetch_add(1, Ordering::Relaxed);
        DEGRADED.inc();
    }

    /// Records a Redis failure: counted, Redis skipped for a while, logged now and then.
    fn failed(&self, what: &str, error: impl Display) {
        self.count_degraded();
        let now = Instant::now();
        *self.skip_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(now + SKIP_AFTER_FAILURE);
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
            *last = Some(now);
            tracing::warn!(
                %error,
                degraded_total = self.degraded.load(Ordering::Relaxed),
                "manifest cache: Redis {what} failed; serving from storage"
            );
        }
    }

    /// Runs one Redis operation within [`REDIS_TIMEOUT`].
    async fn with_connection<T, F>(
        &self,
        op: impl FnOnce(deadpool_redis::Connection) -> F,
    ) -> Result<T, String>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let connection = self.pool.get().await.map_err(|e| e.to_string())?;
            op(connection).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(REDIS_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {REDIS_TIMEOUT:?}")))
    }

    async fn lookup(&self, key: &str, max_age: Option<Duration>) -> Lookup {
        if !self.available() {
            self.count_degraded();
            return Lookup::Down;
        }
        let redis_key = self.redis_key(key);
        let reply = self
            .with_connection(|mut c| async move { c.get::<_, Option<Vec<u8>>>(&redis_key).await })
            .await;
        match reply {
            Err(e) => {
                self.failed("read", e);
                Lookup::Down
            }
            Ok(None) => Lookup::Miss,
            Ok(Some(raw)) if raw.len() < STAMP_LEN => Lookup::Miss,
            Ok(Some(mut raw)) => {
                let value = raw.split_off(STAMP_LEN);
                let stamp = u64::from_be_bytes(raw.try_into().unwrap_or_default());
                let age = Duration::from_millis(unix_millis().saturating_sub(stamp));
                if max_age.is_some_and(|max| age >= max) {
                    Lookup::Miss
                } else {
                    Lookup::Hit(Bytes::from(value), age)
                }
            }
        }
    }

    async fn store(&self, key: &str, value: &Bytes, max_age: Option<Duration>) {
        let mut raw = BytesMut::with_capacity(STAMP_LEN + value.len());
        raw.put_u64(unix_millis());
        raw.put_slice(value);
        let redis_key = self.redis_key(key);
        let ttl_ms = max_age.unwrap_or(UNBOUNDED_TTL).as_millis().max(1) as u64;
        let reply = self
            .with_connection(|mut c| async move {
                c.pset_ex::<_, _, ()>(&redis_key, raw.as_ref(), ttl_ms)
                    .await
            })
            .await;
        if let Err(e) = reply {
            self.failed("write", e);
        }
    }

    async fn delete_matching(&self, prefix: &str) -> Result<(), String> {
        let pattern = format!("{}*", glob_escape(&self.redis_key(prefix)));
        self.with_connection(|mut c| async move {
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await?;
                if !keys.is_empty() {
                    c.unlink::<_, ()>(keys).await?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
        .await
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `text` as a Redis glob matching itself only.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl ManifestCache for RedisCache {
    async fn get_or_fill(
        &self,
        key: &str,
        max_age: Option<Duration>,
        fill: BoxFuture<'_, Result<Bytes, StoreError>>,
    ) -> Result<Bytes, StoreError> {
        self.memory
            .get_or_fill_aged(key, max_age, async {
                let up = match self.lookup(key, max_age).await {
                    Lookup::Hit(value, age) => {
                        count_lookup(Tier::Redis, true);
                        return Ok((value, age));
                    }
                    Lookup::Miss => {
                        count_lookup(Tier::Redis, false);
                        true
                    }
                    Lookup::Down => false,
                };
                let value = fill.await?;
                if up {
                    self.store(key, &value, max_age).await;
                }
                Ok((value, Duration::ZERO))
            })
            .await
    }

    async fn invalidate_prefix(&self, prefix: &str) {
        self.memory.invalidate_prefix(prefix).await;
        if let Err(e) = self.delete_matching(prefix).await {
            self.failed("invalidation", e);
        }
    }

    fn degraded_total(&self) -> u64 {
        self.degraded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_only_themselves() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("media/x/"), "media/x/");
    }
}
