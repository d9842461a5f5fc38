//! The `videos` table: one row per uploaded video with its lifecycle state,
//! progress, error and published renditions. `state` and `visibility`
//! hold the lowercase wire names of [`VideoState`] and [`Visibility`].
//! A query that moves a video starts from [`transition`].

use goflix_shared::domain::{Change, VideoState, Visibility};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::UpdateMany;

/// One video.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "videos")]
pub struct Model {
    /// The video id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The uploader.
    pub owner_id: Uuid,
    /// Display title.
    pub title: String,
    /// Who may play it.
    pub visibility: Visibility,
    /// Where it is in its lifecycle.
    pub state: VideoState,
    /// Fraction transcoded, 0.0–1.0.
    pub progress: f64,
    /// Stable code of the failure, when `failed`.
    pub error_code: Option<String>,
    /// Explanation of the failure, when `failed`.
    pub error_message: Option<String>,
    /// Duration in seconds, once known.
    pub duration_s: Option<f64>,
    /// Published renditions, a JSON array of [`goflix_shared::domain::Rendition`].
    pub renditions: Json,
    /// The published media version, once ready.
    pub version: Option<String>,
    /// Plays from its live version while still encoding.
    pub playable: bool,
    /// The live version the current job publishes while it encodes.
    pub live_version: Option<String>,
    /// The manifest-only version adding the captions and the other codecs'
    /// ladders to `version`'s media (its manifests and subtitle files);
    /// none when it has neither.
    pub manifest_version: Option<String>,
    /// The job encoding the ladder of the codecs beyond H.264 for `version`
    /// (`GOFLIX_CODECS`); its `video.ready` sets `codec_version`.
    pub codec_job_id: Option<Uuid>,
    /// The version holding `version`'s ladder in the codecs beyond H.264
    /// (video only: its audio, poster and text are `version`'s).
    pub codec_version: Option<String>,
    /// Offers a downloadable progressive MP4.
    pub downloads: bool,
    /// The version whose `download.mp4` exists (the published one, when its
    /// job wrote one).
    pub download_version: Option<String>,
    /// Until when a control-plane process remuxes this video's download,
    /// Unix milliseconds (0: none does; see [`crate::downloads::remux`]).
    pub download_lease_until: i64,
    /// The job whose events may move the video; events of other jobs are stale.
    pub current_job_id: Option<Uuid>,
    /// When a worker started the current job, Unix milliseconds (for `eta_s`).
    pub processing_started_at: Option<i64>,
    /// Upload time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Whether the row is in a state `change` applies in ([`Change::applies_in`]).
pub fn accepts(change: Change) -> SimpleExpr {
    Column::State.is_in(change.applies_in())
}

/// The update that makes `change` to the videos it applies to: only rows
/// in a state it applies in, moved to the state it leads to
/// ([`VideoState::after`]). Callers narrow it to their video and add their
/// columns.
pub fn transition(change: Change) -> UpdateMany<Entity> {
    let update = Entity::update_many().filter(accepts(change));
    match change.leads_to() {
        Some(state) => update.col_expr(Column::State, Expr::value(state)),
        None => update,
    }
}
