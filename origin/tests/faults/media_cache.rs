//! The media cache on S3, counted at the S3 server through a
//! [`CountingProxy`]: concurrent misses for a slice make one GET, any range
//! assembled from slices equals the object's bytes, ranges and
//! preconditions behave as without the cache, an outage in the middle of
//! a coalesced fetch fails every waiter at once, and versions still
//! encoding are read past the cache.

use crate::proxy::CountingProxy;
use crate::{put_record, spawn, Response, TestOrigin};
use goflix_origin::Origin;
use goflix_shared::cache;
use goflix_shared::config::Cache;
use goflix_shared::domain::VideoId;
use goflix_shared::layout;
use goflix_shared::store::{ObjectStore, S3Store, Store};
use goflix_testkit::data::pseudo_random;
use goflix_testkit::s3::s3_options;
use goflix_testkit::var;
use proptest::prelude::*;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// The media file of every published version.
const MEDIA: &str = "720p.mp4";

/// A media object spanning several slices, the last one short.
const MEDIA_LEN: usize = 3 * (1 << 20) + 123_457;

/// One object of a published version, as the origin serves it.
struct Media {
    path: String,
    bytes: Arc<Vec<u8>>,
}

/// An origin reading S3 through a proxy, and a store writing to S3 directly.
struct Setup {
    origin: TestOrigin,
    proxy: CountingProxy,
    direct: Store,
}

async fn setup() -> Setup {
    let options = s3_options();
    let proxy = CountingProxy::start(&var("GOFLIX_TEST_S3_ENDPOINT")).await;
    let mut proxied = options.clone();
    proxied.endpoint = Some(proxy.endpoint.clone());
    let read = Store::S3(S3Store::open(proxied).await.unwrap());
    let direct = Store::S3(S3Store::open(options).await.unwrap());
    let origin = Origin::new(read, cache::open(&Cache::Memory, "").unwrap(), None);
    Setup {
        origin: spawn(origin),
        proxy,
        direct,
    }
}

/// Publishes a public video whose version holds `720p.mp4`; `live` as a
/// version still encoding.
async fn publish(store: &Store, live: bool) -> Media {
    let video = VideoId::new();
    let version = layout::new_version();
    let bytes = pseudo_random(MEDIA_LEN, video.0.as_u128() as u64);
    let key = layout::media_file(video, &version, "720p.mp4").unwrap();
    store.put_bytes(&key, bytes.clone().into()).await.unwrap();
    put_record(store, video, &version, live).await;
    Media {
        path: format!("/v/{video}/{version}/720p.mp4"),
        bytes: Arc::new(bytes),
    }
}

async fn range(origin: &TestOrigin, media: &Media, first: usize, last: usize) -> Response {
    let range = format!("bytes={first}-{last}");
    origin.get(&media.path, &[("Range", range.as_str())]).await
}

fn assert_range(response: &Response, media: &Media, first: usize, last: usize) {
    assert_eq!(response.status, 206, "bytes={first}-{last}");
    assert!(
        response.body == media.bytes[first..=last],
        "bytes={first}-{last}: {} bytes differ from the object's",
        response.body.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_misses_in_one_slice_make_one_get() {
    let s = setup().await;
    let media = publish(&s.direct, false).await;
    // Every request arrives while the one fetch is still held at the proxy.
    s.proxy.hold(Duration::from_millis(500));
    let origin = Arc::new(s.origin);
    let media = Arc::new(media);
    let (first, last) = (1_100_000, 1_500_000);
    let requests: Vec<_> = (0..200)
        .map(|_| {
            let (origin, media) = (origin.clone(), media.clone());
            tokio::spawn(async move { range(&origin, &media, first, last).await })
        })
        .collect();
    for request in requests {
        assert_range(&request.await.unwrap(), &media, first, last);
    }
    assert_eq!(s.proxy.gets(MEDIA), 1, "GETs the S3 server received");
    // Served from the cache from now on.
    assert_range(
        &range(&origin, &media, first, last).await,
        &media,
        first,
        last,
    );
    assert_eq!(s.proxy.gets(MEDIA), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_across_missing_slices_fetches_them_in_one_get() {
    let s = setup().await;
    let media = publish(&s.direct, false).await;
    let last = MEDIA_LEN - 1;
    assert_range(&range(&s.origin, &media, 10, last).await, &media, 10, last);
    assert_eq!(s.proxy.gets(MEDIA), 1, "four slices, one GET");
    let whole = s.origin.get(&media.path, &[]).await;
    assert_eq!(whole.status, 200);
    assert!(whole.body == *media.bytes);
    assert_eq!(s.proxy.gets(MEDIA), 1, "all of it cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_preconditions_behave_as_without_the_cache() {
    let s = setup().await;
    let media = publish(&s.direct, false).await;
    let warm = s.origin.get(&media.path, &[]).await;
    assert_eq!(warm.status, 200);
    let etag = warm.header("etag").unwrap().to_owned();

    // If-Range with the current validator: the range; with another: all of it.
    let r = s
        .origin
        .get(
            &media.path,
            &[("Range", "bytes=1048570-1048580"), ("If-Range", &etag)],
        )
        .await;
    assert_range(&r, &media, 1_048_570, 1_048_580);
    let r = s
        .origin
        .get(
            &media.path,
            &[("Range", "bytes=0-9"), ("If-Range", "\"another\"")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body == *media.bytes);

    // Past the end: 416 with the size.
    let r = s
        .origin
        .get(&media.path, &[("Range", "bytes=99999999-")])
        .await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{MEDIA_LEN}").as_str())
    );
    // A suffix range is the last bytes.
    let r = s.origin.get(&media.path, &[("Range", "bytes=-5")]).await;
    assert_range(&r, &media, MEDIA_LEN - 5, MEDIA_LEN - 1);

    // Multipart: each part's bytes in order, from different slices.
    let r = s
        .origin
        .get(&media.path, &[("Range", "bytes=5-9,2097150-2097160")])
        .await;
    assert_eq!(r.status, 206);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("multipart/byteranges; boundary="));
    let body = &r.body;
    let first = find(body, &media.bytes[5..=9]).expect("the first part");
    let second = find(body, &media.bytes[2_097_150..=2_097_160]).expect("the second part");
    assert!(first < second);
    assert!(String::from_utf8_lossy(body).contains(&format!("bytes 2097150-2097160/{MEDIA_LEN}")));

    // Conditional GETs answer from the validator alone.
    let r = s.origin.get(&media.path, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status, 304);
    assert_eq!(s.proxy.gets(MEDIA), 1, "one GET filled every slice");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_during_a_coalesced_fetch_fails_every_waiter_at_once() {
    let s = setup().await;
    let media = Arc::new(publish(&s.direct, false).await);
    // The metadata first (and the first slice), so the outage hits the GET
    // of the bytes asked for below.
    assert_range(&range(&s.origin, &media, 0, 99).await, &media, 0, 99);
    let before = s.proxy.gets(MEDIA);
    s.proxy.hold(Duration::from_millis(500));
    s.proxy.fail(true);
    let origin = Arc::new(s.origin);
    let started = Instant::now();
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (origin, media) = (origin.clone(), media.clone());
            tokio::spawn(async move { range(&origin, &media, 2_200_000, 2_300_000).await })
        })
        .collect();
    for request in requests {
        let r = request.await.unwrap();
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.header("retry-after").is_some());
    }
    let waited = started.elapsed();
    // One fetch (the S3 client's own attempts, not one per waiter).
    let attempts = s.proxy.gets(MEDIA) - before;
    assert!((1..=3).contains(&attempts), "{attempts} GETs");
    assert!(waited < Duration::from_secs(15), "503s after {waited:?}");

    s.proxy.fail(false);
    s.proxy.hold(Duration::ZERO);
    assert_range(
        &range(&origin, &media, 2_200_000, 2_300_000).await,
        &media,
        2_200_000,
        2_300_000,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_still_encoding_is_read_past_the_cache() {
    let s = setup().await;
    let media = publish(&s.direct, true).await;
    for _ in 0..2 {
        assert_range(&range(&s.origin, &media, 0, 99).await, &media, 0, 99);
    }
    assert_eq!(s.proxy.gets(MEDIA), 2, "no bytes of a live copy are kept");
}

/// One origin on S3 for every case of the property test below, and its object.
static SHARED: LazyLock<(tokio::runtime::Runtime, TestOrigin, Media)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (origin, media) = runtime.block_on(async {
        let store = Store::S3(S3Store::open(s3_options()).await.unwrap());
        let media = publish(&store, false).await;
        let origin = Origin::new(store, cache::open(&Cache::Memory, "").unwrap(), None)
            // A budget smaller than the object: some slices are evicted and read again.
            .with_media_cache(2 << 20);
        (spawn(origin), media)
    });
    (runtime, origin, media)
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_range_equals_the_objects_bytes(first in 0..MEDIA_LEN, len in 1..3_000_000usize) {
        let (runtime, origin, media) = &*SHARED;
        let last = (first + len - 1).min(MEDIA_LEN - 1);
        let response = runtime.block_on(range(origin, media, first, last));
        prop_assert_eq!(response.status, 206);
        prop_assert!(response.body == media.bytes[first..=last]);
    }
}
