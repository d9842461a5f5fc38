//! The `users` table: one row per account, e-mail unique and lowercased,
//! password as an argon2id PHC string.

use sea_orm::entity::prelude::*;

/// One account.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The user id (UUIDv7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Login name, lowercased.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id hash in PHC string format.
    pub password_hash: String,
    /// `admin`, `uploader` or `viewer`.
    pub role: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// When the e-mail address was confirmed, Unix milliseconds; `None` while unverified.
    pub email_verified_at: Option<i64>,
    /// A disabled account cannot log in and its sessions are revoked.
    pub disabled: bool,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
