//! The `captions` table: a video's caption tracks, one per language, each
//! with its WebVTT source in the object store
//! ([`goflix_shared::layout::caption_source`]).

use goflix_shared::domain::CaptionKind;
use sea_orm::entity::prelude::*;
use serde::Serialize;

/// Where a caption came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, DeriveActiveEnum, EnumIter, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "lowercase"
)]
pub enum CaptionSource {
    /// Uploaded through the API (WebVTT, or SRT converted to WebVTT).
    Upload,
    /// A text stream of the master, extracted by the transcode; an upload
    /// in the same language replaces it.
    Embedded,
}

/// One caption track.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "captions")]
pub struct Model {
    /// The video.
    #[sea_orm(primary_key, auto_increment = false)]
    pub video_id: Uuid,
    /// Its language, a canonical BCP 47 tag.
    #[sea_orm(primary_key, auto_increment = false)]
    pub language: String,
    /// What players show in their menu.
    pub label: String,
    /// Subtitles or captions.
    pub kind: CaptionKind,
    /// Uploaded or extracted.
    pub source: CaptionSource,
    /// Size of the WebVTT source in bytes.
    pub bytes: i64,
    /// When it was added, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
