//! Object storage: the [`ObjectStore`] trait, validated [`ObjectKey`]s and
//! the backends behind them. [`Store`] is the enum the roles hold, so hot
//! paths (the origin's reads) dispatch statically.

mod fs;
mod job;
mod key;
mod resumable;
mod s3;
mod timed;

pub use fs::FsStore;
pub use job::JobStore;
pub use key::{InvalidKey, ObjectKey};
pub use resumable::{Appended, Multipart, ResumableObject, Staged, StagedPart, Tail};
pub use s3::{S3Options, S3Store, StaticCredentials, PART_SIZE};

use crate::config::Storage;
use bytes::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::pin::Pin;
use std::time::SystemTime;

/// A stream of body chunks, as uploads arrive and as reads are served.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What the store knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Length in bytes.
    pub size: u64,
    /// Last modification time.
    pub modified: SystemTime,
    /// Strong validator, unique per stored content version (quoted is added by HTTP layers).
    pub etag: String,
}

/// An object kept in a local file by its backend, open for reading.
#[derive(Debug)]
pub struct LocalFile {
    /// The open file.
    pub file: std::fs::File,
    /// Its metadata, as [`ObjectStore::head`] gives it.
    pub meta: ObjectMeta,
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object under that key.
    #[error("object {0} not found")]
    NotFound(String),
    /// A size-limited write went past its limit; nothing was stored.
    #[error("object larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The requested range lies outside the object.
    #[error("range {start}..{end} outside object of {size} bytes")]
    BadRange {
        /// Requested start.
        start: u64,
        /// Requested end (exclusive).
        end: u64,
        /// Object size.
        size: u64,
    },
    /// The backend could not be reached or answered with an error; worth retrying.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A local I/O failure.
    #[error("storage I/O: {0}")]
    Io(#[from] io::Error),
}

/// One object store. Implementations must make writes atomic: a reader sees
/// the old object, the whole new one, or nothing, never a partial write.
pub trait ObjectStore: Send + Sync + Clone + 'static {
    /// Stores a stream, failing with [`StoreError::TooLarge`] (and storing
    /// nothing) once more than `limit` bytes arrive. Returns the size stored.
    fn put_stream(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        limit: Option<u64>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores the contents of a local file.
    fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a small object held in memory (manifests, records).
    fn put_bytes(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a small object whole (manifests, records).
    fn get_bytes(&self, key: &ObjectKey) -> impl Future<Output = Result<Bytes, StoreError>> + Send;

    /// Metadata of an object.
    fn head(&self, key: &ObjectKey) -> impl Future<Output = Result<ObjectMeta, StoreError>> + Send;

    /// Streams `range` of an object (all of it when `None`) in bounded chunks.
    fn get_range(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> impl Future<Output = Result<(ObjectMeta, ByteStream), StoreError>> + Send;

    /// Opens the local file holding an object, for backends that keep
    /// objects as files (the folder backend), so a hot path can read it with
    /// positional reads on its own thread instead of through a stream;
    /// `Ok(None)` for remote backends. Blocking, like any file open.
    fn open_local(&self, key: &ObjectKey) -> Result<Option<LocalFile>, StoreError>;

    /// Puts an object's bytes in a local file, replacing one that exists.
    /// Only read that file: the folder backend may hard-link it to the object.
    fn download_to(
        &self,
        key: &ObjectKey,
        path: &Path,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every object whose key starts with `prefix`; deleting nothing is fine.
    fn delete_prefix(&self, prefix: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the backend answers (for `/readyz`).
    fn check(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The configured store: one variant per backend.
#[derive(Clone, Debug)]
pub enum Store {
    /// A local folder (`file:///path`).
    Fs(FsStore),
    /// An S3 bucket (`s3://bucket?endpoint=…&region=…&path_style=true&prefix=…`).
    S3(S3Store),
}

impl Store {
    /// Opens the configured store; S3 credentials come from
    /// `AWS_ACCESS_KEY_ID_FILE`/`AWS_SECRET_ACCESS_KEY_FILE` or the AWS chain.
    pub async fn open(storage: &Storage) -> Result<Self, StoreError> {
        Ok(match storage {
            Storage::Folder(path) => Self::Fs(FsStore::open(path).await?),
            Storage::S3(options) => Self::S3(S3Store::open(options.clone()).await?),
        })
    }
}

/// Forwards a call to the backend, timed per backend and operation ([`timed`]).
macro_rules! dispatch {
    ($self:ident, $s:ident => $recv:ident . $op:ident ( $($arg:expr),* ) . await) => {
        match $self {
            Store::Fs($s) => timed::observe(timed::series!("fs", $op), $recv.$op($($arg),*)).await,
            Store::S3($s) => timed::observe(timed::series!("s3", $op), $recv.$op($($arg),*)).await,
        }
    };
}

impl ObjectStore for Store {
    async fn put_stream(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        limit: Option<u64>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.put_stream(key, body, limit).await)
    }
    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_file(key, path).await)
    }
    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_bytes(key, bytes).await)
    }
    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        dispatch!(self, s => s.get_bytes(key).await)
    }
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        dispatch!(self, s => s.head(key).await)
    }
    async fn get_range(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError> {
        dispatch!(self, s => s.get_range(key, range).await)
    }
    fn open_local(&self, key: &ObjectKey) -> Result<Option<LocalFile>, StoreError> {
        match self {
            Store::Fs(s) => {
                let started = std::time::Instant::now();
                let file = s.open_local(key);
                timed::series!("fs", open_local).observe(started.elapsed().as_secs_f64());
                file
            }
            Store::S3(s) => s.open_local(key),
        }
    }
    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        dispatch!(self, s => s.download_to(key, path).await)
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_prefix(prefix).await)
    }
    async fn check(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.check().await)
    }
}
