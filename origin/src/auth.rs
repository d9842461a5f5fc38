//! Playback authorization. Public and unlisted videos are open; a private
//! one needs a playback token for that video (`?token=` or
//! `Authorization: Bearer`; access tokens, an admin's too, play nothing),
//! verified with the public key alone on a blocking thread (never on an
//! async worker) the first time this origin sees it ([`crate::verified`]
//! remembers it until it expires), and not revoked by the control plane's
//! revocation feed ([`crate::revocations`]), checked on every request.
//!
//! Only a token that came in `?token=` is carried into manifest URIs. A
//! client that sent the `Authorization` header sends it with every request
//! itself, and a header credential written into a response body would leak
//! into player logs, caches and `Referer`s.

use crate::error::OriginError;
use crate::revocations::Revocations;
use crate::verified::{TokenDigest, TokenKey, VerifiedTokens};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest};
use goflix_shared::domain::{PlaybackRecord, VideoId, Visibility};
use goflix_shared::token::TokenVerifier;
use serde::Deserialize;
use std::time::SystemTime;

/// How a request may see a video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Public or unlisted: shared caches may keep the response.
    Open,
    /// Private, granted by a verified, unrevoked playback token.
    Private {
        /// The token manifests carry on into their URIs: the `?token=`
        /// one, `None` when it came in the `Authorization` header.
        carried: Option<String>,
        /// The digest of the token presented, whichever way.
        digest: TokenDigest,
    },
}

/// Where a request put its token.
enum Presented {
    /// `Authorization: Bearer …`: the client resends it itself.
    Header(String),
    /// `?token=…`: the only way a player's segment requests carry it.
    Query(String),
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Decides whether `req` may play `video` as published in `record`.
/// Without a verifier (no public key configured) private videos are
/// refused; before the first read of the revocation feed they answer `503`.
pub async fn authorize(
    verifier: Option<&TokenVerifier>,
    verified: &VerifiedTokens,
    revocations: &Revocations,
    record: &PlaybackRecord,
    video: VideoId,
    req: &HttpRequest,
) -> Result<Access, OriginError> {
    if record.visibility != Visibility::Private {
        return Ok(Access::Open);
    }
    let presented = presented_token(req)?.ok_or(OriginError::Forbidden)?;
    let verifier = verifier.ok_or(OriginError::Forbidden)?;
    let token = match &presented {
        Presented::Header(token) | Presented::Query(token) => token,
    };
    let digest = TokenDigest::of(token);
    let key = TokenKey::new(digest, video);
    let claims = match verified.get(&key, SystemTime::now()) {
        Some(claims) => claims,
        None => {
            let (verifier, token) = (verifier.clone(), token.clone());
            let claims = web::block(move || verifier.verify_playback(&token, video))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "no blocking thread to verify a playback token");
                    OriginError::Forbidden
                })?
                .map_err(|e| {
                    tracing::debug!(error = %e, "playback token refused");
                    OriginError::Forbidden
                })?;
            verified.remember(key, claims);
            claims
        }
    };
    revocations.check(&claims)?;
    Ok(Access::Private {
        carried: match presented {
            Presented::Query(token) => Some(token),
            Presented::Header(_) => None,
        },
        digest,
    })
}

/// The token a request presents: the `Authorization: Bearer` header, else `?token=`.
fn presented_token(req: &HttpRequest) -> Result<Option<Presented>, OriginError> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let bearer = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        if let Some(token) = bearer.filter(|t| !t.is_empty()) {
            return Ok(Some(Presented::Header(token.to_owned())));
        }
    }
    let query = web::Query::<TokenQuery>::from_query(req.query_string())
        .map_err(|_| OriginError::BadQuery)?;
    Ok(query
        .into_inner()
        .token
        .filter(|t| !t.is_empty())
        .map(Presented::Query))
}
