//! The `refresh_tokens` table: OAuth refresh tokens, stored only as the
//! SHA-256 of the token so a database leak does not leak sessions. Each
//! token is used once: a refresh deletes it and issues a new one.

use sea_orm::entity::prelude::*;

/// One outstanding refresh token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Lowercase hex SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Whose session it continues.
    pub user_id: Uuid,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
    /// Issue time, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
