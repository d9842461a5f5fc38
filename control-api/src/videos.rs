//! Videos: registering an uploaded master (row + job in one transaction,
//! then `video.queued`) or an imported one (the `importing` row moved to
//! `queued` with its job), cancelling and retranscoding its job, reading,
//! listing, changing and deleting, the JSON view of a video, and the
//! playback record the origin reads. Every
//! operation takes the capability handle that authorizes it.
//!
//! The playback record is written here only, always from the video's row
//! while the row is locked ([`sync_playback_record`]): workers announce
//! versions, the control plane alone decides who may watch them. Deleting
//! a video cancels its job wherever it runs, and what a worker still
//! writes afterwards is removed when it reports ([`crate::events`]).

use crate::auth::{Admin, ManagedVideo, ReadableVideo, Uploader};
use crate::db::{import, now_ms, retired_version, time_of, video};
use crate::error::ApiError;
use crate::failures;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use goflix_shared::command::Command;
use goflix_shared::domain::{
    Change, FailureCode, JobProfile, PlaybackRecord, Rendition, TranscodeJob, VideoId, VideoState,
    Visibility,
};
use goflix_shared::events::{Event, EventKind};
use goflix_shared::layout::{self, DOWNLOAD, POSTER, STORYBOARD_CUES};
use goflix_shared::queue::database::{enqueue, job, withdraw};
use goflix_shared::store::ObjectStore;
use goflix_shared::token::PlaybackSession;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Set, TransactionTrait,
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
    downloads: Option<bool>,
) -> Result<(), ApiError> {
    let profile = job_profile(state, downloads.unwrap_or(state.downloads.by_default));
    let txn = state.db.begin().await?;
    let job = insert_queued(&txn, uploader.owner_id(), id, title, visibility, profile).await?;
    txn.commit().await?;
    queued(state, &job);
    Ok(())
}

/// Inserts video `id` of `owner_id` as `queued` with its transcode job
/// (making `profile`; the row offers downloads when it writes one), in the caller's
/// transaction (a finished tus upload registers its video in the
/// transaction that marks it done; its creation checked the upload right).
/// Call [`queued`] with the job once committed.
pub(crate) async fn insert_queued(
    txn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: VideoId,
    title: String,
    visibility: Visibility,
    profile: JobProfile,
) -> Result<TranscodeJob, ApiError> {
    let downloads = profile.download.is_some();
    let job = new_job(id, profile);
    let row = new_row(owner_id, id, title, visibility, VideoState::Queued);
    video::ActiveModel {
        current_job_id: Set(Some(job.job_id)),
        downloads: Set(downloads),
        ..row
    }
    .insert(txn)
    .await?;
    enqueue(txn, &job).await?;
    Ok(job)
}

/// Inserts a video whose master is still to be fetched from a URL (state
/// `importing`, no job) in the import's transaction (see [`crate::imports`]).
pub(crate) async fn insert_importing(
    txn: &DatabaseTransaction,
    uploader: &Uploader,
    id: VideoId,
    title: String,
    visibility: Visibility,
    downloads: bool,
) -> Result<(), DbErr> {
    video::ActiveModel {
        downloads: Set(downloads),
        ..new_row(
            uploader.owner_id(),
            id,
            title,
            visibility,
            VideoState::Importing,
        )
    }
    .insert(txn)
    .await
    .map(drop)
}

/// The row of a new video of `owner_id` in `state`, without a job.
fn new_row(
    owner_id: Uuid,
    id: VideoId,
    title: String,
    visibility: Visibility,
    state: VideoState,
) -> video::ActiveModel {
    let now = now_ms();
    video::ActiveModel {
        id: Set(id.0),
        owner_id: Set(owner_id),
        title: Set(title),
        visibility: Set(visibility),
        state: Set(state),
        progress: Set(0.0),
        error_code: Set(None),
        error_message: Set(None),
        duration_s: Set(None),
        renditions: Set(serde_json::json!([])),
        version: Set(None),
        playable: Set(false),
        live_version: Set(None),
        manifest_version: Set(None),
        codec_job_id: Set(None),
        codec_version: Set(None),
        downloads: Set(false),
        download_version: Set(None),
        download_lease_until: Set(0),
        current_job_id: Set(None),
        processing_started_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Moves an `importing` video whose master is now stored to `queued` with a
/// new transcode job, both in `txn` (the import's, which also ends the
/// import: the row change and the job commit together, so the job is
/// enqueued exactly once). `None` when the video is no longer importing
/// (cancelled or deleted meanwhile). After the commit, pass the job to
/// [`queued`].
pub(crate) async fn enqueue_imported(
    state: &AppState,
    txn: &DatabaseTransaction,
    id: VideoId,
) -> Result<Option<TranscodeJob>, ApiError> {
    let downloads = video::Entity::find_by_id(id.0)
        .one(txn)
        .await?
        .is_some_and(|row| row.downloads);
    let job = new_job(id, job_profile(state, downloads));
    let changed = video::transition(Change::Imported)
        // The import's progress gives way to the transcode's.
        .col_expr(video::Column::Progress, Expr::value(0.0))
        .col_expr(video::Column::CurrentJobId, Expr::value(Some(job.job_id)))
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(id.0))
        .exec(txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(None);
    }
    enqueue(txn, &job).await?;
    Ok(Some(job))
}

/// What a job for a video makes: the deployment's ladder mode
/// (`GOFLIX_LADDER`) and, when the video offers downloads (`downloads`),
/// the download. Decided here and carried in the job, so remote runners
/// make the same outputs.
pub(crate) fn job_profile(state: &AppState, downloads: bool) -> JobProfile {
    JobProfile {
        ladder: state.ladder,
        download: state.downloads.profile(downloads),
        ..JobProfile::default()
    }
}

/// A new job for video `id` making `profile`, in the trace of the current span.
fn new_job(id: VideoId, profile: JobProfile) -> TranscodeJob {
    TranscodeJob {
        job_id: Uuid::now_v7(),
        video_id: id,
        traceparent: goflix_shared::trace_context::current(),
        profile,
    }
}

/// After a job was committed: wakes the outbox relay and publishes
/// `video.queued`. The row already says `queued`, so the event is only news
/// for other listeners and the response does not wait for the bus.
pub(crate) fn queued(state: &AppState, job: &TranscodeJob) {
    state.outbox.notify_one();
    let (id, job_id) = (job.video_id, job.job_id);
    tracing::info!(video_id = %id, %job_id, "video queued");
    let bus = state.bus.clone();
    tokio::spawn(async move {
        let event = Event::now(id, EventKind::Queued).for_job(job_id);
        if let Err(e) = bus.publish(event).await {
            tracing::warn!(video_id = %id, error = %e, "could not publish video.queued");
        }
    });
}

/// Cancels the video's job or import: the video ends `failed` with code
/// [`FailureCode::Cancelled`] at once. A job no worker took yet is withdrawn from the
/// queue; a running one is stopped by a [`Command::CancelJob`] to every
/// worker (the events its worker still sends are stale and ignored). An
/// import's row goes, so the process fetching it stops at its next lease
/// renewal and stores nothing. Only a `queued`, `processing` or
/// `importing` video has something to cancel.
pub async fn cancel(state: &AppState, managed: ManagedVideo) -> Result<ReadableVideo, ApiError> {
    let row = managed.video().clone();
    let txn = state.db.begin().await?;
    let changed = video::transition(Change::Cancelled)
        .col_expr(
            video::Column::ErrorCode,
            Expr::value(Some(FailureCode::Cancelled.as_str())),
        )
        .col_expr(
            video::Column::ErrorMessage,
            Expr::value(Some(match row.state {
                VideoState::Importing => "the import was cancelled",
                _ => "the job was cancelled",
            })),
        )
        .col_expr(video::Column::Playable, Expr::value(false))
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(row.id))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(ApiError::conflict(
            "not_cancellable",
            format!("a {} video has no job or import to cancel", row.state),
        ));
    }
    import::Entity::delete_by_id(row.id).exec(&txn).await?;
    let withdrawn = match row.current_job_id {
        Some(job_id) => withdraw(&txn, job_id).await?,
        None => false,
    };
    // A live copy stops playing with its job; a published version plays on.
    if let Some(cancelled) = video::Entity::find_by_id(row.id).one(&txn).await? {
        sync_playback_record(state, &cancelled).await?;
    }
    txn.commit().await?;
    let id = VideoId(row.id);
    tracing::info!(video_id = %id, job_id = ?row.current_job_id, withdrawn, "job cancelled");
    if let (Some(job_id), false) = (row.current_job_id, withdrawn) {
        stop_job(state, id, job_id).await;
    }
    reload(state, managed).await
}

/// Tells every worker to stop `job_id` ([`Command::CancelJob`]); a worker
/// that has not got it yet drops it when it arrives.
pub(crate) async fn stop_job(state: &AppState, id: VideoId, job_id: Uuid) {
    let command = Command::CancelJob {
        video_id: id,
        job_id,
    };
    if let Err(e) = state.commands.send(command).await {
        // The job's events change nothing any more; what its worker still
        // publishes nothing points at (or, deleted, is removed when it reports).
        tracing::warn!(video_id = %id, error = %e, "could not send job.cancel");
    }
}

/// Re-runs the video's transcode from its kept master as a new job (a new
/// version once ready). The video keeps playing its published version
/// meanwhile. Only a `ready` or `failed` (also cancelled) video may be
/// retranscoded; the job and the row change in one transaction, as on upload.
pub async fn retranscode(
    state: &AppState,
    _admin: Admin,
    managed: ManagedVideo,
) -> Result<ReadableVideo, ApiError> {
    let row = managed.video().clone();
    let id = VideoId(row.id);
    let job = new_job(id, job_profile(state, row.downloads));
    let txn = state.db.begin().await?;
    let changed = video::transition(Change::Retranscoded)
        .col_expr(video::Column::Progress, Expr::value(0.0))
        .col_expr(
            video::Column::ErrorCode,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            video::Column::ErrorMessage,
            Expr::value(Option::<String>::None),
        )
        .col_expr(video::Column::Playable, Expr::value(false))
        .col_expr(video::Column::CurrentJobId, Expr::value(Some(job.job_id)))
        .col_expr(
            video::Column::ProcessingStartedAt,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(row.id))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(ApiError::conflict(
            "job_running",
            format!(
                "a {} video is still being imported or transcoded; cancel it first",
                row.state
            ),
        ));
    }
    enqueue(&txn, &job).await?;
    txn.commit().await?;
    queued(state, &job);
    reload(state, managed).await
}

/// The managed video as it is now.
async fn reload(state: &AppState, managed: ManagedVideo) -> Result<ReadableVideo, ApiError> {
    let row = video::Entity::find_by_id(managed.video().id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("no such video"))?;
    Ok(managed.refreshed(row).readable())
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
    /// Whether it offers a download: a ready video without one gets it
    /// remuxed from its renditions ([`crate::downloads::remux`]).
    pub downloads: Option<bool>,
}

/// Applies `changes`. A new visibility is written to the playback record
/// (the published version's or the live copy's, whichever plays) before
/// the change is committed, with the row locked, so the origin enforces it
/// once its record cache turns over and no worker or event can put an
/// older visibility back.
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
        row.visibility = Set(visibility);
    }
    if let Some(downloads) = changes.downloads {
        row.downloads = Set(downloads);
    }
    row.updated_at = Set(now_ms());
    let txn = state.db.begin().await?;
    row.update(&txn).await?;
    // Read back under the lock the update took: events may have moved the
    // version since `current` was read.
    let updated = video::Entity::find_by_id(current.id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("no such video"))?;
    if updated.visibility != current.visibility {
        sync_playback_record(state, &updated).await?;
    }
    txn.commit().await?;
    if changes.downloads == Some(true) {
        state.download_remuxes.notify_one();
    }
    Ok(managed.refreshed(updated).readable())
}

/// Deletes a video's objects (master and every version), then its jobs (or
/// import) and row, stops its jobs (its current one and its other codecs')
/// wherever they run (on either queue backend), and removes the objects
/// again: whatever a worker wrote in between. What the worker writes after that is removed when it reports
/// its end (see [`crate::events`]); an import running elsewhere stops at
/// its next lease renewal and removes what it stored ([`crate::imports`]).
/// Safe to retry after a partial failure.
pub async fn delete(state: &AppState, managed: ManagedVideo) -> Result<(), ApiError> {
    let row = managed.video();
    let id = VideoId(row.id);
    remove_objects(state, id).await?;
    let txn = state.db.begin().await?;
    job::Entity::delete_many()
        .filter(job::Column::VideoId.eq(id.0))
        .exec(&txn)
        .await?;
    retired_version::Entity::delete_many()
        .filter(retired_version::Column::VideoId.eq(id.0))
        .exec(&txn)
        .await?;
    import::Entity::delete_by_id(id.0).exec(&txn).await?;
    video::Entity::delete_by_id(id.0).exec(&txn).await?;
    txn.commit().await?;
    if let (Some(job_id), true) = (row.current_job_id, row.state.has_job()) {
        stop_job(state, id, job_id).await;
    }
    // The job of its other codecs runs while the video is ready.
    if let Some(job_id) = row.codec_job_id {
        stop_job(state, id, job_id).await;
    }
    remove_objects(state, id).await?;
    tracing::info!(video_id = %id, "video deleted");
    Ok(())
}

/// Removes every object of video `id`: its master, everything under
/// `media/{id}/` (every version and the playback record) and its caption
/// sources.
pub(crate) async fn remove_objects(state: &AppState, id: VideoId) -> Result<(), ApiError> {
    state
        .store
        .delete_prefix(layout::master(id).as_str())
        .await?;
    state.store.delete_prefix(&layout::media_prefix(id)).await?;
    state
        .store
        .delete_prefix(&layout::captions_prefix(id))
        .await?;
    Ok(())
}

/// A playback token for a video the caller manages, issued to `session`.
pub fn playback_token(
    state: &AppState,
    managed: &ManagedVideo,
    session: &PlaybackSession,
) -> Result<(String, DateTime<Utc>), ApiError> {
    Ok(state
        .issuer
        .issue_playback(VideoId(managed.video().id), session, PLAYBACK_TTL)?)
}

/// The playback record `row` calls for: its published version, else the
/// live copy of a job still encoding once it plays, else none; always with
/// the row's visibility.
fn playback_record_of(row: &video::Model) -> Result<Option<PlaybackRecord>, ApiError> {
    let encoding = row.state == VideoState::Processing && row.playable;
    let (version, live) = match (&row.version, &row.live_version) {
        (Some(version), _) => (version.clone(), false),
        (None, Some(live)) if encoding => (live.clone(), true),
        (None, _) => return Ok(None),
    };
    Ok(Some(PlaybackRecord {
        manifests: row.manifest_version.clone().filter(|_| !live),
        version,
        visibility: row.visibility,
        updated_at: Utc::now(),
        live,
    }))
}

/// Makes `media/{id}/playback.json` what `row` calls for
/// ([`playback_record_of`]): written, or removed when nothing plays. The
/// only writer of playback records; callers hold the row's lock.
pub(crate) async fn sync_playback_record(
    state: &AppState,
    row: &video::Model,
) -> Result<(), ApiError> {
    let key = layout::playback_record(VideoId(row.id));
    match playback_record_of(row)? {
        Some(record) => {
            let bytes = serde_json::to_vec(&record)
                .map_err(|e| ApiError::Internal(format!("playback record: {e}")))?;
            state.store.put_bytes(&key, bytes.into()).await?;
        }
        None => state.store.delete_prefix(key.as_str()).await?,
    }
    Ok(())
}

/// The API's view of a video.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Video)]
pub struct VideoView {
    #[schema(format = Uuid)]
    id: String,
    title: String,
    visibility: Visibility,
    state: VideoState,
    /// While `importing`: the bytes received over the source's
    /// `Content-Length` (0 when it sent none); then transcoding progress.
    /// 0.0 to 1.0.
    #[schema(minimum = 0.0, maximum = 1.0)]
    progress: f64,
    /// Plays now: it has a published version (also while a retranscode
    /// runs or after it failed), or it is still `processing` with growing
    /// HLS playlists.
    playable: bool,
    /// Estimated seconds until the job ends, from the progress rate since
    /// it started; null unless `processing` with some progress.
    #[schema(minimum = 0.0)]
    eta_s: Option<f64>,
    /// 1-based place among the queued jobs, oldest first; null unless `queued`.
    #[schema(minimum = 1)]
    queue_position: Option<u64>,
    error: Option<ErrorView>,
    duration_s: Option<f64>,
    renditions: Vec<Rendition>,
    playback: Option<PlaybackUrls>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Why a video failed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ErrorView {
    /// Stable machine-readable code.
    #[schema(value_type = failures::FailureCodeSchema)]
    code: String,
    /// One fixed sentence per code, safe to show anyone who sees the video.
    message: String,
    /// What the worker reported (decoder or transcode child output): for
    /// admins only, absent for everyone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Where players fetch a playable video from (the origin). The poster and
/// the storyboard cues live under the published version (immutable); the
/// cues name sprite regions of `storyboard.jpg` beside them (`#xywh=`).
/// While a video still encodes, HLS and DASH play the part encoded so far
/// (growing playlists, a dynamic MPD) and the poster and storyboard are null.
/// Private videos need a playback token on each (`?token=`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PlaybackUrls {
    hls: String,
    dash: String,
    poster: Option<String>,
    storyboard: Option<String>,
    /// The progressive MP4 (`?download=1` asks for it as an attachment);
    /// null unless the video offers downloads and its version has one.
    download: Option<String>,
}

/// Seconds left at the rate the current job progressed since it started.
fn eta_s(row: &video::Model) -> Option<f64> {
    let started = row.processing_started_at?;
    if !(row.progress > 0.0 && row.progress < 1.0) {
        return None;
    }
    let elapsed_s = (now_ms() - started).max(0) as f64 / 1000.0;
    Some((elapsed_s * (1.0 - row.progress) / row.progress).round())
}

impl VideoView {
    /// The view of `readable`, with `queue_position` (one count for a
    /// queued video); an `admin` also sees the failure's detail.
    pub async fn of(
        db: &impl ConnectionTrait,
        readable: &ReadableVideo,
        admin: Option<&Admin>,
    ) -> Result<Self, ApiError> {
        let mut view = Self::new(readable, admin);
        let row = readable.video();
        if let (VideoState::Queued, Some(job)) = (row.state, row.current_job_id) {
            // Job ids are UUIDv7: their order is the order of enqueueing.
            let place = video::Entity::find()
                .filter(video::Column::State.eq(VideoState::Queued))
                .filter(video::Column::CurrentJobId.lte(job))
                .count(db)
                .await?;
            view.queue_position = Some(place.max(1));
        }
        Ok(view)
    }

    /// The view of `readable`; an `admin` also sees the failure's detail.
    pub fn new(readable: &ReadableVideo, admin: Option<&Admin>) -> Self {
        let row = readable.video();
        let id = VideoId(row.id);
        let ready = row.version.is_some();
        let processing = row.state == VideoState::Processing;
        let live = !ready && row.playable && processing;
        Self {
            id: id.to_string(),
            title: row.title.clone(),
            visibility: row.visibility,
            state: row.state,
            progress: row.progress,
            playable: ready || live,
            eta_s: processing.then(|| eta_s(row)).flatten(),
            queue_position: None,
            error: row.error_code.as_ref().map(|code| ErrorView {
                code: code.clone(),
                message: failures::public_message(code).to_owned(),
                detail: admin.and(row.error_message.clone()),
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
                    dash: format!("/v/{id}/manifest.mpd"),
                    poster: asset(POSTER),
                    storyboard: asset(STORYBOARD_CUES),
                    download: row
                        .download_version
                        .as_ref()
                        .filter(|_| ready && row.downloads)
                        .map(|version| format!("/v/{id}/{version}/{DOWNLOAD}")),
                }
            }),
            created_at: time_of(row.created_at),
            updated_at: time_of(row.updated_at),
        }
    }
}
