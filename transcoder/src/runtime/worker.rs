//! The worker loop: lease a job, fetch the master, transcode it into a
//! fresh version folder, publish the files, report progress and the
//! outcome as events (`video.ready` names the new version), and ack. The
//! worker never writes the playback record: the control plane does, from
//! the video's row, so visibility is decided in one place only. A bad
//! master fails its job for good with a stable error code; an
//! infrastructure failure is retried with backoff. Each failure says where
//! it happens whether it is retried or aborts the job ([`JobError`]), and
//! `Settlement::of` turns how an attempt ended into its one settlement
//! (event, metric outcome, queue call). Nothing a job does can stop the loop.
//!
//! Object storage being unavailable is not a failure of the job: the worker
//! keeps the lease (heartbeating) and retries the storage call with capped
//! backoff until storage is back, so an outage burns no attempt and
//! dead-letters nothing. A job whose lease is lost (the queue handed it to
//! another worker, or RabbitMQ closed the channel) has its child
//! process killed and is abandoned unsettled, so no job is completed twice.
//!
//! The media work runs in a child process ([`crate::runtime::supervise`]) with
//! memory, CPU and wall-time limits; a child that crashes, hits a limit or
//! stops making progress is killed and its job retried, and the worker goes
//! on serving. A job cancelled by an operator ([`Worker::cancel_job`]) has its
//! child killed and fails with `cancelled`, without a retry.
//!
//! While encoding, the live copy of every rendition is published under a
//! live version ([`crate::media::live`]): once every rendition has a segment
//! `video.playable` announces it (the control plane points playback at
//! it); a job that then fails removes it.

use crate::media::live::{LivePlayback, LivePublisher};
use crate::media::pipeline::Cancel;
use crate::media::{TranscodeOptions, TranscodeOutput};
use crate::runtime::child::ChildRequest;
use crate::runtime::job_error::{Failure, JobError, JobResult};
pub use crate::runtime::running::RunningJobs;
use crate::runtime::supervise::{self, Isolation};
use futures_util::StreamExt;
use goflix_shared::command::{Command, CommandSource};
use goflix_shared::domain::{FailureCode, TranscodeJob, VideoCodec};
use goflix_shared::events::{BusError, Event, EventKind, EventSink};
use goflix_shared::layout::{self, AttemptVersions};
use goflix_shared::metrics;
use goflix_shared::queue::{JobQueue, Lease, QueueError, MAX_ATTEMPTS};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{JobStore, StoreError};
use goflix_shared::trace_context;
use std::future::Future;
use std::path::{Path, PathBuf};
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
    pub store: Arc<dyn JobStore>,
    /// Where jobs come from.
    pub queue: Arc<dyn JobQueue>,
    /// Where progress and outcomes go.
    pub bus: Arc<dyn EventSink>,
    /// Encoder settings.
    pub options: TranscodeOptions,
    /// After shutdown, how long a running job may go on before it is
    /// cancelled and released to the queue for another worker.
    pub drain: Duration,
    /// How each job's child process is run and limited.
    pub isolation: Isolation,
    /// Where operators' cancels come from ([`Command::CancelJob`]).
    pub commands: Arc<dyn CommandSource>,
    /// The jobs running now and the cancels heard, for [`Worker::cancel_job`].
    pub running: RunningJobs,
}

/// Counts a job failed for good in `goflix_jobs_failed_total`; the codes
/// are its label values.
fn count_failure(code: FailureCode) {
    metrics::JOBS_FAILED.counter(&[code.as_str()]).inc();
}

/// What stopped a job's work when it was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopper {
    /// An operator cancelled the job ([`Worker::cancel_job`]).
    Operator,
    /// The worker shuts down and the drain time is over.
    Shutdown,
    /// The queue handed the job to another worker.
    LostLease,
}

/// How an attempt is settled with the queue, decided once from how it
/// ended ([`Settlement::of`]).
#[derive(Debug, PartialEq)]
enum Settlement {
    /// Every output is published: acked.
    Done,
    /// The master is unusable, or retrying cannot help: `video.failed`, rejected.
    Rejected(Failure),
    /// The last attempt failed too: `video.failed`, rejected.
    Exhausted(Failure),
    /// An operator cancelled the job: `video.failed` `cancelled`, acked.
    Cancelled,
    /// Worth another attempt after `delay`.
    Retry {
        /// What went wrong this time.
        reason: String,
        /// How long the job waits in the queue.
        delay: Duration,
    },
    /// Shutting down: back to the queue at once for another worker.
    Released,
    /// The lease was lost: left unsettled for the job's new holder.
    Abandoned,
}

impl Settlement {
    /// The settlement of attempt `attempt` that ended with `result`;
    /// `stopper` is what stopped the work if it was stopped.
    fn of(result: Result<(), JobError>, stopper: Stopper, attempt: u32) -> Self {
        match result {
            Ok(()) => Self::Done,
            Err(JobError::Stopped) => match stopper {
                Stopper::Operator => Self::Cancelled,
                Stopper::Shutdown => Self::Released,
                Stopper::LostLease => Self::Abandoned,
            },
            Err(JobError::Abort(failure)) => Self::Rejected(failure),
            Err(JobError::Retry(failure)) if attempt < MAX_ATTEMPTS => Self::Retry {
                reason: failure.message,
                delay: Duration::from_secs(2u64.pow(attempt)),
            },
            Err(JobError::Retry(Failure { code, message })) => Self::Exhausted(Failure {
                code,
                message: format!("transcoding failed {attempt} times: {message}"),
            }),
        }
    }

    /// The `outcome` label of `goflix_job_duration_seconds`.
    fn outcome(&self) -> &'static str {
        match self {
            Self::Done => "ready",
            Self::Rejected(_) | Self::Exhausted(_) => "failed",
            Self::Cancelled => "cancelled",
            Self::Retry { .. } => "retry",
            Self::Released => "released",
            Self::Abandoned => "abandoned",
        }
    }
}

/// Why a storage call stopped being retried.
enum Stop {
    /// The job was cancelled while waiting for storage.
    Cancelled,
    /// Storage answered with an error that waiting does not cure.
    Failed(StoreError),
}

impl From<Stop> for JobError {
    /// A storage error waiting does not cure is still worth another attempt.
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Cancelled => JobError::Stopped,
            Stop::Failed(e) => JobError::retry(FailureCode::RetriesExhausted, e.to_string()),
        }
    }
}

/// A job's scratch folder: the downloaded master, the outputs and their
/// live copy; removed when dropped.
struct Scratch {
    _dir: tempfile::TempDir,
    master: PathBuf,
    out_dir: PathBuf,
    live_dir: PathBuf,
}

impl Scratch {
    async fn new() -> Result<Self, JobError> {
        let no_space = |e: std::io::Error| format!("no scratch space: {e}");
        let dir = tempfile::Builder::new()
            .prefix("goflix-job-")
            .tempdir()
            .map_err(no_space)
            .retry()?;
        let out_dir = dir.path().join("out");
        tokio::fs::create_dir(&out_dir)
            .await
            .map_err(no_space)
            .retry()?;
        Ok(Self {
            master: dir.path().join("master"),
            live_dir: dir.path().join("live"),
            out_dir,
            _dir: dir,
        })
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
                            // For the control API replica holding the runner's stream.
                            Some(Command::RevokeRunner { .. }) => {}
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
            let message = format!("the job failed {MAX_ATTEMPTS} times; see the worker logs");
            self.fail(&job, FailureCode::RetriesExhausted, message)
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
        let versions = lease.versions();
        let (result, released) = self
            .work_leased(&job, &versions, lease.as_ref(), &running.cancel, shutdown)
            .await;
        self.running.finish(job.job_id);
        let stopper = if running.by_operator.is_cancelled() {
            Stopper::Operator
        } else if released {
            Stopper::Shutdown
        } else {
            Stopper::LostLease
        };
        let settlement = Settlement::of(result, stopper, attempt);
        let elapsed_s = started.elapsed().as_secs_f64();
        metrics::JOB_DURATION
            .histogram(&[settlement.outcome()])
            .observe(elapsed_s);
        self.settle(&job, lease, settlement, elapsed_s).await;
    }

    /// Runs the job's work while holding its lease: heartbeats, and
    /// cancels the work when the lease is lost or, after shutdown, once
    /// the drain time is over. Returns how the work ended, and whether it
    /// was cancelled to release the job.
    async fn work_leased(
        &self,
        job: &TranscodeJob,
        versions: &AttemptVersions,
        lease: &dyn Lease,
        cancel: &Cancel,
        shutdown: &Shutdown,
    ) -> (Result<(), JobError>, bool) {
        let work = self.process(job, versions, cancel);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        let drained = async {
            shutdown.cancelled().await;
            tokio::time::sleep(self.drain).await;
        };
        tokio::pin!(drained);
        let mut released = false;
        let lost = || {
            tracing::warn!("lease lost; cancelling the job, its new holder redoes it");
            cancel.cancel();
        };
        loop {
            // Once cancelled, wait for the work to stop (the encode
            // checks between frames) so its threads and files are gone.
            tokio::select! {
                result = &mut work => return (result, released),
                () = &mut drained, if !cancel.is_cancelled() => {
                    tracing::warn!(drain_s = self.drain.as_secs(), "shutting down: cancelling the job to release it");
                    released = true;
                    cancel.cancel();
                }
                () = lease.lost(), if !cancel.is_cancelled() => lost(),
                _ = beat.tick(), if !cancel.is_cancelled() => match lease.heartbeat().await {
                    Ok(()) => {}
                    Err(QueueError::LeaseLost(_)) => lost(),
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
        }
    }

    /// Settles the attempt with the queue as `settlement` says, publishing
    /// `video.failed` for a job that failed for good.
    async fn settle(
        &self,
        job: &TranscodeJob,
        lease: Box<dyn Lease>,
        settlement: Settlement,
        elapsed_s: f64,
    ) {
        match settlement {
            Settlement::Done => {
                tracing::info!(elapsed_s, "job done");
                finish(lease.ack().await);
            }
            Settlement::Rejected(Failure { code, message }) => {
                tracing::warn!(%code, %message, "master rejected");
                self.fail(job, code, message).await;
                finish(lease.reject().await);
            }
            Settlement::Exhausted(Failure { code, message }) => {
                tracing::error!(%code, %message, "job failed on its last attempt");
                self.fail(job, code, message).await;
                finish(lease.reject().await);
            }
            Settlement::Cancelled => {
                tracing::info!(elapsed_s, "job cancelled by an operator");
                self.fail(job, FailureCode::Cancelled, "the job was cancelled".into())
                    .await;
                finish(lease.ack().await);
            }
            Settlement::Retry { reason, delay } => {
                tracing::warn!(%reason, ?delay, "job will be retried");
                finish(lease.retry(delay).await);
            }
            Settlement::Released => {
                tracing::info!(elapsed_s, "job released to the queue");
                finish(lease.retry(Duration::ZERO).await);
            }
            Settlement::Abandoned => tracing::info!(elapsed_s, "job cancelled"),
        }
    }

    /// Counts the job failed for good with `code` and says so (`video.failed`).
    async fn fail(&self, job: &TranscodeJob, code: FailureCode, message: String) {
        count_failure(code);
        self.publish(job, EventKind::Failed { code, message }).await;
    }

    /// The job's work: fetch the master, transcode it in a child process,
    /// publish the outputs under the attempt's version and announce it.
    /// Whatever fails says whether the job is worth another attempt.
    async fn process(
        &self,
        job: &TranscodeJob,
        versions: &AttemptVersions,
        cancel: &Cancel,
    ) -> Result<(), JobError> {
        let scratch = Scratch::new().await?;
        self.download_master(job, &scratch.master, cancel).await?;
        let version = versions.output.clone();
        let mut live = LivePlayback::new(
            LivePublisher::new(
                self.store.clone(),
                job.video_id,
                versions.live.clone(),
                scratch.live_dir.clone(),
            ),
            self.store.clone(),
            job.video_id,
        );
        let published = async {
            let output = self
                .transcode_isolated(job, &scratch, &version, &mut live, cancel)
                .await?;
            let stored = self
                .publish_outputs(job, &scratch.out_dir, &version, &output, cancel)
                .await;
            if let Err(stop) = stored {
                self.remove_unannounced(job, &version).await;
                return Err(JobError::from(stop));
            }
            // An announcement that failed may have arrived all the same, so
            // the version stays; deleting the video removes it in any case.
            self.announce_ready(job, &version, &output)
                .await
                .map_err(|e| format!("announcing the version: {e}"))
                .retry()
        }
        .await;
        if published.is_err() {
            live.withdraw().await;
        }
        published
    }

    /// Downloads the video's master to `path`, waiting out storage
    /// outages; a master that is gone fails the job for good.
    async fn download_master(
        &self,
        job: &TranscodeJob,
        path: &Path,
        cancel: &Cancel,
    ) -> Result<(), JobError> {
        let key = layout::master(job.video_id);
        let downloaded = self
            .until_stored(cancel, "downloading the master", || {
                self.store.download_to(&key, path)
            })
            .await;
        match downloaded {
            Err(Stop::Failed(StoreError::NotFound(_))) => Err(JobError::abort(
                FailureCode::MasterMissing,
                "the uploaded master is no longer in storage",
            )),
            other => Ok(other?),
        }
    }

    /// Removes `version`, whose files could not all be stored: nothing
    /// ever referenced it, so nothing half-written stays behind.
    async fn remove_unannounced(&self, job: &TranscodeJob, version: &str) {
        let prefix = layout::version_prefix(job.video_id, version);
        if let Err(cleanup) = self.store.delete_prefix(&prefix).await {
            tracing::warn!(error = %cleanup, "could not remove unpublished version");
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
    async fn transcode_isolated(
        &self,
        job: &TranscodeJob,
        scratch: &Scratch,
        version: &str,
        live: &mut LivePlayback,
        cancel: &Cancel,
    ) -> Result<TranscodeOutput, JobError> {
        let (progress_tx, mut progress_rx) = mpsc::channel::<f64>(8);
        let joins = job.profile.joins.is_some();
        let options = TranscodeOptions {
            uri_prefix: format!("{version}/"),
            // A ladder joining a published version is not played before it is done.
            live_dir: (!joins).then(|| scratch.live_dir.clone()),
            download_max_height: job.profile.download.map(|d| d.max_height),
            ladder_mode: job.profile.ladder,
            codec: ladder_codec(job)?,
            video_only: joins,
            ..self.options.clone()
        };
        let request = ChildRequest::new(
            scratch.master.clone(),
            scratch.out_dir.clone(),
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
        let output = end?;
        // The encode ended: the live playlists get their last segments and ENDLIST.
        self.sync_live(job, live).await;
        let wall_s = started.elapsed().as_secs_f64();
        if wall_s > 0.0 {
            metrics::TRANSCODE_SPEED
                .histogram(&[])
                .observe(output.duration_s / wall_s);
        }
        Ok(output)
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
        let started = Instant::now();
        let mut bytes = 0;
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
            bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            files = files.len(),
            bytes,
            seconds,
            mb_per_s = bytes as f64 / 1e6 / seconds.max(1e-6),
            "outputs stored"
        );
        for rung in &output.quality {
            tracing::info!(
                rung = %rung.name,
                psnr_db = rung.psnr_db,
                kept = rung.kept,
                "per-title rung measured"
            );
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
            captions: output.captions.clone(),
            download: output.download.clone(),
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
/// The one codec a job's ladder is encoded with: H.264 for a video's full
/// job, the codec it names for a job joining a published version.
fn ladder_codec(job: &TranscodeJob) -> Result<VideoCodec, JobError> {
    match job.profile.codecs.as_slice() {
        [codec] => Ok(*codec),
        codecs => Err(JobError::abort(
            FailureCode::Internal,
            format!("a job encodes one codec's ladder, not {codecs:?}"),
        )),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_code_is_a_label_of_the_failure_counter() {
        for code in FailureCode::ALL {
            count_failure(code);
        }
        let exposition = metrics::render();
        for code in FailureCode::ALL {
            let series = format!("goflix_jobs_failed_total{{code=\"{code}\"}}");
            assert!(exposition.contains(&series), "{series} in {exposition}");
        }
        assert!(!exposition.contains("goflix_jobs_failed_total{code=\"other\"}"));
    }

    #[test]
    fn an_attempt_is_settled_by_how_it_ended_and_who_stopped_it() {
        let failure = |code| Failure {
            code,
            message: "it broke".into(),
        };
        let settle = |result, stopper, attempt| Settlement::of(result, stopper, attempt);
        assert_eq!(settle(Ok(()), Stopper::Operator, 1), Settlement::Done);
        assert_eq!(
            settle(Err(JobError::Stopped), Stopper::Operator, 1),
            Settlement::Cancelled
        );
        assert_eq!(
            settle(Err(JobError::Stopped), Stopper::Shutdown, 1),
            Settlement::Released
        );
        assert_eq!(
            settle(Err(JobError::Stopped), Stopper::LostLease, 1),
            Settlement::Abandoned
        );
        let missing = failure(FailureCode::MasterMissing);
        assert_eq!(
            settle(Err(JobError::Abort(missing.clone())), Stopper::LostLease, 1),
            Settlement::Rejected(missing)
        );
        let stalled = JobError::Retry(failure(FailureCode::Stalled));
        assert_eq!(
            settle(Err(stalled.clone()), Stopper::LostLease, 2),
            Settlement::Retry {
                reason: "it broke".into(),
                delay: Duration::from_secs(4),
            }
        );
        assert_eq!(
            settle(Err(stalled), Stopper::LostLease, MAX_ATTEMPTS),
            Settlement::Exhausted(Failure {
                code: FailureCode::Stalled,
                message: format!("transcoding failed {MAX_ATTEMPTS} times: it broke"),
            })
        );
    }
}
