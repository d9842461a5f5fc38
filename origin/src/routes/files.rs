//! `/v/{video_id}/{version}/{file}`: immutable files of one version.
//! Playlists and MPDs go through the manifest cache (and token rewriting);
//! media is read from its local file (folder backend) or streamed from the
//! store, with ranges and conditionals.

use super::{manifests, playable, segment, Playable};
use crate::auth::Access;
use crate::error::OriginError;
use crate::paths;
use crate::response::{self, Body, Caching, Representation};
use crate::Origin;
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
        let Playable { access, .. } = playable(&origin, &req, video).await?;
        let key = layout::media_file(video, version, name).ok_or(OriginError::NotFound)?;
        let caching = match access {
            Access::Open => Caching::Immutable,
            Access::Token(_) => Caching::Private,
        };
        if kind.is_manifest() {
            let variants = manifests::Variants { kind, filter: None };
            return manifests::serve(&origin, &req, &key, variants, &access, caching).await;
        }
        let store = &origin.inner.store;
        if let Some(local) = store.open_local(&key)? {
            let repr = Representation::of_object(&local.meta, kind.content_type(), caching);
            return response::serve(&req, &repr, Body::File(Arc::new(local.file))).await;
        }
        if response::is_plain_get(&req) {
            let (meta, stream) = store.get_range(&key, None).await?;
            let repr = Representation::of_object(&meta, kind.content_type(), caching);
            return Ok(response::full(&repr, stream));
        }
        let meta = store.head(&key).await?;
        let repr = Representation::of_object(&meta, kind.content_type(), caching);
        let body = Body::Object {
            store: store.clone(),
            key,
        };
        response::serve(&req, &repr, body).await
    }
    .instrument(span)
    .await
    .inspect_err(OriginError::log)
}
