//! Following the event bus: each lifecycle event updates the video's row
//! with a conditional `UPDATE` (a rendition is added to the list under the
//! row's lock), so applying an event twice, or applying
//! events from several control-plane replicas, is harmless. Which rows an
//! event moves, and to which state, is the event's [`Change`] of the
//! lifecycle ([`goflix_shared::domain::VideoState::after`], applied by
//! [`video::transition`]): a `ready` or
//! `failed` video never moves back. Progress never goes down (stale
//! progress is ignored), and `video.ready` republishes the playback record
//! with the video's current visibility and retires the versions playback
//! left ([`crate::versions`]). Each event is applied in a span
//! continuing the trace it carries (see [`goflix_shared::trace_context`]).
//!
//! The playback record follows the row: `video.playable` points it at the
//! live copy, `video.ready` at the new version, `video.failed` takes it off
//! a live copy that will not finish (each written while the row is locked,
//! with the row's visibility: workers never write records).
//!
//! An event carrying a `job_id` other than the video's current job is stale
//! (its job was cancelled or replaced by a retranscode) and changes nothing,
//! unless it ends the row's codec job ([`codecs::join`]): the ladder of the
//! codecs beyond H.264 then joins the ready video.
//! A job's last event (`video.ready` or `video.failed`) for a video that no
//! longer exists means its worker wrote after the video was deleted: every
//! object of the video is removed again.
//! The state change and the notifications it causes (`video.ready`,
//! `video.failed`) are written in one transaction. Every event that changed
//! the video is then offered to the event streams (`AppState::applied`):
//! each video's own and each caller's (`GET /api/v1/events`).

use crate::db::{now_ms, video};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{captions, codecs, versions, videos};
use futures_util::StreamExt;
use goflix_shared::domain::{Change, EmbeddedCaption, Rendition};
use goflix_shared::events::{Event, EventKind, EventStream};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::trace_context;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use std::time::Duration;
use tracing::Instrument;

/// Applied events buffered for a slow event stream before it skips some.
pub(crate) const APPLIED_CAPACITY: usize = 1024;

/// Tries at applying one event before it is given up (and logged).
const APPLY_ATTEMPTS: u32 = 4;

/// Pause before the second try at applying an event; it grows linearly.
const APPLY_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Pause before subscribing again after the bus failed or closed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Applies events from `first` (a subscription made at start, so nothing
/// published since is missed), then from fresh subscriptions, until `shutdown`.
pub(crate) async fn follow(
    state: &AppState,
    mut first: Option<EventStream>,
    shutdown: Shutdown,
) -> Result<(), ApiError> {
    loop {
        let subscription = match first.take() {
            Some(stream) => Ok(stream),
            None => state.bus.subscribe().await,
        };
        match subscription {
            Ok(mut events) => loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    event = events.next() => match event {
                        Some(event) => {
                            let kind = event.kind.name();
                            let span = tracing::info_span!("event", kind, video_id = %event.video_id);
                            trace_context::set_parent(&span, event.traceparent.as_deref());
                            apply_with_retries(state, &event).instrument(span).await;
                        }
                        None => {
                            tracing::warn!("event subscription ended; subscribing again");
                            break;
                        }
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to events; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}

/// Applies one event, trying again after a failure (a database restarting,
/// a lock held too long): applying is idempotent, and the bus does not
/// deliver the event again.
async fn apply_with_retries(state: &AppState, event: &Event) {
    for attempt in 1..=APPLY_ATTEMPTS {
        match apply(state, event).await {
            Ok(()) => return,
            Err(e) if attempt < APPLY_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "could not apply event; retrying");
                tokio::time::sleep(APPLY_RETRY_PAUSE * attempt).await;
            }
            Err(e) => tracing::error!(error = %e, "could not apply event; giving up"),
        }
    }
}

/// Applies one event to the video's row, and what follows from it.
async fn apply(state: &AppState, event: &Event) -> Result<(), ApiError> {
    let txn = state.db.begin().await?;
    let changed = change_row(state, &txn, event).await?;
    // An event of no job the row follows may end the job of its other codecs.
    let joined = changed == 0 && codecs::join(state, &txn, event).await?;
    crate::notify::video_event(&txn, event, changed == 1).await?;
    txn.commit().await?;
    if matches!(event.kind, EventKind::Ready { .. }) {
        // A ready H.264 version may have queued the other codecs' job.
        state.outbox.notify_one();
    }
    if changed == 1 || joined {
        // Nobody watching is not an error.
        let _ = state.applied.send(event.clone());
    } else if event.kind.ends_job() && is_deleted(state, event).await? {
        tracing::info!(video_id = %event.video_id, "removing what a worker wrote after the video was deleted");
        videos::remove_objects(state, event.video_id).await?;
    }
    tracing::debug!(video_id = %event.video_id, kind = event.kind.name(), applied = changed == 1, "event");
    Ok(())
}

/// Makes the event's change to the video's row in `txn`; returns how many
/// rows it changed (0 when the video ignores the event).
async fn change_row(
    state: &AppState,
    txn: &DatabaseTransaction,
    event: &Event,
) -> Result<u64, ApiError> {
    let update = || {
        video::transition(event.kind.change())
            .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
            .filter(video::Column::Id.eq(event.video_id.0))
            .filter(current_job(event))
    };
    Ok(match &event.kind {
        EventKind::Queued => update().exec(txn).await?.rows_affected,
        EventKind::Processing { .. } => {
            update()
                .col_expr(
                    video::Column::ProcessingStartedAt,
                    Expr::value(Some(event.at.timestamp_millis())),
                )
                .exec(txn)
                .await?
                .rows_affected
        }
        EventKind::Progress { progress } if progress.is_finite() => {
            let progress = progress.clamp(0.0, 1.0);
            update()
                .col_expr(video::Column::Progress, Expr::value(progress))
                .filter(video::Column::Progress.lt(progress))
                .exec(txn)
                .await?
                .rows_affected
        }
        EventKind::Progress { .. } => 0,
        EventKind::Playable { version } => {
            let changed = update()
                .col_expr(video::Column::Playable, Expr::value(true))
                .col_expr(
                    video::Column::LiveVersion,
                    Expr::value(Some(version.clone())),
                )
                .exec(txn)
                .await?
                .rows_affected;
            republish_if(state, txn, event, changed).await?
        }
        EventKind::RenditionReady { rendition } => add_rendition(txn, event, rendition).await?,
        EventKind::Ready {
            version,
            duration_s,
            renditions,
            captions,
            download,
        } => {
            let ready = Finished {
                version,
                duration_s: *duration_s,
                renditions,
                captions,
                download: download.as_deref(),
            };
            finish(state, txn, event, &ready).await?
        }
        EventKind::Failed { code, message } => {
            let changed = update()
                .col_expr(
                    video::Column::LiveVersion,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(video::Column::ErrorCode, Expr::value(Some(code.as_str())))
                .col_expr(
                    video::Column::ErrorMessage,
                    Expr::value(Some(message.clone())),
                )
                .exec(txn)
                .await?
                .rows_affected;
            republish_if(state, txn, event, changed).await?
        }
    })
}

/// What a `video.ready` reports.
struct Finished<'a> {
    version: &'a str,
    duration_s: f64,
    renditions: &'a [Rendition],
    captions: &'a [EmbeddedCaption],
    /// The rendition the version's `download.mp4` was made from.
    download: Option<&'a str>,
}

/// Moves a video still in progress to `ready` on the finished version,
/// retires what it played before (its live copy, the version a retranscode
/// replaced and its other codecs' version), queues the job of the other
/// codecs ([`codecs::queue_for`]), adopts the captions the transcode extracted, builds the
/// manifests that add every caption ([`captions::republish`]) and
/// republishes its playback record.
async fn finish(
    state: &AppState,
    txn: &DatabaseTransaction,
    event: &Event,
    ready: &Finished<'_>,
) -> Result<u64, ApiError> {
    let Finished {
        version,
        duration_s,
        renditions,
        captions: embedded,
        download,
    } = *ready;
    let Some(before) = claim_row(txn, event).await? else {
        return Ok(0);
    };
    let renditions = serde_json::to_value(renditions)
        .map_err(|e| ApiError::Internal(format!("renditions: {e}")))?;
    let none = || Expr::value(Option::<String>::None);
    video::transition(Change::Finished)
        .col_expr(video::Column::Progress, Expr::value(1.0))
        .col_expr(
            video::Column::Version,
            Expr::value(Some(version.to_owned())),
        )
        .col_expr(video::Column::DurationS, Expr::value(Some(duration_s)))
        .col_expr(video::Column::Renditions, Expr::value(renditions))
        .col_expr(video::Column::LiveVersion, none())
        .col_expr(
            video::Column::DownloadVersion,
            Expr::value(download.map(|_| version.to_owned())),
        )
        // A new version: a remux that found nothing to remux in the old one
        // may try this one.
        .col_expr(video::Column::DownloadLeaseUntil, Expr::value(0i64))
        .col_expr(video::Column::ErrorCode, none())
        .col_expr(video::Column::ErrorMessage, none())
        .filter(video::Column::Id.eq(before.id))
        .exec(txn)
        .await?;
    let superseded = [before.version, before.live_version, before.codec_version]
        .into_iter()
        .flatten()
        .filter(|old| old != version);
    versions::retire(txn, before.id, superseded, now_ms()).await?;
    codecs::queue_for(state, txn, event.video_id, version, before.codec_job_id).await?;
    captions::adopt_embedded(state, txn, event.video_id, version, embedded).await?;
    if let Some(row) = video::Entity::find_by_id(before.id).one(txn).await? {
        let row = captions::republish(state, txn, row).await?;
        videos::sync_playback_record(state, &row).await?;
    }
    Ok(1)
}

/// When the event `changed` the row: rewrites the playback record from the
/// row as `txn` sees it (locked by the change). Returns `changed`.
async fn republish_if(
    state: &AppState,
    txn: &DatabaseTransaction,
    event: &Event,
    changed: u64,
) -> Result<u64, ApiError> {
    if changed == 1 {
        if let Some(row) = video::Entity::find_by_id(event.video_id.0).one(txn).await? {
            videos::sync_playback_record(state, &row).await?;
        }
    }
    Ok(changed)
}

/// Whether the event's video has no row (any more: rows exist before their jobs).
async fn is_deleted(state: &AppState, event: &Event) -> Result<bool, ApiError> {
    Ok(video::Entity::find_by_id(event.video_id.0)
        .one(&state.db)
        .await?
        .is_none())
}

/// Rows whose current job is the event's (or events of no particular job,
/// and videos enqueued before jobs were tracked).
fn current_job(event: &Event) -> Condition {
    match event.job_id {
        Some(job) => Condition::any()
            .add(video::Column::CurrentJobId.is_null())
            .add(video::Column::CurrentJobId.eq(job)),
        None => Condition::all(),
    }
}

/// The video's row as the event's job may still move it (in a state the
/// event's change applies in, the current job), held for the rest of the transaction: it is written before
/// it is read, so PostgreSQL locks it and SQLite takes its write lock (a
/// deferred SQLite transaction that read first cannot take that lock once
/// another writer committed, and fails with "database is locked" at once).
async fn claim_row(
    db: &impl ConnectionTrait,
    event: &Event,
) -> Result<Option<video::Model>, ApiError> {
    let claimed = video::Entity::update_many()
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(event.video_id.0))
        .filter(current_job(event))
        .filter(video::accepts(event.kind.change()))
        .exec(db)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Ok(None);
    }
    Ok(video::Entity::find_by_id(event.video_id.0).one(db).await?)
}

/// Adds a rendition to a video still in progress, once per name.
async fn add_rendition(
    db: &impl ConnectionTrait,
    event: &Event,
    rendition: &Rendition,
) -> Result<u64, ApiError> {
    let Some(row) = claim_row(db, event).await? else {
        return Ok(0);
    };
    let mut renditions: Vec<Rendition> = serde_json::from_value(row.renditions).unwrap_or_default();
    if renditions.iter().any(|r| r.name == rendition.name) {
        return Ok(0);
    }
    renditions.push(rendition.clone());
    let renditions = serde_json::to_value(renditions)
        .map_err(|e| ApiError::Internal(format!("renditions: {e}")))?;
    Ok(video::transition(Change::Stored)
        .col_expr(video::Column::Renditions, Expr::value(renditions))
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(event.video_id.0))
        .exec(db)
        .await?
        .rows_affected)
}
