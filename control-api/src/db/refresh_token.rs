//! The `refresh_tokens` table: OAuth refresh tokens, stored only as the
//! SHA-256 of the token so a database leak does not leak sessions. Tokens
//! of one login form a family: each refresh marks the presented token used
//! and adds its successor, so presenting a used token again (a stolen,
//! replayed token) is recognised and revokes the whole family.

use sea_orm::entity::prelude::*;

/// One refresh token, outstanding or already used.
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
    /// The login this token descends from (`None` for tokens issued before families existed).
    pub family_id: Option<Uuid>,
    /// When it was exchanged for its successor, Unix milliseconds.
    pub used_at: Option<i64>,
    /// Revocation id of the access token issued with it.
    pub access_id: Option<String>,
    /// That access token's expiry, Unix milliseconds.
    pub access_expires_at: Option<i64>,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
