//! Resumable objects: one object assembled from appends that arrive in
//! separate requests, maybe in separate processes (tus uploads). The caller
//! keeps the [`Staged`] record and the offset (in its database) and passes
//! them to the next append. An append never changes bytes the record
//! covers, and its new record describes only bytes that are durable, so a
//! crash at any point leaves the last committed record true; bytes written
//! by an append whose record was never committed are simply overwritten by
//! the next one.
//!
//! Unfinished bytes live in a staging area beside the target
//! ([`ResumableObject`]):
//! - folder: one file `{staging}/data`, appended in place and synced before
//!   an append returns; the next append first cuts the file to the committed
//!   offset;
//! - S3: a multipart upload of the target key itself, a part of
//!   [`super::PART_SIZE`] uploaded as soon as it fills (one part in flight while
//!   the next is read), and the remainder below S3's 5 MiB part minimum in
//!   a temporary object `{staging}/tail-{n:010}` with a fresh `n` per append,
//!   so the committed tail is never overwritten.
//!
//! [`Store::finish_resumable`] makes the target appear whole at once (a
//! rename, a `CompleteMultipartUpload`) and is idempotent: once the target
//! holds the whole length, finishing again succeeds without touching it.
//! [`Store::abort_resumable`] removes every staged byte.

mod fs;
mod s3;

use super::{ByteStream, ObjectKey, ObjectStore, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::io;

/// Where one resumable object goes and where its bytes wait meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableObject {
    /// The object it becomes.
    pub target: ObjectKey,
    /// The folder-like prefix of its staged bytes (no trailing `/`).
    pub staging: ObjectKey,
}

impl ResumableObject {
    /// The staging file on the folder backend.
    pub fn folder_data(&self) -> ObjectKey {
        self.staged("data".to_owned())
    }

    /// Tail object `number` on S3 (fixed width, so one tail's key is never
    /// a prefix of another's).
    pub fn tail(&self, number: u32) -> ObjectKey {
        self.staged(format!("tail-{number:010}"))
    }

    fn staged(&self, name: String) -> ObjectKey {
        ObjectKey::new(format!("{}/{name}", self.staging))
            .expect("a staging key plus a staged file name is a valid key")
    }
}

/// What is durably staged, as the caller records it between appends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum Staged {
    /// A staging file on the folder backend; the offset says how much of it counts.
    Folder,
    /// A multipart upload on S3.
    S3(Multipart),
}

/// The S3 side of a resumable object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipart {
    /// The multipart upload of the target.
    pub upload_id: String,
    /// Its parts so far, in order, each [`super::PART_SIZE`] bytes.
    pub parts: Vec<StagedPart>,
    /// The bytes after the last part, when there are any.
    pub tail: Option<Tail>,
    /// The number the next tail object gets.
    pub next_tail: u32,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedPart {
    /// Its part number, from 1.
    pub number: i32,
    /// The ETag S3 gave it.
    pub etag: String,
}

/// A temporary object holding the bytes after the last part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tail {
    /// Its number, in its key `{staging}/tail-{number:010}`.
    pub number: u32,
    /// Its length.
    pub size: u64,
}

/// What one append stored.
#[derive(Debug)]
pub struct Appended {
    /// The record to commit for the bytes now durable.
    pub staged: Staged,
    /// How many bytes of the body were stored.
    pub written: u64,
    /// Why the body ended early (the client went away); what arrived
    /// before is stored.
    pub body_error: Option<io::Error>,
    /// A tail object the new record no longer needs: delete it with
    /// [`Store::delete_superseded`] once the record is committed.
    pub superseded: Option<ObjectKey>,
}

fn wrong_backend() -> StoreError {
    StoreError::Io(io::Error::other(
        "the upload was staged on another storage backend",
    ))
}

impl Store {
    /// Starts staging `object`; the record is what the first append takes.
    pub async fn begin_resumable(&self, object: &ResumableObject) -> Result<Staged, StoreError> {
        match self {
            Store::Fs(store) => fs::begin(store, object).await.map(|()| Staged::Folder),
            Store::S3(store) => s3::begin(store, object).await.map(Staged::S3),
        }
    }

    /// Appends `body` after the first `offset` staged bytes, refusing
    /// (with [`StoreError::TooLarge`]) a body longer than `max` bytes.
    /// A body that breaks off keeps what arrived ([`Appended::body_error`]).
    pub async fn append_resumable(
        &self,
        object: &ResumableObject,
        staged: &Staged,
        offset: u64,
        body: ByteStream,
        max: u64,
    ) -> Result<Appended, StoreError> {
        match (self, staged) {
            (Store::Fs(store), Staged::Folder) => {
                let (written, body_error) = fs::append(store, object, offset, body, max).await?;
                Ok(Appended {
                    staged: Staged::Folder,
                    written,
                    body_error,
                    superseded: None,
                })
            }
            (Store::S3(store), Staged::S3(multipart)) => {
                s3::append(store, object, multipart, body, max).await
            }
            _ => Err(wrong_backend()),
        }
    }

    /// Makes the target the `length` staged bytes, all at once, and drops
    /// the staging area. Succeeds again, without change, once it has.
    pub async fn finish_resumable(
        &self,
        object: &ResumableObject,
        staged: &Staged,
        length: u64,
    ) -> Result<(), StoreError> {
        match self.head(&object.target).await {
            Ok(meta) if meta.size == length => return Ok(()),
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        match (self, staged) {
            (Store::Fs(store), Staged::Folder) => fs::finish(store, object, length).await?,
            (Store::S3(store), Staged::S3(multipart)) => {
                s3::finish(store, object, multipart, length).await?
            }
            _ => return Err(wrong_backend()),
        }
        if let Err(e) = self.delete_prefix(&format!("{}/", object.staging)).await {
            tracing::warn!(staging = %object.staging, error = %e, "could not remove a finished upload's staging area");
        }
        Ok(())
    }

    /// Removes every staged byte of `object` (an S3 multipart upload is aborted).
    pub async fn abort_resumable(
        &self,
        object: &ResumableObject,
        staged: &Staged,
    ) -> Result<(), StoreError> {
        if let (Store::S3(store), Staged::S3(multipart)) = (self, staged) {
            s3::abort(store, object, multipart).await?;
        }
        self.delete_prefix(&format!("{}/", object.staging)).await
    }

    /// Deletes a tail object an append superseded, once its record is committed.
    pub async fn delete_superseded(&self, key: &ObjectKey) {
        if let Err(e) = self.delete_prefix(key.as_str()).await {
            tracing::warn!(%key, error = %e, "could not delete a superseded upload tail");
        }
    }
}
