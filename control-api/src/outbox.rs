//! The outbox relay (RabbitMQ mode): the `jobs` rows written in the upload's
//! transaction are the outgoing messages. The relay publishes pending rows
//! with confirms and marks each one published, oldest first; it wakes when
//! an upload commits and polls as a safety net. A crash between commit and
//! publish loses nothing (the row is still pending on restart); a crash
//! between publish and marking publishes the job twice, which is harmless
//! because job handling is idempotent. See `docs/design/outbox.md`.

use crate::state::AppState;
use goflix_shared::queue::database::{mark_published, outbox_pending};
use goflix_shared::queue::JobPublisher;
use goflix_shared::shutdown::Shutdown;
use std::time::Duration;

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
        publisher.publish(job).await.map_err(|e| e.to_string())?;
        mark_published(&state.db, job.job_id)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(job_id = %job.job_id, video_id = %job.video_id, "job published");
    }
    Ok(pending.len())
}
