//! The public `/v/…` routes: which handler answers which path and method,
//! plus what every handler does first (path checks, the playback record,
//! authorization), the CDN secret check in front of them all, and the JSON
//! `404`/`405` fallbacks.

mod files;
mod manifests;

use crate::auth::{self, Access};
use crate::cors;
use crate::error::OriginError;
use crate::paths;
use crate::Origin;
use actix_web::dev::Service;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, Resource};
use futures_util::future::{ready, Either};
use goflix_shared::domain::{PlaybackRecord, VideoId};
use std::sync::Arc;

/// Mounts the origin's routes under `/v`.
pub fn configure(origin: Origin, cfg: &mut web::ServiceConfig) {
    let cdn_secret = origin.cdn_secret.clone();
    cfg.service(
        web::scope("/v")
            .app_data(web::Data::new(origin))
            .wrap(cors::headers())
            // Outermost: a request that bypassed the CDN gets nothing else.
            .wrap_fn(move |req, service| {
                if cdn_secret.as_ref().is_none_or(|s| s.admits(req.headers())) {
                    Either::Left(service.call(req))
                } else {
                    OriginError::CdnSecretRequired.log();
                    Either::Right(ready(Err(OriginError::CdnSecretRequired.into())))
                }
            })
            // Tried in this order, each a regex match: versioned files (media,
            // playlists) are most of the traffic, so they come first. The
            // patterns cannot overlap (three segments against two).
            .service(resource("/{video_id}/{version}/{file}", files::file))
            .service(resource("/{video_id}/master.m3u8", manifests::master))
            .service(resource("/{video_id}/manifest.mpd", manifests::mpd))
            .default_service(web::to(unknown_path)),
    );
}

/// A resource answering GET and HEAD with `handler`, OPTIONS with a
/// preflight, and anything else with `405`.
fn resource<F, Args>(path: &str, handler: F) -> Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .route(web::method(Method::OPTIONS).to(cors::preflight))
        .default_service(web::to(method_not_allowed))
}

/// A video that may be served to this request.
struct Playable {
    record: Arc<PlaybackRecord>,
    access: Access,
}

/// What every handler does once the path is known to be safe: read the
/// video's playback record and check that the request may play it.
async fn playable(
    origin: &Origin,
    req: &HttpRequest,
    video: VideoId,
) -> Result<Playable, OriginError> {
    let inner = &origin.inner;
    let record = inner
        .records
        .get(inner.cache.as_ref(), &inner.store, video)
        .await?;
    let access = auth::authorize(
        inner.verifier.as_ref(),
        &inner.verified,
        &inner.revocations,
        &record,
        video,
        req,
    )
    .await?;
    Ok(Playable { record, access })
}

/// A path segment captured by the route.
fn segment<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.match_info().get(name).unwrap_or_default()
}

async fn unknown_path(req: HttpRequest) -> Result<HttpResponse, OriginError> {
    paths::check_raw(req.path())?;
    Err(OriginError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, OriginError> {
    Err(OriginError::MethodNotAllowed)
}
