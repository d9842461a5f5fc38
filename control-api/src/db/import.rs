//! The `imports` table: one row per URL import still running, beside its
//! `importing` video. The row holds what a control-plane process needs to
//! (re)start the import and the lease that says which process runs it:
//! `lease_token` and `lease_until`, renewed while it runs; a row whose
//! lease ran out is taken over by another process (see `crate::imports`).
//! The row goes when the import ends, with its video.

use sea_orm::entity::prelude::*;

/// One import.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    /// The video being imported (state `importing`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub video_id: Uuid,
    /// Where the master is fetched from (checked when the import was asked for).
    pub url: String,
    /// The W3C trace context of the request that asked for it.
    pub traceparent: Option<String>,
    /// How many times a process took the import (1 on the first run).
    pub attempts: i32,
    /// The lease of the process running it; a new one on every take-over.
    pub lease_token: Option<Uuid>,
    /// When the lease runs out, Unix milliseconds (0: free to take).
    pub lease_until: i64,
    /// When the import was asked for, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
