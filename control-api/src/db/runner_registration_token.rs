//! The `runner_registration_tokens` table: tokens admins create for
//! runners to register with. One token registers any number of runners
//! until it expires or is revoked; it is kept as its SHA-256.

use sea_orm::entity::prelude::*;

/// One registration token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runner_registration_tokens")]
pub struct Model {
    /// The token's id (not the secret).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 (hex) of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// What the admin said it is for.
    pub description: String,
    /// The admin who created it.
    pub created_by: Uuid,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it stops registering runners, Unix milliseconds.
    pub expires_at: i64,
    /// When an admin revoked it.
    pub revoked_at: Option<i64>,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
