//! The `playback_session_revocations` table: ended sessions (refresh-token
//! families) whose playback tokens the origins must refuse, kept until
//! every such token has expired.

use sea_orm::entity::prelude::*;

/// One ended session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "playback_session_revocations")]
pub struct Model {
    /// The session (the refresh-token family id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: Uuid,
    /// When every playback token of the session has expired, Unix milliseconds.
    pub until: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
