//! The worker loop: lease a job, fetch the master, transcode it into a
//! fresh version folder, publish the files and then the playback record,
//! report progress and the outcome as events, and ack. A bad master fails
//! its job for good with a stable error code; an infrastructure failure is
//! retried with backoff. Nothing a job does can stop the loop. A job whose
//! lease is lost (the queue handed it to another worker) is abandoned
//! unsettled, so no job is completed twice at the same time.

use crate::{transcode, MediaError, TranscodeOptions, TranscodeOutput};
use bytes::Bytes;
use goflix_shared::domain::{PlaybackRecord, TranscodeJob};
use goflix_shared::events::{Event, EventBus, EventKind};
use goflix_shared::layout;
use goflix_shared::queue::{JobQueue, Lease, QueueError, MAX_ATTEMPTS};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store, StoreError};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a running job renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Minimum spacing of `video.progress` events per job.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

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
    /// Something around the media failed (storage, a panic): worth retrying.
    Transient(String),
}

impl Worker {
    /// Runs `concurrency` job loops until `shutdown`; each finishes its current job first.
    pub async fn run(self, concurrency: usize, shutdown: Shutdown) {
        let loops: Vec<_> = (0..concurrency.max(1))
            .map(|_| tokio::spawn(self.clone().job_loop(shutdown.clone())))
            .collect();
        for handle in loops {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, "worker loop ended abnormally");
            }
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
            self.handle(lease).await;
        }
    }

    #[tracing::instrument(skip_all, fields(job_id = %lease.job().job_id, video_id = %lease.job().video_id, attempt = lease.attempt()))]
    async fn handle(&self, lease: Box<dyn Lease>) {
        let job = lease.job().clone();
        let attempt = lease.attempt();
        if attempt > MAX_ATTEMPTS {
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
        tracing::info!("job started");
        self.publish(&job, EventKind::Processing { attempt }).await;
        let started = Instant::now();
        let outcome = {
            let work = self.process(&job);
            tokio::pin!(work);
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.tick().await;
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    () = lease.lost() => {
                        tracing::warn!("lease lost; abandoning the job to its new holder");
                        return;
                    }
                    _ = beat.tick() => match lease.heartbeat().await {
                        Ok(()) => {}
                        Err(QueueError::LeaseLost(_)) => {
                            tracing::warn!("lease lost; abandoning the job to its new holder");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
        };
        match outcome {
            Outcome::Ready => {
                tracing::info!(elapsed_s = started.elapsed().as_secs_f64(), "job done");
                finish(lease.ack().await);
            }
            Outcome::Rejected { code, message } => {
                tracing::warn!(%code, %message, "master rejected");
                self.publish(&job, EventKind::Failed { code, message })
                    .await;
                finish(lease.reject().await);
            }
            Outcome::Transient(reason) if attempt >= MAX_ATTEMPTS => {
                tracing::error!(%reason, "job failed on its last attempt");
                self.publish(
                    &job,
                    EventKind::Failed {
                        code: "retries_exhausted".into(),
                        message: format!("transcoding failed {attempt} times: {reason}"),
                    },
                )
                .await;
                finish(lease.reject().await);
            }
            Outcome::Transient(reason) => {
                let delay = Duration::from_secs(2u64.pow(attempt));
                tracing::warn!(%reason, ?delay, "job will be retried");
                finish(lease.retry(delay).await);
            }
        }
    }

    async fn process(&self, job: &TranscodeJob) -> Outcome {
        let scratch = match tempfile::Builder::new().prefix("goflix-job-").tempdir() {
            Ok(dir) => dir,
            Err(e) => return Outcome::Transient(format!("no scratch space: {e}")),
        };
        let master = scratch.path().join("master");
        let out_dir = scratch.path().join("out");
        if let Err(e) = tokio::fs::create_dir(&out_dir).await {
            return Outcome::Transient(format!("no scratch space: {e}"));
        }
        match self
            .store
            .download_to(&layout::master(job.video_id), &master)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => {
                return Outcome::Rejected {
                    code: "master_missing".into(),
                    message: "the uploaded master is no longer in storage".into(),
                };
            }
            Err(e) => return Outcome::Transient(e.to_string()),
        }
        let version = layout::new_version();
        let output = match self
            .transcode_blocking(job, &master, &out_dir, &version)
            .await
        {
            Ok(output) => output,
            Err(outcome) => return outcome,
        };
        match self.publish_outputs(job, &out_dir, &version, &output).await {
            Ok(()) => Outcome::Ready,
            Err(e) => {
                // Leave nothing half-written behind: the version was never referenced.
                let prefix = format!("{}{version}/", layout::media_prefix(job.video_id));
                if let Err(cleanup) = self.store.delete_prefix(&prefix).await {
                    tracing::warn!(error = %cleanup, "could not remove unpublished version");
                }
                Outcome::Transient(e.to_string())
            }
        }
    }

    /// Runs the ffmpeg pipeline on a blocking thread, forwarding progress as events.
    async fn transcode_blocking(
        &self,
        job: &TranscodeJob,
        master: &Path,
        out_dir: &Path,
        version: &str,
    ) -> Result<TranscodeOutput, Outcome> {
        let (progress_tx, mut progress_rx) = mpsc::channel::<f64>(8);
        let options = TranscodeOptions {
            uri_prefix: format!("{version}/"),
            ..self.options.clone()
        };
        let (master, out_dir) = (master.to_path_buf(), out_dir.to_path_buf());
        let task = tokio::task::spawn_blocking(move || {
            let mut last = Instant::now() - PROGRESS_EVERY;
            let mut report = |p: f64| {
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    let _ = progress_tx.try_send(p);
                }
            };
            transcode(&master, &out_dir, &options, &mut report)
        });
        let forward = async {
            while let Some(progress) = progress_rx.recv().await {
                self.publish(job, EventKind::Progress { progress }).await;
            }
        };
        let (result, ()) = tokio::join!(task, forward);
        match result {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(error)) => Err(rejection(error)),
            Err(join) => Err(Outcome::Transient(format!("transcode panicked: {join}"))),
        }
    }

    /// Uploads every file, then the playback record (last, so it never
    /// points at a version whose files are missing), then announces.
    async fn publish_outputs(
        &self,
        job: &TranscodeJob,
        out_dir: &Path,
        version: &str,
        output: &TranscodeOutput,
    ) -> Result<(), StoreError> {
        // Media first, playlists after, so a playlist never names a missing file.
        let mut files = output.files.clone();
        files.sort_by_key(|name| !name.ends_with(".mp4"));
        for name in &files {
            let key = layout::media_file(job.video_id, version, name).ok_or_else(|| {
                StoreError::Io(std::io::Error::other(format!("bad output name {name}")))
            })?;
            self.store.put_file(&key, &out_dir.join(name)).await?;
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
        let record = PlaybackRecord {
            version: version.to_string(),
            visibility: job.visibility,
            updated_at: chrono::Utc::now(),
        };
        let record = serde_json::to_vec(&record).expect("records serialise");
        self.store
            .put_bytes(&layout::playback_record(job.video_id), Bytes::from(record))
            .await?;
        self.publish(
            job,
            EventKind::Ready {
                version: version.to_string(),
                duration_s: output.duration_s,
                renditions: output.renditions.clone(),
            },
        )
        .await;
        Ok(())
    }

    async fn publish(&self, job: &TranscodeJob, kind: EventKind) {
        let name = kind.name();
        if let Err(e) = self.bus.publish(Event::now(job.video_id, kind)).await {
            tracing::warn!(error = %e, event = name, "could not publish event");
        }
    }
}

/// A media error fails the job for good unless it is our own fault.
fn rejection(error: MediaError) -> Outcome {
    match error.code() {
        "internal" => Outcome::Transient(error.to_string()),
        code => Outcome::Rejected {
            code: code.to_string(),
            message: error.to_string(),
        },
    }
}

fn finish(result: Result<(), QueueError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not settle the job with the queue");
    }
}
