//! What shapes a job's outputs, decided by the control plane when it
//! queues the job and carried in it ([`super::TranscodeJob::profile`]), so
//! an in-cluster worker and a remote runner produce the same outputs, and a
//! runner is only handed jobs whose codecs it announced it can encode.
//!
//! A video's first job encodes the H.264 ladder with audio and everything
//! else a version holds; each further codec (`GOFLIX_CODECS`) is a job of
//! its own queued once that version is ready ([`JobProfile::joins`]),
//! encoding only its video ladder, which the control plane adds to the
//! version's manifests. H.264 never waits for the slower encoders.

use super::{Rendition, RenditionKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A video codec a ladder is encoded with.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264 (libx264), CMAF `avc1`: every video has it, every player plays it.
    #[default]
    H264,
    /// AV1 (SVT-AV1), CMAF `av01`: fewer bytes where players decode it.
    Av1,
    /// HEVC (x265), CMAF `hvc1`: fewer bytes for the players that decode
    /// it (Safari, ExoPlayer on most phones and TVs).
    Hevc,
}

impl VideoCodec {
    /// Every codec, in the order ladders are encoded.
    pub const ALL: [Self; 3] = [Self::H264, Self::Av1, Self::Hevc];

    /// The wire name (`h264`, `av1`, `hevc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::H264 => "h264",
            Self::Av1 => "av1",
            Self::Hevc => "hevc",
        }
    }

    /// The FFmpeg encoder that makes it.
    pub fn encoder(self) -> &'static str {
        match self {
            Self::H264 => "libx264",
            Self::Av1 => "libsvtav1",
            Self::Hevc => "libx265",
        }
    }

    /// What its renditions' names add to the rung's (`720p`, `720p_av1`):
    /// names stay unique among every codec's renditions of a video.
    pub fn rendition_suffix(self) -> &'static str {
        match self {
            Self::H264 => "",
            Self::Av1 => "_av1",
            Self::Hevc => "_hevc",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoCodec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|codec| codec.as_str() == s)
            .ok_or_else(|| format!("unknown video codec {s:?}"))
    }
}

/// How the ladder's bitrates are chosen (`GOFLIX_LADDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LadderMode {
    /// Every rung at its configured bitrate (capped at the source's).
    #[default]
    Fixed,
    /// Every rung at a constant quality, with its configured bitrate as the
    /// cap: a picture that is easy to code gets fewer bits.
    PerTitle,
}

impl LadderMode {
    /// Every mode.
    pub const ALL: [Self; 2] = [Self::Fixed, Self::PerTitle];

    /// The wire and setting name (`fixed`, `per-title`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::PerTitle => "per-title",
        }
    }

    fn is_fixed(&self) -> bool {
        *self == Self::Fixed
    }
}

impl FromStr for LadderMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| format!("unknown ladder mode {s:?}"))
    }
}

/// What a job's outputs are made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProfile {
    /// The codecs of the ladder, each a full set of renditions.
    pub codecs: Vec<VideoCodec>,
    /// How the rungs' bitrates are chosen (a job without one: fixed).
    #[serde(default, skip_serializing_if = "LadderMode::is_fixed")]
    pub ladder: LadderMode,
    /// A progressive MP4 for downloads beside the ladder, if asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<DownloadProfile>,
    /// The published version this job's ladder joins: the job encodes its
    /// codecs' video renditions only (no audio, poster, storyboard, text
    /// or download; no live copy) and the control plane adds them to that
    /// version's manifests. None for a video's full job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joins: Option<String>,
}

/// The progressive MP4 a job writes for downloads (`download.mp4`):
/// one rung of the ladder and the default audio, remuxed from their CMAF
/// files (no second decode or encode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadProfile {
    /// The rung is the tallest at most this many lines (the smallest when
    /// every rung is taller).
    pub max_height: u32,
}

impl Default for JobProfile {
    /// The H.264 ladder (also what a job queued before profiles existed means).
    fn default() -> Self {
        Self {
            codecs: vec![VideoCodec::H264],
            ladder: LadderMode::Fixed,
            download: None,
            joins: None,
        }
    }
}

/// The renditions a download is remuxed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DownloadSources<'a> {
    /// The video rendition.
    pub video: &'a Rendition,
    /// The default audio rendition; none when the version has no audio.
    pub audio: Option<&'a Rendition>,
}

impl DownloadProfile {
    /// What the download of a version with `renditions` is made of: the
    /// tallest video rendition at most `max_height` high (else the
    /// smallest) and the default audio rendition. None without video.
    /// The transcode and a later remux of a ready video both choose here,
    /// so they make the same file.
    pub fn sources<'a>(&self, renditions: &'a [Rendition]) -> Option<DownloadSources<'a>> {
        let videos = || renditions.iter().filter(|r| r.kind == RenditionKind::Video);
        let height = |r: &&Rendition| r.height.unwrap_or(0);
        let video = videos()
            .filter(|r| height(r) <= self.max_height)
            .max_by_key(height)
            .or_else(|| videos().min_by_key(height))?;
        let audio = renditions
            .iter()
            .find(|r| r.kind == RenditionKind::Audio && r.default);
        Some(DownloadSources { video, audio })
    }
}

impl JobProfile {
    /// Whether an encoder that can do `codecs` can make these outputs.
    pub fn fits(&self, codecs: &[VideoCodec]) -> bool {
        self.codecs.iter().all(|codec| codecs.contains(codec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_fits_an_encoder_with_every_codec_it_needs() {
        let profile = JobProfile::default();
        assert!(profile.fits(&[VideoCodec::H264]));
        assert!(!profile.fits(&[]));
        assert_eq!("h264".parse::<VideoCodec>(), Ok(VideoCodec::H264));
        assert!("vp9".parse::<VideoCodec>().is_err());
        for codec in VideoCodec::ALL {
            assert_eq!(codec.as_str().parse::<VideoCodec>(), Ok(codec));
        }
        let av1 = JobProfile {
            codecs: vec![VideoCodec::Av1],
            joins: Some("0193".into()),
            ..JobProfile::default()
        };
        assert!(!av1.fits(&[VideoCodec::H264]));
        assert!(av1.fits(&VideoCodec::ALL));
        let wire = serde_json::json!({"codecs": ["av1"], "joins": "0193"});
        assert_eq!(serde_json::to_value(&av1).unwrap(), wire);
        assert_eq!(serde_json::from_value::<JobProfile>(wire).unwrap(), av1);
        assert_eq!(
            serde_json::to_value(&profile).unwrap(),
            serde_json::json!({"codecs": ["h264"]})
        );
        let per_title = JobProfile {
            ladder: LadderMode::PerTitle,
            ..JobProfile::default()
        };
        let wire = serde_json::json!({"codecs": ["h264"], "ladder": "per-title"});
        assert_eq!(serde_json::to_value(&per_title).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<JobProfile>(wire).unwrap(),
            per_title
        );
        for mode in LadderMode::ALL {
            assert_eq!(mode.as_str().parse::<LadderMode>(), Ok(mode));
        }
        assert!("crf".parse::<LadderMode>().is_err());
    }

    fn rendition(name: &str, kind: RenditionKind, height: Option<u32>, default: bool) -> Rendition {
        Rendition {
            name: name.into(),
            kind,
            width: None,
            height,
            frame_rate: None,
            codecs: String::new(),
            bandwidth: 0,
            average_bandwidth: 0,
            language: None,
            label: None,
            default,
            channels: None,
        }
    }

    #[test]
    fn a_download_is_the_tallest_rung_that_fits_with_the_default_audio() {
        let video = |name: &str, height| rendition(name, RenditionKind::Video, Some(height), false);
        let renditions = [
            video("1080p", 1080),
            video("720p", 720),
            video("480p", 480),
            rendition("audio", RenditionKind::Audio, None, false),
            rendition("audio_1", RenditionKind::Audio, None, true),
        ];
        let chosen = |max_height| {
            let sources = DownloadProfile { max_height }.sources(&renditions).unwrap();
            (
                sources.video.name.as_str(),
                sources.audio.map(|a| a.name.as_str()),
            )
        };
        assert_eq!(chosen(720), ("720p", Some("audio_1")));
        assert_eq!(chosen(719), ("480p", Some("audio_1")));
        assert_eq!(chosen(4000), ("1080p", Some("audio_1")));
        assert_eq!(chosen(100), ("480p", Some("audio_1")));
        let silent = [video("720p", 720)];
        let sources = DownloadProfile { max_height: 720 }
            .sources(&silent)
            .unwrap();
        assert_eq!(sources.audio, None);
        let audio_only = [rendition("audio", RenditionKind::Audio, None, true)];
        assert_eq!(
            DownloadProfile { max_height: 720 }.sources(&audio_only),
            None
        );
    }
}
