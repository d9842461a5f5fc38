//! The in-process tier: an LRU-like map bounded by bytes, filling a missing
//! entry once however many requests miss at the same time (single flight).

use super::{count_lookup, ManifestCache, Tier};
use crate::store::StoreError;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Entry {
    value: Bytes,
    stored: Instant,
}

#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.value.len()) as u64 + 64
    }
}

/// The in-process tier: an LRU-like map bounded by total bytes.
pub struct MemoryCache {
    entries: quick_cache::sync::Cache<String, Entry, ByBytes>,
}

impl MemoryCache {
    /// A cache holding at most about `capacity_bytes` of keys and values.
    pub fn new(capacity_bytes: u64) -> Self {
        // quick_cache wants an item-count estimate too; assume ~4 KiB manifests.
        let estimated_items = (capacity_bytes / 4096).max(16) as usize;
        Self {
            entries: quick_cache::sync::Cache::with_weighter(
                estimated_items,
                capacity_bytes,
                ByBytes,
            ),
        }
    }

    /// Like [`ManifestCache::get_or_fill`], for a `fill` that also says how
    /// old its value already is (a value from a shared tier), so an entry
    /// never outlives `max_age` counted from when it was first filled.
    pub(crate) async fn get_or_fill_aged(
        &self,
        key: &str,
        max_age: Option<Duration>,
        fill: impl Future<Output = Result<(Bytes, Duration), StoreError>>,
    ) -> Result<Bytes, StoreError> {
        let fresh = |entry: &Entry| max_age.is_none_or(|age| entry.stored.elapsed() < age);
        let entry_of = |(value, age): (Bytes, Duration)| Entry {
            value,
            stored: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
        };
        if let Some(entry) = self.entries.get(key) {
            if fresh(&entry) {
                count_lookup(Tier::Memory, true);
                return Ok(entry.value);
            }
            self.entries.remove(key);
        }
        let key = key.to_string();
        let found = self.entries.get_value_or_guard_async(&key).await;
        count_lookup(Tier::Memory, matches!(&found, Ok(entry) if fresh(entry)));
        match found {
            Ok(entry) if fresh(&entry) => Ok(entry.value),
            Ok(_) => {
                let entry = entry_of(fill.await?);
                let value = entry.value.clone();
                self.entries.insert(key, entry);
                Ok(value)
            }
            Err(guard) => {
                let entry = entry_of(fill.await?);
                let value = entry.value.clone();
                let _ = guard.insert(entry);
                Ok(value)
            }
        }
    }
}

#[async_trait]
impl ManifestCache for MemoryCache {
    async fn get_or_fill(
        &self,
        key: &str,
        max_age: Option<Duration>,
        fill: BoxFuture<'_, Result<Bytes, StoreError>>,
    ) -> Result<Bytes, StoreError> {
        self.get_or_fill_aged(key, max_age, async {
            fill.await.map(|value| (value, Duration::ZERO))
        })
        .await
    }

    async fn invalidate_prefix(&self, prefix: &str) {
        self.entries.retain(|key, _| !key.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn concurrent_misses_fill_once() {
        let cache = Arc::new(MemoryCache::new(1 << 20));
        let fills = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                let fills = fills.clone();
                tokio::spawn(async move {
                    cache
                        .get_or_fill(
                            "k",
                            None,
                            Box::pin(async move {
                                fills.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                Ok(Bytes::from_static(b"v"))
                            }),
                        )
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "v");
        }
        assert_eq!(fills.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stale_entries_and_invalidated_prefixes_refill() {
        let cache = MemoryCache::new(1 << 20);
        let fill = |v: &'static str| -> BoxFuture<'static, Result<Bytes, StoreError>> {
            Box::pin(async move { Ok(Bytes::from_static(v.as_bytes())) })
        };
        assert_eq!(
            cache.get_or_fill("a/1", None, fill("one")).await.unwrap(),
            "one"
        );
        assert_eq!(
            cache.get_or_fill("a/1", None, fill("two")).await.unwrap(),
            "one"
        );
        let zero = Some(Duration::ZERO);
        assert_eq!(
            cache.get_or_fill("a/1", zero, fill("three")).await.unwrap(),
            "three"
        );
        cache.invalidate_prefix("a/").await;
        assert_eq!(
            cache.get_or_fill("a/1", None, fill("four")).await.unwrap(),
            "four"
        );
    }

    #[tokio::test]
    async fn failed_fills_are_not_cached() {
        let cache = MemoryCache::new(1 << 20);
        let err = cache
            .get_or_fill(
                "k",
                None,
                Box::pin(async { Err(StoreError::NotFound("k".into())) }),
            )
            .await;
        assert!(err.is_err());
        let ok = cache
            .get_or_fill("k", None, Box::pin(async { Ok(Bytes::from_static(b"v")) }))
            .await;
        assert_eq!(ok.unwrap(), "v");
    }
}
