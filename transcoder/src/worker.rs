//! The worker loop: lease a job, fetch the master, transcode it into a
//! fresh version folder, publish the files, report progress and the
//! outcome as events (`video.ready` names the new version), and ack. The
//! worker never writes the playback record: the control plane does, from
//! the video's row, so visibility is decided in one place only. A bad
//! master fails its job for good with a stable error code; an
//! infrastructure failure is retried with backoff. Nothing a job does can
//! stop the loop.
//!
//! Object storage being unavailable is not a failure of the job: the worker
//! keeps the lease (heartbeating) and retries the storage call with capped
//! backoff until storage is back, so an outage burns no attempt and
//! dead-letters nothing. A job whose lease is lost (the queue handed it to
//! another worker, or RabbitMQ closed the channel) has its child
//! process killed and is abandoned unsettled, so no job is completed twice.
//!
//! The media work runs in a child process ([`crate::supervise`]) with
//! memory, CPU and wall-time limits; a child that crashes, hits a limit or
//! stops making progress is killed and its job retried, and the worker goes
//! on serving. A job cancelled by an operator ([`Worker::cancel_job`]) has its
//! child killed and fails with `cancelled`, without a retry.
//!
//! While encoding, the live copy of every rendition is published under a
//! live version ([`crate::live`]): once every rendition has a segment
//! `video.playable` announces it (the control plane points playback at
//! it); a job that then fails removes it.

use crate::child::ChildRequest;
use crate::live::{LivePlayback, LivePublisher};
use crate::pipeline::Cancel;
pub use crate::running::RunningJobs;
use crate::supervise::{self, ChildEnd, Isolation};
use crate::{TranscodeOptions, TranscodeOutput};
use futures_util::StreamExt;
use goflix_shared::command::{Command, CommandBus};
use goflix_shared::domain::TranscodeJob;
use goflix_shared::events::{BusError, Event, EventBus, EventKind};
use goflix_shared::layout;
use goflix_shared::metrics;
use goflix_shared::queue::{JobQueue, Lease, QueueError, MAX_ATTEMPTS};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store, StoreError};
use goflix_shared::trace_context;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;
use uuid::Uuid;

/// How often a running job renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// First and longest pause between storage calls while storage is unavailable.
const STORAGE_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));
/// How often the live copy of a running encode is synced to storage.
const LIVE_SYNC_EVERY: Duration = Duration::from_millis(500);
/// How often a pause checks whether the job was cancelled.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Everything a worker needs.
#[derive(Clone)]
pub struct Worker {
    /// Where masters are read and outputs written.
    pub store: Store,
    /// Where jobs come from.
    pub queue: Arc<dyn JobQueue>,
    /// Where progress and outcomes go.
    pub bus: Arc<dyn EventBus>,
    /// Encoder settings.
    pub options: TranscodeOptions,
    /// After shutdown, how long a running job may go on before it is
    /// cancelled and released to the queue for another worker.
    pub drain: Duration,
    /// How each job's child process is run and limited.
    pub isolation: Isolation,
    /// Where operators' cancels come from ([`Command::CancelJob`]).
    pub commands: Arc<dyn CommandBus>,
    /// The jobs running now and the cancels heard, for [`Worker::cancel_job`].
    pub running: RunningJobs,
}

/// `error.code`s a job fails with, the label values of `goflix_jobs_failed_total`.
const FAILURE_CODES: &[&str] = &[
    "invalid_media",
    "unsupported_format",
    "no_video_stream",
    "audio_only",
    "source_too_long",
    "hdr_unsupported",
    "decode_failed",
    "encode_failed",
    "master_missing",
    "retries_exhausted",
    "resource_limit",
    "stalled",
    "cancelled",
];

/// Counts a job failed for good in `goflix_jobs_failed_total`.
fn count_failure(code: &str) {
    metrics::JOBS_FAILED
        .counter(&[metrics::bounded(code, FAILURE_CODES)])
        .inc();
}

/// How one job ended.
enum Outcome {
    Ready,
    /// The master itself is unusable: fail now, retrying cannot help.
    Rejected {
        /// Stable machine-readable code.
        code: String,
        /// Readable explanation.
        message: String,
    },
    /// Something around the media failed (storage, a crashed or stalled
    /// child): worth retrying. `code` is the failure once attempts run out.
    Transient {
        /// `retries_exhausted`, or a precise cause like `resource_limit`.
        code: &'static str,
        /// What happened.
        reason: String,
    },
    /// The lease was lost and the work stopped; the job's new holder redoes it.
    Cancelled,
}

/// Why a storage call stopped being retried.
enum Stop {
    /// The job was cancelled while waiting for storage.
    Cancelled,
    /// Storage answered with an error that waiting does not cure.
    Failed(StoreError),
}

/// A retryable failure with no more precise code.
fn transient(reason: String) -> Outcome {
    Outcome::Transient {
        code: "retries_exhausted",
        reason,
    }
}

impl Worker {
    /// Cancels the job `job_id` for an operator: if this process runs it,
    /// its child is killed, its partial outputs removed, and it fails with
    /// `cancelled` (then `true`); otherwise it is dropped should it arrive.
    pub fn cancel_job(&self, job_id: Uuid) -> bool {
        self.running.cancel(job_id)
    }

    /// Runs `concurrency` job loops until `shutdown`; each finishes its
    /// current job first, or releases it once [`Worker::drain`] has passed.
    pub async fn run(self, concurrency: usize, shutdown: Shutdown) {
        let listener = tokio::spawn(self.clone().listen(shutdown.clone()));
        let loops: Vec<_> = (0..concurrency.max(1))
            .map(|_| tokio::spawn(self.clone().job_loop(shutdown.clone())))
            .collect();
        for handle in loops {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "worker loop ended abnormally");
            }
        }
        listener.abort();
    }

    /// Follows the command channel until `shutdown`, cancelling the jobs
    /// operators cancel; listens again (with backoff) when the channel drops.
    async fn listen(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(500);
        loop {
            match self.commands.listen().await {
                Ok(mut commands) => {
                    backoff = Duration::from_millis(500);
                    loop {
                        let command = tokio::select! {
                            _ = shutdown.cancelled() => return,
                            command = commands.next() => command,
                        };
                        match command {
                            Some(Command::CancelJob { job_id, .. }) => {
                                if self.cancel_job(job_id) {
                                    tracing::info!(%job_id, "cancelling the job on request");
                                }
                            }
                            None => break,
                        }
                    }
                    tracing::warn!("command channel closed; listening again");
                }
                Err(e) => tracing::warn!(error = %e, ?backoff, "command channel unavailable"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    async fn job_loop(self, shutdown: Shutdown) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let lease = match self.queue.next(&shutdown).await {
                Ok(Some(lease)) => lease,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, ?backoff, "job queue unavailable");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_millis(500);
            let job = lease.job();
            let span = tracing::info_span!("job", job_id = %job.job_id, video_id = %job.video_id, attempt = lease.attempt());
            // A child of the upload that queued the job, when it carries a trace.
            trace_context::set_parent(&span, job.traceparent.as_deref());
            self.handle(lease, &shutdown).instrument(span).await;
        }
    }

    async fn handle(&self, lease: Box<dyn Lease>, shutdown: &Shutdown) {
        let job = lease.job().clone();
        let attempt = lease.attempt();
        let _in_flight = metrics::JOBS_IN_FLIGHT.gauge(&[]).track();
        if attempt > MAX_ATTEMPTS {
            count_failure("retries_exhausted");
            self.publish(
                &job,
                EventKind::Failed {
                    code: "retries_exhausted".into(),
                    message: format!("the job failed {MAX_ATTEMPTS} times; see the worker logs"),
                },
            )
            .await;
            finish(lease.reject().await);
            return;
        }
        let Some(running) = self.running.start(job.job_id) else {
            tracing::info!("job cancelled before it started; dropping it");
            finish(lease.ack().await);
            return;
        };
        tracing::info!("job started");
        self.publish(&job, EventKind::Processing { attempt }).await;
        let started = Instant::now();
        let cancel = running.cancel.clone();
        let mut released = false;
        let outcome = {
            let work = self.process(&job, &cancel);
            tokio::pin!(work);
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            let drained = async {
                shutdown.cancelled().await;
                tokio::time::sleep(self.drain).await;
            };
            tokio::pin!(drained);
            loop {
                // Once cancelled, wait for the work to stop (the encode
                // checks between frames) so its threads and files are gone.
                tokio::select! {
                    outcome = &mut work => break outcome,
                    () = &mut drained, if !cancel.is_cancelled() => {
                        tracing::warn!(drain_s = self.drain.as_secs(), "shutting down: cancelling the job to release it");
                        released = true;
                        cancel.cancel();
                    }
                    () = lease.lost(), if !cancel.is_cancelled() => {
                        tracing::warn!("lease lost; cancelling the job, its new holder redoes it");
                        cancel.cancel();
                    }
                    _ = beat.tick(), if !cancel.is_cancelled() => match lease.heartbeat().await {
                        Ok(()) => {}
                        Err(QueueError::LeaseLost(_)) => {
                            tracing::warn!("lease lost; cancelling the job, its new holder redoes it");
                            cancel.cancel();
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        self.running.finish(job.job_id);
        let by_operator = running.by_operator.is_cancelled();
        let label = match &outcome {
            Outcome::Cancelled if by_operator => "cancelled",
            Outcome::Cancelled if released => "released",
            Outcome::Cancelled => "abandoned",
            Outcome::Ready => "ready",
            Outcome::Transient { .. } if attempt < MAX_ATTEMPTS => "retry",
            Outcome::Rejected { .. } | Outcome::Transient { .. } => "failed",
        };
        metrics::JOB_DURATION
            .histogram(&[label])
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Outcome::Cancelled if by_operator => {
                tracing::info!(
                    elapsed_s = started.elapsed().as_secs_f64(),
                    "job cancelled by an operator"
                );
                count_failure("cancelled");
                self.publish(
                    &job,
                    EventKind::Failed {
                        code: "cancelled".into(),
                        message: "the job was cancelled".into(),
                    },
                )
                .await;
                finish(lease.ack().await);
            }
            Outcome::Cancelled if released => {
                tracing::info!(
                    elapsed_s = started.elapsed().as_secs_f64(),
                    "job released to the queue"
                );
                finish(lease.retry(Duration::ZERO).await);
            }
            Outcome::Cancelled => {
                tracing::info!(elapsed_s = started.elapsed().as_secs_f64(), "job cancelled");
            }
            Outcome::Ready => {
                tracing::info!(elapsed_s = started.elapsed().as_secs_f64(), "job done");
                finish(lease.ack().await);
            }
            Outcome::Rejected { code, message } => {
                tracing::warn!(%code, %message, "master rejected");
                count_failure(&code);
                self.publish(&job, EventKind::Failed { code, message })
                    .await;
                finish(lease.reject().await);
            }
            Outcome::Transient { code, reason } if attempt >= MAX_ATTEMPTS => {
                tracing::error!(%code, %reason, "job failed on its last attempt");
                count_failure(code);
                self.publish(
                    &job,
                    EventKind::Failed {
                        code: code.into(),
                        message: format!("transcoding failed {attempt} times: {reason}"),
                    },
                )
                .await;
                finish(lease.reject().await);
            }
            Outcome::Transient { reason, .. } => {
                let delay = Duration::from_secs(2u64.pow(attempt));
                tracing::warn!(%reason, ?delay, "job will be retried");
                finish(lease.retry(delay).await);
            }
        }
    }

    async fn process(&self, job: &TranscodeJob, cancel: &Cancel) -> Outcome {
        let scratch = match tempfile::Builder::new().prefix("goflix-job-").tempdir() {
            Ok(dir) => dir,
            Err(e) => return transient(format!("no scratch space: {e}")),
        };
        let master = scratch.path().join("master");
        let out_dir = scratch.path().join("out");
        let live_dir = scratch.path().join("live");
        if let Err(e) = tokio::fs::create_dir(&out_dir).await {
            return transient(format!("no scratch space: {e}"));
        }
        let master_key = layout::master(job.video_id);
        let downloaded = self
            .until_stored(cancel, "downloading the master", || {
                self.store.download_to(&master_key, &master)
            })
            .await;
        match downloaded {
            Ok(()) => {}
            Err(Stop::Cancelled) => return Outcome::Cancelled,
            Err(Stop::Failed(StoreError::NotFound(_))) => {
                return Outcome::Rejected {
                    code: "master_missing".into(),
                    message: "the uploaded master is no longer in storage".into(),
                };
            }
            Err(Stop::Failed(e)) => return transient(e.to_string()),
        }
        let version = layout::new_version();
        let mut live = LivePlayback::new(
            LivePublisher::new(
                self.store.clone(),
                job.video_id,
                layout::new_version(),
                live_dir.clone(),
            ),
            &self.store,
            job.video_id,
        );
        let transcoded = self
            .transcode_isolated(
                job, &master, &out_dir, &live_dir, &version, &mut live, cancel,
            )
            .await;
        let output = match transcoded {
            Ok(output) => output,
            Err(outcome) => {
                live.withdraw().await;
                return outcome;
            }
        };
        match self
            .publish_outputs(job, &out_dir, &version, &output, cancel)
            .await
        {
            Ok(()) => match self.announce_ready(job, &version, &output).await {
                Ok(()) => Outcome::Ready,
                Err(e) => {
                    live.withdraw().await;
                    // The announcement may have arrived all the same, so the
                    // version stays; deleting the video removes it in any case.
                    transient(format!("announcing the version: {e}"))
                }
            },
            Err(stop) => {
                live.withdraw().await;
                // Leave nothing half-written behind: the version was never referenced.
                let prefix = layout::version_prefix(job.video_id, &version);
                if let Err(cleanup) = self.store.delete_prefix(&prefix).await {
                    tracing::warn!(error = %cleanup, "could not remove unpublished version");
                }
                match stop {
                    Stop::Cancelled => Outcome::Cancelled,
                    Stop::Failed(e) => transient(e.to_string()),
                }
            }
        }
    }

    /// Runs the storage call `op` until it succeeds or fails for a reason
    /// other than storage being unavailable; while unavailable, retries with
    /// capped backoff for as long as it takes (the lease is kept alive by
    /// the caller's heartbeats), unless the job is cancelled.
    async fn until_stored<T, F, Fut>(
        &self,
        cancel: &Cancel,
        what: &str,
        mut op: F,
    ) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut backoff = STORAGE_BACKOFF.0;
        loop {
            if cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            match op().await {
                Ok(value) => return Ok(value),
                Err(StoreError::Unavailable(reason)) => {
                    tracing::warn!(%reason, ?backoff, "object storage unavailable while {what}; waiting for it");
                    if !pause(backoff, cancel).await {
                        return Err(Stop::Cancelled);
                    }
                    backoff = (backoff * 2).min(STORAGE_BACKOFF.1);
                }
                Err(e) => return Err(Stop::Failed(e)),
            }
        }
    }

    /// Runs the ffmpeg pipeline in a child process ([`supervise::run`]),
    /// forwarding progress as events and publishing the live copy as it
    /// grows (`video.playable` once every rendition has a segment); the
    /// live playlists are ended when the encode is.
    #[allow(clippy::too_many_arguments)]
    async fn transcode_isolated(
        &self,
        job: &TranscodeJob,
        master: &Path,
        out_dir: &Path,
        live_dir: &Path,
        version: &str,
        live: &mut LivePlayback,
        cancel: &Cancel,
    ) -> Result<TranscodeOutput, Outcome> {
        let (progress_tx, mut progress_rx) = mpsc::channel::<f64>(8);
        let options = TranscodeOptions {
            uri_prefix: format!("{version}/"),
            live_dir: Some(live_dir.to_path_buf()),
            ..self.options.clone()
        };
        let request = ChildRequest::new(
            master.to_path_buf(),
            out_dir.to_path_buf(),
            &options,
            self.isolation.limits,
        );
        let started = Instant::now();
        // The child reports progress at the event rate already.
        let child = supervise::run(&self.isolation, job.video_id, &request, cancel, progress_tx);
        let forward = async {
            let mut sync = tokio::time::interval(LIVE_SYNC_EVERY);
            loop {
                tokio::select! {
                    progress = progress_rx.recv() => match progress {
                        Some(progress) => self.publish(job, EventKind::Progress { progress }).await,
                        None => break,
                    },
                    _ = sync.tick() => self.sync_live(job, live).await,
                }
            }
        };
        let (end, ()) = tokio::join!(child, forward);
        if matches!(end, ChildEnd::Done(_)) {
            // The encode ended: the live playlists get their last segments and ENDLIST.
            self.sync_live(job, live).await;
        }
        match end {
            ChildEnd::Done(output) => {
                let wall_s = started.elapsed().as_secs_f64();
                if wall_s > 0.0 {
                    metrics::TRANSCODE_SPEED
                        .histogram(&[])
                        .observe(output.duration_s / wall_s);
                }
                Ok(output)
            }
            ChildEnd::Cancelled => Err(Outcome::Cancelled),
            ChildEnd::Rejected { code, message } => Err(Outcome::Rejected { code, message }),
            ChildEnd::Crashed { code, reason } => Err(Outcome::Transient { code, reason }),
        }
    }

    /// Uploads every file and reports each rendition. Each storage call
    /// waits out a storage outage; a cancelled job stops before the
    /// version is announced, so it never switches playback.
    async fn publish_outputs(
        &self,
        job: &TranscodeJob,
        out_dir: &Path,
        version: &str,
        output: &TranscodeOutput,
        cancel: &Cancel,
    ) -> Result<(), Stop> {
        // Media first, playlists after, so a playlist never names a missing file.
        let mut files = output.files.clone();
        files.sort_by_key(|name| !name.ends_with(".mp4"));
        for name in &files {
            let key = layout::media_file(job.video_id, version, name).ok_or_else(|| {
                Stop::Failed(StoreError::Io(std::io::Error::other(format!(
                    "bad output name {name}"
                ))))
            })?;
            let path = out_dir.join(name);
            self.until_stored(cancel, "uploading outputs", || {
                self.store.put_file(&key, &path)
            })
            .await?;
        }
        for rendition in &output.renditions {
            self.publish(
                job,
                EventKind::RenditionReady {
                    rendition: rendition.clone(),
                },
            )
            .await;
        }
        if cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// Announces the stored version (`video.ready`): the control plane then
    /// points the playback record at it. Announced after every file is
    /// stored, so playback never points at a version with missing files;
    /// an announcement that fails fails the attempt, since nothing else
    /// would ever publish the version.
    async fn announce_ready(
        &self,
        job: &TranscodeJob,
        version: &str,
        output: &TranscodeOutput,
    ) -> Result<(), BusError> {
        let ready = EventKind::Ready {
            version: version.to_string(),
            duration_s: output.duration_s,
            renditions: output.renditions.clone(),
        };
        self.bus
            .publish(Event::now(job.video_id, ready).for_job(job.job_id))
            .await
    }

    /// Stores what is new in the live folder; the first time every
    /// rendition plays, points playback at the live version and says so.
    async fn sync_live(&self, job: &TranscodeJob, live: &mut LivePlayback) {
        match live.sync().await {
            Ok(Some(version)) => {
                tracing::info!(live_version = %version, "playable while encoding");
                self.publish(job, EventKind::Playable { version }).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "live publishing stalled; retrying"),
        }
    }

    async fn publish(&self, job: &TranscodeJob, kind: EventKind) {
        let name = kind.name();
        let event = Event::now(job.video_id, kind).for_job(job.job_id);
        if let Err(e) = self.bus.publish(event).await {
            tracing::warn!(error = %e, event = name, "could not publish event");
        }
    }
}

/// Sleeps for `delay` unless `cancel` fires first; whether it slept it out.
async fn pause(delay: Duration, cancel: &Cancel) -> bool {
    let until = Instant::now() + delay;
    while !cancel.is_cancelled() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        tokio::time::sleep(left.min(CANCEL_CHECK)).await;
    }
    false
}

fn finish(result: Result<(), QueueError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not settle the job with the queue");
    }
}
