//! The S3 backend (aws-sdk-s3): any S3-compatible store, path-style or
//! virtual-host addressing, all keys under an optional prefix.
//!
//! - Large writes go up as multipart uploads of [`PART_SIZE`] parts, one part
//!   uploading while the next is read, so memory stays at two parts whatever
//!   the object's size. A failed, over-limit or dropped upload is aborted, so
//!   nothing is left behind and readers never see a partial object.
//! - Reads are ranged `GetObject`s whose body is streamed through as it
//!   arrives.
//! - A 404 is [`StoreError::NotFound`]; timeouts, connection failures,
//!   throttling and 5xx are [`StoreError::Unavailable`] (the origin answers
//!   503 with `Retry-After`); anything else (403, a missing bucket) is a
//!   configuration problem reported as [`StoreError::Io`].
//!
//! Credentials come from `AWS_ACCESS_KEY_ID_FILE` and
//! `AWS_SECRET_ACCESS_KEY_FILE` (and `AWS_SESSION_TOKEN_FILE`) when set, as
//! mounted Kubernetes secrets are, otherwise from the usual AWS chain
//! (environment, profile, web identity, container and instance metadata).

use super::{ByteStream, LocalFile, ObjectKey, ObjectMeta, ObjectStore, StoreError};
use crate::config::redact_url;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt};
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// Size of one multipart part (S3 wants at least 5 MiB for all but the last).
pub const PART_SIZE: usize = 8 << 20;

/// S3 allows at most this many parts, so objects up to 80 GB at [`PART_SIZE`].
const MAX_PARTS: i32 = 10_000;

/// How long to wait for a TCP (and TLS) connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a read from an open connection may stall.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Chunk size when a local file is streamed up.
const FILE_CHUNK: usize = 256 * 1024;

/// Region used when neither the URL nor the AWS chain names one.
const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to reach a bucket: parsed from a `GOFLIX_STORAGE` URL
/// `s3://bucket?endpoint=…&region=…&path_style=true&prefix=…`. Prints
/// without the endpoint's password or the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// Prefix of every key (empty, or ending in `/`), e.g. to share a bucket.
    pub prefix: String,
    /// Endpoint of an S3-compatible store; AWS's when `None`.
    pub endpoint: Option<String>,
    /// Region; from the AWS chain (`AWS_REGION`, profile) when `None`, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual hosts.
    pub path_style: bool,
    /// Static credentials; `None` reads the `*_FILE` variables or the AWS chain.
    pub credentials: Option<StaticCredentials>,
}

/// An access key pair given in code (tests) instead of the AWS chain.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint.as_deref().map(redact_url))
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn invalid_url(message: String) -> StoreError {
    StoreError::Io(io::Error::new(io::ErrorKind::InvalidInput, message))
}

impl S3Options {
    /// Parses `s3://bucket?endpoint=…&region=…&path_style=true&prefix=…`;
    /// every query parameter is optional, unknown ones are refused.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let parsed =
            url::Url::parse(url).map_err(|e| invalid_url(format!("storage URL {url:?}: {e}")))?;
        if parsed.scheme() != "s3" {
            return Err(invalid_url(format!("storage URL {url:?} is not s3://")));
        }
        let bucket = parsed.host_str().unwrap_or_default().to_string();
        if bucket.is_empty() || !matches!(parsed.path(), "" | "/") {
            return Err(invalid_url(format!(
                "storage URL {url:?}: expected s3://bucket?options, with no path"
            )));
        }
        let mut options = Self {
            bucket,
            prefix: String::new(),
            endpoint: None,
            region: None,
            path_style: false,
            credentials: None,
        };
        for (name, value) in parsed.query_pairs() {
            match &*name {
                "endpoint" => options.endpoint = Some(value.into_owned()),
                "region" => options.region = Some(value.into_owned()),
                "path_style" => {
                    options.path_style = match &*value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(invalid_url(format!(
                                "storage URL: path_style={other:?} is not true or false"
                            )))
                        }
                    }
                }
                "prefix" => options.prefix = normalize_prefix(&value)?,
                other => {
                    return Err(invalid_url(format!(
                        "storage URL: unknown option {other:?} \
                         (known: endpoint, region, path_style, prefix)"
                    )))
                }
            }
        }
        Ok(options)
    }

    /// These options with a fixed key pair instead of the AWS chain.
    pub fn with_credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.credentials = Some(StaticCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        });
        self
    }

    /// These options with every key under `prefix` (a valid key, `/` added).
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self, StoreError> {
        self.prefix = normalize_prefix(prefix)?;
        Ok(self)
    }
}

fn normalize_prefix(prefix: &str) -> Result<String, StoreError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    ObjectKey::new(trimmed).map_err(|e| invalid_url(format!("storage prefix: {e}")))?;
    Ok(format!("{trimmed}/"))
}

/// Reads `NAME_FILE` when set: the trimmed contents of that file.
fn secret_file(name: &str) -> Result<Option<String>, StoreError> {
    let var = format!("{name}_FILE");
    match std::env::var_os(&var) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| {
                invalid_url(format!(
                    "{var}: cannot read {}: {e}",
                    Path::new(&path).display()
                ))
            }),
    }
}

/// Objects in one S3 bucket, under one prefix.
#[derive(Clone, Debug)]
pub struct S3Store {
    pub(super) client: Client,
    pub(super) bucket: Arc<str>,
    prefix: Arc<str>,
}

impl S3Store {
    /// Builds a client for `options`. Nothing is contacted yet: see [`ObjectStore::check`].
    pub async fn open(options: S3Options) -> Result<Self, StoreError> {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .retry_config(RetryConfig::standard())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            );
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let credentials = match options.credentials {
            Some(c) => Some((c.access_key_id, c.secret_access_key, None)),
            None => match (
                secret_file("AWS_ACCESS_KEY_ID")?,
                secret_file("AWS_SECRET_ACCESS_KEY")?,
            ) {
                (Some(id), Some(secret)) => Some((id, secret, secret_file("AWS_SESSION_TOKEN")?)),
                (None, None) => None,
                _ => return Err(invalid_url(
                    "set both AWS_ACCESS_KEY_ID_FILE and AWS_SECRET_ACCESS_KEY_FILE, or neither"
                        .into(),
                )),
            },
        };
        if let Some((id, secret, token)) = credentials {
            loader =
                loader.credentials_provider(Credentials::new(id, secret, token, None, "goflix"));
        }
        let sdk_config = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(options.path_style)
            // S3-compatible stores differ in their support of the newer
            // checksum headers and trailers; send them only where required.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk_config.region().is_none() {
            config = config.region(Region::from_static(DEFAULT_REGION));
        }
        if let Some(endpoint) = &options.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: options.bucket.into(),
            prefix: options.prefix.into(),
        })
    }

    pub(super) fn full_key(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.prefix, key)
    }

    async fn get_object(
        &self,
        key: &ObjectKey,
        range: Option<&Range<u64>>,
    ) -> Result<GetObjectOutput, SdkError<aws_sdk_s3::operation::get_object::GetObjectError>> {
        self.client
            .get_object()
            .bucket(&*self.bucket)
            .key(self.full_key(key))
            .set_range(range.map(|r| format!("bytes={}-{}", r.start, r.end - 1)))
            .send()
            .await
    }

    pub(super) async fn put_object(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&*self.bucket)
            .key(key)
            .body(S3Body::from(body))
            .send()
            .await
            .map_err(|e| map_error(e, key))?;
        Ok(())
    }

    /// Writes a stream of more than one part as a multipart upload.
    async fn put_multipart(
        &self,
        key: &str,
        first: Bytes,
        parts: &mut PartReader,
    ) -> Result<(), StoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&*self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_error(e, key))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StoreError::Io(io::Error::other("multipart upload without an id")))?;
        let upload = Upload {
            store: self,
            key,
            id: upload_id.to_string(),
            finished: false,
        };
        let result = upload.send_parts(first, parts).await;
        match result {
            Ok(done) => upload.complete(done).await,
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        }
    }

    async fn meta_of_head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        let full = self.full_key(key);
        let head = self
            .client
            .head_object()
            .bucket(&*self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| map_error(e, key.as_str()))?;
        Ok(meta(
            head.content_length(),
            head.last_modified(),
            head.e_tag(),
        ))
    }
}

/// One multipart upload in flight; aborted when dropped unfinished (a
/// cancelled request), so no parts are left behind.
struct Upload<'a> {
    store: &'a S3Store,
    key: &'a str,
    id: String,
    finished: bool,
}

impl Upload<'_> {
    /// Uploads `first` and every further part, each while reading the next.
    async fn send_parts(
        &self,
        first: Bytes,
        parts: &mut PartReader,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut done = Vec::new();
        let mut part = first;
        let mut number = 1;
        loop {
            if part.len() < PART_SIZE {
                done.push(self.part(number, part).await?);
                return Ok(done);
            }
            let (uploaded, next) = tokio::try_join!(self.part(number, part), parts.next())?;
            done.push(uploaded);
            if next.is_empty() {
                return Ok(done);
            }
            number += 1;
            if number > MAX_PARTS {
                return Err(StoreError::Io(io::Error::other(format!(
                    "object larger than {MAX_PARTS} parts of {PART_SIZE} bytes"
                ))));
            }
            part = next;
        }
    }

    async fn part(&self, number: i32, body: Bytes) -> Result<CompletedPart, StoreError> {
        let output = self
            .store
            .client
            .upload_part()
            .bucket(&*self.store.bucket)
            .key(self.key)
            .upload_id(&self.id)
            .part_number(number)
            .body(S3Body::from(body))
            .send()
            .await
            .map_err(|e| map_error(e, self.key))?;
        Ok(CompletedPart::builder()
            .set_e_tag(output.e_tag().map(str::to_string))
            .part_number(number)
            .build())
    }

    async fn complete(mut self, parts: Vec<CompletedPart>) -> Result<(), StoreError> {
        let result = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&*self.store.bucket)
            .key(self.key)
            .upload_id(&self.id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => {
                self.finished = true;
                Ok(())
            }
            Err(e) => {
                let error = map_error(e, self.key);
                self.abort().await;
                Err(error)
            }
        }
    }

    async fn abort(mut self) {
        self.finished = true;
        if let Err(e) =
            abort_request(&self.store.client, &self.store.bucket, self.key, &self.id).await
        {
            tracing::warn!(key = self.key, error = %DisplayErrorContext(&e), "could not abort a multipart upload");
        }
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.store.client.clone();
            let bucket = self.store.bucket.clone();
            let key = self.key.to_string();
            let id = std::mem::take(&mut self.id);
            runtime.spawn(async move {
                if let Err(e) = abort_request(&client, &bucket, &key, &id).await {
                    tracing::warn!(key, error = %DisplayErrorContext(&e), "could not abort a cancelled multipart upload");
                }
            });
        }
    }
}

pub(super) async fn abort_request(
    client: &Client,
    bucket: &str,
    key: &str,
    id: &str,
) -> Result<(), SdkError<aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError>>
{
    client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .send()
        .await
        .map(drop)
}

/// Cuts a body stream into parts of [`PART_SIZE`], enforcing the size limit.
struct PartReader {
    body: ByteStream,
    /// Bytes of the last chunk that did not fit into the previous part.
    carry: Bytes,
    written: u64,
    limit: Option<u64>,
}

impl PartReader {
    /// The next part: [`PART_SIZE`] bytes, or fewer (maybe none) at the end.
    async fn next(&mut self) -> Result<Bytes, StoreError> {
        let mut part = BytesMut::with_capacity(PART_SIZE.min(self.carry.len().max(64 * 1024)));
        loop {
            if !self.carry.is_empty() {
                let take = self.carry.len().min(PART_SIZE - part.len());
                part.extend_from_slice(&self.carry.split_to(take));
                if part.len() == PART_SIZE {
                    return Ok(part.freeze());
                }
            }
            match self.body.next().await {
                None => return Ok(part.freeze()),
                Some(chunk) => {
                    let chunk = chunk?;
                    self.written += chunk.len() as u64;
                    if let Some(limit) = self.limit.filter(|&l| self.written > l) {
                        return Err(StoreError::TooLarge { limit });
                    }
                    self.carry = chunk;
                }
            }
        }
    }
}

/// The [`ObjectMeta`] of S3's headers.
fn meta(
    length: Option<i64>,
    modified: Option<&aws_sdk_s3::primitives::DateTime>,
    etag: Option<&str>,
) -> ObjectMeta {
    ObjectMeta {
        size: length.and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
        modified: modified
            .and_then(|m| SystemTime::try_from(*m).ok())
            .unwrap_or(UNIX_EPOCH),
        etag: etag.unwrap_or_default().trim_matches('"').to_string(),
    }
}

/// Maps an SDK failure on `key` to the store's errors (see the module docs).
pub(super) fn map_error<E>(error: SdkError<E>, key: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    let code = error.code().map(str::to_string);
    let detail = DisplayErrorContext(&error).to_string();
    match error {
        SdkError::ServiceError(_) => match (status, code.as_deref()) {
            (_, Some("NoSuchBucket")) => {
                StoreError::Io(io::Error::other(format!("bucket missing: {detail}")))
            }
            (Some(404), _) | (_, Some("NoSuchKey" | "NotFound")) => {
                StoreError::NotFound(key.to_string())
            }
            (Some(s), _) if s >= 500 || s == 408 || s == 429 => StoreError::Unavailable(detail),
            (_, Some("SlowDown" | "RequestTimeout")) => StoreError::Unavailable(detail),
            _ => StoreError::Io(io::Error::other(detail)),
        },
        SdkError::ConstructionFailure(_) => StoreError::Io(io::Error::other(detail)),
        // Timeouts, refused or reset connections, and responses that broke off.
        _ => StoreError::Unavailable(detail),
    }
}

/// The total size in a `Content-Range: bytes a-b/total` header.
fn total_of(content_range: &str) -> Option<u64> {
    content_range.rsplit_once('/')?.1.trim().parse().ok()
}

fn body_stream(body: S3Body) -> ByteStream {
    Box::pin(stream::unfold(body, |mut body| async move {
        body.next()
            .await
            .map(|chunk| (chunk.map_err(io::Error::from), body))
    }))
}

impl ObjectStore for S3Store {
    async fn put_stream(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        limit: Option<u64>,
    ) -> Result<u64, StoreError> {
        let full = self.full_key(key);
        let mut parts = PartReader {
            body,
            carry: Bytes::new(),
            written: 0,
            limit,
        };
        let first = parts.next().await?;
        if first.len() < PART_SIZE {
            self.put_object(&full, first).await?;
        } else {
            self.put_multipart(&full, first, &mut parts).await?;
        }
        Ok(parts.written)
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let file = tokio::fs::File::open(path).await?;
        let body = ReaderStream::with_capacity(file, FILE_CHUNK);
        self.put_stream(key, Box::pin(body), None).await.map(drop)
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes) -> Result<(), StoreError> {
        self.put_object(&self.full_key(key), bytes).await
    }

    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let output = self
            .get_object(key, None)
            .await
            .map_err(|e| map_error(e, key.as_str()))?;
        let body = output.body.collect().await.map_err(|e| {
            StoreError::Unavailable(format!("reading {key}: {}", DisplayErrorContext(&e)))
        })?;
        Ok(body.into_bytes())
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        self.meta_of_head(key).await
    }

    async fn get_range(
        &self,
        key: &ObjectKey,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError> {
        let bad_range = |r: &Range<u64>, size| StoreError::BadRange {
            start: r.start,
            end: r.end,
            size,
        };
        if let Some(r) = range.as_ref().filter(|r| r.start >= r.end) {
            // An empty (or inverted) range cannot be asked of S3.
            let meta = self.meta_of_head(key).await?;
            if r.start > r.end || r.end > meta.size {
                return Err(bad_range(r, meta.size));
            }
            return Ok((meta, Box::pin(stream::empty())));
        }
        let output = match self.get_object(key, range.as_ref()).await {
            Ok(output) => output,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                let size = self.meta_of_head(key).await?.size;
                let r = range.unwrap_or(0..0);
                return Err(bad_range(&r, size));
            }
            Err(e) => return Err(map_error(e, key.as_str())),
        };
        let size = match (output.content_range(), &range) {
            (Some(content_range), _) => total_of(content_range).ok_or_else(|| {
                StoreError::Io(io::Error::other(format!(
                    "malformed Content-Range {content_range:?}"
                )))
            })?,
            (None, None) => output
                .content_length()
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
            (None, Some(_)) => {
                return Err(StoreError::Io(io::Error::other(
                    "the S3 server ignored a Range request",
                )))
            }
        };
        if let Some(r) = range.as_ref().filter(|r| r.end > size) {
            return Err(bad_range(r, size));
        }
        let meta = ObjectMeta {
            size,
            ..meta(None, output.last_modified(), output.e_tag())
        };
        Ok((meta, body_stream(output.body)))
    }

    fn open_local(&self, _key: &ObjectKey) -> Result<Option<LocalFile>, StoreError> {
        Ok(None)
    }

    async fn download_to(&self, key: &ObjectKey, path: &Path) -> Result<(), StoreError> {
        let output = self
            .get_object(key, None)
            .await
            .map_err(|e| map_error(e, key.as_str()))?;
        let result = async {
            let mut file = tokio::fs::File::create(path).await?;
            let mut body = output.body.into_async_read();
            tokio::io::copy_buf(&mut body, &mut file).await?;
            file.flush().await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(path).await;
        }
        result
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let full = format!("{}{prefix}", self.prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&*self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_error(e, &full))?;
            // A page holds at most 1,000 keys, as much as one DeleteObjects takes.
            let objects = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Io(io::Error::other(e)))?;
            if objects.is_empty() {
                continue;
            }
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::Io(io::Error::other(e)))?;
            let output = self
                .client
                .delete_objects()
                .bucket(&*self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| map_error(e, &full))?;
            if let Some(failed) = output.errors().first() {
                return Err(StoreError::Unavailable(format!(
                    "deleting {}: {} {}",
                    failed.key().unwrap_or_default(),
                    failed.code().unwrap_or_default(),
                    failed.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&*self.bucket)
            .send()
            .await
            .map_err(|e| map_error(e, &self.bucket))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_bucket_endpoint_region_addressing_and_prefix() {
        let options = S3Options::from_url(
            "s3://media?endpoint=http://127.0.0.1:9000&region=eu-west-1&path_style=true&prefix=/a/b/",
        )
        .unwrap();
        assert_eq!(
            options,
            S3Options {
                bucket: "media".into(),
                prefix: "a/b/".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
                path_style: true,
                credentials: None,
            }
        );
        let plain = S3Options::from_url("s3://my.bucket").unwrap();
        assert_eq!(plain.bucket, "my.bucket");
        assert!(!plain.path_style && plain.prefix.is_empty() && plain.endpoint.is_none());
        let encoded = S3Options::from_url("s3://b?endpoint=https%3A%2F%2Fs3.example").unwrap();
        assert_eq!(encoded.endpoint.as_deref(), Some("https://s3.example"));
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "s3://",
            "s3://b/path",
            "s3://b?path_style=maybe",
            "s3://b?bucket=x",
            "s3://b?prefix=../up",
            "file:///tmp",
        ] {
            assert!(S3Options::from_url(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn credentials_never_print() {
        let options = S3Options::from_url("s3://b")
            .unwrap()
            .with_credentials("AKID", "hunter2");
        assert!(!format!("{options:?}").contains("hunter2"));
    }

    #[test]
    fn content_ranges_give_the_total() {
        assert_eq!(total_of("bytes 5-10/11"), Some(11));
        assert_eq!(total_of("bytes 0-0/*"), None);
    }
}
