//! The `single_use_tokens` table: the revocation ids of single-use tokens
//! the control plane issued (upload tokens) and nobody has used yet. Using
//! one deletes its row, so a token whose id has no row (used already, or
//! never issued by this server) is refused.

use sea_orm::entity::prelude::*;

/// One issued, unused single-use token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "single_use_tokens")]
pub struct Model {
    /// Hex revocation id of the token's own (last) block.
    #[sea_orm(primary_key, auto_increment = false)]
    pub revocation_id: String,
    /// When the token expires (after which the row may go), Unix milliseconds.
    pub expires_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
