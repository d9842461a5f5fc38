//! Why a job or an import failed for good: the [`FailureCode`] a failed
//! video records as `error.code`, the one list of them. The child process
//! reports one, the worker carries it in `video.failed` and counts it in
//! `goflix_jobs_failed_total{code}`, the control plane stores and explains
//! it; a URL import that fails ends with one of the `import_*` codes. The strings are part of the public interface and never change; new
//! causes add codes.

use super::wire::wire_name;
use serde::{Deserialize, Serialize};

/// The stable `error.code` of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// The file is empty, truncated or not media at all.
    InvalidMedia,
    /// A container or codec Goflix does not accept.
    UnsupportedFormat,
    /// The file has no video stream.
    NoVideoStream,
    /// Audio but no video.
    AudioOnly,
    /// Longer than the configured limit.
    SourceTooLong,
    /// HDR, which this build cannot tone-map.
    HdrUnsupported,
    /// The source could not be decoded.
    DecodeFailed,
    /// An encoder or muxer failed.
    EncodeFailed,
    /// A transcoder bug or an I/O failure around the media.
    Internal,
    /// The uploaded master is no longer in storage.
    MasterMissing,
    /// Every attempt failed for a reason worth retrying.
    RetriesExhausted,
    /// The child ran out of memory, CPU time or wall time.
    ResourceLimit,
    /// The child stopped making progress.
    Stalled,
    /// An operator cancelled the job.
    Cancelled,
    /// The queue gave the job up (its worker died on every delivery, or
    /// a worker rejected it without reporting why).
    JobDeadLettered,
    /// A URL import could not fetch the master: DNS, connection or TLS
    /// failure, too many redirects, or an answer other than 2xx.
    ImportUnreachable,
    /// A URL import's master is larger than the upload limit.
    ImportTooLarge,
    /// A URL import led (directly, through DNS or a redirect) to a
    /// loopback, private or link-local address.
    ImportRefusedAddress,
    /// A URL import took longer than its timeout, or its source stalled.
    ImportTimeout,
    /// A URL import's connection broke before the last byte, or the
    /// control plane running it stopped too many times.
    ImportInterrupted,
}

impl FailureCode {
    /// Every code, in the order the API documents them.
    pub const ALL: [Self; 20] = [
        Self::InvalidMedia,
        Self::UnsupportedFormat,
        Self::NoVideoStream,
        Self::AudioOnly,
        Self::SourceTooLong,
        Self::HdrUnsupported,
        Self::DecodeFailed,
        Self::EncodeFailed,
        Self::Internal,
        Self::MasterMissing,
        Self::RetriesExhausted,
        Self::ResourceLimit,
        Self::Stalled,
        Self::Cancelled,
        Self::JobDeadLettered,
        Self::ImportUnreachable,
        Self::ImportTooLarge,
        Self::ImportRefusedAddress,
        Self::ImportTimeout,
        Self::ImportInterrupted,
    ];

    /// The wire name, e.g. `invalid_media`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidMedia => "invalid_media",
            Self::UnsupportedFormat => "unsupported_format",
            Self::NoVideoStream => "no_video_stream",
            Self::AudioOnly => "audio_only",
            Self::SourceTooLong => "source_too_long",
            Self::HdrUnsupported => "hdr_unsupported",
            Self::DecodeFailed => "decode_failed",
            Self::EncodeFailed => "encode_failed",
            Self::Internal => "internal",
            Self::MasterMissing => "master_missing",
            Self::RetriesExhausted => "retries_exhausted",
            Self::ResourceLimit => "resource_limit",
            Self::Stalled => "stalled",
            Self::Cancelled => "cancelled",
            Self::JobDeadLettered => "job_dead_lettered",
            Self::ImportUnreachable => "import_unreachable",
            Self::ImportTooLarge => "import_too_large",
            Self::ImportRefusedAddress => "import_refused_address",
            Self::ImportTimeout => "import_timeout",
            Self::ImportInterrupted => "import_interrupted",
        }
    }

    /// The code named `code`, if it is one Goflix sets.
    pub fn parse(code: &str) -> Option<Self> {
        code.parse().ok()
    }

    /// Whether the cause is transient, so another attempt may succeed: the
    /// worker retries the job and fails it only once attempts run out
    /// (with this code, or `retries_exhausted` for an internal error).
    /// The others are the master's fault or a decision, and fail at once.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Internal | Self::RetriesExhausted | Self::ResourceLimit | Self::Stalled
        )
    }
}

wire_name!(FailureCode, FailureCode::ALL, |s| format!(
    "unknown failure code {s:?}"
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name_and_json() {
        for code in FailureCode::ALL {
            assert_eq!(code.as_str().parse::<FailureCode>(), Ok(code));
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert_eq!(serde_json::from_value::<FailureCode>(json).unwrap(), code);
        }
        assert_eq!(FailureCode::parse("ffmpeg: moov atom not found"), None);
    }

    #[test]
    fn the_wire_names_are_todays() {
        let names: Vec<&str> = FailureCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
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
                "import_unreachable",
                "import_too_large",
                "import_refused_address",
                "import_timeout",
                "import_interrupted",
            ]
        );
    }

    #[test]
    fn the_failure_codes_section_is_failure_code_all() {
        use crate::layout::tests::{code_spans, interface_table};
        let documented: Vec<(String, String)> = interface_table("failure codes")
            .into_iter()
            .map(|row| (code_spans(&row[0]).concat(), row[1].clone()))
            .collect();
        let codes: Vec<(String, String)> = FailureCode::ALL
            .iter()
            .map(|c| {
                (
                    c.as_str().to_owned(),
                    (if c.retryable() { "yes" } else { "no" }).to_owned(),
                )
            })
            .collect();
        assert_eq!(
            documented, codes,
            "docs/interface.md (Failure codes) must list FailureCode::ALL in order, with `retried`"
        );
    }

    #[test]
    fn only_transient_causes_are_retried() {
        let retried: Vec<FailureCode> = FailureCode::ALL
            .into_iter()
            .filter(|c| c.retryable())
            .collect();
        assert_eq!(
            retried,
            [
                FailureCode::Internal,
                FailureCode::RetriesExhausted,
                FailureCode::ResourceLimit,
                FailureCode::Stalled,
            ]
        );
    }
}
