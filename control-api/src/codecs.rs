//! The ladders of the codecs beyond H.264 (`GOFLIX_CODECS`): once a
//! video's H.264 version is ready, [`queue_for`] queues one more job for it
//! (its profile [`JobProfile::joins`] that version and names the other
//! codecs), which encodes only their video renditions into a version of
//! their own. Its `video.ready` ([`join`]) names that version on the row
//! (`codec_version`), adds its renditions, and rebuilds the manifest-only
//! version so the media's manifests list both ladders
//! ([`crate::captions::republish`]). H.264 plays all along: the other
//! codecs never delay it, and a video whose other job fails keeps playing
//! H.264 alone. A new H.264 version (a retranscode) supersedes the codec
//! version with it and queues the other codecs again.

use crate::db::{now_ms, video};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{captions, videos};
use goflix_shared::domain::{
    JobProfile, Rendition, RenditionKind, TranscodeJob, VideoCodec, VideoId,
};
use goflix_shared::events::{Event, EventKind};
use goflix_shared::queue::database::enqueue;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The codecs `state` encodes beyond H.264, in the order of `GOFLIX_CODECS`.
fn added(state: &AppState) -> Vec<VideoCodec> {
    state
        .codecs
        .iter()
        .copied()
        .filter(|codec| *codec != VideoCodec::H264)
        .collect()
}

/// The job adding the other codecs' ladder to `version` of video `id`, or
/// none when the deployment encodes H.264 only.
fn job_for(state: &AppState, id: VideoId, version: &str) -> Option<TranscodeJob> {
    let codecs = added(state);
    (!codecs.is_empty()).then(|| TranscodeJob {
        job_id: Uuid::now_v7(),
        video_id: id,
        traceparent: goflix_shared::trace_context::current(),
        profile: JobProfile {
            codecs,
            ladder: state.ladder,
            download: None,
            joins: Some(version.to_owned()),
        },
    })
}

/// Queues, in `txn` (which just made `version` the row's media version),
/// the job encoding the other codecs for it, and makes it the row's codec
/// job; the row's codec version was for the version before, and its codec
/// job `in_flight`, if any, is stopped: its ladder would join nothing. Wake
/// the outbox relay after the commit. None when H.264 is the only codec.
pub(crate) async fn queue_for(
    state: &AppState,
    txn: &DatabaseTransaction,
    id: VideoId,
    version: &str,
    in_flight: Option<Uuid>,
) -> Result<Option<TranscodeJob>, ApiError> {
    if let Some(stale) = in_flight {
        videos::stop_job(state, id, stale).await;
    }
    let job = job_for(state, id, version);
    video::Entity::update_many()
        .col_expr(
            video::Column::CodecJobId,
            Expr::value(job.as_ref().map(|job| job.job_id)),
        )
        .col_expr(
            video::Column::CodecVersion,
            Expr::value(Option::<String>::None),
        )
        .filter(video::Column::Id.eq(id.0))
        .exec(txn)
        .await?;
    if let Some(job) = &job {
        enqueue(txn, job).await?;
        tracing::info!(video_id = %id, job_id = %job.job_id, codecs = ?job.profile.codecs, media = version, "other codecs queued");
    }
    Ok(job)
}

/// Applies `event` if it ends the row's codec job: a `video.ready` makes
/// its version the row's codec version, replaces the renditions of those
/// codecs and republishes the manifests; a `video.failed` leaves the video
/// on H.264 alone. Returns whether it applied (false for any other event).
pub(crate) async fn join(
    state: &AppState,
    txn: &DatabaseTransaction,
    event: &Event,
) -> Result<bool, ApiError> {
    let Some(job_id) = event.job_id.filter(|_| event.kind.ends_job()) else {
        return Ok(false);
    };
    let claimed = video::Entity::update_many()
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(event.video_id.0))
        .filter(video::Column::CodecJobId.eq(job_id))
        .exec(txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Ok(false);
    }
    let (version, added) = match &event.kind {
        EventKind::Ready {
            version,
            renditions,
            ..
        } => (version, renditions),
        EventKind::Failed { code, message } => {
            tracing::warn!(video_id = %event.video_id, %job_id, code = code.as_str(), message, "the other codecs failed; the video plays H.264 alone");
            clear_job(txn, event.video_id).await?;
            return Ok(true);
        }
        _ => return Ok(false),
    };
    let Some(row) = video::Entity::find_by_id(event.video_id.0).one(txn).await? else {
        return Ok(false);
    };
    let mut renditions: Vec<Rendition> =
        serde_json::from_value(row.renditions.clone()).unwrap_or_default();
    renditions
        .retain(|r| r.kind != RenditionKind::Video || !added.iter().any(|new| new.name == r.name));
    renditions.extend(
        added
            .iter()
            .filter(|r| r.kind == RenditionKind::Video)
            .cloned(),
    );
    let renditions = serde_json::to_value(&renditions)
        .map_err(|e| ApiError::Internal(format!("renditions: {e}")))?;
    video::Entity::update_many()
        .col_expr(
            video::Column::CodecVersion,
            Expr::value(Some(version.clone())),
        )
        .col_expr(video::Column::CodecJobId, Expr::value(Option::<Uuid>::None))
        .col_expr(video::Column::Renditions, Expr::value(renditions.clone()))
        .filter(video::Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    let row = video::Model {
        codec_version: Some(version.clone()),
        codec_job_id: None,
        renditions,
        ..row
    };
    let row = captions::republish(state, txn, row).await?;
    videos::sync_playback_record(state, &row).await?;
    tracing::info!(video_id = %event.video_id, codec_version = %version, manifests = ?row.manifest_version, "other codecs joined the media");
    Ok(true)
}

async fn clear_job(txn: &DatabaseTransaction, id: VideoId) -> Result<(), ApiError> {
    video::Entity::update_many()
        .col_expr(video::Column::CodecJobId, Expr::value(Option::<Uuid>::None))
        .filter(video::Column::Id.eq(id.0))
        .exec(txn)
        .await?;
    Ok(())
}
