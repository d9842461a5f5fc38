//! The outbox relay (RabbitMQ mode): the `jobs` rows written in the upload's
//! transaction are the outgoing messages. The relay publishes pending rows
//! with confirms and marks each one published, oldest first; it wakes when
//! an upload commits and polls as a safety net. A crash between commit and
//! publish loses nothing (the row is still pending on restart); a crash
//! between publish and marking publishes the job twice, which is harmless
//! because job handling is idempotent. See `docs/design/outbox.md`.
//!
//! The way back: jobs the broker dead-lettered (rejected by a worker, or
//! past the delivery limit because their worker died each time) are read
//! from `goflix.transcode.dead` by [`follow_dead_letters`], which marks
//! the row `dead` and, if the video is still waiting on that job, emits
//! `video.failed` with code [`FailureCode::JobDeadLettered`], so no video stays
//! `processing` for ever.

use crate::db::video;
use crate::error::ApiError;
use crate::state::AppState;
use goflix_shared::domain::{Change, FailureCode};
use goflix_shared::events::{Event, EventKind};
use goflix_shared::queue::database::{job, mark_dead, mark_published, outbox_pending};
use goflix_shared::queue::{DeadJob, DeadLetters, JobPublisher};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::trace_context;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::time::Duration;
use tracing::Instrument;

/// Rows relayed per database round trip.
const BATCH: u64 = 64;
/// How often the relay looks for rows nobody woke it for (another replica's, a crash's).
const POLL: Duration = Duration::from_secs(2);
/// First and longest pause after a failure.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));

/// Relays pending jobs until `shutdown`.
pub(crate) async fn relay(state: &AppState, publisher: &dyn JobPublisher, shutdown: Shutdown) {
    let mut backoff = BACKOFF.0;
    loop {
        let woken = state.outbox.notified();
        let pause = match relay_batch(state, publisher).await {
            Ok(relayed) => {
                backoff = BACKOFF.0;
                if relayed as u64 == BATCH {
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    () = woken => continue,
                    () = tokio::time::sleep(POLL) => continue,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ?backoff, "outbox relay failed; retrying");
                let pause = backoff;
                backoff = (backoff * 2).min(BACKOFF.1);
                pause
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Publishes one batch; returns how many rows were relayed.
async fn relay_batch(state: &AppState, publisher: &dyn JobPublisher) -> Result<usize, String> {
    let pending = outbox_pending(&state.db, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    for job in &pending {
        // In the upload's trace; the job carries that trace on (AMQP header and body).
        let span =
            tracing::info_span!("outbox.publish", job_id = %job.job_id, video_id = %job.video_id);
        trace_context::set_parent(&span, job.traceparent.as_deref());
        publisher
            .publish(job)
            .instrument(span)
            .await
            .map_err(|e| e.to_string())?;
        mark_published(&state.db, job.job_id)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(job_id = %job.job_id, video_id = %job.video_id, "job published");
    }
    Ok(pending.len())
}

/// Records dead-lettered jobs until `shutdown`; each is acknowledged only
/// once recorded, so none is lost when the control plane dies meanwhile.
pub(crate) async fn follow_dead_letters(
    state: &AppState,
    dead_letters: &dyn DeadLetters,
    shutdown: Shutdown,
) {
    let mut backoff = BACKOFF.0;
    loop {
        let failure = match dead_letters.next(&shutdown).await {
            Ok(None) => return,
            Ok(Some(dead)) => match record_dead(state, dead.as_ref()).await {
                Ok(()) => match dead.ack().await {
                    Ok(()) => None,
                    Err(e) => Some(e.to_string()),
                },
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(e.to_string()),
        };
        let Some(error) = failure else {
            backoff = BACKOFF.0;
            continue;
        };
        tracing::warn!(%error, ?backoff, "dead-letter follower failed; retrying");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Marks the job's row dead; fails its video unless the video would ignore
/// the failure (it settled: a worker reported it) or a newer job superseded it.
async fn record_dead(state: &AppState, dead: &dyn DeadJob) -> Result<(), ApiError> {
    let job = dead.job();
    tracing::warn!(job_id = %job.job_id, video_id = %job.video_id, reason = dead.reason(), "job dead-lettered");
    mark_dead(&state.db, job.job_id).await?;
    let Some(row) = video::Entity::find_by_id(job.video_id.0)
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    if row.state.after(Change::Failed).is_none() {
        return Ok(());
    }
    let newest = job::Entity::find()
        .filter(job::Column::VideoId.eq(job.video_id.0))
        .order_by_desc(job::Column::CreatedAt)
        .one(&state.db)
        .await?;
    if newest.is_some_and(|newest| newest.id != job.job_id) {
        return Ok(());
    }
    let failed = EventKind::Failed {
        code: FailureCode::JobDeadLettered,
        message: format!(
            "the transcode job was given up ({}); see the worker logs",
            match dead.reason() {
                "delivery_limit" => "its worker stopped on every delivery",
                "rejected" => "a worker rejected it",
                _ => "dead-lettered by the queue",
            }
        ),
    };
    // Applied by the event follower like a worker's own report.
    state
        .bus
        .publish(Event::now(job.video_id, failed))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}
