//! The `videos` table: one row per uploaded video with its lifecycle state,
//! progress, error and published renditions.

use sea_orm::entity::prelude::*;

/// One video.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "videos")]
pub struct Model {
    /// The video id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The uploader.
    pub owner_id: Uuid,
    /// Display title.
    pub title: String,
    /// `public`, `unlisted` or `private`.
    pub visibility: String,
    /// `uploaded`, `queued`, `processing`, `ready` or `failed`.
    pub state: String,
    /// Fraction transcoded, 0.0–1.0.
    pub progress: f64,
    /// Stable code of the failure, when `failed`.
    pub error_code: Option<String>,
    /// Explanation of the failure, when `failed`.
    pub error_message: Option<String>,
    /// Duration in seconds, once known.
    pub duration_s: Option<f64>,
    /// Published renditions, a JSON array of [`goflix_shared::domain::Rendition`].
    pub renditions: Json,
    /// The published media version, once ready.
    pub version: Option<String>,
    /// Plays from its live version while still encoding.
    pub playable: bool,
    /// The live version the current job publishes while it encodes.
    pub live_version: Option<String>,
    /// The job whose events may move the video; events of other jobs are stale.
    pub current_job_id: Option<Uuid>,
    /// When a worker started the current job, Unix milliseconds (for `eta_s`).
    pub processing_started_at: Option<i64>,
    /// Upload time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
