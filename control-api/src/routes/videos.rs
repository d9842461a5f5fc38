//! `GET /api/v1/videos`, `GET|PATCH|DELETE /api/v1/videos/{id}` and
//! `POST /api/v1/videos/{id}/playback-token`. Each handler obtains the
//! capability it needs from the [`Caller`] and passes it to [`crate::videos`].

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::videos::{self, VideoChanges, VideoView};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u64 = 20;
/// Largest page.
const MAX_LIMIT: u64 = 100;

/// `?limit=&offset=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<u64>,
    offset: Option<u64>,
}

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
    let mut page = caller
        .video_scope()
        .list(&state.db, limit + 1, offset)
        .await?;
    let more = page.len() as u64 > limit;
    page.truncate(limit as usize);
    let items: Vec<VideoView> = page.iter().map(VideoView::from).collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_offset": more.then_some(offset + limit),
    })))
}

#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let readable = caller.read(videos::find(&state, &id).await?)?;
    Ok(HttpResponse::Ok().json(VideoView::from(&readable)))
}

/// The JSON body of `PATCH /api/v1/videos/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchBody {
    title: Option<String>,
    visibility: Option<String>,
}

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
    };
    let readable = videos::update(&state, managed, changes).await?;
    Ok(HttpResponse::Ok().json(VideoView::from(&readable)))
}

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

#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn playback_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let (token, expires_at) = videos::playback_token(&state, &managed)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "token": token, "expires_at": expires_at })))
}
