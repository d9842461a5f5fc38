//! The delivery loop run by every control-plane process. It claims due
//! jobs in a short transaction — `SELECT … FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so replicas never claim the same row; SQLite has one writer
//! and one process — pushing each claimed job's `next_attempt_at` a lease
//! ahead and counting the attempt. It then delivers outside any
//! transaction, logs the attempt in `notification_attempts`, and marks the
//! job delivered, dead (a permanent failure, or [`MAX_ATTEMPTS`] used up),
//! or due again after a capped exponential backoff. A process that dies
//! mid-delivery leaves the job to be claimed again when its lease ends, so
//! a notification may (rarely) arrive twice but is never lost; webhook
//! receivers can deduplicate on `Goflix-Delivery`.

use super::catalog::{Channel, EventKind};
use super::email::Email;
use super::jobs::{DEAD, DELIVERED, PENDING};
use super::templates::{self, TemplateName};
use super::{preferences, Notifier};
use crate::db::{notification_attempt, notification_job, now_ms, time_of, user, webhook};
use goflix_shared::shutdown::Shutdown;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// Jobs claimed at once.
const BATCH: u64 = 16;
/// How long a claimed job is reserved for its attempt (longer than any
/// channel's timeout).
const LEASE_MS: i64 = 5 * 60 * 1000;
/// Pause between polls when nothing is due.
const POLL: Duration = Duration::from_secs(1);
/// Attempts before a job is given up (about a day at the default cap).
pub(crate) const MAX_ATTEMPTS: i32 = 40;
/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

/// Why an attempt failed, and whether another could succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    status_code: Option<u16>,
    message: String,
    permanent: bool,
}

impl Failure {
    /// A failure worth retrying, with the provider's status when it answered.
    pub(crate) fn retry(status_code: Option<u16>, message: String) -> Self {
        Self {
            status_code,
            message,
            permanent: false,
        }
    }

    /// A failure no retry can fix.
    pub(crate) fn permanent(message: String) -> Self {
        Self::permanent_with(None, message)
    }

    /// A failure no retry can fix, with the provider's status.
    pub(crate) fn permanent_with(status_code: Option<u16>, message: String) -> Self {
        Self {
            status_code,
            message,
            permanent: true,
        }
    }
}

impl From<DbErr> for Failure {
    fn from(e: DbErr) -> Self {
        Self::retry(None, format!("database: {e}"))
    }
}

/// Delivers due jobs until `shutdown`.
pub(crate) async fn run(db: &DatabaseConnection, notifier: &Notifier, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        let claimed = match claim(db).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim notification jobs");
                Vec::new()
            }
        };
        let full = claimed.len() as u64 == BATCH;
        futures_util::future::join_all(claimed.into_iter().map(|job| attempt(db, notifier, job)))
            .await;
        if full {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Claims up to [`BATCH`] due jobs, counting their attempt.
async fn claim(db: &DatabaseConnection) -> Result<Vec<notification_job::Model>, DbErr> {
    let now = now_ms();
    let txn = db.begin().await?;
    let mut jobs = notification_job::Entity::find()
        .filter(notification_job::Column::State.eq(PENDING))
        .filter(notification_job::Column::NextAttemptAt.lte(now))
        .order_by_asc(notification_job::Column::NextAttemptAt)
        .limit(BATCH)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if !jobs.is_empty() {
        notification_job::Entity::update_many()
            .col_expr(
                notification_job::Column::NextAttemptAt,
                Expr::value(now + LEASE_MS),
            )
            .col_expr(
                notification_job::Column::Attempts,
                Expr::col(notification_job::Column::Attempts).add(1),
            )
            .col_expr(notification_job::Column::UpdatedAt, Expr::value(now))
            .filter(notification_job::Column::Id.is_in(jobs.iter().map(|job| job.id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    for job in &mut jobs {
        job.attempts += 1;
    }
    Ok(jobs)
}

/// One attempt at `job`: deliver, log, then settle the job.
#[tracing::instrument(skip_all, fields(job_id = %job.id, event = %job.event, channel = %job.channel, attempt = job.attempts))]
async fn attempt(db: &DatabaseConnection, notifier: &Notifier, job: notification_job::Model) {
    let started_at = now_ms();
    let outcome = deliver(db, notifier, &job).await;
    let finished_at = now_ms();
    let (status_code, error) = match &outcome {
        Ok(status) => (*status, None),
        Err(failure) => (
            failure.status_code,
            Some(
                failure
                    .message
                    .chars()
                    .take(MAX_ERROR_CHARS)
                    .collect::<String>(),
            ),
        ),
    };
    let log = notification_attempt::Entity::insert(notification_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        job_id: Set(job.id),
        attempt: Set(job.attempts),
        status_code: Set(status_code.map(i32::from)),
        error: Set(error.clone()),
        started_at: Set(started_at),
        finished_at: Set(finished_at),
    })
    .exec_without_returning(db)
    .await;
    if let Err(e) = log {
        tracing::warn!(error = %e, "cannot log the notification attempt");
    }
    let (state, next_attempt_at) = match &outcome {
        Ok(_) => {
            tracing::info!("notification delivered");
            (DELIVERED, finished_at)
        }
        Err(failure) if failure.permanent || job.attempts >= MAX_ATTEMPTS => {
            tracing::warn!(error = %failure.message, "notification given up");
            (DEAD, finished_at)
        }
        Err(failure) => {
            let wait = notifier.backoff.delay(job.attempts as u32);
            tracing::warn!(error = %failure.message, retry_in_ms = wait.as_millis() as u64, "notification delivery failed; will retry");
            (PENDING, finished_at + wait.as_millis() as i64)
        }
    };
    let mut update = notification_job::Entity::update_many()
        .col_expr(notification_job::Column::State, Expr::value(state))
        .col_expr(
            notification_job::Column::NextAttemptAt,
            Expr::value(next_attempt_at),
        )
        .col_expr(notification_job::Column::LastError, Expr::value(error))
        .col_expr(
            notification_job::Column::UpdatedAt,
            Expr::value(finished_at),
        );
    let carries_token = EventKind::parse(&job.event).is_some_and(EventKind::mandatory);
    if state != PENDING && carries_token {
        // Single-use tokens are not kept once they cannot be sent again.
        update = update.col_expr(notification_job::Column::Payload, Expr::value(json!({})));
    }
    // Only while the claim is still this attempt's (a lease that ran out
    // may have let another process claim the job again).
    let settled = update
        .filter(notification_job::Column::Id.eq(job.id))
        .filter(notification_job::Column::Attempts.eq(job.attempts))
        .exec(db)
        .await;
    if let Err(e) = settled {
        tracing::warn!(error = %e, "cannot record the notification outcome; the lease will expire and it will be retried");
    }
}

/// Delivers `job` on its channel; the provider's status on success.
async fn deliver(
    db: &DatabaseConnection,
    notifier: &Notifier,
    job: &notification_job::Model,
) -> Result<Option<u16>, Failure> {
    let kind = EventKind::parse(&job.event)
        .ok_or_else(|| Failure::permanent(format!("unknown event {}", job.event)))?;
    let channel = Channel::parse(&job.channel)
        .ok_or_else(|| Failure::permanent(format!("unknown channel {}", job.channel)))?;
    match channel {
        Channel::Email => {
            let mailer = notifier.mailer.as_ref().ok_or_else(|| {
                Failure::permanent("e-mail is not configured (GOFLIX_SMTP_URL)".into())
            })?;
            let (recipient, context) = user_context(db, job).await?;
            let email = Email {
                to: recipient.email,
                subject: render_part(db, kind, channel, "email.subject", &context).await?,
                text: render_part(db, kind, channel, "email.text", &context).await?,
                html: render_part(db, kind, channel, "email.html", &context).await?,
            };
            mailer.send(email).await.map(|()| None)
        }
        Channel::Sms => {
            let sms = notifier.sms.as_ref().ok_or_else(|| {
                Failure::permanent("SMS is not configured (GOFLIX_SMS_URL)".into())
            })?;
            let (recipient, context) = user_context(db, job).await?;
            let phone = preferences::load(db, recipient.id)
                .await?
                .phone
                .ok_or_else(|| Failure::permanent("the user has no phone number".into()))?;
            let body = render_part(db, kind, channel, "sms.text", &context).await?;
            sms.send(&phone, &body).await.map(Some)
        }
        Channel::Webhook => {
            let hook_id = job
                .webhook_id
                .ok_or_else(|| Failure::permanent("the job names no webhook".into()))?;
            let hook = webhook::Entity::find_by_id(hook_id)
                .one(db)
                .await?
                .ok_or_else(|| Failure::permanent("the webhook was deleted".into()))?;
            let body = serde_json::to_vec(&json!({
                "id": job.id,
                "type": job.event,
                "at": time_of(job.created_at),
                "data": job.payload,
            }))
            .map_err(|e| Failure::permanent(format!("body: {e}")))?;
            notifier
                .webhooks
                .deliver(
                    &hook.url,
                    &hook.secret,
                    &job.id.to_string(),
                    &job.event,
                    body,
                )
                .await
                .map(Some)
        }
    }
}

/// Renders one part of `kind`'s message on `channel`.
async fn render_part(
    db: &DatabaseConnection,
    kind: EventKind,
    channel: Channel,
    part: &str,
    context: &Value,
) -> Result<String, Failure> {
    let slot = TemplateName::of(kind, channel, part)
        .ok_or_else(|| Failure::permanent(format!("{} has no {part} template", kind.name())))?;
    templates::render_slot(db, slot, context)
        .await
        .map_err(|e| Failure::retry(None, format!("template {slot}: {e}")))
}

/// The recipient of a user job and the template context: the job's
/// payload plus `user`.
async fn user_context(
    db: &DatabaseConnection,
    job: &notification_job::Model,
) -> Result<(user::Model, Value), Failure> {
    let user_id = job
        .user_id
        .ok_or_else(|| Failure::permanent("the job names no user".into()))?;
    let recipient = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| Failure::permanent("the user was deleted".into()))?;
    let mut context = job.payload.clone();
    if let Value::Object(map) = &mut context {
        map.insert("user".into(), json!({ "email": recipient.email }));
    }
    Ok((recipient, context))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnectionTrait;
    use std::collections::HashSet;

    /// `due` jobs due now and one due in an hour.
    async fn seed(db: &DatabaseConnection, due: usize) -> HashSet<Uuid> {
        let now = now_ms();
        let mut ids = HashSet::new();
        for i in 0..=due {
            let id = Uuid::now_v7();
            notification_job::Entity::insert(notification_job::ActiveModel {
                id: Set(id),
                event: Set("video.ready".into()),
                channel: Set("webhook".into()),
                user_id: Set(None),
                webhook_id: Set(None),
                payload: Set(json!({})),
                state: Set(PENDING.into()),
                attempts: Set(0),
                next_attempt_at: Set(if i == due { now + 3_600_000 } else { now }),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_without_returning(db)
            .await
            .unwrap();
            if i < due {
                ids.insert(id);
            }
        }
        ids
    }

    /// Claims until nothing is due; every due job exactly once, none early.
    async fn every_due_job_is_claimed_once(db: &DatabaseConnection) {
        let due = seed(db, 40).await;
        let mut seen = HashSet::new();
        loop {
            let (a, b) = tokio::join!(claim(db), claim(db));
            let (a, b) = (a.unwrap(), b.unwrap());
            if a.is_empty() && b.is_empty() {
                break;
            }
            for job in a.into_iter().chain(b) {
                assert_eq!(job.attempts, 1);
                assert!(seen.insert(job.id), "job {} claimed twice", job.id);
            }
        }
        assert_eq!(seen, due);
    }

    #[tokio::test]
    async fn sqlite_claims_each_due_job_once() {
        let db = crate::connect("sqlite::memory:", 1).await.unwrap();
        crate::migrate(&db).await.unwrap();
        every_due_job_is_claimed_once(&db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_replicas_skip_rows_another_holds() {
        let server = std::env::var("GOFLIX_TEST_POSTGRES_URL").expect(
            "GOFLIX_TEST_POSTGRES_URL must name a PostgreSQL server (scripts/test.sh sets it)",
        );
        let server = server.trim_end_matches('/');
        let name = format!("goflix_test_{}", Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(format!("{server}/postgres"))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let db = crate::connect(&format!("{server}/{name}"), 4)
            .await
            .unwrap();
        crate::migrate(&db).await.unwrap();

        every_due_job_is_claimed_once(&db).await;

        // A row locked by another replica's claim is skipped, not waited for.
        let due = seed(&db, 2).await;
        let other = db.begin().await.unwrap();
        let held = notification_job::Entity::find()
            .filter(notification_job::Column::Id.is_in(due.iter().copied()))
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .one(&other)
            .await
            .unwrap()
            .unwrap();
        let claimed = tokio::time::timeout(Duration::from_secs(30), claim(&db))
            .await
            .expect("claim waited for a locked row")
            .unwrap();
        let ids: Vec<Uuid> = claimed.iter().map(|job| job.id).collect();
        assert_eq!(ids.len(), 1);
        assert!(due.contains(&ids[0]) && ids[0] != held.id);
        other.commit().await.unwrap();
        let rest = claim(&db).await.unwrap();
        assert_eq!(rest.iter().map(|job| job.id).collect::<Vec<_>>(), [held.id]);

        db.close().await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}
