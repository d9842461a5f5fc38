//! `GET /api/v1/videos` (with `?q=` title search), `GET|PATCH|DELETE
//! /api/v1/videos/{id}` and `POST /api/v1/videos/{id}/playback-token`. Each
//! handler obtains the capability it needs from the [`Caller`] and passes it
//! to [`crate::videos`]; `GET /api/v1/videos/{id}` also answers anonymous
//! requests ([`MaybeCaller`]) for public and unlisted videos.

use crate::auth::{Admin, Caller, MaybeCaller};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::videos::{self, VideoChanges, VideoView};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use goflix_shared::domain::Visibility;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u64 = 20;
/// Largest page.
const MAX_LIMIT: u64 = 100;
/// Largest offset: the database binds it as a signed 64-bit integer.
const MAX_OFFSET: u64 = i64::MAX as u64;
/// Longest title search, in characters (the longest title).
const MAX_QUERY_CHARS: usize = 200;

/// `?q=&limit=&offset=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only videos whose title contains this text, case-insensitively
    /// (`%` and `_` match themselves); at most 200 characters, empty for all.
    #[param(max_length = 200, nullable = false)]
    q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, nullable = false)]
    limit: Option<u64>,
    /// Videos to skip, at most 2^63 - 1 (default 0).
    #[param(minimum = 0, nullable = false)]
    offset: Option<u64>,
}

/// One page of videos.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VideoPage {
    /// Newest first.
    items: Vec<VideoView>,
    /// Pass as `offset` for the next page; `null` on the last page.
    next_offset: Option<u64>,
}

/// Lists videos, newest first (admins: all; uploaders: their own; viewers:
/// public ones), optionally only those whose title contains `q`.
#[utoipa::path(
    get,
    path = "/videos",
    tag = "videos",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = VideoPage),
        (status = 400, description = "Bad `q`, `limit` or `offset` (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("offset must be at most {MAX_OFFSET}"),
        ));
    }
    let title = query.q.as_deref().filter(|q| !q.is_empty());
    if title.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let mut page = caller
        .video_scope()
        .list(&state.db, title, limit + 1, offset)
        .await?;
    let more = page.len() as u64 > limit;
    page.truncate(limit as usize);
    let admin = caller.require::<Admin>().ok();
    let mut items = Vec::with_capacity(page.len());
    for readable in &page {
        items.push(VideoView::of(&state.db, readable, admin.as_ref()).await?);
    }
    Ok(HttpResponse::Ok().json(VideoPage {
        items,
        next_offset: more.then_some(offset + limit),
    }))
}

/// One video (owner or admin; anyone, even without a token, when public or
/// unlisted). A request without an `Authorization` header reads as a viewer
/// would; one with a bad token is refused.
#[utoipa::path(
    get,
    path = "/videos/{id}",
    tag = "videos",
    security((), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 200, description = "The video", body = VideoView),
        (status = 401, description = "Invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: MaybeCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let readable = caller.read(videos::find(&state, &id).await?)?;
    let admin = caller
        .caller()
        .and_then(|caller| caller.require::<Admin>().ok());
    Ok(HttpResponse::Ok().json(VideoView::of(&state.db, &readable, admin.as_ref()).await?))
}

/// The JSON body of `PATCH /api/v1/videos/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VideoPatch)]
pub(crate) struct PatchBody {
    /// A new title, 1 to 200 characters.
    title: Option<String>,
    /// A new visibility.
    #[schema(value_type = Option<Visibility>)]
    visibility: Option<String>,
    /// Whether the video offers a downloadable MP4. A ready video whose
    /// version has none gets it remuxed from its stored rendition within
    /// seconds (no re-encode); `playback.download` appears once it exists.
    downloads: Option<bool>,
}

/// Changes title, visibility or downloads (owner or admin).
#[utoipa::path(
    patch,
    path = "/videos/{id}",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The changed video", body = VideoView),
        (status = 400, description = "`missing_title`, `invalid_title`, `invalid_visibility` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let body = body.into_inner();
    let changes = VideoChanges {
        title: body.title,
        visibility: body
            .visibility
            .as_deref()
            .map(videos::parse_visibility)
            .transpose()?,
        downloads: body.downloads,
    };
    let readable = videos::update(&state, managed, changes).await?;
    let admin = caller.require::<Admin>().ok();
    Ok(HttpResponse::Ok().json(VideoView::new(&readable, admin.as_ref())))
}

/// Deletes the video, its master and its media (owner or admin).
#[utoipa::path(
    delete,
    path = "/videos/{id}",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    videos::delete(&state, managed).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A token that lets players fetch this video from the origin (owner or
/// admin); needed for private videos.
#[utoipa::path(
    post,
    path = "/videos/{id}/playback-token",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 200, description = "The token", body = PlaybackToken),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn playback_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let (token, expires_at) = videos::playback_token(&state, &managed, &caller.playback_session())?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(PlaybackToken { token, expires_at }))
}

/// A playback token: `?token=` or `Authorization: Bearer` at the origin.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PlaybackToken {
    token: String,
    expires_at: DateTime<Utc>,
}
