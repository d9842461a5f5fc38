//! Turning a representation into an HTTP response: preconditions (`304`,
//! `412`), `Range` and `If-Range` (`206`, multipart, `416`), `HEAD`, and the
//! validator and caching headers. Bodies are always sized: a
//! [`SizedStream`] over store reads or in-memory bytes, never chunked and
//! never buffered whole.

use crate::conditional::{self, Precondition, Validators};
use crate::error::OriginError;
use crate::file_body::FileChunks;
use crate::multipart::Layout;
use crate::range::{self, RangeRequest};
use crate::slices::{CachedObject, SliceCache};
use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::future::ready;
use futures_util::{stream, StreamExt, TryStreamExt};
use goflix_shared::store::{ByteStream, ObjectKey, ObjectMeta, ObjectStore, Store};
use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

/// Who may keep a response, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Unversioned manifests: they move to a new version on re-transcode.
    Unversioned,
    /// Everything under a version: its bytes never change.
    Immutable,
    /// Playlists and the MPD of a version still encoding (and the redirect
    /// to that MPD): they change with every segment (`EVENT`, dynamic), so
    /// caches keep them about half a segment.
    Live,
    /// Private videos: responses depend on the token.
    ///
    /// Such manifests carry the token (from `?token=` or `Authorization`)
    /// and still vary only by `Accept-Encoding`: `no-store` keeps every
    /// cache from storing them, and shared caches never store responses to
    /// requests with `Authorization` anyway (RFC 9111 §3.5), so
    /// `Vary: Authorization` would add nothing but cache fragmentation.
    Private,
}

impl Caching {
    /// The `Cache-Control` value.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::Unversioned => "public, max-age=2, stale-while-revalidate=30",
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Live => "public, max-age=1",
            Self::Private => "private, no-store",
        }
    }
}

/// One representation of a resource: what the headers say about it.
#[derive(Debug, Clone)]
pub struct Representation {
    /// Its media type.
    pub content_type: &'static str,
    /// Length in bytes (after any content coding).
    pub len: u64,
    /// Strong entity tag, quoted.
    pub etag: String,
    /// Last modification, if known.
    pub last_modified: Option<SystemTime>,
    /// Caching policy.
    pub caching: Caching,
    /// `Some("gzip")` for a compressed manifest.
    pub content_encoding: Option<&'static str>,
    /// Whether the representation was chosen by `Accept-Encoding` (manifests).
    pub varies_by_encoding: bool,
}

impl Representation {
    /// The representation of a stored media object, validated by the store's etag.
    pub fn of_object(meta: &ObjectMeta, content_type: &'static str, caching: Caching) -> Self {
        Self {
            content_type,
            len: meta.size,
            etag: quote_etag(&meta.etag),
            last_modified: Some(meta.modified),
            caching,
            content_encoding: None,
            varies_by_encoding: false,
        }
    }

    fn validators(&self) -> Validators<'_> {
        Validators {
            etag: &self.etag,
            last_modified: self.last_modified,
        }
    }

    /// [`Self::headers`] and the representation's `Content-Type`.
    fn typed_headers(&self, response: &mut HttpResponseBuilder) {
        self.headers(response);
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        ));
    }

    /// The validator and caching headers (all a `304` has). Static values
    /// go in as [`HeaderValue::from_static`]: no copy, no check.
    fn headers(&self, response: &mut HttpResponseBuilder) {
        response
            .insert_header((header::ETAG, self.etag.as_str()))
            .insert_header((
                header::CACHE_CONTROL,
                HeaderValue::from_static(self.caching.header_value()),
            ))
            .insert_header((header::ACCEPT_RANGES, HeaderValue::from_static("bytes")));
        if let Some(at) = self.last_modified {
            response.insert_header((header::LAST_MODIFIED, conditional::http_date(at)));
        }
        if let Some(coding) = self.content_encoding {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static(coding)));
        }
        if self.varies_by_encoding {
            response.insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        }
    }
}

/// Where the bytes of a representation come from.
#[derive(Clone)]
pub enum Body {
    /// A manifest held in memory.
    Memory(Bytes),
    /// A stored object in a local file, read in bounded chunks ([`FileChunks`]).
    File(Arc<File>),
    /// A finished version's object in a remote store, read through the
    /// media cache.
    Cached {
        /// The cache.
        cache: SliceCache,
        /// The object.
        object: CachedObject,
    },
    /// A stored object, streamed from the store in bounded chunks.
    Object {
        /// The store.
        store: Store,
        /// The object.
        key: ObjectKey,
    },
}

impl Body {
    /// Opens a stream of `range`, failing before any header is sent if the store fails.
    async fn open(&self, range: Range<u64>) -> Result<ByteStream, OriginError> {
        match self {
            Self::Memory(bytes) => {
                let slice = bytes.slice(range.start as usize..range.end as usize);
                Ok(Box::pin(stream::once(ready(Ok(slice)))))
            }
            Self::File(file) => Ok(Box::pin(FileChunks::new(file.clone(), range))),
            Self::Cached { cache, object } => Ok(cache.open(object, range).await?),
            Self::Object { store, key } => Ok(Box::pin(store.get_range(key, Some(range))).await?.1),
        }
    }

    /// A stream of `range` that opens when first polled (later multipart parts).
    fn lazy(self, range: Range<u64>) -> ByteStream {
        Box::pin(
            stream::once(async move { self.open(range).await.map_err(io::Error::other) })
                .try_flatten(),
        )
    }
}

/// Whether a request is a plain full GET: no preconditions and no range, so
/// a media object can be read with one storage call instead of two.
pub fn is_plain_get(req: &HttpRequest) -> bool {
    req.method() == Method::GET
        && ![
            header::RANGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
        ]
        .iter()
        .any(|name| req.headers().contains_key(name))
}

/// A `200` with the whole representation from an already open stream.
pub fn full(repr: &Representation, stream: ByteStream) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    repr.typed_headers(&mut response);
    response.body(SizedStream::new(repr.len, stream))
}

/// Answers a GET or HEAD for `repr`, whose bytes come from `body`.
pub async fn serve(
    req: &HttpRequest,
    repr: &Representation,
    body: Body,
) -> Result<HttpResponse, OriginError> {
    match conditional::evaluate(req.headers(), repr.validators()) {
        Precondition::Proceed => {}
        Precondition::NotModified => {
            let mut response = HttpResponse::NotModified();
            repr.headers(&mut response);
            return Ok(response.finish());
        }
        Precondition::Failed => return Err(OriginError::PreconditionFailed),
    }
    let head = req.method() == Method::HEAD;
    // Range is defined for GET only (RFC 9110 §14.2); HEAD answers as for a full GET.
    let request = if head {
        RangeRequest::Full
    } else {
        requested_ranges(req.headers(), repr)
    };
    match request {
        RangeRequest::Full => Ok(match body {
            _ if head => full(repr, empty()),
            // Whole in-memory bytes (manifests) go out as they are, unwrapped.
            Body::Memory(bytes) => {
                let mut response = HttpResponse::Ok();
                repr.typed_headers(&mut response);
                response.body(bytes)
            }
            body => full(repr, body.open(0..repr.len).await?),
        }),
        RangeRequest::Unsatisfiable => Err(OriginError::RangeNotSatisfiable { size: repr.len }),
        RangeRequest::Ranges(ranges) => match ranges.as_slice() {
            [single] => {
                let stream = body.open(single.clone()).await?;
                let mut response = HttpResponse::PartialContent();
                repr.typed_headers(&mut response);
                Ok(response
                    .insert_header((
                        header::CONTENT_RANGE,
                        format!("bytes {}-{}/{}", single.start, single.end - 1, repr.len),
                    ))
                    .body(SizedStream::new(single.end - single.start, stream)))
            }
            _ => Ok(multipart(repr, &ranges, body)),
        },
    }
}

fn requested_ranges(headers: &HeaderMap, repr: &Representation) -> RangeRequest {
    let mut values = headers.get_all(header::RANGE);
    let (Some(value), None) = (values.next(), values.next()) else {
        return RangeRequest::Full;
    };
    match value.to_str() {
        Ok(value) if conditional::range_applies(headers, repr.validators()) => {
            range::parse(value, repr.len)
        }
        _ => RangeRequest::Full,
    }
}

/// A `206` `multipart/byteranges` response; each part's bytes open lazily.
fn multipart(repr: &Representation, ranges: &[Range<u64>], body: Body) -> HttpResponse {
    let layout = Layout::new(ranges, repr.len, repr.content_type);
    let content_type = layout.content_type();
    let parts = layout
        .parts
        .into_iter()
        .map(move |part| stream::once(ready(Ok(part.head))).chain(body.clone().lazy(part.range)));
    let stream = stream::iter(parts)
        .flatten()
        .chain(stream::once(ready(Ok(layout.tail))));
    let mut response = HttpResponse::build(StatusCode::PARTIAL_CONTENT);
    repr.headers(&mut response);
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .body(SizedStream::new(layout.len, Box::pin(stream) as ByteStream))
}

fn empty() -> ByteStream {
    Box::pin(stream::empty())
}

/// A strong entity tag from a store validator: quoted, with any character
/// an entity tag cannot hold dropped.
fn quote_etag(raw: &str) -> String {
    let inner: String = raw
        .trim()
        .trim_matches('"')
        .chars()
        .filter(|&c| c == '!' || ('#'..='~').contains(&c))
        .collect();
    format!("\"{inner}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_validators_become_strong_etags() {
        assert_eq!(quote_etag("1a-2b"), "\"1a-2b\"");
        assert_eq!(quote_etag("\"d41d8cd9\""), "\"d41d8cd9\"");
        assert_eq!(quote_etag("a\"b\r\nc"), "\"abc\"");
    }
}
