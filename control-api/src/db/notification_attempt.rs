//! The `notification_attempts` table: one row per delivery attempt of a
//! notification job, with the provider's status code or the error.

use sea_orm::entity::prelude::*;

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_attempts")]
pub struct Model {
    /// The attempt id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The job attempted.
    pub job_id: Uuid,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The HTTP status (webhooks, SMS) or SMTP reply code, when one came back.
    pub status_code: Option<i32>,
    /// Why the attempt failed; `None` when it succeeded.
    pub error: Option<String>,
    /// When the attempt started, Unix milliseconds.
    pub started_at: i64,
    /// When it ended, Unix milliseconds.
    pub finished_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
