//! The `notification_jobs` table: one row per message to deliver on one
//! channel (an email, an SMS, a webhook call), claimed by the dispatcher
//! with a lease and retried with capped exponential backoff until delivered.

use sea_orm::entity::prelude::*;

/// One notification to deliver.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_jobs")]
pub struct Model {
    /// The job id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The event name, e.g. `video.ready` or `account.verify_email`.
    pub event: String,
    /// `email`, `sms` or `webhook`.
    pub channel: String,
    /// The recipient account (email and SMS).
    pub user_id: Option<Uuid>,
    /// The receiving webhook (webhook channel).
    pub webhook_id: Option<Uuid>,
    /// The event's template context, a JSON object.
    pub payload: Json,
    /// `pending`, `delivered` or `dead` (gave up after the last attempt).
    pub state: String,
    /// Delivery attempts started so far.
    pub attempts: i32,
    /// When the job may next be claimed, Unix milliseconds (also the lease
    /// end while an attempt runs).
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
