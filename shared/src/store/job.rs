//! What a transcode job does with object storage, and nothing more: read
//! its master and its video's playback record, write and remove its own
//! version folders. [`JobStore`] is what the worker and the live publisher
//! hold; a [`Store`] is one, and a remote runner's is the control API over
//! gRPC, which lets it touch only the objects of the jobs it was assigned.

use super::{ObjectKey, ObjectStore, Store, StoreError};
use async_trait::async_trait;
use bytes::Bytes;
use std::path::Path;
use std::sync::Arc;

/// The storage calls of a transcode job.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Puts an object's bytes in a local file, replacing one that exists.
    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError>;
    /// Stores the contents of a local file.
    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError>;
    /// Stores a small object held in memory (playlists).
    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError>;
    /// Reads a small object whole (the playback record).
    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError>;
    /// Deletes every object whose key starts with `prefix`.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl JobStore for Store {
    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        ObjectStore::download_to(self, key, path).await
    }
    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        ObjectStore::put_file(self, key, path).await
    }
    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        ObjectStore::put_bytes(self, key, bytes).await
    }
    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        ObjectStore::get_bytes(self, key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        ObjectStore::delete_prefix(self, prefix).await
    }
}

impl From<Store> for Arc<dyn JobStore> {
    fn from(store: Store) -> Self {
        Arc::new(store)
    }
}
