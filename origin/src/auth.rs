//! Playback authorization. Public and unlisted videos are open; a private
//! one needs a playback token (`?token=` or `Authorization: Bearer`) that
//! the [`TokenVerifier`] accepts for that video, using only the public key.

use crate::error::OriginError;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest};
use goflix_shared::domain::{PlaybackRecord, VideoId, Visibility};
use goflix_shared::token::TokenVerifier;
use serde::Deserialize;

/// How a request may see a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Public or unlisted: shared caches may keep the response.
    Open,
    /// Private, with this verified token, which manifests carry on into their URIs.
    Token(String),
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Decides whether `req` may play `video` as published in `record`.
/// Without a verifier (no public key configured) private videos are refused.
pub fn authorize(
    verifier: Option<&TokenVerifier>,
    record: &PlaybackRecord,
    video: VideoId,
    req: &HttpRequest,
) -> Result<Access, OriginError> {
    if record.visibility != Visibility::Private {
        return Ok(Access::Open);
    }
    let token = presented_token(req)?.ok_or(OriginError::Forbidden)?;
    let verifier = verifier.ok_or(OriginError::Forbidden)?;
    match verifier.verify_playback(&token, video) {
        Ok(_claims) => Ok(Access::Token(token)),
        Err(e) => {
            tracing::debug!(error = %e, "playback token refused");
            Err(OriginError::Forbidden)
        }
    }
}

/// The token a request presents: the `Authorization: Bearer` header, else `?token=`.
fn presented_token(req: &HttpRequest) -> Result<Option<String>, OriginError> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let bearer = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        if let Some(token) = bearer.filter(|t| !t.is_empty()) {
            return Ok(Some(token.to_owned()));
        }
    }
    let query = web::Query::<TokenQuery>::from_query(req.query_string())
        .map_err(|_| OriginError::BadQuery)?;
    Ok(query.into_inner().token.filter(|t| !t.is_empty()))
}
