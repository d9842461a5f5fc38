//! The database as job queue (`GOFLIX_QUEUE=database`). Jobs are rows of the
//! `jobs` table; a worker leases one by a conditional update, renews the
//! lease with heartbeats, and a lease that runs out (the worker died) makes
//! the job available again. Works on SQLite and PostgreSQL alike.
//!
//! With RabbitMQ as queue the same table is the control plane's outbox:
//! rows are written by [`enqueue`] in the upload's transaction, and a relay
//! takes them with [`outbox_pending`] and marks each one
//! [`mark_published`] once the broker confirmed it, and [`mark_dead`] once
//! the broker dead-lettered it.

use super::{JobQueue, Lease, QueueError};
use crate::domain::TranscodeJob;
use crate::metrics;
use crate::shutdown::Shutdown;
use async_trait::async_trait;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The `jobs` table.
pub mod job {
    use sea_orm::entity::prelude::*;

    /// One queued transcode job.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "jobs")]
    pub struct Model {
        /// The job id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The video it transcodes.
        pub video_id: Uuid,
        /// The serialised [`crate::domain::TranscodeJob`].
        pub payload: Json,
        /// `queued`, `leased`, `done`, `dead` or `cancelled`; in the outbox, `queued` or `published`.
        pub state: String,
        /// Deliveries so far.
        pub attempts: i32,
        /// Worker holding the lease.
        pub lease_owner: Option<String>,
        /// Lease expiry, Unix milliseconds.
        pub lease_until: i64,
        /// Not handed out before this time, Unix milliseconds.
        pub run_after: i64,
        /// Enqueue time, Unix milliseconds (queue order).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const QUEUED: &str = "queued";
const LEASED: &str = "leased";
const DONE: &str = "done";
const DEAD: &str = "dead";
const PUBLISHED: &str = "published";
const CANCELLED: &str = "cancelled";

/// How long a lease lasts without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often an idle worker looks for jobs when nobody nudged it.
const POLL: Duration = Duration::from_millis(500);

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn unavailable(e: DbErr) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

/// Adds `job` to the queue inside the caller's transaction, so the job
/// exists exactly when the caller's other writes do.
pub async fn enqueue<C: ConnectionTrait>(db: &C, job: &TranscodeJob) -> Result<(), DbErr> {
    let now = now_ms();
    job::ActiveModel {
        id: Set(job.job_id),
        video_id: Set(job.video_id.0),
        payload: Set(serde_json::to_value(job).expect("jobs serialise")),
        state: Set(QUEUED.into()),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(0),
        run_after: Set(now),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map(drop)
}

/// Withdraws cancelled job `id`: deleted when no worker took it yet and it
/// was not handed to the external queue (returns `true`: it never runs);
/// marked `cancelled` when a worker holds it, so an expiring lease does not
/// make it available again (the worker is stopped by a command; its
/// heartbeats and ack then find the lease lost).
pub async fn withdraw<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<bool, DbErr> {
    let deleted = job::Entity::delete_many()
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.eq(QUEUED))
        .exec(db)
        .await?
        .rows_affected;
    if deleted == 1 {
        return Ok(true);
    }
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(CANCELLED))
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.eq(LEASED))
        .exec(db)
        .await?;
    Ok(false)
}

/// Up to `limit` jobs not yet handed to the external queue, oldest first.
/// A row whose payload cannot be decoded is marked `dead` and skipped.
pub async fn outbox_pending(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<TranscodeJob>, DbErr> {
    let rows = job::Entity::find()
        .filter(job::Column::State.eq(QUEUED))
        .order_by_asc(job::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_value(row.payload) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                tracing::error!(job_id = %row.id, error = %e, "malformed job in the outbox");
                set_state(db, row.id, DEAD, None)
                    .await
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
            }
        }
    }
    Ok(jobs)
}

/// Records that the external queue has durably accepted job `id`.
pub async fn mark_published(db: &DatabaseConnection, id: Uuid) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(PUBLISHED))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.eq(QUEUED))
        .exec(db)
        .await
        .map(drop)
}

/// Records that job `id` was dead-lettered by the external queue.
pub async fn mark_dead(db: &DatabaseConnection, id: Uuid) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(DEAD))
        .filter(job::Column::Id.eq(id))
        .exec(db)
        .await
        .map(drop)
}

/// The queue over the `jobs` table.
#[derive(Clone)]
pub struct DatabaseQueue {
    db: DatabaseConnection,
    worker: String,
    nudge: Arc<Notify>,
}

impl DatabaseQueue {
    /// A queue consumer identified as `worker` in leases.
    pub fn new(db: DatabaseConnection, worker: impl Into<String>) -> Self {
        Self {
            db,
            worker: worker.into(),
            nudge: Arc::new(Notify::new()),
        }
    }

    /// Wakes a waiting consumer now instead of at its next poll (after an enqueue in this process).
    pub fn nudge(&self) {
        self.nudge.notify_waiters();
    }

    /// Tries once to lease the oldest available job.
    async fn try_lease(&self) -> Result<Option<DatabaseLease>, QueueError> {
        loop {
            let now = now_ms();
            let available = sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(job::Column::State.eq(QUEUED))
                        .add(job::Column::RunAfter.lte(now)),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(job::Column::State.eq(LEASED))
                        .add(job::Column::LeaseUntil.lt(now)),
                );
            let Some(candidate) = job::Entity::find()
                .filter(available.clone())
                .order_by_asc(job::Column::CreatedAt)
                .one(&self.db)
                .await
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            // Take it only if nobody else did since we looked.
            let taken = job::Entity::update_many()
                .col_expr(job::Column::State, Expr::value(LEASED))
                .col_expr(job::Column::Attempts, Expr::value(candidate.attempts + 1))
                .col_expr(job::Column::LeaseOwner, Expr::value(self.worker.clone()))
                .col_expr(
                    job::Column::LeaseUntil,
                    Expr::value(now + LEASE.as_millis() as i64),
                )
                .filter(job::Column::Id.eq(candidate.id))
                .filter(job::Column::Attempts.eq(candidate.attempts))
                .filter(available)
                .exec(&self.db)
                .await
                .map_err(unavailable)?;
            if taken.rows_affected != 1 {
                continue;
            }
            let payload: TranscodeJob = serde_json::from_value(candidate.payload.clone())
                .map_err(|e| QueueError::Malformed(candidate.id, e.to_string()))?;
            return Ok(Some(DatabaseLease {
                db: self.db.clone(),
                id: candidate.id,
                attempt: (candidate.attempts + 1) as u32,
                worker: self.worker.clone(),
                job: payload,
            }));
        }
    }
}

#[async_trait]
impl JobQueue for DatabaseQueue {
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn Lease>>, QueueError> {
        loop {
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            let nudged = self.nudge.notified();
            match self.try_lease().await {
                Ok(Some(lease)) => return Ok(Some(Box::new(lease))),
                Ok(None) => {}
                Err(QueueError::Malformed(id, reason)) => {
                    tracing::error!(job_id = %id, %reason, "dead-lettering malformed job");
                    set_state(&self.db, id, DEAD, None).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = nudged => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn check(&self) -> Result<(), QueueError> {
        self.db.ping().await.map_err(unavailable)
    }
}

/// Sets `goflix_queue_depth` (queued and dead rows) and
/// `goflix_queue_consumers` (workers holding a live lease) of the
/// database queue.
pub async fn sample_depths(db: &DatabaseConnection) -> Result<(), QueueError> {
    let count = |state: &'static str| {
        job::Entity::find()
            .filter(job::Column::State.eq(state))
            .count(db)
    };
    let (queued, dead) = (count(QUEUED).await, count(DEAD).await);
    let holders: Vec<Option<String>> = job::Entity::find()
        .select_only()
        .column(job::Column::LeaseOwner)
        .distinct()
        .filter(job::Column::State.eq(LEASED))
        .filter(job::Column::LeaseUntil.gte(now_ms()))
        .into_tuple()
        .all(db)
        .await
        .map_err(unavailable)?;
    let depth = |n: Result<u64, DbErr>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    metrics::QUEUE_DEPTH
        .gauge(&[super::TRANSCODE_QUEUE])
        .set(depth(queued).map_err(unavailable)?);
    metrics::QUEUE_DEPTH
        .gauge(&[super::DEAD_QUEUE])
        .set(depth(dead).map_err(unavailable)?);
    metrics::QUEUE_CONSUMERS
        .gauge(&[super::TRANSCODE_QUEUE])
        .set(holders.len() as i64);
    Ok(())
}

async fn set_state(
    db: &DatabaseConnection,
    id: Uuid,
    state: &str,
    run_after: Option<i64>,
) -> Result<(), QueueError> {
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(state))
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(job::Column::Id.eq(id));
    if let Some(run_after) = run_after {
        update = update.col_expr(job::Column::RunAfter, Expr::value(run_after));
    }
    update.exec(db).await.map(drop).map_err(unavailable)
}

/// A job leased from the table.
struct DatabaseLease {
    db: DatabaseConnection,
    id: Uuid,
    attempt: u32,
    worker: String,
    job: TranscodeJob,
}

impl DatabaseLease {
    /// Ends the lease with `state` if this worker still holds it.
    async fn finish(&self, state: &str, run_after: Option<i64>) -> Result<(), QueueError> {
        let mut update = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(state))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .filter(job::Column::Id.eq(self.id))
            .filter(job::Column::State.eq(LEASED))
            .filter(job::Column::LeaseOwner.eq(self.worker.clone()))
            .filter(job::Column::Attempts.eq(self.attempt as i32));
        if let Some(run_after) = run_after {
            update = update.col_expr(job::Column::RunAfter, Expr::value(run_after));
        }
        let result = update.exec(&self.db).await.map_err(unavailable)?;
        if result.rows_affected == 1 {
            Ok(())
        } else {
            Err(QueueError::LeaseLost(self.id))
        }
    }
}

#[async_trait]
impl Lease for DatabaseLease {
    fn job(&self) -> &TranscodeJob {
        &self.job
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn heartbeat(&self) -> Result<(), QueueError> {
        let result = job::Entity::update_many()
            .col_expr(
                job::Column::LeaseUntil,
                Expr::value(now_ms() + LEASE.as_millis() as i64),
            )
            .filter(job::Column::Id.eq(self.id))
            .filter(job::Column::State.eq(LEASED))
            .filter(job::Column::LeaseOwner.eq(self.worker.clone()))
            .filter(job::Column::Attempts.eq(self.attempt as i32))
            .exec(&self.db)
            .await
            .map_err(unavailable)?;
        if result.rows_affected == 1 {
            Ok(())
        } else {
            Err(QueueError::LeaseLost(self.id))
        }
    }

    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        self.finish(DONE, None).await
    }

    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), QueueError> {
        self.finish(QUEUED, Some(now_ms() + delay.as_millis() as i64))
            .await
    }

    async fn reject(self: Box<Self>) -> Result<(), QueueError> {
        self.finish(DEAD, None).await
    }
}
