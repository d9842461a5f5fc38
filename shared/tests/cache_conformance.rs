//! One conformance suite for [`ManifestCache`], run against the in-process
//! tier, memory in front of Redis (`GOFLIX_TEST_REDIS_URL`, a key prefix per
//! test), and memory in front of an unreachable Redis, which must still
//! fill correctly.

use bytes::Bytes;
use futures_util::future::BoxFuture;
use goflix_shared::cache::{self, ManifestCache, MemoryCache, RedisCache};
use goflix_shared::config::Cache;
use goflix_shared::store::StoreError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn value(v: &'static str) -> BoxFuture<'static, Result<Bytes, StoreError>> {
    Box::pin(async move { Ok(Bytes::from_static(v.as_bytes())) })
}

/// A fill that counts its runs and takes a while, so concurrent misses overlap.
fn counted(
    fills: &Arc<AtomicUsize>,
    v: &'static str,
) -> BoxFuture<'static, Result<Bytes, StoreError>> {
    let fills = fills.clone();
    Box::pin(async move {
        fills.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Bytes::from_static(v.as_bytes()))
    })
}

/// A key no other test (or earlier run) uses.
fn unique(name: &str) -> String {
    format!("{name}/{}", uuid::Uuid::new_v4().simple())
}

/// The suite: every behaviour the origin relies on.
async fn test_suite(cache: Arc<dyn ManifestCache>) {
    // Concurrent misses fill once; later lookups are hits.
    let k = unique("media");
    let fills = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (cache, k, fills) = (cache.clone(), k.clone(), fills.clone());
            tokio::spawn(async move { cache.get_or_fill(&k, None, counted(&fills, "v")).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "v");
    }
    assert_eq!(
        fills.load(Ordering::SeqCst),
        1,
        "one fill for a burst of misses"
    );
    assert_eq!(
        cache.get_or_fill(&k, None, value("other")).await.unwrap(),
        "v"
    );

    // Keys are independent; binary values survive.
    let binary = unique("bin");
    let bytes = Bytes::from_static(b"\x00\xff\x00gzip\x1f\x8b");
    let fill_bytes = bytes.clone();
    let got = cache
        .get_or_fill(&binary, None, Box::pin(async move { Ok(fill_bytes) }))
        .await
        .unwrap();
    assert_eq!(got, bytes);
    assert_eq!(
        cache.get_or_fill(&binary, None, value("x")).await.unwrap(),
        bytes
    );

    // An entry older than max_age is refilled; a young one is not.
    let record = unique("record");
    let max_age = Some(Duration::from_millis(300));
    assert_eq!(
        cache
            .get_or_fill(&record, max_age, value("one"))
            .await
            .unwrap(),
        "one"
    );
    assert_eq!(
        cache
            .get_or_fill(&record, max_age, value("two"))
            .await
            .unwrap(),
        "one"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        cache
            .get_or_fill(&record, max_age, value("three"))
            .await
            .unwrap(),
        "three"
    );
    let zero = Some(Duration::ZERO);
    assert_eq!(
        cache
            .get_or_fill(&record, zero, value("four"))
            .await
            .unwrap(),
        "four"
    );

    // Invalidated prefixes refill; others stay.
    let dir = unique("video");
    let (a, b) = (format!("{dir}/a"), format!("{dir}x/b"));
    cache.get_or_fill(&a, None, value("a1")).await.unwrap();
    cache.get_or_fill(&b, None, value("b1")).await.unwrap();
    cache.invalidate_prefix(&format!("{dir}/")).await;
    assert_eq!(
        cache.get_or_fill(&a, None, value("a2")).await.unwrap(),
        "a2"
    );
    assert_eq!(
        cache.get_or_fill(&b, None, value("b2")).await.unwrap(),
        "b1"
    );

    // Failed fills reach the caller and are not cached.
    let missing = unique("missing");
    let err = cache
        .get_or_fill(
            &missing,
            None,
            Box::pin(async { Err(StoreError::NotFound("missing".into())) }),
        )
        .await;
    assert!(matches!(err, Err(StoreError::NotFound(_))));
    assert_eq!(
        cache
            .get_or_fill(&missing, None, value("now"))
            .await
            .unwrap(),
        "now"
    );
}

fn redis_cache(prefix: &str) -> RedisCache {
    let url = goflix_testkit::var("GOFLIX_TEST_REDIS_URL");
    RedisCache::open(&url, prefix, MemoryCache::new(1 << 20)).unwrap()
}

fn test_prefix() -> String {
    format!("goflix-test-{}:", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn memory_conforms() {
    test_suite(cache::open(&Cache::Memory, "unused").unwrap()).await;
}

#[tokio::test]
async fn memory_in_front_of_redis_conforms() {
    let url = goflix_testkit::var("GOFLIX_TEST_REDIS_URL");
    let cache = cache::open(&Cache::Redis(url.into()), &test_prefix()).unwrap();
    test_suite(cache.clone()).await;
    assert_eq!(cache.degraded_total(), 0, "Redis answered throughout");
    cache.invalidate_prefix("").await;
}

#[tokio::test]
async fn an_unreachable_redis_still_fills_and_counts() {
    // Nothing listens on port 1.
    let cache = cache::open(
        &Cache::Redis("redis://127.0.0.1:1".to_owned().into()),
        "goflix-test:",
    )
    .unwrap();
    test_suite(cache.clone()).await;
    assert!(cache.degraded_total() > 0, "the outage is counted");
}

#[tokio::test]
async fn replicas_share_fills_through_redis() {
    let prefix = test_prefix();
    let (first, second) = (redis_cache(&prefix), redis_cache(&prefix));
    let key = unique("media");
    assert_eq!(
        first.get_or_fill(&key, None, value("v1")).await.unwrap(),
        "v1"
    );
    // The second replica's memory is empty: the value comes from Redis.
    assert_eq!(
        second.get_or_fill(&key, None, value("v2")).await.unwrap(),
        "v1"
    );

    // max_age counts from the storage read, across replicas.
    let record = unique("record");
    let max_age = Some(Duration::from_millis(400));
    first
        .get_or_fill(&record, max_age, value("r1"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        second
            .get_or_fill(&record, max_age, value("r2"))
            .await
            .unwrap(),
        "r1"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // 450 ms after the fill: stale in both tiers of the second replica.
    assert_eq!(
        second
            .get_or_fill(&record, max_age, value("r3"))
            .await
            .unwrap(),
        "r3"
    );

    // Invalidation reaches Redis, so other replicas refill too (after their own memory).
    first.invalidate_prefix("media/").await;
    let third = redis_cache(&prefix);
    assert_eq!(
        third.get_or_fill(&key, None, value("v3")).await.unwrap(),
        "v3"
    );
    first.invalidate_prefix("").await;
    assert_eq!(first.degraded_total() + second.degraded_total(), 0);
}

#[tokio::test]
async fn unknown_cache_urls_are_refused() {
    assert!("memcached://127.0.0.1".parse::<Cache>().is_err());
    let err = "bogus://user:secret@host".parse::<Cache>().unwrap_err();
    assert!(!err.contains("secret"), "{err}");
}
