//! The unversioned entry points `/v/{id}/master.m3u8` and
//! `/v/{id}/manifest.mpd`: they follow the playback record to the current
//! version's manifest, filtered by `?min_height=`/`?max_height=` when asked.
//! While a video is live (still encoding) its MPD changes in place, so the
//! MPD entry point redirects to it instead: a DASH player then refreshes
//! that URL (its new base, RFC 3986 §5.1.3) and sees it turn static, not
//! the finished version's MPD that the entry point moves on to.
//! Also the manifest response shared with versioned playlists, MPDs and
//! storyboard cues: cached bytes
//! (filtered variants cached per variant set), per-request token
//! rewriting (a `?token=` token only, never an `Authorization` header's),
//! brotli or gzip.

use super::{playable, segment, Playable};
use crate::auth::Access;
use crate::encoding::{self, Coding};
use crate::error::OriginError;
use crate::manifest::{self, Effort, Manifest};
use crate::modifiers::{self, HeightFilter};
use crate::paths::{self, FileKind};
use crate::response::{self, Body, Caching, Representation};
use crate::rewrite;
use crate::tokened::TokenedKey;
use crate::Origin;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use goflix_shared::layout;
use goflix_shared::store::ObjectKey;
use std::borrow::Cow;
use tracing::Instrument;

/// `GET|HEAD /v/{video_id}/master.m3u8`
pub async fn master(
    origin: web::Data<Origin>,
    req: HttpRequest,
) -> Result<HttpResponse, OriginError> {
    current(&origin, &req, layout::MASTER_PLAYLIST, FileKind::Hls).await
}

/// `GET|HEAD /v/{video_id}/manifest.mpd`
pub async fn mpd(origin: web::Data<Origin>, req: HttpRequest) -> Result<HttpResponse, OriginError> {
    current(&origin, &req, layout::DASH_MANIFEST, FileKind::Dash).await
}

/// Serves `name` of the video's current version.
async fn current(
    origin: &Origin,
    req: &HttpRequest,
    name: &'static str,
    kind: FileKind,
) -> Result<HttpResponse, OriginError> {
    let video_segment = segment(req, "video_id");
    let span = tracing::info_span!(
        "origin.manifest",
        video_id = %video_segment,
        file = name,
        version = tracing::field::Empty,
    );
    async {
        paths::check_raw(req.path())?;
        let video = paths::video_id(video_segment)?;
        let filter = HeightFilter::from_query(req.query_string())?;
        let Playable { record, access } = playable(origin, req, video).await?;
        tracing::Span::current().record("version", record.version.as_str());
        let manifests = record.manifest_version();
        let key = layout::media_file(video, manifests, name).ok_or_else(|| {
            OriginError::BadPublication(format!("invalid version {manifests:?} for {video}"))
        })?;
        let to_live_mpd = kind == FileKind::Dash && record.live;
        let caching = match access {
            Access::Private { .. } => Caching::Private,
            Access::Open if to_live_mpd => Caching::Live,
            Access::Open => Caching::Unversioned,
        };
        if to_live_mpd {
            return to_version(req, &record.version, name, caching);
        }
        let variants = Variants {
            kind,
            filter,
            growing: false,
        };
        serve(origin, req, &key, variants, &access, caching).await
    }
    .instrument(span)
    .await
    .inspect_err(OriginError::log)
}

/// `302` to `name` under `version`, keeping the query (token, height filter).
fn to_version(
    req: &HttpRequest,
    version: &str,
    name: &str,
    caching: Caching,
) -> Result<HttpResponse, OriginError> {
    let query = req.query_string();
    let location = if query.is_empty() {
        format!("{version}/{name}")
    } else {
        format!("{version}/{name}?{query}")
    };
    let location = header::HeaderValue::try_from(location).map_err(|_| OriginError::BadPath)?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, caching.header_value()))
        .finish())
}

/// Which manifest of a key to serve: its kind, and for multivariant
/// entry points the variants a request keeps.
pub(super) struct Variants {
    /// HLS or DASH.
    pub kind: FileKind,
    /// `None`: every variant, the stored manifest as it is.
    pub filter: Option<HeightFilter>,
    /// A live playlist: read past the caches, it grows with every segment.
    pub growing: bool,
}

/// Answers with the manifest under `key`: filtered to `variants`, rewritten
/// for `access`, brotli or gzip as negotiated, under `caching`.
pub(super) async fn serve(
    origin: &Origin,
    req: &HttpRequest,
    key: &ObjectKey,
    variants: Variants,
    access: &Access,
    caching: Caching,
) -> Result<HttpResponse, OriginError> {
    let cache = origin.inner.cache.as_ref();
    let stored = if variants.growing {
        manifest::load_uncached(&origin.inner.store, key).await?
    } else {
        manifest::load(cache, &origin.inner.store, key).await?
    };
    let (identity, cache_key) = match variants.filter {
        None => (stored, Cow::Borrowed(key.as_str())),
        Some(filter) => {
            let text = utf8(&stored)?;
            let plan = modifiers::plan(text, variants.kind, filter)?;
            if plan.is_identity() {
                (stored, Cow::Borrowed(key.as_str()))
            } else if variants.growing {
                let filtered = Manifest::new(stored.modified, plan.apply(text).into());
                (filtered, Cow::Borrowed(key.as_str()))
            } else {
                let (filtered, cache_key) =
                    manifest::load_filtered(cache, key, stored.modified, text, &plan).await?;
                (filtered, Cow::Owned(cache_key))
            }
        }
    };
    let coding = encoding::negotiate(req.headers());
    let compress_now = |manifest: Manifest, coding: Coding| -> Result<Manifest, OriginError> {
        Ok(Manifest {
            body: manifest::encode(&manifest.body, coding, Effort::PerRequest)
                .map_err(|e| OriginError::BadPublication(format!("compressing {key}: {e}")))?,
            ..manifest
        })
    };
    // A token from the `Authorization` header is never written into URIs:
    // such a manifest is the stored one (sent `private` all the same).
    let carried = match access {
        Access::Private { carried, digest } => carried.as_deref().map(|token| (token, *digest)),
        Access::Open => None,
    };
    let chosen = match (carried, coding) {
        (None, None) => identity,
        // A growing playlist changes under the same key: never cache its encodings.
        (None, Some(coding)) if variants.growing => compress_now(identity, coding)?,
        (None, Some(coding)) => {
            manifest::load_encoded(cache, &cache_key, &identity, coding).await?
        }
        (Some((token, digest)), coding) => {
            let key = TokenedKey::new(digest, &identity, variants.kind, coding);
            origin.inner.tokened.get_or_make(key, || {
                let rewritten = with_token(&identity, variants.kind, token)?;
                match coding {
                    Some(coding) => compress_now(rewritten, coding),
                    None => Ok(rewritten),
                }
            })?
        }
    };
    let repr = Representation {
        content_type: variants.kind.content_type(),
        len: chosen.body.len() as u64,
        etag: manifest::etag(chosen.hash, coding.map_or("", Coding::etag_suffix)),
        last_modified: Some(chosen.modified),
        caching,
        content_encoding: coding.map(Coding::name),
        varies_by_encoding: true,
    };
    response::serve(req, &repr, Body::Memory(chosen.body)).await
}

fn utf8(manifest: &Manifest) -> Result<&str, OriginError> {
    std::str::from_utf8(&manifest.body)
        .map_err(|_| OriginError::BadPublication("manifest is not UTF-8".into()))
}

/// The manifest with `token` carried into its URIs.
fn with_token(manifest: &Manifest, kind: FileKind, token: &str) -> Result<Manifest, OriginError> {
    let text = utf8(manifest)?;
    let token = rewrite::encode_component(token);
    let rewritten = match kind {
        FileKind::Dash => rewrite::dash(text, &token),
        FileKind::Storyboard => rewrite::storyboard(text, &token),
        // Only manifests are served here: the rest is HLS.
        _ => rewrite::hls(text, &token),
    };
    Ok(Manifest::new(manifest.modified, rewritten.into()))
}
