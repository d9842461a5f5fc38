//! URL imports: `POST /api/v1/videos` with `{"title", "url", "visibility"}`
//! has the control plane fetch the master itself and then transcode it
//! like an upload.
//!
//! - [`begin`] (the request) inserts the `importing` video and its row in
//!   `imports` (lease free) in one transaction and wakes the runner.
//! - [`run`], in every control-plane process, takes imports whose lease is
//!   free or ran out ([`lease`]), at most [`MAX_RUNNING`] at a time, and
//!   runs each: [`fetch`] streams the master into `masters/{id}` while a
//!   heartbeat renews the lease and writes `progress` every
//!   [`HEARTBEAT`]. Stored, the import row goes and the video moves to
//!   `queued` with its job in one transaction (the job is enqueued exactly
//!   once); failed, the video ends `failed` with an `import_*` code (and
//!   the `video.failed` notifications), its master removed.
//! - A process that dies mid-import stops renewing: [`lease::LEASE`]
//!   later another process (or the restarted one) takes the import over
//!   and starts again from byte zero; the take after [`MAX_ATTEMPTS`]
//!   fails it `import_interrupted`. A process shutting down stops its
//!   imports and frees their leases at once, which costs no attempt.
//! - Cancelling or deleting the video removes the import row: the process
//!   running it notices at its next renewal, stops, and removes whatever
//!   it stored after all.

mod fetch;
mod lease;

use crate::auth::Uploader;
use crate::db::{import, now_ms, video};
use crate::error::ApiError;
use crate::state::AppState;
use crate::videos;
use fetch::{Cut, Fetch, Fetcher, ImportFailure, Progress};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use goflix_shared::domain::{Change, VideoId, VideoState, Visibility};
use goflix_shared::events::{Event, EventKind};
use goflix_shared::layout;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::ObjectStore;
use goflix_shared::trace_context;
use lease::Claim;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use url::Url;

/// Imports one process runs at a time.
const MAX_RUNNING: usize = 4;
/// Takes of one import before it fails `import_interrupted`.
const MAX_ATTEMPTS: i32 = 3;
/// How often a running import renews its lease and writes its progress.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often the runner looks for imports whose lease ran out.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// Records an import of `url` (checked already) as video `id` of
/// `uploader` (state `importing`) and wakes this process's runner.
pub(crate) async fn begin(
    state: &AppState,
    uploader: &Uploader,
    title: String,
    visibility: Visibility,
    url: &Url,
) -> Result<VideoId, ApiError> {
    let id = VideoId::new();
    let txn = state.db.begin().await?;
    let downloads = state.downloads.by_default;
    videos::insert_importing(&txn, uploader, id, title, visibility, downloads).await?;
    import::ActiveModel {
        video_id: Set(id.0),
        url: Set(url.to_string()),
        traceparent: Set(trace_context::current()),
        attempts: Set(0),
        lease_token: Set(None),
        lease_until: Set(0),
        created_at: Set(now_ms()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    state.imports.notify_one();
    tracing::info!(video_id = %id, host = url.host_str().unwrap_or_default(), "import asked for");
    Ok(id)
}

/// Runs imports (new ones, and those whose process died) until
/// `shutdown`; then stops the running ones and frees their leases.
pub(crate) async fn run(state: &AppState, shutdown: Shutdown) {
    let fetcher = match Fetcher::new(state.import_allow_private) {
        Ok(fetcher) => fetcher,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the import client: this process runs no URL imports");
            return;
        }
    };
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < MAX_RUNNING && !shutdown.is_cancelled() {
            match lease::take_next(&state.db).await {
                Ok(Some(claim)) => {
                    running.push(run_one(state, &fetcher, claim, shutdown.child_token()))
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for imports; will try again");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = state.imports.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
            Some(()) = running.next(), if !running.is_empty() => {}
        }
    }
    // Each import's stop signal is a child of `shutdown`: they end soon.
    while running.next().await.is_some() {}
}

/// Runs one import in a span continuing the trace of its request.
async fn run_one(state: &AppState, fetcher: &Fetcher, claim: Claim, stop: Shutdown) {
    let span = tracing::info_span!("import", video_id = %claim.video_id, attempt = claim.attempt);
    trace_context::set_parent(&span, claim.traceparent.as_deref());
    async {
        if let Err(e) = attempt(state, fetcher, &claim, stop).await {
            tracing::warn!(error = %e, "import bookkeeping failed; it is taken up again once its lease runs out");
        }
    }
    .instrument(span)
    .await
}

/// One run of an import, from its take to its end (or hand-over).
async fn attempt(
    state: &AppState,
    fetcher: &Fetcher,
    claim: &Claim,
    stop: Shutdown,
) -> Result<(), ApiError> {
    if claim.attempt > MAX_ATTEMPTS {
        let detail = format!(
            "the import was started {MAX_ATTEMPTS} times and each time its control-plane process stopped"
        );
        return fail(state, claim, ImportFailure::interrupted(detail)).await;
    }
    // Checked again: the setting may have changed since the request.
    let url = match crate::egress::check_url(&claim.url, state.import_allow_private) {
        Ok(url) => url,
        Err(refusal) => return fail(state, claim, ImportFailure::refused(refusal)).await,
    };
    // From byte zero, also after a take-over.
    lease::set_progress(&state.db, claim, 0.0).await?;
    let progress = Arc::new(Progress::default());
    let done = Shutdown::new();
    let key = layout::master(VideoId(claim.video_id));
    let fetch = async {
        let fetch = Fetch {
            store: &state.store,
            key: &key,
            limit: state.max_upload_bytes,
            deadline: tokio::time::Instant::now() + state.import_timeout,
            progress: progress.clone(),
            stop: stop.clone(),
        };
        let stored = fetcher.fetch(url, fetch).await;
        done.cancel();
        stored
    };
    let (stored, held) = tokio::join!(fetch, heartbeat(state, claim, &progress, &stop, &done));
    match (stored, held) {
        (Ok(size), true) => {
            tracing::info!(bytes = size, "import stored");
            finish(state, claim).await
        }
        (Ok(_), false) => discard_if_orphaned(state, claim).await,
        (Err(Cut::Failed(failure)), true) => fail(state, claim, failure).await,
        (Err(Cut::Stopped), true) => {
            tracing::info!("import stopped by shutdown; freeing it for another process");
            Ok(lease::release(&state.db, claim).await?)
        }
        (Err(Cut::Storage(e)), true) => {
            tracing::warn!(error = %e, "storage failed during an import; it is taken up again once its lease runs out");
            Ok(())
        }
        // Lost: cancelled, deleted or taken over; nothing of ours is stored.
        (Err(_), false) => Ok(()),
    }
}

/// Every [`HEARTBEAT`] until `done`: renews the lease and writes the
/// progress when it grew. Returns whether the lease is still held; when it
/// is lost, cancels `stop` first.
async fn heartbeat(
    state: &AppState,
    claim: &Claim,
    progress: &Progress,
    stop: &Shutdown,
    done: &Shutdown,
) -> bool {
    let mut written = 0.0;
    loop {
        tokio::select! {
            _ = done.cancelled() => return true,
            _ = tokio::time::sleep(HEARTBEAT) => {}
        }
        let fraction = progress.fraction();
        let grown = (fraction > written).then_some(fraction);
        match lease::renew(&state.db, claim, grown).await {
            Ok(true) => written = fraction.max(written),
            Ok(false) => {
                tracing::info!("import cancelled, deleted or taken over; stopping");
                stop.cancel();
                return false;
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew an import's lease; trying again"),
        }
    }
}

/// The master is stored: ends the import and queues the video's job in one
/// transaction, then announces `video.queued`.
async fn finish(state: &AppState, claim: &Claim) -> Result<(), ApiError> {
    let id = VideoId(claim.video_id);
    let txn = state.db.begin().await?;
    let job = match lease::end(&txn, claim).await? {
        true => videos::enqueue_imported(state, &txn, id).await?,
        false => None,
    };
    let Some(job) = job else {
        drop(txn);
        return discard_if_orphaned(state, claim).await;
    };
    txn.commit().await?;
    videos::queued(state, &job);
    // Nobody watching is not an error.
    let _ = state
        .applied
        .send(Event::now(id, EventKind::Queued).for_job(job.job_id));
    Ok(())
}

/// Fails the video with `failure` (and its `video.failed` notifications)
/// while the import is still ours, and removes any master a run stored.
async fn fail(state: &AppState, claim: &Claim, failure: ImportFailure) -> Result<(), ApiError> {
    let id = VideoId(claim.video_id);
    let txn = state.db.begin().await?;
    if !lease::end(&txn, claim).await? {
        return Ok(());
    }
    let changed = video::transition(Change::ImportFailed)
        .col_expr(
            video::Column::ErrorCode,
            Expr::value(Some(failure.code.as_str())),
        )
        .col_expr(
            video::Column::ErrorMessage,
            Expr::value(Some(failure.detail.clone())),
        )
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(id.0))
        .exec(&txn)
        .await?
        .rows_affected;
    // Streams and notifications get the public sentence, never the detail.
    let message = crate::failures::public_message(failure.code.as_str()).to_owned();
    let event = Event::now(
        id,
        EventKind::Failed {
            code: failure.code,
            message,
        },
    );
    crate::notify::video_event(&txn, &event, changed == 1).await?;
    txn.commit().await?;
    tracing::info!(code = %failure.code, detail = %failure.detail, "import failed");
    if changed == 1 {
        let _ = state.applied.send(event);
    }
    state
        .store
        .delete_prefix(layout::master(id).as_str())
        .await?;
    Ok(())
}

/// After the import was lost with its master stored: removes the master
/// when nobody needs it (the video is gone or failed); one taken over by
/// another process is left to it.
async fn discard_if_orphaned(state: &AppState, claim: &Claim) -> Result<(), ApiError> {
    let row = video::Entity::find_by_id(claim.video_id)
        .one(&state.db)
        .await?;
    if row.is_none_or(|row| row.state == VideoState::Failed) {
        tracing::info!("removing the master of an import cancelled or deleted meanwhile");
        state
            .store
            .delete_prefix(layout::master(VideoId(claim.video_id)).as_str())
            .await?;
    }
    Ok(())
}
