//! The `revoked_tokens` table: revocation ids (hex, one per biscuit block)
//! of tokens that must no longer be accepted, kept until the token would
//! have expired anyway. Single-use upload tokens land here when used.

use sea_orm::entity::prelude::*;

/// One revoked token block.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    /// Hex revocation id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub revocation_id: String,
    /// When the token expires (after which the row may go), Unix milliseconds.
    pub expires_at: i64,
    /// When it was revoked, Unix milliseconds.
    pub revoked_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
