//! What a failed video says about its failure: one stable sentence per
//! [`FailureCode`], the only text viewers and uploaders see, and the
//! OpenAPI description of `error.code` built from the same sentences
//! ([`FailureCodeSchema`]). The detail a worker reported (a decoder's or
//! the transcode child's own words, paths and limits included) is kept in
//! the row for admins only: it is the attacker's own input echoed back,
//! and it tells the curious how the transcoder is built.

use goflix_shared::domain::FailureCode;
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The sentence shown for a video failed with `code`.
fn sentence(code: FailureCode) -> &'static str {
    match code {
        FailureCode::InvalidMedia => "The uploaded file is not a video Goflix can read.",
        FailureCode::UnsupportedFormat => {
            "The uploaded file is in a format Goflix does not support."
        }
        FailureCode::NoVideoStream => "The uploaded file has no video track.",
        FailureCode::AudioOnly => "The uploaded file holds only audio; a video track is needed.",
        FailureCode::SourceTooLong => "The video is longer than the longest video Goflix accepts.",
        FailureCode::HdrUnsupported => "HDR video is not supported; upload an SDR version.",
        FailureCode::DecodeFailed => "The video could not be decoded; the file may be damaged.",
        FailureCode::EncodeFailed => "The video could not be encoded.",
        FailureCode::Internal => "Transcoding failed because of an internal error.",
        FailureCode::MasterMissing => "The uploaded file is no longer stored; upload it again.",
        FailureCode::RetriesExhausted | FailureCode::JobDeadLettered => {
            "Transcoding failed several times; an administrator can retry it."
        }
        FailureCode::ResourceLimit => {
            "Transcoding the video needed more memory or time than is allowed."
        }
        FailureCode::Stalled => "Transcoding stopped making progress.",
        FailureCode::Cancelled => "Transcoding was cancelled.",
        FailureCode::ImportUnreachable => {
            "The video could not be fetched from its URL: the server could not be reached or refused it."
        }
        FailureCode::ImportTooLarge => {
            "The video at the URL is larger than the largest upload Goflix accepts."
        }
        FailureCode::ImportRefusedAddress => {
            "The URL leads to an internal address, which Goflix does not fetch from."
        }
        FailureCode::ImportTimeout => "Fetching the video from its URL took too long.",
        FailureCode::ImportInterrupted => {
            "Fetching the video from its URL was interrupted; import it again."
        }
    }
}

/// Said of a code Goflix does not set (rows written by an older version).
const UNKNOWN_FAILURE: &str = "Transcoding failed.";

/// The stable sentence shown to everyone for a video failed with `code`.
pub fn public_message(code: &str) -> &'static str {
    FailureCode::parse(code).map_or(UNKNOWN_FAILURE, sentence)
}

/// The OpenAPI schema of `error.code` (named `FailureCode`): a string,
/// one of every [`FailureCode`], each described with its sentence.
pub(crate) struct FailureCodeSchema;

impl PartialSchema for FailureCodeSchema {
    fn schema() -> RefOr<Schema> {
        let codes: String = FailureCode::ALL
            .iter()
            .map(|code| format!("\n- `{code}`: {}", sentence(*code)))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(FailureCode::ALL.map(FailureCode::as_str)))
            .description(Some(format!(
                "Why the video failed: a stable code, shown with its sentence as `message`.{codes}"
            )))
            .into()
    }
}

impl ToSchema for FailureCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FailureCode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::videos::VideoView;

    #[test]
    fn every_code_has_its_own_sentence_and_unknown_codes_a_generic_one() {
        for code in FailureCode::ALL {
            assert_ne!(public_message(code.as_str()), UNKNOWN_FAILURE, "{code}");
        }
        assert_eq!(
            public_message("ffmpeg: moov atom not found"),
            UNKNOWN_FAILURE
        );
    }

    /// The document lists every code in the schema of a video's
    /// `error.code`, each with the sentence the API answers with.
    #[test]
    fn every_code_is_described_in_the_api_document() {
        let mut schemas = Vec::new();
        VideoView::schemas(&mut schemas);
        let (_, schema) = schemas
            .iter()
            .find(|(name, _)| name == "FailureCode")
            .expect("a video's schema names FailureCode");
        let schema = serde_json::to_value(schema).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|code| code.as_str())
            .collect();
        assert_eq!(listed, FailureCode::ALL.map(FailureCode::as_str));
        let description = schema["description"].as_str().unwrap();
        for code in FailureCode::ALL {
            let line = format!("- `{code}`: {}", public_message(code.as_str()));
            assert!(description.contains(&line), "{line} in {description}");
        }
    }
}
