//! The transcoder's error type: every failure carries a stable machine code
//! (what the job records as `error.code`) and a message a person can read.

use ffmpeg_next as ffmpeg;

/// Why a transcode failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is empty, truncated or not media at all.
    #[error("not a readable media file: {0}")]
    InvalidMedia(String),
    /// The container is media, but not one Goflix accepts (e.g. a playlist).
    #[error("unsupported container format: {0}")]
    UnsupportedFormat(String),
    /// A stream's codec is not on the allow-list ([`crate::allow_list`]);
    /// to uploaders an unsupported format like any other.
    #[error("unsupported codec: {0}")]
    UnsupportedCodec(String),
    /// Neither a video nor an audio stream was found.
    #[error("the file has no video stream")]
    NoVideoStream,
    /// Audio but no video.
    #[error("audio-only sources are rejected")]
    AudioOnly,
    /// The source lasts longer than the configured limit.
    #[error("the source lasts {actual_s:.0} s, longer than the {limit_s:.0} s limit")]
    SourceTooLong {
        /// Duration found (container header or decoded timestamps).
        actual_s: f64,
        /// The configured limit.
        limit_s: f64,
    },
    /// The source is HDR and this build cannot tone-map it.
    #[error("HDR sources are not supported: {0}")]
    HdrUnsupported(String),
    /// The source could not be decoded.
    #[error("decoding failed: {0}")]
    DecodeFailed(String),
    /// An encoder or muxer failed.
    #[error("encoding failed: {0}")]
    EncodeFailed(String),
    /// Anything else: filter graph setup, I/O on the output folder, a bug.
    #[error("internal transcoder error: {0}")]
    Internal(String),
}

impl MediaError {
    /// The stable machine code, e.g. `invalid_media`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidMedia(_) => "invalid_media",
            Self::UnsupportedFormat(_) | Self::UnsupportedCodec(_) => "unsupported_format",
            Self::NoVideoStream => "no_video_stream",
            Self::AudioOnly => "audio_only",
            Self::SourceTooLong { .. } => "source_too_long",
            Self::HdrUnsupported(_) => "hdr_unsupported",
            Self::DecodeFailed(_) => "decode_failed",
            Self::EncodeFailed(_) => "encode_failed",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn decode(context: &str, err: ffmpeg::Error) -> Self {
        Self::DecodeFailed(format!("{context}: {err}"))
    }

    pub(crate) fn encode(context: &str, err: ffmpeg::Error) -> Self {
        Self::EncodeFailed(format!("{context}: {err}"))
    }

    pub(crate) fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {err}"))
    }
}
