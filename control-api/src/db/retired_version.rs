//! The `retired_versions` table: media versions of a video that playback
//! no longer points at (the live copy of a finished job, the final version
//! a retranscode replaced), each with the time after which its files go.

use sea_orm::entity::prelude::*;

/// One superseded version.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "retired_versions")]
pub struct Model {
    /// The video.
    #[sea_orm(primary_key, auto_increment = false)]
    pub video_id: Uuid,
    /// The version folder under the video's media prefix.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: String,
    /// When its files may be deleted, Unix milliseconds.
    pub delete_after: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
