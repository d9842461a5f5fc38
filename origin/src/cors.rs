//! CORS for browser players: every origin response is readable from any
//! page, and preflights for the headers players send (`Range`,
//! `Authorization`, conditionals) are answered without touching storage.

use crate::error::{OriginError, ALLOWED_METHODS};
use crate::paths;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse};

/// Response headers a player script may read beyond the safelisted ones.
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges, ETag";

/// Request headers a player may send.
const ALLOW_HEADERS: &str = "Range, Authorization, If-None-Match, If-Modified-Since, If-Range";

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: u32 = 86_400;

/// Middleware adding the CORS response headers to every origin response.
pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS))
}

/// Answers an `OPTIONS` request (a CORS preflight or a plain capability query).
pub async fn preflight(req: HttpRequest) -> Result<HttpResponse, OriginError> {
    paths::check_raw(req.path())?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::ALLOW, ALLOWED_METHODS))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .finish())
}
