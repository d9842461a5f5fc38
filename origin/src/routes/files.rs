//! `/v/{video_id}/{version}/{file}`: immutable files of one version (a
//! version's `download.mp4` with `?download=1` comes as an attachment), except
//! the playlists of a version still encoding (the playback record says
//! `live`), which grow and are read past the caches with a short lifetime.
//! Playlists, MPDs and the storyboard's cues (`storyboard.vtt`) go through
//! the manifest cache (and token rewriting, so a private video's cues
//! point at `storyboard.jpg?token=…`,
//! and the `?min_height=`/`?max_height=` filter the unversioned MPD
//! redirects here with while a video is live);
//! media is read from its local file (folder backend) or, from a remote
//! store, through the media cache ([`crate::slices`]; straight from the
//! store while the version is still encoding), with ranges and
//! conditionals, through [`crate::handles`] (open files and metadata held
//! across requests). Store calls are boxed: their
//! futures (S3's above all) are large, and would otherwise be copied with
//! every request's future.

use super::{manifests, playable, segment, Playable};
use crate::auth::Access;
use crate::error::OriginError;
use crate::handles::Handle;
use crate::modifiers::HeightFilter;
use crate::paths::{self, FileKind};
use crate::response::{self, Body, Caching, Representation};
use crate::slices::CachedObject;
use crate::Origin;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use goflix_shared::layout;
use goflix_shared::store::ObjectStore;
use std::sync::Arc;
use tracing::Instrument;

/// `GET|HEAD /v/{video_id}/{version}/{file}`
pub async fn file(
    origin: web::Data<Origin>,
    req: HttpRequest,
) -> Result<HttpResponse, OriginError> {
    let (video_segment, version, name) = (
        segment(&req, "video_id"),
        segment(&req, "version"),
        segment(&req, "file"),
    );
    let span = tracing::info_span!("origin.file", video_id = %video_segment, version, file = name);
    async {
        // Everything about the path is checked before the playback record is read.
        paths::check_raw(req.path())?;
        let video = paths::video_id(video_segment)?;
        let version = paths::version(version)?;
        let kind = paths::file_name(name)?;
        let Playable { access, record } = playable(&origin, &req, video).await?;
        let key = layout::media_file(video, version, name).ok_or(OriginError::NotFound)?;
        // The playlists of a version still encoding grow; its media files do not.
        let encoding = record.live && record.version == version;
        let growing = encoding && kind.is_manifest();
        let caching = match access {
            Access::Private { .. } => Caching::Private,
            Access::Open if growing => Caching::Live,
            Access::Open => Caching::Immutable,
        };
        if kind.is_manifest() {
            let variants = manifests::Variants {
                kind,
                filter: match kind {
                    FileKind::Dash => HeightFilter::from_query(req.query_string())?,
                    _ => None,
                },
                growing,
            };
            return manifests::serve(&origin, &req, &key, variants, &access, caching).await;
        }
        let store = &origin.inner.store;
        // Handles are held, and bytes cached, for finished versions only:
        // while one is still encoding, its objects are still being written.
        let handles = (!encoding).then_some(&origin.inner.handles);
        let keep = |handle: Handle| match handles {
            Some(handles) => handles.keep(&key, handle),
            None => handle,
        };
        let handle = match handles.and_then(|h| h.held(&key)) {
            Some(handle) => handle,
            None => match store.open_local(&key)? {
                Some(local) => keep(Handle {
                    meta: local.meta,
                    file: Some(Arc::new(local.file)),
                }),
                None if encoding && response::is_plain_get(&req) => {
                    // One storage call: the metadata comes with the bytes.
                    let (meta, stream) = Box::pin(store.get_range(&key, None)).await?;
                    let repr = Representation::of_object(&meta, kind.content_type(), caching);
                    return Ok(response::full(&repr, stream));
                }
                None => keep(Handle {
                    meta: Box::pin(store.head(&key)).await?,
                    file: None,
                }),
            },
        };
        let repr = Representation::of_object(&handle.meta, kind.content_type(), caching);
        let attachment = (name == layout::DOWNLOAD && asks_attachment(req.query_string()))
            .then(|| attachment(video));
        let body = match handle.file {
            Some(file) => Body::File(file),
            None if encoding => Body::Object {
                store: store.clone(),
                key,
            },
            None => Body::Cached {
                cache: origin.inner.slices.clone(),
                object: CachedObject::new(key, &handle.meta.etag, handle.meta.size),
            },
        };
        let mut response = response::serve(&req, &repr, body).await?;
        if let Some(disposition) = attachment {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, disposition);
        }
        Ok(response)
    }
    .instrument(span)
    .await
    .inspect_err(OriginError::log)
}

/// Whether the query asks for the download as a file to save (`download=1`).
fn asks_attachment(query: &str) -> bool {
    query.split('&').any(|pair| pair == "download=1")
}

/// `attachment; filename="{video}.mp4"`: browsers save it instead of playing it.
fn attachment(video: goflix_shared::domain::VideoId) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!("attachment; filename=\"{video}.mp4\""))
        .expect("a video id is header-safe")
}
