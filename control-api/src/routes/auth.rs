//! The OAuth 2.0 endpoints and the account-token endpoints:
//!
//! - `POST /api/v1/auth/token` (RFC 6749, form-encoded): `password`,
//!   `refresh_token` and `client_credentials` grants; failed secrets are
//!   throttled per (account or client, client address), see
//!   [`rate_limit`](crate::auth::rate_limit);
//! - `POST /api/v1/auth/revoke` (RFC 7009): revokes a refresh token's
//!   family, or an access token and the family it came from; always 200;
//! - `POST /api/v1/auth/introspect` (RFC 7662): for registered clients
//!   (HTTP Basic) and admins (bearer);
//! - `POST /api/v1/auth/verify-email`, `POST /api/v1/auth/password-reset/request`,
//!   `POST /api/v1/auth/password-reset` (JSON): the mailed single-use tokens;
//! - `POST /api/v1/uploads/token`: a single-use upload token.
//!
//! Token responses are never cached.

use crate::auth::caller::client_acts_for_an_admin;
use crate::auth::clients::{self, AuthenticatedClient};
use crate::auth::rate_limit::{AccountKey, AttemptOutcome};
use crate::auth::session::TokenResponse;
use crate::auth::session::{self, normalize_email};
use crate::auth::{presented_token, presents_bearer, Admin, Caller, Uploader};
use crate::error::{ApiError, ErrorBody, OAuthErrorBody};
use crate::state::AppState;
use crate::users;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::DateTime;
use chrono::Utc;
use goflix_shared::domain::{Role, Scope};
use goflix_shared::token::{Operation, Subject, TokenKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// Lifetime of an upload token.
const UPLOAD_TOKEN_TTL: Duration = Duration::from_secs(10 * 60);

/// The form fields of every grant.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// `password`, `refresh_token` or `client_credentials`.
    #[schema(nullable = false, example = "password")]
    grant_type: Option<String>,
    /// The account's e-mail (password grant).
    #[schema(nullable = false)]
    username: Option<String>,
    /// The account's password (password grant).
    #[schema(nullable = false, format = Password)]
    password: Option<String>,
    /// A refresh token (refresh_token grant; single use, rotated).
    #[schema(nullable = false)]
    refresh_token: Option<String>,
    /// Space-separated scopes (client_credentials grant).
    #[schema(nullable = false)]
    scope: Option<String>,
    /// A service client's id, when not sent with HTTP Basic.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// A service client's secret, when not sent with HTTP Basic.
    #[schema(nullable = false, format = Password)]
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

/// OAuth 2.0 token endpoint (RFC 6749): `password`, `refresh_token`
/// (rotated; reuse revokes the family) and `client_credentials` (HTTP Basic
/// or form credentials).
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    security((), ("client" = [])),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A new access token (and a refresh token for users)", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: `invalid_request`, `invalid_grant`, `invalid_scope`, `unsupported_grant_type`", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`; `WWW-Authenticate: Basic`)", body = OAuthErrorBody),
        (status = 415, description = "Not form-encoded (`unsupported_media_type`)", body = ErrorBody),
        (status = 429, description = "Too many attempts (`rate_limited`); see `Retry-After`", body = ErrorBody),
        (status = 503, description = "Every password hashing slot is busy (`unavailable`); see `Retry-After`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(grant_type = form.grant_type.as_deref().unwrap_or("")))]
pub(crate) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let response = match form.grant_type.as_deref() {
        Some("password") => {
            let username = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            let client = state.rate_limits.client_key(&req);
            session::password_grant(&state, client, &username, &password).await?
        }
        Some("refresh_token") => {
            state.rate_limits.token_request(&req)?;
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
            let attempt = state
                .rate_limits
                .secret_attempt(AccountKey::client(&id), state.rate_limits.client_key(&req))?;
            let authenticated = clients::authenticate(&state.db, &id, &secret).await;
            attempt.settle(match &authenticated {
                Ok(_) => AttemptOutcome::Accepted,
                Err(ApiError::OAuth { .. }) => AttemptOutcome::Rejected,
                Err(_) => AttemptOutcome::Unchecked,
            });
            clients::client_credentials_grant(&state, &authenticated?, form.scope.as_deref())?
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
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TokenForm {
    /// The token to revoke or describe (required).
    #[schema(nullable = false)]
    token: Option<String>,
    /// `access_token` or `refresh_token`.
    #[schema(nullable = false)]
    token_type_hint: Option<String>,
    /// A service client's id, when not sent with HTTP Basic.
    #[schema(nullable = false)]
    client_id: Option<String>,
    /// A service client's secret, when not sent with HTTP Basic.
    #[schema(nullable = false, format = Password)]
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
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    security((), ("client" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked (or nothing to revoke); a refresh token revokes its family, an access token the family it came from"),
        (status = 400, description = "RFC 6749 error (`invalid_request`)", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = OAuthErrorBody),
        (status = 415, description = "Not form-encoded (`unsupported_media_type`)", body = ErrorBody),
    )
)]
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
        let presented = token.to_owned();
        let verified = state
            .verifier
            .run_blocking(move |v| v.verify_access(&presented, Operation::Inspect))
            .await;
        match verified {
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
#[utoipa::path(
    post,
    path = "/auth/introspect",
    tag = "auth",
    security(("bearer" = []), ("client" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "What the token is, or `{\"active\": false}`", body = Introspection),
        (status = 400, description = "RFC 6749 error (`invalid_request`)", body = OAuthErrorBody),
        (status = 401, description = "No or bad client authentication (`invalid_client`), or a bad bearer token", body = OAuthErrorBody),
        (status = 403, description = "The bearer is not an admin (`forbidden`)", body = ErrorBody),
        (status = 415, description = "Not form-encoded (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    if presents_bearer(&req) {
        let caller = Caller::extract(&req).await?;
        caller.require::<Admin>()?;
    } else if optional_client(&state, &req, &form).await?.is_none() {
        return Err(ApiError::oauth(
            "invalid_client",
            "introspection needs client authentication or an admin's bearer token",
        ));
    }
    let token = form.token.as_deref().ok_or_else(|| missing("token"))?;
    let body = describe(&state, token).await?.unwrap_or_default();
    Ok(no_store(&mut HttpResponse::Ok()).json(body))
}

/// An RFC 7662 introspection response; only `active` when it is false.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct Introspection {
    /// Whether the token is valid, unexpired and unrevoked.
    active: bool,
    /// `Bearer` (access tokens) or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// The user, or the admin a service client acts for.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<Uuid>,
    /// The user's role (user access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Role>)]
    role: Option<&'static str>,
    /// The service client (client tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// The client's space-separated scopes (client tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    /// Issue time, Unix seconds (refresh tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    /// The token's own revocation id (access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// `access` or `attenuated` (access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    goflix_kind: Option<&'static str>,
}

/// The RFC 7662 description of an active token, or `None`.
async fn describe(state: &AppState, token: &str) -> Result<Option<Introspection>, ApiError> {
    let presented = token.to_owned();
    let verified = state
        .verifier
        .run_blocking(move |v| v.verify_access(&presented, Operation::Inspect))
        .await;
    if let Ok(claims) = verified {
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
        let mut body = Introspection {
            active: true,
            token_type: Some("Bearer"),
            exp: Some(claims.expires_at.timestamp()),
            jti,
            goflix_kind: Some(kind),
            ..Introspection::default()
        };
        match claims.subject {
            Subject::User { id, role } => {
                body.sub = Some(id);
                body.role = Some(role.as_str());
            }
            Subject::Client {
                client_id,
                owner_id,
                scopes,
            } => {
                if !client_acts_for_an_admin(&state.db, &client_id, owner_id).await? {
                    return Ok(None);
                }
                body.sub = Some(owner_id);
                body.client_id = Some(client_id);
                body.scope = Some(Scope::list(&scopes));
            }
        }
        return Ok(Some(body));
    }
    Ok(session::active_refresh_token(state, token)
        .await?
        .map(|info| Introspection {
            active: true,
            token_type: Some("refresh_token"),
            sub: Some(info.user_id),
            exp: Some(info.expires_at / 1000),
            iat: Some(info.issued_at / 1000),
            ..Introspection::default()
        }))
}

/// `{token}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    /// The mailed token.
    token: String,
}

/// Confirms an e-mail address with a mailed token (single use, expires
/// after a day).
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    security(()),
    request_body = TokenBody,
    responses(
        (status = 204, description = "Verified"),
        (status = 400, description = "Unknown, expired or used token (`invalid_token`) or malformed body", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    users::verify_email(&state.db, &body.token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `{email}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    /// The account's e-mail address.
    #[schema(format = Email)]
    email: String,
}

/// `{message}`: an accepted request whose outcome is mailed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Message {
    /// What happens next.
    message: &'static str,
}

impl Message {
    /// A 202 with `message`.
    pub(crate) fn accepted(message: &'static str) -> HttpResponse {
        HttpResponse::Accepted().json(Self { message })
    }
}

/// Always 202, at once: the token is issued and mailed in the background
/// only if the address belongs to an account.
#[utoipa::path(
    post,
    path = "/auth/password-reset/request",
    tag = "auth",
    security(()),
    request_body = ResetRequest,
    responses(
        (status = 202, description = "Accepted, whether or not the address has an account", body = Message),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 429, description = "Too many attempts (`rate_limited`); see `Retry-After`", body = ErrorBody),
    )
)]
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
    Ok(Message::accepted(
        "if the address belongs to an account, a reset token is on its way",
    ))
}

/// `{token, password}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    /// The mailed reset token.
    token: String,
    /// The new password.
    #[schema(format = Password)]
    password: String,
}

/// Sets a new password with a mailed reset token (single use, expires after
/// an hour); ends every session of the account.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    security(()),
    request_body = ResetBody,
    responses(
        (status = 204, description = "Password changed"),
        (status = 400, description = "Unknown, expired or used token (`invalid_token`), `weak_password`, `invalid_password` or malformed body", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 429, description = "Too many attempts (`rate_limited`); see `Retry-After`", body = ErrorBody),
        (status = 503, description = "Every password hashing slot is busy (`unavailable`); see `Retry-After`", body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/uploads/token",
    tag = "videos",
    responses(
        (status = 200, description = "The token; it is spent when presented, even if that upload then fails", body = UploadToken),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an uploader or admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn upload_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Uploader>()?;
    let parent = presented_token(&req)?;
    let issued = state
        .verifier
        .run_blocking(move |v| v.attenuate_for_upload(&parent, UPLOAD_TOKEN_TTL))
        .await?;
    state
        .revocations
        .issue_single_use(&state.db, &issued.revocation_id, issued.expires_at)
        .await?;
    let expires_in = (issued.expires_at - Utc::now()).num_seconds().max(0);
    Ok(no_store(&mut HttpResponse::Ok()).json(UploadToken {
        token: issued.token,
        expires_at: issued.expires_at,
        expires_in,
    }))
}

/// A single-use upload token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UploadToken {
    /// Send as `Authorization: Bearer` on one `POST /videos`.
    token: String,
    /// When it expires.
    expires_at: DateTime<Utc>,
    /// Seconds until it expires.
    expires_in: i64,
}
