//! Resumable objects on S3: a multipart upload of the target, the bytes
//! below the part minimum in a tail object. See the parent module for the
//! guarantees.

use super::{Appended, Multipart, ResumableObject, Staged, StagedPart, Tail};
use crate::store::s3::{abort_request, map_error};
use crate::store::{ByteStream, ObjectStore, S3Store, StoreError, PART_SIZE};
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::io;
use tokio::task::JoinHandle;

pub(super) async fn begin(
    store: &S3Store,
    object: &ResumableObject,
) -> Result<Multipart, StoreError> {
    let key = store.full_key(&object.target);
    let created = store
        .client
        .create_multipart_upload()
        .bucket(&*store.bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| map_error(e, &key))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| StoreError::Io(io::Error::other("multipart upload without an id")))?;
    Ok(Multipart {
        upload_id: upload_id.to_owned(),
        parts: Vec::new(),
        tail: None,
        next_tail: 0,
    })
}

/// Uploads one part on its own task, so the body is read meanwhile.
fn spawn_part(
    store: &S3Store,
    object: &ResumableObject,
    upload_id: &str,
    number: i32,
    body: Bytes,
) -> JoinHandle<Result<StagedPart, StoreError>> {
    let (client, bucket) = (store.client.clone(), store.bucket.clone());
    let key = store.full_key(&object.target);
    let upload_id = upload_id.to_owned();
    tokio::spawn(async move {
        let output = client
            .upload_part()
            .bucket(&*bucket)
            .key(&key)
            .upload_id(upload_id)
            .part_number(number)
            .body(S3Body::from(body))
            .send()
            .await
            .map_err(|e| map_error(e, &key))?;
        Ok(StagedPart {
            number,
            etag: output.e_tag().unwrap_or_default().to_owned(),
        })
    })
}

async fn joined(
    part: JoinHandle<Result<StagedPart, StoreError>>,
) -> Result<StagedPart, StoreError> {
    part.await
        .map_err(|e| StoreError::Io(io::Error::other(format!("part upload task: {e}"))))?
}

/// The committed tail's bytes, checked against its recorded size.
async fn read_tail(
    store: &S3Store,
    object: &ResumableObject,
    tail: Tail,
) -> Result<Bytes, StoreError> {
    let bytes = store.get_bytes(&object.tail(tail.number)).await?;
    if bytes.len() as u64 != tail.size {
        return Err(StoreError::Io(io::Error::other(format!(
            "the tail of {} holds {} bytes, {} were recorded",
            object.target,
            bytes.len(),
            tail.size
        ))));
    }
    Ok(bytes)
}

pub(super) async fn append(
    store: &S3Store,
    object: &ResumableObject,
    staged: &Multipart,
    mut body: ByteStream,
    max: u64,
) -> Result<Appended, StoreError> {
    // Each part fills a buffer of its own, allocated at its full size: a
    // part uploading never keeps a grown, shared allocation alive.
    let mut buffer = BytesMut::with_capacity(PART_SIZE);
    if let Some(tail) = staged.tail {
        buffer.extend_from_slice(&read_tail(store, object, tail).await?);
    }
    let mut parts = staged.parts.clone();
    let mut in_flight = None;
    let mut written: u64 = 0;
    let mut body_error = None;
    while let Some(chunk) = body.next().await {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                body_error = Some(e);
                break;
            }
        };
        if written + chunk.len() as u64 > max {
            return Err(StoreError::TooLarge { limit: max });
        }
        written += chunk.len() as u64;
        while !chunk.is_empty() {
            let take = chunk.len().min(PART_SIZE - buffer.len());
            buffer.extend_from_slice(&chunk.split_to(take));
            if buffer.len() < PART_SIZE {
                continue;
            }
            let part = std::mem::replace(&mut buffer, BytesMut::with_capacity(PART_SIZE)).freeze();
            if let Some(previous) = in_flight.take() {
                parts.push(joined(previous).await?);
            }
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            in_flight = Some(spawn_part(store, object, &staged.upload_id, number, part));
        }
    }
    if let Some(last) = in_flight.take() {
        parts.push(joined(last).await?);
    }
    let mut next_tail = staged.next_tail;
    let tail = if buffer.is_empty() {
        None
    } else {
        let tail = Tail {
            number: next_tail,
            size: buffer.len() as u64,
        };
        next_tail += 1;
        store
            .put_bytes(&object.tail(tail.number), buffer.freeze())
            .await?;
        Some(tail)
    };
    let superseded = staged
        .tail
        .filter(|old| Some(old.number) != tail.map(|t| t.number))
        .map(|old| object.tail(old.number));
    Ok(Appended {
        staged: Staged::S3(Multipart {
            upload_id: staged.upload_id.clone(),
            parts,
            tail,
            next_tail,
        }),
        written,
        body_error,
        superseded,
    })
}

pub(super) async fn finish(
    store: &S3Store,
    object: &ResumableObject,
    staged: &Multipart,
    length: u64,
) -> Result<(), StoreError> {
    let tail_size = staged.tail.map_or(0, |t| t.size);
    let staged_bytes = staged.parts.len() as u64 * PART_SIZE as u64 + tail_size;
    if staged_bytes != length {
        return Err(StoreError::Io(io::Error::other(format!(
            "{} has {staged_bytes} bytes staged, {length} were expected",
            object.target
        ))));
    }
    let mut parts = staged.parts.clone();
    if let Some(tail) = staged.tail {
        let bytes = read_tail(store, object, tail).await?;
        let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
        parts.push(joined(spawn_part(store, object, &staged.upload_id, number, bytes)).await?);
    }
    let key = store.full_key(&object.target);
    if parts.is_empty() {
        // S3 cannot complete a multipart upload without parts.
        store.put_object(&key, Bytes::new()).await?;
        return abort(store, object, staged).await;
    }
    let completed = parts
        .into_iter()
        .map(|part| {
            CompletedPart::builder()
                .part_number(part.number)
                .e_tag(part.etag)
                .build()
        })
        .collect();
    store
        .client
        .complete_multipart_upload()
        .bucket(&*store.bucket)
        .key(&key)
        .upload_id(&staged.upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .map_err(|e| map_error(e, &key))?;
    Ok(())
}

pub(super) async fn abort(
    store: &S3Store,
    object: &ResumableObject,
    staged: &Multipart,
) -> Result<(), StoreError> {
    let key = store.full_key(&object.target);
    match abort_request(&store.client, &store.bucket, &key, &staged.upload_id).await {
        Ok(()) => Ok(()),
        // Aborted or completed already.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(()),
        Err(e) => Err(map_error(e, &key)),
    }
}
