//! Manifests and playback records through the [`ManifestCache`]: the
//! playback record under a short max-age (it moves when a video is
//! re-transcoded or its visibility changes), versioned manifests, their
//! filtered variants (keyed by the kept variant set, see
//! [`crate::modifiers`]) and their brotli and gzip variants without one
//! (their keys never change content).
//!
//! A cached manifest carries a small header (modification time and content
//! hash) in front of its bytes, so a cache hit needs no storage call to
//! answer with `ETag` and `Last-Modified`.

use crate::encoding::Coding;
use crate::error::OriginError;
use crate::modifiers::Plan;
use bytes::{BufMut, Bytes, BytesMut};
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::StreamExt;
use goflix_shared::cache::ManifestCache;
use goflix_shared::domain::{PlaybackRecord, VideoId};
use goflix_shared::layout;
use goflix_shared::store::{ObjectKey, ObjectStore, Store, StoreError};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long after a playback record is written the origin may still serve
/// the previous one (the record moves when a video is re-published or its
/// visibility changes). A video made private must be refused within 2 s
/// whatever the caches hold; this leaves a margin for the storage read.
pub const RECORD_MAX_AGE: Duration = Duration::from_millis(1500);

/// Largest manifest or playback record read; anything bigger is a broken publication.
const MAX_MANIFEST_BYTES: u64 = 8 << 20;

/// Suffix of the cache key of a manifest's gzip variant.
const GZIP_SUFFIX: &str = "#gzip";

/// Suffix of the cache key of a manifest's brotli variant.
const BROTLI_SUFFIX: &str = "#br";

/// Brotli window: 2^22 bytes, more than any manifest.
const BROTLI_WINDOW: u32 = 22;

/// Bytes of the header in front of a cached manifest: seconds, nanoseconds, hash.
const HEADER_LEN: usize = 8 + 4 + 8;

/// A manifest's bytes and validators.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// When the stored object was last modified.
    pub modified: SystemTime,
    /// [`content_hash`] of the identity (uncompressed) bytes.
    pub hash: u64,
    /// The bytes (identity, or gzip for a gzip variant).
    pub body: Bytes,
}

impl Manifest {
    /// A manifest holding `body` with a freshly computed hash.
    pub fn new(modified: SystemTime, body: Bytes) -> Self {
        Self {
            modified,
            hash: content_hash(&body),
            body,
        }
    }

    fn encode(&self) -> Bytes {
        let since = self
            .modified
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let mut out = BytesMut::with_capacity(HEADER_LEN + self.body.len());
        out.put_u64(since.as_secs());
        out.put_u32(since.subsec_nanos());
        out.put_u64(self.hash);
        out.put_slice(&self.body);
        out.freeze()
    }

    fn decode(mut entry: Bytes) -> Result<Self, OriginError> {
        if entry.len() < HEADER_LEN {
            return Err(OriginError::BadPublication(
                "truncated manifest cache entry".into(),
            ));
        }
        let header = entry.split_to(HEADER_LEN);
        let secs = u64::from_be_bytes(header[0..8].try_into().unwrap_or_default());
        let nanos = u32::from_be_bytes(header[8..12].try_into().unwrap_or_default());
        let hash = u64::from_be_bytes(header[12..20].try_into().unwrap_or_default());
        Ok(Self {
            modified: UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999)),
            hash,
            body: entry,
        })
    }
}

/// The published playback record of `video`, read from storage at most
/// `max_age` ago; `NotFound` when it has none.
pub async fn playback_record(
    cache: &dyn ManifestCache,
    store: &Store,
    video: VideoId,
    max_age: Duration,
) -> Result<PlaybackRecord, OriginError> {
    let key = layout::playback_record(video);
    let bytes = cache
        .get_or_fill(
            key.as_str(),
            Some(max_age),
            Box::pin(read_limited(store, &key)),
        )
        .await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OriginError::BadPublication(format!("playback record of {video}: {e}")))
}

/// The manifest stored under `key` (identity encoding).
pub async fn load(
    cache: &dyn ManifestCache,
    store: &Store,
    key: &ObjectKey,
) -> Result<Manifest, OriginError> {
    let fill = async {
        let (modified, body) = read_with_time(store, key).await?;
        Ok(Manifest::new(modified, body).encode())
    };
    Manifest::decode(
        cache
            .get_or_fill(key.as_str(), None, Box::pin(fill))
            .await?,
    )
}

/// The manifest under `key` read from the store now, past every cache: a
/// live playlist changes with every segment.
pub async fn load_uncached(store: &Store, key: &ObjectKey) -> Result<Manifest, OriginError> {
    let (modified, body) = read_with_time(store, key).await?;
    Ok(Manifest::new(modified, body))
}

/// The variant that `plan` filters `text` to, where `text` is the
/// manifest stored under `key` and last modified at `modified`; cached
/// under `key` plus the kept variant set. Returns it and its cache key.
pub async fn load_filtered(
    cache: &dyn ManifestCache,
    key: &ObjectKey,
    modified: SystemTime,
    text: &str,
    plan: &Plan,
) -> Result<(Manifest, String), OriginError> {
    let cache_key = format!("{key}{}", plan.key_suffix());
    let fill = async { Ok(Manifest::new(modified, plan.apply(text).into()).encode()) };
    let manifest = Manifest::decode(cache.get_or_fill(&cache_key, None, Box::pin(fill)).await?)?;
    Ok((manifest, cache_key))
}

/// The `coding` variant of the (identity) manifest `identity` cached under
/// `cache_key`, compressed once with [`Effort::Once`].
pub async fn load_encoded(
    cache: &dyn ManifestCache,
    cache_key: &str,
    identity: &Manifest,
    coding: Coding,
) -> Result<Manifest, OriginError> {
    let suffix = match coding {
        Coding::Brotli => BROTLI_SUFFIX,
        Coding::Gzip => GZIP_SUFFIX,
    };
    let cache_key = format!("{cache_key}{suffix}");
    let fill = async {
        let body = encode(&identity.body, coding, Effort::Once).map_err(StoreError::Io)?;
        Ok(Manifest {
            modified: identity.modified,
            hash: identity.hash,
            body,
        }
        .encode())
    };
    Manifest::decode(cache.get_or_fill(&cache_key, None, Box::pin(fill)).await?)
}

/// How hard to compress: harder for variants compressed once and cached
/// than for those compressed per request (manifests with a token in them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Compressed once, served many times: brotli's best.
    Once,
    /// Compressed for one response.
    PerRequest,
}

/// Compresses a manifest in `coding`. Deterministic (no timestamp in the
/// gzip header, fixed brotli parameters), so every origin replica produces
/// the same bytes and the same `ETag`.
pub fn encode(body: &[u8], coding: Coding, effort: Effort) -> std::io::Result<Bytes> {
    let out = Vec::with_capacity(body.len() / 4 + 64);
    let out = match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(out, Compression::default());
            encoder.write_all(body)?;
            encoder.finish()?
        }
        Coding::Brotli => {
            let quality = match effort {
                Effort::Once => 11,
                Effort::PerRequest => 5,
            };
            let mut encoder = brotli::CompressorWriter::new(out, 4096, quality, BROTLI_WINDOW);
            encoder.write_all(body)?;
            // Finishes the stream; writing into a `Vec` cannot fail.
            encoder.into_inner()
        }
    };
    Ok(Bytes::from(out))
}

/// The strong `ETag` of a manifest variant: the identity bytes'
/// [`content_hash`] in 16 hex digits, then `suffix` (`-gz` for gzip).
/// Written digit by digit: this runs for every manifest request.
pub fn etag(hash: u64, suffix: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tag = String::with_capacity(18 + suffix.len());
    tag.push('"');
    for shift in (0..16).rev() {
        tag.push(char::from(HEX[(hash >> (shift * 4)) as usize & 0xf]));
    }
    tag.push_str(suffix);
    tag.push('"');
    tag
}

/// FNV-1a over the bytes: a stable content hash for manifest `ETag`s.
pub fn content_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn read_limited(store: &Store, key: &ObjectKey) -> Result<Bytes, StoreError> {
    read_with_time(store, key).await.map(|(_, body)| body)
}

/// Reads a small object whole, refusing more than [`MAX_MANIFEST_BYTES`].
async fn read_with_time(store: &Store, key: &ObjectKey) -> Result<(SystemTime, Bytes), StoreError> {
    // Boxed: the store's future (S3's above all) is large, and callers that
    // await this inline would otherwise carry it in every request's future.
    let (meta, mut stream) = Box::pin(store.get_range(key, None)).await?;
    if meta.size > MAX_MANIFEST_BYTES {
        return Err(StoreError::TooLarge {
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let mut body = BytesMut::with_capacity(meta.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (body.len() + chunk.len()) as u64 > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                limit: MAX_MANIFEST_BYTES,
            });
        }
        body.put_slice(&chunk);
    }
    Ok((meta.modified, body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_entries_round_trip() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let manifest = Manifest::new(at, Bytes::from_static(b"#EXTM3U\n"));
        let back = Manifest::decode(manifest.encode()).unwrap();
        assert_eq!(back.modified, at);
        assert_eq!(back.hash, content_hash(b"#EXTM3U\n"));
        assert_eq!(back.body, "#EXTM3U\n");
        assert!(Manifest::decode(Bytes::from_static(b"short")).is_err());
    }

    #[test]
    fn etags_are_the_quoted_hex_hash_and_suffix() {
        for hash in [0, 1, 0xdead_beef, u64::MAX, content_hash(b"#EXTM3U\n")] {
            assert_eq!(etag(hash, ""), format!("\"{hash:016x}\""));
            assert_eq!(etag(hash, "-gz"), format!("\"{hash:016x}-gz\""));
        }
    }

    #[test]
    fn compression_is_deterministic_and_round_trips() {
        use std::io::Read;
        let body = "#EXTM3U\n#EXTINF:2.000,\n720p.mp4\n".repeat(100);
        for effort in [Effort::Once, Effort::PerRequest] {
            let gz = encode(body.as_bytes(), Coding::Gzip, effort).unwrap();
            assert_eq!(gz, encode(body.as_bytes(), Coding::Gzip, effort).unwrap());
            let mut out = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, body);

            let br = encode(body.as_bytes(), Coding::Brotli, effort).unwrap();
            assert_eq!(br, encode(body.as_bytes(), Coding::Brotli, effort).unwrap());
            assert!(br.len() < body.len() / 10, "{} bytes", br.len());
            let mut out = String::new();
            brotli::Decompressor::new(&br[..], 4096)
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, body);
        }
    }
}
