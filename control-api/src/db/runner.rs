//! The `runners` table: one row per registered remote transcoding runner.
//! The credential is kept as its SHA-256; `current_jobs` is written by the
//! control-API replica holding the runner's session.

use sea_orm::entity::prelude::*;

/// One runner.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runners")]
pub struct Model {
    /// The runner's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The name it registered with.
    pub name: String,
    /// Its software version, as last announced.
    pub version: String,
    /// The registration token it registered with.
    pub registration_token_id: Uuid,
    /// SHA-256 (hex) of its credential.
    #[sea_orm(unique)]
    pub credential_hash: String,
    /// When it registered, Unix milliseconds.
    pub created_at: i64,
    /// When a session of it was last heard from, Unix milliseconds.
    pub last_seen_at: i64,
    /// When an admin revoked it; it cannot connect since.
    pub revoked_at: Option<i64>,
    /// The job ids it runs now, a JSON array.
    pub current_jobs: String,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
