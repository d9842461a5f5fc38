//! The OAuth 2.0 endpoints and the account-token endpoints:
//!
//! - `POST /api/v1/auth/token` (RFC 6749, form-encoded): `password`,
//!   `refresh_token` and `client_credentials` grants, rate limited per IP
//!   and per account or client;
//! - `POST /api/v1/auth/revoke` (RFC 7009): revokes a refresh token's
//!   family, or an access token and the family it came from; always 200;
//! - `POST /api/v1/auth/introspect` (RFC 7662): for registered clients
//!   (HTTP Basic) and admins (bearer);
//! - `POST /api/v1/auth/verify-email`, `POST /api/v1/auth/password-reset/request`,
//!   `POST /api/v1/auth/password-reset` (JSON): the mailed single-use tokens;
//! - `POST /api/v1/uploads/token`: a single-use upload token.
//!
//! Token responses are never cached.

use crate::auth::clients::{self, AuthenticatedClient};
use crate::auth::session::{self, normalize_email};
use crate::auth::{presented_token, Admin, Caller, Uploader};
use crate::error::ApiError;
use crate::state::AppState;
use crate::users;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::Utc;
use goflix_shared::token::{Operation, Subject, TokenKind};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Lifetime of an upload token.
const UPLOAD_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// The form fields of every grant.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn missing(field: &str) -> ApiError {
    ApiError::oauth(
        "invalid_request",
        format!("the {field} parameter is required"),
    )
}

fn no_store(response: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
}

#[tracing::instrument(skip_all, fields(grant_type = form.grant_type.as_deref().unwrap_or("")))]
pub(crate) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.token_request(&req)?;
    let form = form.into_inner();
    let response = match form.grant_type.as_deref() {
        Some("password") => {
            let username = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            state
                .rate_limits
                .account_attempt(&normalize_email(&username))?;
            session::password_grant(&state, &username, &password).await?
        }
        Some("refresh_token") => {
            let token = form.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            session::refresh_grant(&state, &token).await?
        }
        Some("client_credentials") => {
            let (id, secret) = clients::presented_credentials(
                &req,
                form.client_id.as_deref(),
                form.client_secret.as_deref(),
            )?
            .ok_or_else(|| ApiError::oauth("invalid_client", "client authentication required"))?;
            state.rate_limits.account_attempt(&format!("client:{id}"))?;
            let client = clients::authenticate(&state.db, &id, &secret).await?;
            clients::client_credentials_grant(&state, &client, form.scope.as_deref())?
        }
        Some(other) => {
            return Err(ApiError::oauth(
                "unsupported_grant_type",
                format!(
                    "grant type {other:?} is not supported; use password, refresh_token or client_credentials"
                ),
            ))
        }
        None => return Err(missing("grant_type")),
    };
    Ok(no_store(&mut HttpResponse::Ok()).json(response))
}

/// The form of RFC 7009 and RFC 7662 requests.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Authenticates the client named in a request, if it names one.
async fn optional_client(
    state: &AppState,
    req: &HttpRequest,
    form: &TokenForm,
) -> Result<Option<AuthenticatedClient>, ApiError> {
    match clients::presented_credentials(
        req,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )? {
        Some((id, secret)) => Ok(Some(clients::authenticate(&state.db, &id, &secret).await?)),
        None => Ok(None),
    }
}

/// RFC 7009: possession of a token is enough to revoke it; a client that
/// authenticates must do so correctly. Unknown or invalid tokens are
/// answered with 200 like any other, as the RFC requires.
#[tracing::instrument(skip_all)]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    optional_client(&state, &req, &form).await?;
    let token = form.token.as_deref().ok_or_else(|| missing("token"))?;
    let refresh_first = form.token_type_hint.as_deref() != Some("access_token");
    let revoked = refresh_first && session::revoke_refresh_token(&state, token).await?;
    if !revoked {
        match state.verifier.verify_access(token, Operation::Inspect) {
            // An attenuated token is revoked alone; the one it came from stays valid.
            Ok(claims) if claims.kind == TokenKind::Attenuated => {
                let own: Vec<String> = claims
                    .own_revocation_id()
                    .into_iter()
                    .map(Into::into)
                    .collect();
                session::revoke_access_token(&state, &own, claims.expires_at).await?
            }
            Ok(claims) => {
                session::revoke_access_token(&state, &claims.revocation_ids, claims.expires_at)
                    .await?
            }
            Err(_) if !refresh_first => {
                session::revoke_refresh_token(&state, token).await?;
            }
            Err(_) => {}
        }
    }
    Ok(no_store(&mut HttpResponse::Ok()).finish())
}

/// RFC 7662: a registered client (HTTP Basic or form credentials) or an
/// admin's bearer token may ask.
#[tracing::instrument(skip_all)]
pub(crate) async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("bearer "));
    if bearer {
        let caller = Caller::extract(&req).await?;
        caller.require::<Admin>()?;
    } else if optional_client(&state, &req, &form).await?.is_none() {
        return Err(ApiError::oauth(
            "invalid_client",
            "introspection needs client authentication or an admin's bearer token",
        ));
    }
    let token = form.token.as_deref().ok_or_else(|| missing("token"))?;
    let body = match describe(&state, token).await? {
        Some(active) => active,
        None => json!({ "active": false }),
    };
    Ok(no_store(&mut HttpResponse::Ok()).json(body))
}

/// The RFC 7662 description of an active token, or `None`.
async fn describe(state: &AppState, token: &str) -> Result<Option<serde_json::Value>, ApiError> {
    if let Ok(claims) = state.verifier.verify_access(token, Operation::Inspect) {
        if state
            .revocations
            .is_revoked(&state.db, &claims.revocation_ids)
            .await?
        {
            return Ok(None);
        }
        let jti = claims.own_revocation_id().map(str::to_owned);
        let kind = match claims.kind {
            TokenKind::Access => "access",
            TokenKind::Attenuated => "attenuated",
        };
        let mut body = json!({
            "active": true,
            "token_type": "Bearer",
            "exp": claims.expires_at.timestamp(),
            "jti": jti,
            "goflix_kind": kind,
        });
        match claims.subject {
            Subject::User { id, role } => {
                body["sub"] = json!(id);
                body["role"] = json!(role.as_str());
            }
            Subject::Client {
                client_id,
                owner_id,
                scopes,
            } => {
                if !clients::exists(&state.db, &client_id).await? {
                    return Ok(None);
                }
                body["sub"] = json!(owner_id);
                body["client_id"] = json!(client_id);
                body["scope"] = json!(scopes.join(" "));
            }
        }
        return Ok(Some(body));
    }
    Ok(session::active_refresh_token(state, token)
        .await?
        .map(|info| {
            json!({
                "active": true,
                "token_type": "refresh_token",
                "sub": info.user_id,
                "exp": info.expires_at / 1000,
                "iat": info.issued_at / 1000,
            })
        }))
}

/// `{token}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    token: String,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    users::verify_email(&state.db, &body.token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{email}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    email: String,
}

/// Always 202, at once: the token is issued and mailed in the background
/// only if the address belongs to an account.
#[tracing::instrument(skip_all)]
pub(crate) async fn password_reset_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.reset_request(&req)?;
    let email = normalize_email(&body.email);
    state.rate_limits.reset_for(&email)?;
    users::request_password_reset(state, &email);
    Ok(HttpResponse::Accepted().json(json!({
        "message": "if the address belongs to an account, a reset token is on its way"
    })))
}

/// `{token, password}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    token: String,
    password: String,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.token_request(&req)?;
    users::reset_password(&state, &body.token, &body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A token good for one `POST /api/v1/videos` within ten minutes (or until
/// the caller's token expires, if sooner), for browser direct uploads: the
/// caller's own token attenuated to that one operation, so it carries no
/// right the caller lacks and dies when the caller's token is revoked.
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn upload_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Uploader>()?;
    let parent = presented_token(&req)?;
    let attenuated = state
        .verifier
        .attenuate_for_upload(&parent, UPLOAD_TOKEN_TTL)?;
    let claims = state
        .verifier
        .verify_access(&attenuated.token, Operation::UploadVideo)?;
    let issued = goflix_shared::token::Issued {
        expires_at: claims.expires_at,
        ..attenuated
    };
    let expires_in = (issued.expires_at - Utc::now()).num_seconds().max(0);
    Ok(no_store(&mut HttpResponse::Ok()).json(json!({
        "token": issued.token,
        "expires_at": issued.expires_at,
        "expires_in": expires_in,
    })))
}
