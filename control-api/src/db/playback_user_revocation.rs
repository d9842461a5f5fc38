//! The `playback_user_revocations` table: users whose playback tokens
//! issued before a time the origins must refuse (a password, role or
//! account change), kept until every such token has expired.

use sea_orm::entity::prelude::*;

/// One user's revocation; a later one moves `before` forward.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "playback_user_revocations")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// Tokens issued before this are refused, Unix milliseconds.
    pub before: i64,
    /// When every token issued before `before` has expired, Unix milliseconds.
    pub until: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
