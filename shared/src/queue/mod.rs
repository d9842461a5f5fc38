//! The transcode job queue: [`JobQueue`] hands out [`Lease`]s that a worker
//! heartbeats and then acks, retries or rejects. The embedded backend is a
//! database table ([`database`]); a crashed worker's lease expires and the
//! job is handed out again. The production backend is RabbitMQ ([`amqp`]),
//! fed from the control plane's outbox through a [`JobPublisher`]; jobs it
//! gives up on come back to the control plane through [`DeadLetters`].

pub mod amqp;
pub mod database;

use crate::domain::TranscodeJob;
use crate::layout::AttemptVersions;
use crate::shutdown::Shutdown;
use async_trait::async_trait;
use std::time::Duration;

/// The `queue` label of the job queue in `goflix_queue_*` metrics.
pub const TRANSCODE_QUEUE: &str = "goflix.transcode";
/// The `queue` label of its dead letters.
pub const DEAD_QUEUE: &str = "goflix.transcode.dead";

/// Deliveries of one job before it is failed for good.
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend could not be reached; worth retrying.
    #[error("job queue unavailable: {0}")]
    Unavailable(String),
    /// The lease expired and another worker may hold the job now.
    #[error("lease on job {0} lost")]
    LeaseLost(uuid::Uuid),
    /// A stored job could not be decoded.
    #[error("malformed job {0}: {1}")]
    Malformed(uuid::Uuid, String),
}

/// A job held by one worker until it is acked, retried or rejected.
#[async_trait]
pub trait Lease: Send + Sync {
    /// The job.
    fn job(&self) -> &TranscodeJob;
    /// 1 on the first delivery, more on redeliveries.
    fn attempt(&self) -> u32;
    /// The version folders this attempt writes: fresh ones, unless the
    /// lease was handed out with its own (a remote runner's, chosen by the
    /// control API, which lets it write nowhere else).
    fn versions(&self) -> AttemptVersions {
        AttemptVersions::fresh()
    }
    /// Keeps the lease alive while a long job runs.
    async fn heartbeat(&self) -> Result<(), QueueError>;
    /// Resolves once the lease is known to be lost (another worker may get
    /// the job), so the holder abandons it instead of completing it twice.
    /// Backends that only learn this from [`Lease::heartbeat`] never resolve.
    async fn lost(&self) {
        std::future::pending::<()>().await
    }
    /// The job is done; it is never handed out again.
    async fn ack(self: Box<Self>) -> Result<(), QueueError>;
    /// The job failed in a way worth retrying after `delay`.
    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), QueueError>;
    /// The job failed for good (dead-lettered).
    async fn reject(self: Box<Self>) -> Result<(), QueueError>;
}

/// Where workers take jobs from.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Waits for the next job; `None` once `shutdown` is cancelled.
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn Lease>>, QueueError>;
    /// Whether the backend answers (for `/readyz`).
    async fn check(&self) -> Result<(), QueueError>;
    /// Stops consuming: jobs this consumer took but never handed out, and
    /// the unsettled leases it handed out, return to the queue, and a
    /// closed RabbitMQ consumer hands out nothing more (it closes its
    /// channel; the database queue holds nothing and stays open).
    async fn close(&self) {}
}

/// Hands jobs to a queue that lives outside the database (the outbox relay's sink).
#[async_trait]
pub trait JobPublisher: Send + Sync {
    /// Publishes `job`; returns once the queue has durably accepted it.
    async fn publish(&self, job: &TranscodeJob) -> Result<(), QueueError>;
}

/// A job the queue gave up on, held until the control plane recorded it.
#[async_trait]
pub trait DeadJob: Send + Sync {
    /// The job.
    fn job(&self) -> &TranscodeJob;
    /// Why it died: `rejected` (a worker failed it for good) or
    /// `delivery_limit` (delivered too often, e.g. its worker crashed each time).
    fn reason(&self) -> &str;
    /// Recorded; the queue forgets it.
    async fn ack(self: Box<Self>) -> Result<(), QueueError>;
}

/// The dead-letter queue, read by the control plane so no dead job leaves
/// its video `processing`.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Waits for the next dead job; `None` once `shutdown` is cancelled.
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn DeadJob>>, QueueError>;
}
