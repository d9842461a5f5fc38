//! Resumable objects on the folder backend: one staging file per object,
//! appended in place. See the parent module for the guarantees.

use super::ResumableObject;
use crate::store::{ByteStream, FsStore, StoreError};
use futures_util::StreamExt;
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use tokio::fs;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

/// Bytes gathered before each write to the staging file.
const WRITE_BUFFER: usize = 1 << 20;

fn data_path(store: &FsStore, object: &ResumableObject) -> PathBuf {
    store.path_of(&object.folder_data())
}

pub(super) async fn begin(store: &FsStore, object: &ResumableObject) -> Result<(), StoreError> {
    let path = data_path(store, object);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).await?;
    }
    fs::File::create(&path).await?.sync_all().await?;
    Ok(())
}

/// Opens the staging file for writing, checking it holds `at_least` bytes.
async fn open_staged(
    store: &FsStore,
    object: &ResumableObject,
    at_least: u64,
) -> Result<fs::File, StoreError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(data_path(store, object))
        .await
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(object.folder_data().to_string()),
            _ => e.into(),
        })?;
    let held = file.metadata().await?.len();
    if held < at_least {
        return Err(StoreError::Io(io::Error::other(format!(
            "the staging file of {} holds {held} bytes, {at_least} were recorded",
            object.target
        ))));
    }
    Ok(file)
}

pub(super) async fn append(
    store: &FsStore,
    object: &ResumableObject,
    offset: u64,
    mut body: ByteStream,
    max: u64,
) -> Result<(u64, Option<io::Error>), StoreError> {
    let mut file = open_staged(store, object, offset).await?;
    // Bytes past the offset belong to an append that was never committed.
    file.set_len(offset).await?;
    file.seek(SeekFrom::Start(offset)).await?;
    let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut written: u64 = 0;
    let mut body_error = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                body_error = Some(e);
                break;
            }
        };
        if written + chunk.len() as u64 > max {
            return Err(StoreError::TooLarge { limit: max });
        }
        file.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    file.flush().await?;
    file.get_mut().sync_data().await?;
    Ok((written, body_error))
}

pub(super) async fn finish(
    store: &FsStore,
    object: &ResumableObject,
    length: u64,
) -> Result<(), StoreError> {
    let file = open_staged(store, object, length).await?;
    file.set_len(length).await?;
    file.sync_all().await?;
    drop(file);
    store
        .commit(&data_path(store, object), &object.target)
        .await
}
