//! The media cache in front of a remote store (S3): finished versions'
//! media objects in aligned slices of [`SLICE_LEN`] bytes, as nginx's
//! `slice` module keeps them, so any byte range is assembled from cached
//! slices and a CDN's hundred edges asking for one new segment cost one
//! storage read.
//!
//! - **Bounded**: slices live in a `quick_cache` weighted by their length
//!   under a byte budget (`GOFLIX_ORIGIN_CACHE_BYTES`). Its policy (CLOCK-Pro
//!   with a ghost list) admits a new slice into a small probationary part
//!   first, so one pass over a large cold catalogue does not push out the
//!   slices players keep asking for.
//! - **Coalesced**: a missing slice is fetched once. The first request to
//!   miss it claims it and every run of missing slices after it that the
//!   request also needs (up to [`MAX_RUN`]), and fetches them with one
//!   ranged GET on a task of its own (so the fetch completes for everyone
//!   else when that client goes away); concurrent requests wait for the
//!   slice they need and are answered as each slice completes.
//! - **Failures fail fast**: a failed fetch fails everyone waiting for its
//!   slices at once (`503` with `Retry-After` when it fails before the
//!   response head, a cut body after), and is not retried by them: the
//!   next request makes the next attempt.
//!
//! Only objects that never change are cached, keyed by key and store etag
//! (the caller skips versions still encoding). The cache holds object
//! bytes only: the response (headers, authorization) is made per request.

use bytes::{Bytes, BytesMut};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use futures_util::{stream, StreamExt};
use goflix_shared::metrics::{self, Counter, Gauge};
use goflix_shared::store::{ByteStream, ObjectKey, ObjectStore, Store, StoreError};
use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::oneshot;

/// Bytes per slice: the size nginx's slice module is usually given, and a
/// fraction of a typical segment, so a range touches few slices.
pub const SLICE_LEN: u64 = 1 << 20;

/// The default byte budget (`GOFLIX_ORIGIN_CACHE_BYTES`' default): the hot
/// segments of a release (60–120 of 2–4 MiB), half a 512 MiB container.
pub const DEFAULT_BUDGET: u64 = 256 << 20;

/// Slices one storage GET fetches at most.
const MAX_RUN: u64 = 8;

/// An immutable object as the cache knows it: key, store validator, size.
#[derive(Clone)]
pub struct CachedObject {
    id: Arc<ObjectId>,
    size: u64,
}

impl CachedObject {
    /// The object stored under `key` with this etag and size.
    pub fn new(key: ObjectKey, etag: &str, size: u64) -> Self {
        Self {
            id: Arc::new(ObjectId {
                key,
                etag: etag.to_owned(),
            }),
            size,
        }
    }

    /// Length of slice `index` (the last one may be short).
    fn slice_len(&self, index: u64) -> usize {
        (self.size.min((index + 1) * SLICE_LEN) - index * SLICE_LEN) as usize
    }
}

#[derive(PartialEq, Eq, Hash)]
struct ObjectId {
    key: ObjectKey,
    etag: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct SliceId {
    object: Arc<ObjectId>,
    index: u64,
}

/// Why a fetch failed, as every waiter of its slices learns it.
#[derive(Clone, Debug)]
enum FetchFailed {
    /// The object is gone from the store.
    Gone,
    /// The store failed or the fetch broke off.
    Unavailable(Arc<str>),
}

impl FetchFailed {
    fn of(error: &StoreError) -> Self {
        match error {
            StoreError::NotFound(_) => Self::Gone,
            other => Self::Unavailable(other.to_string().into()),
        }
    }

    fn into_store_error(self, key: &ObjectKey) -> StoreError {
        match self {
            Self::Gone => StoreError::NotFound(key.to_string()),
            Self::Unavailable(why) => StoreError::Unavailable(why.to_string()),
        }
    }
}

type SliceResult = Result<Bytes, FetchFailed>;
type Pending = Shared<BoxFuture<'static, SliceResult>>;

/// The cache's series of the `goflix_origin_cache_*` families.
struct Metrics {
    hits: Arc<Counter>,
    misses: Arc<Counter>,
    coalesced: Arc<Counter>,
    served: Arc<Counter>,
    fetched: Arc<Counter>,
    failed: Arc<Counter>,
    evictions: Arc<Counter>,
    resident: Arc<Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    hits: metrics::ORIGIN_CACHE_LOOKUPS.counter(&["hit"]),
    misses: metrics::ORIGIN_CACHE_LOOKUPS.counter(&["miss"]),
    coalesced: metrics::ORIGIN_CACHE_LOOKUPS.counter(&["coalesced"]),
    served: metrics::ORIGIN_CACHE_SERVED_BYTES.counter(&[]),
    fetched: metrics::ORIGIN_CACHE_FETCHES.counter(&["ok"]),
    failed: metrics::ORIGIN_CACHE_FETCHES.counter(&["failed"]),
    evictions: metrics::ORIGIN_CACHE_EVICTIONS.counter(&[]),
    resident: metrics::ORIGIN_CACHE_RESIDENT_BYTES.gauge(&[]),
});

/// Weighs a slice by its length.
#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<SliceId, Bytes> for ByLength {
    fn weight(&self, _: &SliceId, slice: &Bytes) -> u64 {
        slice.len() as u64
    }
}

/// Counts evictions.
#[derive(Clone)]
struct CountEvictions;

impl quick_cache::Lifecycle<SliceId, Bytes> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) {}

    fn on_evict(&self, _: &mut (), _: SliceId, _: Bytes) {
        METRICS.evictions.inc();
    }
}

type Slices = quick_cache::sync::Cache<
    SliceId,
    Bytes,
    ByLength,
    quick_cache::DefaultHashBuilder,
    CountEvictions,
>;

/// The slice cache of one origin; cheap to clone.
#[derive(Clone)]
pub struct SliceCache {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    slices: Slices,
    pending: Mutex<HashMap<SliceId, Pending>>,
}

impl SliceCache {
    /// A cache of at most `budget` bytes of slices read from `store`.
    pub fn new(store: Store, budget: u64) -> Self {
        let slots = (budget / SLICE_LEN).max(1);
        // Each shard evicts on its own share of the budget: keep at least
        // 16 slices per shard, so no slice is too large for its shard.
        let shards = (slots / 16).clamp(1, 16).next_power_of_two() as usize;
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(slots as usize)
            .weight_capacity(budget)
            .shards(shards)
            .build()
            .expect("valid cache options");
        Self {
            inner: Arc::new(Inner {
                store,
                slices: Slices::with_options(
                    options,
                    ByLength,
                    quick_cache::DefaultHashBuilder::default(),
                    CountEvictions,
                ),
                pending: Mutex::default(),
            }),
        }
    }

    /// The bytes of `range` of `object` (within its size), read through
    /// the cache. The first slice is read before this returns, so a store
    /// failure is an error here, before any response header is sent.
    pub async fn open(
        &self,
        object: &CachedObject,
        range: Range<u64>,
    ) -> Result<ByteStream, StoreError> {
        if range.is_empty() {
            return Ok(Box::pin(stream::empty()));
        }
        let (first, next) = self.part(object, range.start, range.end).await?;
        let rest = stream::try_unfold(
            (self.clone(), object.clone(), next),
            move |(cache, object, at)| async move {
                if at >= range.end {
                    return Ok(None);
                }
                let (part, next) = cache
                    .part(&object, at, range.end)
                    .await
                    .map_err(io::Error::other)?;
                Ok(Some((part, (cache, object, next))))
            },
        );
        Ok(Box::pin(stream::once(async { Ok(first) }).chain(rest)))
    }

    /// The bytes from `at` to the end of its slice or `end`, whichever is
    /// first, and the offset after them.
    async fn part(
        &self,
        object: &CachedObject,
        at: u64,
        end: u64,
    ) -> Result<(Bytes, u64), StoreError> {
        let index = at / SLICE_LEN;
        let base = index * SLICE_LEN;
        let slice = self.slice(object, index, end).await?;
        let stop = end.min(base + slice.len() as u64);
        let part = slice.slice((at - base) as usize..(stop - base) as usize);
        METRICS.served.add(part.len() as u64);
        Ok((part, stop))
    }

    /// Slice `index` of `object`, for a request reading up to `end`.
    async fn slice(
        &self,
        object: &CachedObject,
        index: u64,
        end: u64,
    ) -> Result<Bytes, StoreError> {
        let id = SliceId {
            object: object.id.clone(),
            index,
        };
        if let Some(slice) = self.inner.slices.get(&id) {
            METRICS.hits.inc();
            return Ok(slice);
        }
        let pending = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(waiting) = pending.get(&id) {
                METRICS.coalesced.inc();
                waiting.clone()
            } else if let Some(slice) = self.inner.slices.get(&id) {
                // Filled between the first look and the lock: a fetch puts
                // a slice in the cache before it stops being pending.
                METRICS.hits.inc();
                return Ok(slice);
            } else {
                METRICS.misses.inc();
                self.claim(&mut pending, object, index, end)
            }
        };
        pending
            .await
            .map_err(|failed| failed.into_store_error(&object.id.key))
    }

    /// Claims slice `index` and the missing, unclaimed slices after it up
    /// to `end` (at most [`MAX_RUN`] in all), starts one fetch for them,
    /// and returns the wait for slice `index`.
    fn claim(
        &self,
        pending: &mut HashMap<SliceId, Pending>,
        object: &CachedObject,
        index: u64,
        end: u64,
    ) -> Pending {
        let last = end.div_ceil(SLICE_LEN).min(index + MAX_RUN);
        let mut senders = Vec::new();
        let mut first = None;
        for next in index..last {
            let id = SliceId {
                object: object.id.clone(),
                index: next,
            };
            if next > index && (pending.contains_key(&id) || self.inner.slices.contains_key(&id)) {
                break;
            }
            let (sender, receiver) = oneshot::channel::<SliceResult>();
            let wait = async move {
                receiver
                    .await
                    .unwrap_or_else(|_| Err(FetchFailed::Unavailable("fetch abandoned".into())))
            };
            let wait = wait.boxed().shared();
            first.get_or_insert_with(|| wait.clone());
            pending.insert(id, wait);
            senders.push(sender);
        }
        tokio::spawn(self.clone().fetch(object.clone(), index, senders));
        first.expect("slice `index` is always claimed")
    }

    /// Fetches slices `first..first + senders.len()` of `object` with one
    /// ranged GET, completing each as soon as its bytes are in.
    async fn fetch(
        self,
        object: CachedObject,
        first: u64,
        senders: Vec<oneshot::Sender<SliceResult>>,
    ) {
        let count = senders.len() as u64;
        let range = first * SLICE_LEN..object.size.min((first + count) * SLICE_LEN);
        let mut senders = senders.into_iter();
        let mut index = first;
        let outcome = async {
            let (_, mut body) = self
                .inner
                .store
                .get_range(&object.id.key, Some(range))
                .await?;
            let mut slice = BytesMut::with_capacity(object.slice_len(index));
            while let Some(chunk) = body.next().await {
                let mut chunk = chunk?;
                while !chunk.is_empty() {
                    let want = object.slice_len(index) - slice.len();
                    let take = chunk.split_to(want.min(chunk.len()));
                    slice.extend_from_slice(&take);
                    if slice.len() < object.slice_len(index) {
                        continue;
                    }
                    let sender = senders.next().ok_or_else(|| {
                        StoreError::Unavailable("the store sent more than was asked".into())
                    })?;
                    self.complete(&object, index, slice.split().freeze(), sender);
                    index += 1;
                    if index < first + count {
                        slice.reserve(object.slice_len(index));
                    }
                }
            }
            match index == first + count {
                true => Ok(()),
                false => Err(StoreError::Unavailable(
                    "the store's body ended early".into(),
                )),
            }
        }
        .await;
        match outcome {
            Ok(()) => METRICS.fetched.inc(),
            Err(error) => {
                METRICS.failed.inc();
                tracing::warn!(key = %object.id.key, %error, "media slice fetch failed");
                let failed = FetchFailed::of(&error);
                let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
                for (sender, index) in senders.zip(index..) {
                    pending.remove(&SliceId {
                        object: object.id.clone(),
                        index,
                    });
                    let _ = sender.send(Err(failed.clone()));
                }
            }
        }
    }

    /// Puts a fetched slice in the cache, then answers its waiters.
    fn complete(
        &self,
        object: &CachedObject,
        index: u64,
        slice: Bytes,
        sender: oneshot::Sender<SliceResult>,
    ) {
        let id = SliceId {
            object: object.id.clone(),
            index,
        };
        self.inner.slices.insert(id.clone(), slice.clone());
        METRICS.resident.set(self.inner.slices.weight() as i64);
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let _ = sender.send(Ok(slice));
    }
}
