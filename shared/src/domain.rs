//! Domain types that cross role boundaries: video ids, visibility, states,
//! failure codes, renditions, transcode jobs and the playback record the
//! origin reads.

mod access;
mod caption;
mod failure;
mod profile;
mod state;
mod visibility;
mod wire;

pub use access::{Role, Scope};
pub use caption::{CaptionKind, EmbeddedCaption};
pub use failure::FailureCode;
pub use profile::{DownloadProfile, DownloadSources, JobProfile, LadderMode, VideoCodec};
pub use state::{Change, VideoState};
pub use visibility::Visibility;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Identifier of a video; a UUIDv7 so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VideoId(pub Uuid);

impl VideoId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for VideoId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for VideoId {
    type Err = uuid::Error;
    /// Accepts only the canonical hyphenated lowercase form, so one video has one URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = Uuid::try_parse(s)?;
        if id.hyphenated().to_string() != s {
            return Err(Uuid::try_parse("not-canonical").unwrap_err());
        }
        Ok(Self(id))
    }
}

/// Whether a rendition carries video or audio.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenditionKind {
    /// A video track (H.264, or AV1 with `GOFLIX_CODECS=h264,av1`).
    Video,
    /// An audio track (AAC-LC), one per language of the source, shared by
    /// every video rendition.
    Audio,
}

/// One published rendition, as the API and the manifests describe it.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    /// `1080p` … `240p` for H.264 video (`1080p_av1` … for AV1), `audio`
    /// for the first audio track and `audio_1`, `audio_2`, … for the
    /// others; also the file stem.
    pub name: String,
    /// Video or audio.
    pub kind: RenditionKind,
    /// Coded width in pixels (video only).
    pub width: Option<u32>,
    /// Coded height in pixels (video only).
    pub height: Option<u32>,
    /// Frames per second (video only).
    pub frame_rate: Option<f64>,
    /// RFC 6381 codec string naming the codec, e.g. `avc1.64001f`,
    /// `av01.0.08M.08` or `mp4a.40.2`.
    pub codecs: String,
    /// Peak bits per second over the segments.
    pub bandwidth: u64,
    /// Average bits per second over the whole track.
    pub average_bandwidth: u64,
    /// Audio only: the language (BCP 47) the container states, `und` when
    /// it states none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Audio only: the track's title in the container, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Audio only: the track players choose when the viewer chose none (the
    /// container's default disposition, else the first track).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Audio only: channels (2 for stereo, 6 for 5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
}

/// A unit of transcoding work as it travels through the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscodeJob {
    /// The job's id (one per enqueue; a retranscode gets a new one).
    pub job_id: Uuid,
    /// The video to transcode. Its visibility is not part of the job: only
    /// the control plane decides it, when it writes the playback record.
    pub video_id: VideoId,
    /// W3C trace context of the upload that queued it (see
    /// [`crate::trace_context`]); absent when traces are not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// What shapes the outputs, decided when the job was queued; a job
    /// queued before profiles existed gets the default.
    #[serde(default)]
    pub profile: JobProfile,
}

/// What the origin needs to serve a video, published next to its media
/// (`media/{id}/playback.json`) so playback never depends on the database.
/// Only the control plane writes it, from the video's row (workers announce
/// versions as events), so its visibility is always the row's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackRecord {
    /// The versioned prefix under `media/{id}/` holding the current outputs.
    pub version: String,
    /// Who may play the video.
    pub visibility: Visibility,
    /// When the record was written.
    pub updated_at: DateTime<Utc>,
    /// The version is still being encoded: its media playlists grow
    /// (`EVENT`) and must not be cached long; there is no DASH manifest yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// The version whose `master.m3u8` and `manifest.mpd` to serve when it
    /// is not `version`: a manifest-only version that adds the captions to
    /// `version`'s media (its URIs name `version`'s files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<String>,
}

impl PlaybackRecord {
    /// The version folder the entry-point manifests are read from.
    pub fn manifest_version(&self) -> &str {
        self.manifests.as_deref().unwrap_or(&self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_id_round_trips_and_rejects_other_spellings() {
        let id = VideoId::new();
        assert_eq!(id.to_string().parse::<VideoId>().unwrap(), id);
        assert!(id.to_string().to_uppercase().parse::<VideoId>().is_err());
        assert!(id.0.simple().to_string().parse::<VideoId>().is_err());
        assert!("../etc/passwd".parse::<VideoId>().is_err());
    }

    #[test]
    fn jobs_carry_their_trace_context_and_older_jobs_still_parse() {
        let job = TranscodeJob {
            job_id: Uuid::now_v7(),
            video_id: VideoId::new(),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            profile: JobProfile::default(),
        };
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["traceparent"], job.traceparent.as_deref().unwrap());
        assert_eq!(serde_json::from_value::<TranscodeJob>(json).unwrap(), job);

        // Jobs queued before visibility left the job still parse.
        let old = serde_json::json!({
            "job_id": job.job_id,
            "video_id": job.video_id,
            "visibility": "private",
        });
        let parsed: TranscodeJob = serde_json::from_value(old).unwrap();
        assert!(serde_json::to_value(&parsed)
            .unwrap()
            .get("visibility")
            .is_none());
        assert_eq!(parsed.traceparent, None);
        let untraced = serde_json::to_value(&parsed).unwrap();
        assert!(untraced.get("traceparent").is_none(), "{untraced}");
        assert_eq!(parsed.profile, JobProfile::default());
    }
}
