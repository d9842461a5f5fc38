//! Which process runs which import: the lease columns of the `imports`
//! table. A process takes an import whose lease is free or ran out with a
//! compare-and-set on `lease_until` (a new `lease_token`, one more
//! attempt), renews it while the import runs, and ends it (deleting the
//! row) in the transaction that settles the video. Every write after the
//! take is conditional on the token: a process that lost its lease
//! (another took the import over, or it was cancelled or deleted) changes
//! nothing and learns so from the row count.

use crate::db::{import, now_ms, video};
use goflix_shared::domain::Change;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use std::time::Duration;
use uuid::Uuid;

/// How long a lease lasts without renewal: a process that died mid-import
/// stops renewing, and another takes the import over this long after.
pub(super) const LEASE: Duration = Duration::from_secs(30);

/// Candidates tried per [`take_next`] when other processes win the race.
const TAKE_TRIES: usize = 3;

/// An import this process holds.
#[derive(Debug, Clone)]
pub(super) struct Claim {
    pub video_id: Uuid,
    pub url: String,
    pub traceparent: Option<String>,
    /// 1 on the first run, then one more per take-over.
    pub attempt: i32,
    token: Uuid,
}

impl Claim {
    /// The rows of this import while the lease is still ours.
    fn ours(&self) -> sea_orm::Condition {
        sea_orm::Condition::all()
            .add(import::Column::VideoId.eq(self.video_id))
            .add(import::Column::LeaseToken.eq(self.token))
    }
}

fn lease_end(now_ms: i64) -> i64 {
    now_ms + LEASE.as_millis() as i64
}

/// Takes the import whose lease ran out first (a free one has lease 0),
/// if any.
pub(super) async fn take_next(db: &DatabaseConnection) -> Result<Option<Claim>, DbErr> {
    for _ in 0..TAKE_TRIES {
        let now = now_ms();
        let Some(row) = import::Entity::find()
            .filter(import::Column::LeaseUntil.lt(now))
            .order_by_asc(import::Column::LeaseUntil)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let token = Uuid::new_v4();
        let taken = import::Entity::update_many()
            .col_expr(import::Column::LeaseToken, Expr::value(Some(token)))
            .col_expr(import::Column::LeaseUntil, Expr::value(lease_end(now)))
            .col_expr(
                import::Column::Attempts,
                Expr::col(import::Column::Attempts).add(1),
            )
            .filter(import::Column::VideoId.eq(row.video_id))
            .filter(import::Column::LeaseUntil.eq(row.lease_until))
            .exec(db)
            .await?
            .rows_affected;
        if taken == 1 {
            return Ok(Some(Claim {
                video_id: row.video_id,
                url: row.url,
                traceparent: row.traceparent,
                attempt: row.attempts + 1,
                token,
            }));
        }
    }
    Ok(None)
}

/// Renews the lease and, when given, writes the import's `progress` to its
/// video; false when the lease is no longer ours.
pub(super) async fn renew(
    db: &DatabaseConnection,
    claim: &Claim,
    progress: Option<f64>,
) -> Result<bool, DbErr> {
    let now = now_ms();
    let renewed = import::Entity::update_many()
        .col_expr(import::Column::LeaseUntil, Expr::value(lease_end(now)))
        .filter(claim.ours())
        .exec(db)
        .await?
        .rows_affected;
    if renewed != 1 {
        return Ok(false);
    }
    if let Some(progress) = progress {
        set_progress(db, claim, progress).await?;
    }
    Ok(true)
}

/// Writes an importing video's progress.
pub(super) async fn set_progress(
    db: &impl ConnectionTrait,
    claim: &Claim,
    progress: f64,
) -> Result<(), DbErr> {
    video::transition(Change::ImportProgressed)
        .col_expr(video::Column::Progress, Expr::value(progress))
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(claim.video_id))
        .exec(db)
        .await
        .map(drop)
}

/// Frees the lease at once for another process (this one is stopping); the
/// attempt does not count.
pub(super) async fn release(db: &DatabaseConnection, claim: &Claim) -> Result<(), DbErr> {
    import::Entity::update_many()
        .col_expr(import::Column::LeaseUntil, Expr::value(0i64))
        .col_expr(
            import::Column::Attempts,
            Expr::col(import::Column::Attempts).sub(1),
        )
        .filter(claim.ours())
        .exec(db)
        .await
        .map(drop)
}

/// Ends the import in `txn` (its row goes); false when the lease was no
/// longer ours, and the caller must change nothing.
pub(super) async fn end(db: &impl ConnectionTrait, claim: &Claim) -> Result<bool, DbErr> {
    let ended = import::Entity::delete_many()
        .filter(claim.ours())
        .exec(db)
        .await?
        .rows_affected;
    Ok(ended == 1)
}
