//! The base of the absolute URLs Goflix hands out (tus `Location`,
//! direct-upload URLs, oEmbed and the watch page's discovery links):
//! `GOFLIX_PUBLIC_URL` when set, else the request's own scheme and `Host`
//! (refused when the `Host` header is missing or not a bare authority).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::HttpRequest;

/// `https://media.example.com` (no trailing slash) for `req`.
pub fn base(state: &AppState, req: &HttpRequest) -> Result<String, ApiError> {
    if let Some(base) = &state.public_url {
        return Ok(base.as_str().trim_end_matches('/').to_owned());
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| url::Url::parse(&format!("http://{host}/")).is_ok_and(|u| u.path() == "/"))
        .ok_or_else(|| {
            ApiError::bad_request("invalid_host", "the Host header is missing or malformed")
        })?;
    let scheme = req.uri().scheme_str().unwrap_or("http");
    Ok(format!("{scheme}://{host}"))
}
