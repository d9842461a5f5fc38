//! The manifest cache: small, hot objects (playlists, MPDs, playback
//! records) kept in front of the object store. [`ManifestCache`] fills a
//! missing entry once however many requests in the process miss at the
//! same time (single flight).
//!
//! Two tiers, chosen by `GOFLIX_CACHE` ([`Cache`]) through [`open`]: the
//! in-process [`MemoryCache`] (`memory`), and the same in front of Redis
//! ([`RedisCache`], `redis://…`) so that every origin replica shares fills.
//! The cache is an accelerator: when Redis is down, values come from the
//! fill (storage) and the outage is only logged and counted.

mod memory;
mod redis;

pub use self::memory::MemoryCache;
pub use self::redis::RedisCache;

use crate::config::{Cache, ServiceUrl};
use crate::metrics::{Counter, CACHE_DEGRADED, CACHE_REQUESTS};
use crate::store::StoreError;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Bytes the in-process tier holds at most.
pub const MEMORY_TIER_BYTES: u64 = 64 << 20;

/// A cache of small objects keyed by string.
#[async_trait]
pub trait ManifestCache: Send + Sync {
    /// The cached value of `key` if it is younger than `max_age`; otherwise
    /// runs `fill` (once for all concurrent callers), caches and returns it.
    async fn get_or_fill(
        &self,
        key: &str,
        max_age: Option<Duration>,
        fill: BoxFuture<'_, Result<Bytes, StoreError>>,
    ) -> Result<Bytes, StoreError>;

    /// Drops every entry whose key starts with `prefix`.
    async fn invalidate_prefix(&self, prefix: &str);

    /// How many lookups a shared tier could not serve because it was
    /// unreachable (`goflix_cache_degraded_total`); in-process tiers never degrade.
    fn degraded_total(&self) -> u64 {
        0
    }
}

/// A cache tier, as labelled in `goflix_cache_requests_total`.
#[derive(Clone, Copy)]
pub(crate) enum Tier {
    Memory,
    Redis,
}

/// Counts one lookup of `tier` in `goflix_cache_requests_total`.
pub(crate) fn count_lookup(tier: Tier, hit: bool) {
    static LOOKUPS: LazyLock<[[Arc<Counter>; 2]; 2]> = LazyLock::new(|| {
        ["memory", "redis"]
            .map(|tier| ["hit", "miss"].map(|result| CACHE_REQUESTS.counter(&[tier, result])))
    });
    LOOKUPS[tier as usize][usize::from(!hit)].inc();
}

/// A Redis URL that deadpool-redis cannot use.
#[derive(Debug, thiserror::Error)]
#[error("GOFLIX_CACHE {url:?}: {message}")]
pub struct CacheError {
    url: ServiceUrl,
    message: String,
}

/// Opens the configured cache: in-process only, or in front of Redis with
/// every Redis key starting with `prefix`. Redis is not contacted yet, so
/// an origin starts and serves while Redis is down.
pub fn open(cache: &Cache, prefix: &str) -> Result<Arc<dyn ManifestCache>, CacheError> {
    // Exported from the start, so "never degraded" reads as 0, not as absent.
    CACHE_DEGRADED.counter(&[]);
    let memory = MemoryCache::new(MEMORY_TIER_BYTES);
    match cache {
        Cache::Memory => Ok(Arc::new(memory)),
        Cache::Redis(url) => RedisCache::open(url, prefix, memory)
            .map(|redis| Arc::new(redis) as Arc<dyn ManifestCache>)
            .map_err(|message| CacheError {
                url: url.clone(),
                message,
            }),
    }
}
