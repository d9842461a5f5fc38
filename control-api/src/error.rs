//! The control plane's one error type and its one mapping to HTTP: every
//! failure, including extractor failures (bad JSON, query, form, path), ends
//! up as a status code plus `{"code": "...", "message": "..."}` with a
//! stable code. OAuth token-endpoint errors additionally carry the RFC 6749
//! `error` / `error_description` fields.

use crate::multipart::MultipartError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use goflix_shared::store::StoreError;
use goflix_shared::token::TokenError;
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: &str = "5";

/// Everything a control-plane call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong in a way the client can fix (400, 403, 404, 405, 409, 413, 415).
    #[error("{message}")]
    Client {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine-readable code.
        code: &'static str,
        /// Explanation for humans.
        message: String,
    },
    /// No valid bearer token (401 with `WWW-Authenticate: Bearer`).
    #[error("{message}")]
    Unauthenticated {
        /// `missing_token`, `invalid_token` or `token_expired`.
        code: &'static str,
        /// Explanation for humans.
        message: String,
    },
    /// An RFC 6749 §5.2 token-endpoint error (400; `invalid_client` is 401
    /// with `WWW-Authenticate: Basic`).
    #[error("{error}: {description}")]
    OAuth {
        /// `invalid_request`, `invalid_grant`, `unsupported_grant_type`, …
        error: &'static str,
        /// Explanation for humans.
        description: String,
    },
    /// Too many attempts (429 `rate_limited` with `Retry-After`).
    #[error("rate limited; retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds until a retry can succeed.
        retry_after_secs: u64,
    },
    /// A dependency (database, storage, bus) is unreachable; worth retrying (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected dependency failure (500); details go to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    /// A client error with a status of its own (the tus protocol's 410,
    /// 412 and 460).
    pub fn with_status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::client(status, code, message)
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::client(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }

    /// 422 with `code`: well-formed, but its content cannot be used.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 413 `payload_too_large`.
    pub fn too_large(limit: u64) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the upload exceeds the limit of {limit} bytes"),
        )
    }

    /// 413 `payload_too_large` for a body over an extractor's limit.
    fn body_too_large(message: impl Into<String>) -> Self {
        Self::client(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 401 with `code`.
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthenticated {
            code,
            message: message.into(),
        }
    }

    /// An RFC 6749 token-endpoint error.
    pub fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            error,
            description: description.into(),
        }
    }

    /// 429 after a refused rate-limited request; `wait` is rounded up.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Self::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Client { code, .. } | Self::Unauthenticated { code, .. } => code,
            Self::OAuth { error, .. } => error,
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// The body of every error response: `{"code", "message"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`.
    #[schema(example = "not_found")]
    pub code: &'static str,
    /// Explanation for humans.
    pub message: String,
}

impl ErrorBody {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The body of an RFC 6749 §5.2 error (token, revocation and introspection
/// endpoints): the RFC's fields plus the API's usual `code` and `message`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// The RFC 6749 error code: `invalid_request`, `invalid_client` (401),
    /// `invalid_grant`, `invalid_scope` or `unsupported_grant_type`.
    #[schema(example = "invalid_grant")]
    pub error: &'static str,
    /// Explanation for humans.
    pub error_description: String,
    /// Same as `error`.
    pub code: &'static str,
    /// Same as `error_description`.
    pub message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } => *status,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::OAuth {
                error: "invalid_client",
                ..
            } => StatusCode::UNAUTHORIZED,
            Self::OAuth { .. } => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let code = self.code();
        let body = match self {
            Self::Client { message, .. } => ErrorBody::new(code, message),
            Self::Unauthenticated { message, .. } => {
                let challenge = if code == "missing_token" {
                    r#"Bearer realm="goflix""#.to_string()
                } else {
                    format!(
                        r#"Bearer realm="goflix", error="invalid_token", error_description="{code}""#
                    )
                };
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
                ErrorBody::new(code, message)
            }
            Self::OAuth { description, .. } => {
                response.insert_header((header::CACHE_CONTROL, "no-store"));
                if code == "invalid_client" {
                    response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="goflix""#));
                }
                return response.json(OAuthErrorBody {
                    error: code,
                    error_description: description.clone(),
                    code,
                    message: description.clone(),
                });
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                ErrorBody::new(
                    code,
                    format!("too many attempts; retry in {retry_after_secs} s"),
                )
            }
            Self::Unavailable(detail) => {
                tracing::warn!(%detail, "dependency unavailable");
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
                ErrorBody::new(code, "a dependency is unavailable; retry later")
            }
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ErrorBody::new(code, "internal error")
            }
        };
        response.json(body)
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        match e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(e.to_string()),
            other => Self::Internal(format!("database: {other}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TooLarge { limit } => Self::too_large(limit),
            StoreError::Unavailable(detail) => Self::Unavailable(format!("storage: {detail}")),
            other => Self::Internal(format!("storage: {other}")),
        }
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        let code = match e {
            MultipartError::NotFormData => return Self::unsupported_media_type(e.to_string()),
            MultipartError::TooManyParts { .. } => "too_many_parts",
            MultipartError::HeaderSectionTooLarge { .. } => "part_headers_too_large",
            MultipartError::InvalidBoundary
            | MultipartError::PreambleTooLarge { .. }
            | MultipartError::MalformedBoundaryLine
            | MultipartError::Headers(_)
            | MultipartError::Incomplete
            | MultipartError::Payload(_) => {
                return Self::bad_request(
                    "invalid_multipart",
                    format!("malformed multipart body: {e}"),
                )
            }
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Expired => {
                Self::unauthenticated("token_expired", "the access token has expired")
            }
            TokenError::Invalid(_) | TokenError::NotAllowed(_) => {
                Self::unauthenticated("invalid_token", "the access token is not valid")
            }
            other => Self::Internal(format!("tokens: {other}")),
        }
    }
}

/// Routes JSON body errors through [`ApiError`] (for `JsonConfig`).
pub(crate) fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::body_too_large(err.to_string())
        }
        JsonPayloadError::ContentType => {
            ApiError::unsupported_media_type("expected a body of type application/json")
        }
        other => ApiError::bad_request("invalid_json", other.to_string()),
    }
    .into()
}

/// Routes query-string errors through [`ApiError`] (for `QueryConfig`).
pub(crate) fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_query", err.to_string()).into()
}

/// Routes path-segment errors through [`ApiError`] (for `PathConfig`).
pub(crate) fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found(err.to_string()).into()
}

/// Routes form body errors through [`ApiError`] (for `FormConfig`): a body
/// over the limit is 413 `payload_too_large`; the form routes are the OAuth
/// endpoints (token, revocation, introspection), so the others are RFC 6749
/// errors.
pub(crate) fn form_error(err: UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    match err {
        UrlencodedError::Overflow { .. } => ApiError::body_too_large(err.to_string()),
        other => ApiError::oauth("invalid_request", format!("malformed form body: {other}")),
    }
    .into()
}
