//! The media library's error: a [`MediaError`] carries its stable
//! [`FailureCode`] (what the job records as `error.code`) and a message a
//! person can read.

use ffmpeg_next as ffmpeg;
use goflix_shared::domain::FailureCode;

/// Why a transcode failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is empty, truncated or not media at all.
    #[error("not a readable media file: {0}")]
    InvalidMedia(String),
    /// The container is media, but not one Goflix accepts (e.g. a playlist).
    #[error("unsupported container format: {0}")]
    UnsupportedFormat(String),
    /// A stream's codec is not on the allow-list ([`crate::media::allow_list`]);
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
    /// The stable machine code, e.g. [`FailureCode::InvalidMedia`].
    pub fn code(&self) -> FailureCode {
        match self {
            Self::InvalidMedia(_) => FailureCode::InvalidMedia,
            Self::UnsupportedFormat(_) | Self::UnsupportedCodec(_) => {
                FailureCode::UnsupportedFormat
            }
            Self::NoVideoStream => FailureCode::NoVideoStream,
            Self::AudioOnly => FailureCode::AudioOnly,
            Self::SourceTooLong { .. } => FailureCode::SourceTooLong,
            Self::HdrUnsupported(_) => FailureCode::HdrUnsupported,
            Self::DecodeFailed(_) => FailureCode::DecodeFailed,
            Self::EncodeFailed(_) => FailureCode::EncodeFailed,
            Self::Internal(_) => FailureCode::Internal,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_errors_carry_todays_codes() {
        let codes = [
            (
                MediaError::UnsupportedCodec("ffv1".into()),
                "unsupported_format",
            ),
            (MediaError::AudioOnly, "audio_only"),
            (MediaError::Internal("a bug".into()), "internal"),
        ];
        for (error, code) in codes {
            assert_eq!(error.code().as_str(), code, "{error}");
        }
    }
}
