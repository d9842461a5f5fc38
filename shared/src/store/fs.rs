//! The folder backend: each key is a file below a root directory. Writes go
//! to a temporary file in `{root}/.tmp` and are renamed into place, so a
//! reader never sees a partial object.

use super::{ByteStream, LocalFile, ObjectKey, ObjectMeta, ObjectStore, StoreError};
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Chunk size of streamed reads.
const READ_CHUNK: usize = 64 * 1024;

/// Objects as files under a root folder.
#[derive(Clone, Debug)]
pub struct FsStore {
    root: Arc<PathBuf>,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root.join(".tmp")).await?;
        Ok(Self {
            root: Arc::new(root.to_path_buf()),
        })
    }

    /// The local path of a key. Keys are validated, so this stays below the root.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    fn temp_path(&self) -> PathBuf {
        self.root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub(super) async fn commit(&self, temp: &Path, key: &ObjectKey) -> Result<(), StoreError> {
        let target = self.path_of(key);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).await?;
        }
        fs::rename(temp, &target).await?;
        Ok(())
    }
}

fn not_found(key: &ObjectKey) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::NotFound {
            StoreError::NotFound(key.to_string())
        } else {
            StoreError::Io(e)
        }
    }
}

fn meta_of(md: &std::fs::Metadata) -> ObjectMeta {
    let modified = md.modified().unwrap_or(UNIX_EPOCH);
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    ObjectMeta {
        size: md.len(),
        modified,
        etag: format!("{:x}-{:x}", md.len(), nanos),
    }
}

impl ObjectStore for FsStore {
    async fn put_stream(
        &self,
        key: &ObjectKey,
        mut body: ByteStream,
        limit: Option<u64>,
    ) -> Result<u64, StoreError> {
        let temp = self.temp_path();
        let result = async {
            let mut file = fs::File::create(&temp).await?;
            let mut written: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                written += chunk.len() as u64;
                if let Some(limit) = limit.filter(|&l| written > l) {
                    return Err(StoreError::TooLarge { limit });
                }
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(written)
        }
        .await;
        match result {
            Ok(written) => {
                self.commit(&temp, key).await?;
                Ok(written)
            }
            Err(e) => {
                let _ = fs::remove_file(&temp).await;
                Err(e)
            }
        }
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let temp = self.temp_path();
        if let Err(e) = fs::copy(path, &temp).await {
            let _ = fs::remove_file(&temp).await;
            return Err(e.into());
        }
        self.commit(&temp, key).await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        let temp = self.temp_path();
        if let Err(e) = fs::write(&temp, &bytes).await {
            let _ = fs::remove_file(&temp).await;
            return Err(e.into());
        }
        self.commit(&temp, key).await
    }

    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        fs::read(self.path_of(key))
            .await
            .map(Bytes::from)
            .map_err(not_found(key))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        let md = fs::metadata(self.path_of(key))
            .await
            .map_err(not_found(key))?;
        if !md.is_file() {
            return Err(StoreError::NotFound(key.to_string()));
        }
        Ok(meta_of(&md))
    }

    async fn get_range(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError> {
        let mut file = fs::File::open(self.path_of(key))
            .await
            .map_err(not_found(key))?;
        let md = file.metadata().await?;
        if !md.is_file() {
            return Err(StoreError::NotFound(key.to_string()));
        }
        let meta = meta_of(&md);
        let range = range.unwrap_or(0..meta.size);
        if range.start > range.end || range.end > meta.size {
            return Err(StoreError::BadRange {
                start: range.start,
                end: range.end,
                size: meta.size,
            });
        }
        file.seek(SeekFrom::Start(range.start)).await?;
        let body = ReaderStream::with_capacity(file.take(range.end - range.start), READ_CHUNK);
        Ok((meta, Box::pin(body)))
    }

    fn open_local(&self, key: &ObjectKey) -> Result<Option<LocalFile>, StoreError> {
        let file = std::fs::File::open(self.path_of(key)).map_err(not_found(key))?;
        let md = file.metadata()?;
        if !md.is_file() {
            return Err(StoreError::NotFound(key.to_string()));
        }
        Ok(Some(LocalFile {
            meta: meta_of(&md),
            file,
        }))
    }

    /// A hard link where the file system allows it: an object's file is
    /// never written again once in place (writes rename a new file over the
    /// key), so for a reader the link is as good as a copy, and a
    /// multi-gigabyte master reaches the worker at once. Across file systems,
    /// a copy.
    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let source = self.path_of(key);
        // Writing into an existing file could write into another object it links to.
        match fs::remove_file(path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        if fs::hard_link(&source, path).await.is_ok() {
            return Ok(());
        }
        fs::copy(source, path)
            .await
            .map(drop)
            .map_err(not_found(key))
    }

    /// Moves the folder the prefix names into `.tmp` (one atomic rename)
    /// and removes it there. Removing it in place would race a writer still
    /// adding objects below it (a worker encoding a video being deleted):
    /// a file created after the folder was listed makes its removal fail.
    /// Objects written after the move land in a new folder, as any write
    /// after a delete does.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        // Prefixes used by Goflix end at a segment boundary ("media/{id}/"),
        // so deleting the directory they name deletes exactly their objects.
        let trimmed = prefix.trim_end_matches('/');
        let dir = ObjectKey::new(trimmed).map_err(|e| StoreError::Io(io::Error::other(e)))?;
        let doomed = self.temp_path();
        match fs::rename(self.path_of(&dir), &doomed).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        match fs::remove_dir_all(&doomed).await {
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                fs::remove_file(&doomed).await.map_err(Into::into)
            }
            result => result.map_err(Into::into),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        fs::metadata(self.root.join(".tmp")).await?;
        Ok(())
    }
}
