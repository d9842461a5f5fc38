//! The `account_tokens` table: single-use, expiring tokens mailed to a
//! user (e-mail verification, password reset), stored as their SHA-256.

use sea_orm::entity::prelude::*;

/// One mailed token.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "account_tokens")]
pub struct Model {
    /// Lowercase hex SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Whose account it acts on.
    pub user_id: Uuid,
    /// `verify_email` or `password_reset`.
    pub purpose: String,
    /// Expiry, Unix milliseconds.
    pub expires_at: i64,
    /// When it was used, Unix milliseconds.
    pub used_at: Option<i64>,
    /// Issue time, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
