//! Videos: registering an uploaded master (row + job in one transaction,
//! then `video.queued`), reading, listing, changing and deleting, the JSON
//! view of a video, and the playback record the origin reads. Every
//! operation takes the capability handle that authorizes it.

use crate::auth::{ManagedVideo, ReadableVideo, Uploader};
use crate::db::{now_ms, time_of, video};
use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use goflix_shared::domain::{
    PlaybackRecord, Rendition, TranscodeJob, VideoId, VideoState, Visibility,
};
use goflix_shared::events::{Event, EventKind};
use goflix_shared::layout::{self, POSTER, STORYBOARD_CUES};
use goflix_shared::queue::database::{enqueue, job};
use goflix_shared::store::ObjectStore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Lifetime of a playback token.
pub const PLAYBACK_TTL: Duration = Duration::from_secs(4 * 3600);

/// A trimmed, non-empty title of at most [`MAX_TITLE_CHARS`].
pub fn validate_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(ApiError::bad_request(
            "missing_title",
            "the title must not be empty",
        ));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("titles are at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(title.to_owned())
}

/// Parses a visibility, with the API's error code.
pub fn parse_visibility(value: &str) -> Result<Visibility, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|message: String| ApiError::bad_request("invalid_visibility", message))
}

/// Registers a stored master: inserts the video (state `queued`) and its
/// transcode job in one transaction, wakes the outbox relay, then
/// publishes `video.queued` in the background. The
/// caller deletes the master if this fails.
pub async fn register(
    state: &AppState,
    uploader: &Uploader,
    id: VideoId,
    title: String,
    visibility: Visibility,
) -> Result<(), ApiError> {
    let now = now_ms();
    let txn = state.db.begin().await?;
    video::ActiveModel {
        id: Set(id.0),
        owner_id: Set(uploader.owner_id()),
        title: Set(title),
        visibility: Set(visibility.as_str().to_owned()),
        state: Set(VideoState::Queued.as_str().to_owned()),
        progress: Set(0.0),
        error_code: Set(None),
        error_message: Set(None),
        duration_s: Set(None),
        renditions: Set(serde_json::json!([])),
        version: Set(None),
        playable: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let job = TranscodeJob {
        job_id: Uuid::now_v7(),
        video_id: id,
        visibility,
        traceparent: goflix_shared::trace_context::current(),
    };
    enqueue(&txn, &job).await?;
    txn.commit().await?;
    state.outbox.notify_one();
    tracing::info!(video_id = %id, job_id = %job.job_id, "video queued");
    // The job is committed and the row says `queued`: the event is only
    // news for other listeners, so the response does not wait for the bus.
    let bus = state.bus.clone();
    tokio::spawn(async move {
        if let Err(e) = bus.publish(Event::now(id, EventKind::Queued)).await {
            tracing::warn!(video_id = %id, error = %e, "could not publish video.queued");
        }
    });
    Ok(())
}

/// Loads a video by its id as given in a URL; malformed ids are simply not found.
pub async fn find(state: &AppState, id: &str) -> Result<video::Model, ApiError> {
    let not_found = || ApiError::not_found("no such video");
    let id: VideoId = id.parse().map_err(|_| not_found())?;
    video::Entity::find_by_id(id.0)
        .one(&state.db)
        .await?
        .ok_or_else(not_found)
}

/// Changes to a video's metadata.
#[derive(Debug, Default)]
pub struct VideoChanges {
    /// A new title.
    pub title: Option<String>,
    /// A new visibility.
    pub visibility: Option<Visibility>,
}

/// Applies `changes`; a new visibility of a published video is written to
/// its playback record so the origin enforces it.
pub async fn update(
    state: &AppState,
    managed: ManagedVideo,
    changes: VideoChanges,
) -> Result<ReadableVideo, ApiError> {
    let current = managed.video().clone();
    let mut row = current.clone().into_active_model();
    if let Some(title) = changes.title {
        row.title = Set(validate_title(&title)?);
    }
    if let Some(visibility) = changes.visibility {
        row.visibility = Set(visibility.as_str().to_owned());
    }
    row.updated_at = Set(now_ms());
    let updated = row.update(&state.db).await?;
    if updated.visibility != current.visibility {
        publish_playback_record(state, &updated).await?;
    }
    Ok(managed.refreshed(updated).readable())
}

/// Deletes a video's objects (master and every published version), then
/// its job and row. Safe to retry after a partial failure.
pub async fn delete(state: &AppState, managed: ManagedVideo) -> Result<(), ApiError> {
    let id = VideoId(managed.video().id);
    state
        .store
        .delete_prefix(layout::master(id).as_str())
        .await?;
    state.store.delete_prefix(&layout::media_prefix(id)).await?;
    let txn = state.db.begin().await?;
    job::Entity::delete_many()
        .filter(job::Column::VideoId.eq(id.0))
        .exec(&txn)
        .await?;
    video::Entity::delete_by_id(id.0).exec(&txn).await?;
    txn.commit().await?;
    tracing::info!(video_id = %id, "video deleted");
    Ok(())
}

/// A playback token for a video the caller manages.
pub fn playback_token(
    state: &AppState,
    managed: &ManagedVideo,
) -> Result<(String, DateTime<Utc>), ApiError> {
    Ok(state
        .issuer
        .issue_playback(VideoId(managed.video().id), PLAYBACK_TTL)?)
}

/// Writes `media/{id}/playback.json` for a published video (one with a version).
pub async fn publish_playback_record(state: &AppState, row: &video::Model) -> Result<(), ApiError> {
    let Some(version) = row.version.clone() else {
        return Ok(());
    };
    let visibility = parse_visibility(&row.visibility)
        .map_err(|e| ApiError::Internal(format!("video {}: {e}", row.id)))?;
    let record = PlaybackRecord {
        version,
        visibility,
        updated_at: Utc::now(),
        live: false,
    };
    let bytes = serde_json::to_vec(&record)
        .map_err(|e| ApiError::Internal(format!("playback record: {e}")))?;
    state
        .store
        .put_bytes(&layout::playback_record(VideoId(row.id)), bytes.into())
        .await?;
    Ok(())
}

/// The API's view of a video.
#[derive(Debug, Serialize)]
pub struct VideoView {
    id: String,
    title: String,
    visibility: String,
    state: String,
    progress: f64,
    /// Plays now: `ready`, or still `processing` with growing HLS playlists.
    playable: bool,
    error: Option<ErrorView>,
    duration_s: Option<f64>,
    renditions: Vec<Rendition>,
    playback: Option<PlaybackUrls>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Why a video failed.
#[derive(Debug, Serialize)]
struct ErrorView {
    code: String,
    message: String,
}

/// Where players fetch a playable video from (the origin). The poster and
/// the storyboard cues live under the published version (immutable); the
/// cues name sprite regions of `storyboard.jpg` beside them (`#xywh=`).
/// While a video still encodes only HLS plays (the other fields are null).
/// Private videos need a playback token on each (`?token=`).
#[derive(Debug, Serialize)]
struct PlaybackUrls {
    hls: String,
    dash: Option<String>,
    poster: Option<String>,
    storyboard: Option<String>,
}

impl From<&ReadableVideo> for VideoView {
    fn from(readable: &ReadableVideo) -> Self {
        let row = readable.video();
        let id = VideoId(row.id);
        let ready = row.state == VideoState::Ready.as_str();
        let live = row.playable && row.state == VideoState::Processing.as_str();
        Self {
            id: id.to_string(),
            title: row.title.clone(),
            visibility: row.visibility.clone(),
            state: row.state.clone(),
            progress: row.progress,
            playable: ready || live,
            error: row.error_code.as_ref().map(|code| ErrorView {
                code: code.clone(),
                message: row.error_message.clone().unwrap_or_default(),
            }),
            duration_s: row.duration_s,
            renditions: serde_json::from_value(row.renditions.clone()).unwrap_or_default(),
            playback: (ready || live).then(|| {
                let asset = |name: &str| {
                    row.version
                        .as_ref()
                        .filter(|_| ready)
                        .map(|version| format!("/v/{id}/{version}/{name}"))
                };
                PlaybackUrls {
                    hls: format!("/v/{id}/master.m3u8"),
                    dash: ready.then(|| format!("/v/{id}/manifest.mpd")),
                    poster: asset(POSTER),
                    storyboard: asset(STORYBOARD_CUES),
                }
            }),
            created_at: time_of(row.created_at),
            updated_at: time_of(row.updated_at),
        }
    }
}
