//! The `uploads` table: one row per tus upload, created with the video id
//! its master will have. `offset` counts the bytes durably staged and
//! `staged` records where they are ([`goflix_shared::store::Staged`] as
//! JSON); both change only together, after the bytes are durable.
//! `token_hash` is the SHA-256 of a direct upload's token, cleared when the
//! upload completes so the token opens nothing afterwards.

use goflix_shared::domain::Visibility;
use sea_orm::entity::prelude::*;

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, DeriveActiveEnum, EnumIter)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "lowercase"
)]
pub enum UploadState {
    /// Bytes are still arriving.
    Receiving,
    /// Every byte is staged; the master and the video are being made.
    Stored,
    /// The video exists and its job is queued; the row stays until it
    /// expires so clients can still ask for the offset.
    Done,
}

/// One tus upload.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    /// The upload id, which is the video id its master gets.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Who created it (the video's owner).
    pub owner_id: Uuid,
    /// The video's title.
    pub title: String,
    /// The video's visibility.
    pub visibility: Visibility,
    /// The client's file name, when it sent one.
    pub filename: Option<String>,
    /// `Upload-Length`.
    pub length: i64,
    /// Bytes durably staged.
    pub offset: i64,
    /// Where they are staged.
    pub staged: Json,
    /// Where the upload is.
    pub state: UploadState,
    /// Lowercase hex SHA-256 of its direct-upload token, while it has one.
    pub token_hash: Option<String>,
    /// When it expires, Unix milliseconds.
    pub expires_at: i64,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
