//! What a failed video says about its failure: one stable sentence per
//! `error.code`, the only text viewers and uploaders see. The detail a
//! worker reported (a decoder's or the transcode child's own words, paths
//! and limits included) is kept in the row for admins only: it is the
//! attacker's own input echoed back, and it tells the curious how the
//! transcoder is built.

/// The `error.code`s a video can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureCode {
    InvalidMedia,
    UnsupportedFormat,
    NoVideoStream,
    AudioOnly,
    SourceTooLong,
    HdrUnsupported,
    DecodeFailed,
    EncodeFailed,
    Internal,
    MasterMissing,
    RetriesExhausted,
    ResourceLimit,
    Stalled,
    Cancelled,
    JobDeadLettered,
}

impl FailureCode {
    /// The code named `code`, if it is one Goflix sets.
    fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "invalid_media" => Self::InvalidMedia,
            "unsupported_format" => Self::UnsupportedFormat,
            "no_video_stream" => Self::NoVideoStream,
            "audio_only" => Self::AudioOnly,
            "source_too_long" => Self::SourceTooLong,
            "hdr_unsupported" => Self::HdrUnsupported,
            "decode_failed" => Self::DecodeFailed,
            "encode_failed" => Self::EncodeFailed,
            "internal" => Self::Internal,
            "master_missing" => Self::MasterMissing,
            "retries_exhausted" => Self::RetriesExhausted,
            "resource_limit" => Self::ResourceLimit,
            "stalled" => Self::Stalled,
            "cancelled" => Self::Cancelled,
            "job_dead_lettered" => Self::JobDeadLettered,
            _ => return None,
        })
    }

    fn sentence(self) -> &'static str {
        match self {
            Self::InvalidMedia => "The uploaded file is not a video Goflix can read.",
            Self::UnsupportedFormat => "The uploaded file is in a format Goflix does not support.",
            Self::NoVideoStream => "The uploaded file has no video track.",
            Self::AudioOnly => "The uploaded file holds only audio; a video track is needed.",
            Self::SourceTooLong => "The video is longer than the longest video Goflix accepts.",
            Self::HdrUnsupported => "HDR video is not supported; upload an SDR version.",
            Self::DecodeFailed => "The video could not be decoded; the file may be damaged.",
            Self::EncodeFailed => "The video could not be encoded.",
            Self::Internal => "Transcoding failed because of an internal error.",
            Self::MasterMissing => "The uploaded file is no longer stored; upload it again.",
            Self::RetriesExhausted | Self::JobDeadLettered => {
                "Transcoding failed several times; an administrator can retry it."
            }
            Self::ResourceLimit => {
                "Transcoding the video needed more memory or time than is allowed."
            }
            Self::Stalled => "Transcoding stopped making progress.",
            Self::Cancelled => "Transcoding was cancelled.",
        }
    }
}

/// Said of a code Goflix does not set (rows written by an older version).
const UNKNOWN_FAILURE: &str = "Transcoding failed.";

/// The stable sentence shown to everyone for a video failed with `code`.
pub fn public_message(code: &str) -> &'static str {
    FailureCode::parse(code).map_or(UNKNOWN_FAILURE, FailureCode::sentence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_sentence_and_unknown_codes_a_generic_one() {
        let codes = [
            "invalid_media",
            "unsupported_format",
            "no_video_stream",
            "audio_only",
            "source_too_long",
            "hdr_unsupported",
            "decode_failed",
            "encode_failed",
            "internal",
            "master_missing",
            "retries_exhausted",
            "resource_limit",
            "stalled",
            "cancelled",
            "job_dead_lettered",
        ];
        for code in codes {
            assert_ne!(public_message(code), UNKNOWN_FAILURE, "{code}");
        }
        assert_eq!(
            public_message("ffmpeg: moov atom not found"),
            UNKNOWN_FAILURE
        );
    }
}
