//! The runner's [`JobStore`]: every storage call of a job goes to the
//! control API (`ReadObject`, `WriteObject`, `DeletePrefix`), which allows
//! it only on the objects of the jobs it assigned to this runner and writes
//! an object only once all of it arrived with the size and SHA-256 sent.
//! The server being unreachable reads as storage being unavailable, so the
//! worker waits it out exactly as it waits out an S3 outage.

use super::channel::Client;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use goflix_runner_proto::{
    write_object_message, DeletePrefixRequest, ObjectChunk, ReadObjectRequest, WriteObjectHeader,
    WriteObjectMessage,
};
use goflix_shared::store::{JobStore, ObjectKey, StoreError};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Code, Status};

/// Bytes per `data` message.
pub const CHUNK: usize = 1 << 20;
/// The largest object [`JobStore::get_bytes`] reads (the playback record is tiny).
const SMALL_OBJECT_LIMIT: usize = 16 << 20;

/// Storage through the control API.
#[derive(Clone)]
pub struct RemoteStore {
    client: Client,
}

impl RemoteStore {
    /// Storage over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The chunks of object `key`, as the server streams them.
    async fn read(&self, key: &ObjectKey) -> Result<tonic::Streaming<ObjectChunk>, StoreError> {
        let request = ReadObjectRequest {
            key: key.as_str().to_owned(),
        };
        Ok(self
            .client
            .clone()
            .read_object(request)
            .await
            .map_err(|status| store_error(status, key))?
            .into_inner())
    }

    /// Sends `header`, then `chunks`, then the digest of what was sent.
    async fn write(
        &self,
        key: &ObjectKey,
        size: u64,
        chunks: impl futures_util::Stream<Item = Bytes> + Send + 'static,
    ) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        let header = message(write_object_message::Message::Header(WriteObjectHeader {
            key: key.as_str().to_owned(),
            size,
        }));
        let digest = Arc::new(Mutex::new(Sha256::new()));
        let hashing = digest.clone();
        let data = chunks.map(move |chunk| {
            hashing.lock().expect("digest lock").update(&chunk);
            message(write_object_message::Message::Data(chunk.to_vec()))
        });
        let trailer = futures_util::stream::once(async move {
            let sha256 = hex::encode(digest.lock().expect("digest lock").clone().finalize());
            message(write_object_message::Message::Sha256(sha256))
        });
        let body = futures_util::stream::iter([header])
            .chain(data)
            .chain(trailer);
        self.client
            .clone()
            .write_object(body)
            .await
            .map_err(|status| store_error(status, key))?;
        Ok(())
    }
}

fn message(message: write_object_message::Message) -> WriteObjectMessage {
    WriteObjectMessage {
        message: Some(message),
    }
}

/// The storage error a call's status means.
fn store_error(status: Status, key: &ObjectKey) -> StoreError {
    match status.code() {
        Code::NotFound => StoreError::NotFound(key.as_str().to_owned()),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => {
            StoreError::Unavailable(format!("control API: {}", status.message()))
        }
        code => StoreError::Io(std::io::Error::other(format!(
            "control API refused {}: {code}: {}",
            key.as_str(),
            status.message()
        ))),
    }
}

/// A file's chunks as a stream; a read error ends it early, which the
/// server sees as a short file and refuses.
fn file_chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = Bytes> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = BytesMut::zeroed(CHUNK);
        let mut filled = 0;
        while filled < CHUNK {
            match file.read(&mut buffer[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    tracing::warn!(error = %e, "reading an output to send it");
                    return None;
                }
            }
        }
        if filled == 0 {
            return None;
        }
        buffer.truncate(filled);
        Some((buffer.freeze(), Some(file)))
    })
}

#[async_trait]
impl JobStore for RemoteStore {
    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let mut chunks = self.read(key).await?;
        let partial = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await?;
        while let Some(chunk) = chunks
            .message()
            .await
            .map_err(|status| store_error(status, key))?
        {
            file.write_all(&chunk.data).await?;
        }
        file.flush().await?;
        drop(file);
        tokio::fs::rename(&partial, path).await?;
        Ok(())
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        self.write(key, size, file_chunks(file)).await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        let size = bytes.len() as u64;
        let chunks: Vec<Bytes> = (0..bytes.len())
            .step_by(CHUNK)
            .map(|start| bytes.slice(start..bytes.len().min(start + CHUNK)))
            .collect();
        self.write(key, size, futures_util::stream::iter(chunks))
            .await
    }

    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let mut chunks = self.read(key).await?;
        let mut bytes = BytesMut::new();
        while let Some(chunk) = chunks
            .message()
            .await
            .map_err(|status| store_error(status, key))?
        {
            if bytes.len() + chunk.data.len() > SMALL_OBJECT_LIMIT {
                return Err(StoreError::TooLarge {
                    limit: SMALL_OBJECT_LIMIT as u64,
                });
            }
            bytes.extend_from_slice(&chunk.data);
        }
        Ok(bytes.freeze())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let request = DeletePrefixRequest {
            prefix: prefix.to_owned(),
        };
        self.client
            .clone()
            .delete_prefix(request)
            .await
            .map_err(|status| match status.code() {
                Code::Unavailable => {
                    StoreError::Unavailable(format!("control API: {}", status.message()))
                }
                code => StoreError::Io(std::io::Error::other(format!(
                    "control API refused deleting {prefix}: {code}: {}",
                    status.message()
                ))),
            })?;
        Ok(())
    }
}
