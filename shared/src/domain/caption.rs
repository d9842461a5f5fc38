//! Caption tracks as they cross role boundaries: their kind, and the text
//! streams a transcode extracted from a master (announced in `video.ready`).

use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use serde::{Deserialize, Serialize};

use super::wire::wire_name;

/// What a text track is for (HLS `CHARACTERISTICS`, DASH `Role`); stored
/// as its wire name in the `captions.kind` column.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveActiveEnum, EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "lowercase"
)]
pub enum CaptionKind {
    /// The dialogue, translated or transcribed.
    Subtitles,
    /// The dialogue and the other sounds, for viewers who cannot hear them.
    Captions,
}

impl CaptionKind {
    /// Every kind.
    pub const ALL: [Self; 2] = [Self::Subtitles, Self::Captions];

    /// The wire name (`subtitles`, `captions`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subtitles => "subtitles",
            Self::Captions => "captions",
        }
    }
}

wire_name!(CaptionKind, CaptionKind::ALL, |s| format!(
    "unknown caption kind {s:?}: subtitles or captions"
));

/// A text stream of the master, converted to WebVTT by the transcode and
/// stored in its version as `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddedCaption {
    /// The WebVTT file in the version (`text_0.vtt`, …).
    pub file: String,
    /// The stream's language as a BCP 47 tag, `und` when the container states none.
    pub language: String,
    /// The stream's title in the container, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `captions` when the container marks the stream for the hearing impaired.
    pub kind: CaptionKind,
}
