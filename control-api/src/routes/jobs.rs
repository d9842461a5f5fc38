//! Job control: `POST /api/v1/videos/{id}/cancel` (owner or admin),
//! `POST /api/v1/videos/{id}/retranscode` (admin) and the video's event
//! stream `GET /api/v1/videos/{id}/events` (Server-Sent Events, framed as
//! the caller's stream of [`super::events`] frames them).

use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::videos::{self, VideoView};
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use goflix_shared::domain::VideoId;
use goflix_shared::events::Event;
use tokio::sync::broadcast;

/// Stops the video's job, or its import from a URL; the video ends
/// `failed` with code `cancelled` (owner or admin).
#[utoipa::path(
    post,
    path = "/videos/{id}/cancel",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 202, description = "Cancelled: the video, `failed` with `error.code` `cancelled`", body = VideoView),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
        (status = 409, description = "The video is `ready` or `failed`: no job or import to cancel (`not_cancellable`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let readable = videos::cancel(&state, managed).await?;
    let admin = caller.require::<Admin>().ok();
    let view = VideoView::of(&state.db, &readable, admin.as_ref()).await?;
    Ok(HttpResponse::Accepted().json(view))
}

/// Transcodes the video again from its kept master (admin); it keeps
/// playing its published version until the new one is ready.
#[utoipa::path(
    post,
    path = "/videos/{id}/retranscode",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 202, description = "Queued: the video, `queued` with its new job", body = VideoView),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video (`not_found`)", body = ErrorBody),
        (status = 409, description = "The video is `importing`, `queued` or `processing` (`job_running`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn retranscode(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller.require::<Admin>()?;
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let readable = videos::retranscode(&state, admin, managed).await?;
    let view = VideoView::of(&state.db, &readable, Some(&admin)).await?;
    Ok(HttpResponse::Accepted().json(view))
}

/// The video's lifecycle events as the control plane applies them
/// (`video.processing`, `video.progress`, `video.ready`, …; for an
/// import, `video.queued` once its master is stored, or `video.failed`),
/// as Server-Sent Events: `event:` is the event type, `data:` its JSON. The
/// stream ends after `video.ready` or `video.failed`, at once when the
/// video is already `ready` or `failed`. A client that falls behind skips
/// events. Same access as `GET /videos/{id}`.
#[utoipa::path(
    get,
    path = "/videos/{id}/events",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = super::openapi::SseMessage),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Subscribe before reading the state, so no event in between is missed.
    let receiver = state.applied.subscribe();
    let readable = caller.read(videos::find(&state, &id).await?)?;
    let row = readable.video();
    let video = VideoId(row.id);
    let stream = futures_util::stream::unfold(
        (!row.state.is_final()).then_some(receiver),
        move |receiver| next_event(video, receiver),
    );
    Ok(super::events::response(stream))
}

/// The next event of `video` as one SSE message; `None` ends the stream.
async fn next_event(
    video: VideoId,
    receiver: Option<broadcast::Receiver<Event>>,
) -> Option<(Result<Bytes, ApiError>, Option<broadcast::Receiver<Event>>)> {
    let mut receiver = receiver?;
    loop {
        match receiver.recv().await {
            Ok(event) if event.video_id == video => {
                let terminal = event.kind.ends_job();
                let message = super::events::message(&event);
                return Some((Ok(message), (!terminal).then_some(receiver)));
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(%video, missed, "event stream fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}
