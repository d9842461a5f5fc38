//! Media objects held open, like nginx's `open_file_cache`: per object key,
//! its [`ObjectMeta`] and, on the folder backend, its open file. A request
//! for a hot media file then makes no `open`/`fstat` (folder) and no `HEAD`
//! before its ranged `GET` (S3).
//!
//! Nothing is ever invalidated: only keys under a finished version are held
//! (the caller skips a version still encoding), and a finished version's
//! files never change content (a re-transcode writes a new version). A deleted video stops being served because its playback record
//! goes first (see [`crate::records`]); its handles just age out of the
//! bounded map. Failed opens are not kept.

use goflix_shared::store::{ObjectKey, ObjectMeta};
use std::fs::File;
use std::sync::Arc;

/// Objects held at most: each may keep a file descriptor open, so well
/// under the usual 1024 soft limit, with room for the connections.
const CAPACITY: usize = 256;

/// What a media response needs to know about its object before reading it.
#[derive(Clone)]
pub struct Handle {
    /// Size, modification time and etag.
    pub meta: ObjectMeta,
    /// The open file, on backends that keep objects as local files.
    pub file: Option<Arc<File>>,
}

/// The handles of recently served media objects.
pub struct Handles {
    entries: quick_cache::sync::Cache<ObjectKey, Handle>,
}

impl Default for Handles {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }
}

impl Handles {
    /// The handle of `key`, if held.
    pub fn held(&self, key: &ObjectKey) -> Option<Handle> {
        self.entries.get(key)
    }

    /// Holds `handle` for the immutable object under `key`, and returns it.
    pub fn keep(&self, key: &ObjectKey, handle: Handle) -> Handle {
        self.entries.insert(key.clone(), handle.clone());
        handle
    }
}
