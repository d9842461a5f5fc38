//! The origin's one error type and its HTTP mapping: status, a stable
//! `{"code","message"}` body, and the headers each error needs
//! (`Cache-Control`, `Retry-After`, `Allow`, `Content-Range`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use goflix_shared::store::StoreError;

/// Seconds a client should wait before retrying when storage is
/// unavailable or the playback revocations are not yet known.
const RETRY_AFTER_SECONDS: u64 = 5;

/// Methods every origin route answers.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// The path is malformed (traversal, control characters, overlong).
    #[error("malformed request path")]
    BadPath,
    /// The query string cannot be decoded.
    #[error("malformed query string")]
    BadQuery,
    /// A manifest modifier (`min_height`, `max_height`) has a bad value.
    #[error("{0}")]
    BadModifier(String),
    /// No such video, version or file.
    #[error("not found")]
    NotFound,
    /// The manifest modifiers leave none of the video's video variants.
    #[error("no video variant of this video matches min_height and max_height")]
    NoMatchingVariant,
    /// `GOFLIX_ORIGIN_CDN_SECRET` is set and the request does not carry it.
    #[error("requests must come through the CDN")]
    CdnSecretRequired,
    /// A private video without a valid playback token.
    #[error("this video needs a valid playback token")]
    Forbidden,
    /// A private video while this origin has not yet read the playback
    /// revocation feed: it cannot tell a revoked token from a good one.
    #[error("playback revocations not yet known; retry later")]
    RevocationsUnknown,
    /// A method other than GET, HEAD or OPTIONS.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// `If-Match` or `If-Unmodified-Since` did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// No requested range overlaps the representation of `size` bytes.
    #[error("requested range not satisfiable")]
    RangeNotSatisfiable {
        /// Length of the representation.
        size: u64,
    },
    /// The published playback record or a manifest cannot be used.
    #[error("published data unusable: {0}")]
    BadPublication(String),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OriginError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadPath => "bad_path",
            Self::BadQuery | Self::BadModifier(_) => "bad_query",
            Self::NoMatchingVariant => "no_matching_variant",
            Self::CdnSecretRequired => "cdn_secret_required",
            Self::NotFound | Self::Store(StoreError::NotFound(_)) => "not_found",
            Self::Forbidden => "forbidden",
            Self::RevocationsUnknown => "revocations_unknown",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PreconditionFailed => "precondition_failed",
            Self::RangeNotSatisfiable { .. } | Self::Store(StoreError::BadRange { .. }) => {
                "range_not_satisfiable"
            }
            Self::BadPublication(_) => "bad_publication",
            Self::Store(StoreError::Unavailable(_)) => "storage_unavailable",
            Self::Store(_) => "storage_error",
        }
    }

    /// Logs server-side failures; client errors are not worth a log line.
    pub fn log(&self) {
        if self.status_code().is_server_error() {
            tracing::error!(error = %self, code = self.code(), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request refused");
        }
    }

    fn message(&self) -> String {
        match self {
            // Keys and backend details stay in the logs.
            Self::NotFound | Self::Store(StoreError::NotFound(_)) => "not found".into(),
            Self::Store(StoreError::Unavailable(_)) => {
                "storage is temporarily unavailable; retry later".into()
            }
            Self::Store(_) | Self::BadPublication(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    fn cache_control(&self) -> &'static str {
        match self.status_code() {
            StatusCode::NOT_FOUND => "public, max-age=5",
            StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED => "public, max-age=60",
            _ => "no-store",
        }
    }
}

impl ResponseError for OriginError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadPath | Self::BadQuery | Self::BadModifier(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::NoMatchingVariant | Self::Store(StoreError::NotFound(_)) => {
                StatusCode::NOT_FOUND
            }
            Self::Forbidden | Self::CdnSecretRequired => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::RangeNotSatisfiable { .. } | Self::Store(StoreError::BadRange { .. }) => {
                StatusCode::RANGE_NOT_SATISFIABLE
            }
            Self::Store(StoreError::Unavailable(_)) | Self::RevocationsUnknown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::BadPublication(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, self.cache_control()));
        match self {
            Self::Store(StoreError::Unavailable(_)) | Self::RevocationsUnknown => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
            }
            Self::MethodNotAllowed => {
                response.insert_header((header::ALLOW, ALLOWED_METHODS));
            }
            Self::RangeNotSatisfiable { size } | Self::Store(StoreError::BadRange { size, .. }) => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
                response.insert_header((header::ACCEPT_RANGES, "bytes"));
            }
            _ => {}
        }
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        response
            .body(serde_json::json!({ "code": self.code(), "message": self.message() }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(response: &HttpResponse, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn storage_outages_are_503_with_retry_after() {
        let error = OriginError::from(StoreError::Unavailable("s3 timed out".into()));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), "storage_unavailable");
        assert_eq!(header(&response, header::RETRY_AFTER), Some("5"));
        assert_eq!(header(&response, header::CACHE_CONTROL), Some("no-store"));
        assert!(
            !error.message().contains("s3"),
            "backend details stay in the logs"
        );
    }

    #[test]
    fn every_error_has_a_stable_code_and_fitting_headers() {
        let cases = [
            (OriginError::BadPath, 400, "bad_path"),
            (OriginError::BadQuery, 400, "bad_query"),
            (OriginError::BadModifier("x".into()), 400, "bad_query"),
            (OriginError::NoMatchingVariant, 404, "no_matching_variant"),
            (OriginError::CdnSecretRequired, 403, "cdn_secret_required"),
            (OriginError::NotFound, 404, "not_found"),
            (
                StoreError::NotFound("media/x".into()).into(),
                404,
                "not_found",
            ),
            (OriginError::Forbidden, 403, "forbidden"),
            (OriginError::RevocationsUnknown, 503, "revocations_unknown"),
            (OriginError::MethodNotAllowed, 405, "method_not_allowed"),
            (OriginError::PreconditionFailed, 412, "precondition_failed"),
            (
                OriginError::RangeNotSatisfiable { size: 9 },
                416,
                "range_not_satisfiable",
            ),
            (
                OriginError::BadPublication("x".into()),
                500,
                "bad_publication",
            ),
            (
                StoreError::Io(std::io::Error::other("disk")).into(),
                500,
                "storage_error",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status_code().as_u16(), status, "{error}");
            assert_eq!(error.code(), code);
        }
        let response = OriginError::RangeNotSatisfiable { size: 9 }.error_response();
        assert_eq!(header(&response, header::CONTENT_RANGE), Some("bytes */9"));
        let response = OriginError::MethodNotAllowed.error_response();
        assert_eq!(header(&response, header::ALLOW), Some(ALLOWED_METHODS));
        let response = OriginError::Forbidden.error_response();
        assert_eq!(header(&response, header::CACHE_CONTROL), Some("no-store"));
    }
}
