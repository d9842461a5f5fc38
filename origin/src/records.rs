//! Playback records held in process, parsed, per video: every request
//! needs its video's record, and a request for a video seen within
//! [`LOCAL_MAX_AGE`] gets it without a cache lookup, a storage call or JSON
//! parsing.
//!
//! Freshness is unchanged by this tier: a record comes from the manifest
//! cache no older than [`RECORD_MAX_AGE`] minus [`LOCAL_MAX_AGE`] and is
//! kept here for at most [`LOCAL_MAX_AGE`], so a re-publish or a visibility
//! change is served at most [`RECORD_MAX_AGE`] after it was written.
//! Nothing else needs invalidating: what a record points to lives under
//! versioned keys that never change content. Missing records are not kept.

use crate::error::OriginError;
use crate::manifest::{self, RECORD_MAX_AGE};
use goflix_shared::cache::ManifestCache;
use goflix_shared::domain::{PlaybackRecord, VideoId};
use goflix_shared::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a parsed record is used before it is read again.
pub const LOCAL_MAX_AGE: Duration = Duration::from_millis(500);

/// Videos whose records are kept (a few hundred bytes each).
const CAPACITY: usize = 16 * 1024;

#[derive(Clone)]
struct Entry {
    record: Arc<PlaybackRecord>,
    fetched: Instant,
}

/// The parsed records of recently requested videos.
pub struct Records {
    entries: quick_cache::sync::Cache<VideoId, Entry>,
}

impl Default for Records {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }
}

impl Records {
    /// The playback record of `video`; `NotFound` when it has none.
    pub async fn get(
        &self,
        cache: &dyn ManifestCache,
        store: &Store,
        video: VideoId,
    ) -> Result<Arc<PlaybackRecord>, OriginError> {
        if let Some(entry) = self.entries.get(&video) {
            if entry.fetched.elapsed() < LOCAL_MAX_AGE {
                return Ok(entry.record);
            }
        }
        // Taken before the read, so the local age covers the time it took.
        let fetched = Instant::now();
        let record = Arc::new(
            manifest::playback_record(cache, store, video, RECORD_MAX_AGE - LOCAL_MAX_AGE).await?,
        );
        self.entries.insert(
            video,
            Entry {
                record: record.clone(),
                fetched,
            },
        );
        Ok(record)
    }
}
