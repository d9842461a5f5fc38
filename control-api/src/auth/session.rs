//! OAuth 2.0 sessions (RFC 6749): the `password` grant checks an e-mail and
//! password, the `refresh_token` grant exchanges a refresh token for a new
//! pair. Access tokens are short-lived biscuits; refresh tokens are random,
//! stored hashed, and rotated on every use. The tokens of one login form a
//! family: presenting an already-rotated refresh token (a replay of a
//! stolen token, or of the legitimate one after the thief used it) revokes
//! the family — every refresh token in it and the access tokens issued with
//! them. Logging out (RFC 7009 revocation) does the same.

use super::rate_limit::{AccountKey, AttemptOutcome, ClientKey};
use super::{password, playback_revocations};
use crate::db::{now_ms, refresh_token, time_of, user};
use crate::error::ApiError;
use crate::state::AppState;
use goflix_shared::token::{Grant, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// Lifetime of an access token.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Lifetime of a refresh token.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The biscuit to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for the `refresh_token` grant (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes (service clients only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Canonical form of a login name.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn invalid_credentials() -> ApiError {
    ApiError::oauth("invalid_grant", "invalid username or password")
}

fn invalid_refresh() -> ApiError {
    ApiError::oauth("invalid_grant", "the refresh token is invalid or expired")
}

/// The `password` grant from `client`: same error, and the same hashing
/// work, for an unknown user as for a wrong password. A disabled account is
/// refused only after its password matched. Attempts are throttled per
/// account and client ([`RateLimits::secret_attempt`]): refused (429) once
/// this client failed too often for this account, delayed (at most
/// [`MAX_ACCOUNT_DELAY`]) while the account fails from many addresses.
///
/// [`RateLimits::secret_attempt`]: super::rate_limit::RateLimits::secret_attempt
/// [`MAX_ACCOUNT_DELAY`]: super::rate_limit::MAX_ACCOUNT_DELAY
pub async fn password_grant(
    state: &AppState,
    client: ClientKey,
    email: &str,
    password: &str,
) -> Result<TokenResponse, ApiError> {
    let email = normalize_email(email);
    let attempt = state
        .rate_limits
        .secret_attempt(AccountKey::user(&email), client)?;
    tokio::time::sleep(attempt.delay()).await;
    let checked = check_password(state, &email, password).await;
    attempt.settle(match &checked {
        Ok(Some(_)) => AttemptOutcome::Accepted,
        Ok(None) => AttemptOutcome::Rejected,
        Err(_) => AttemptOutcome::Unchecked,
    });
    let account = checked?.ok_or_else(invalid_credentials)?;
    if account.disabled {
        return Err(ApiError::oauth("invalid_grant", "the account is disabled"));
    }
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::UserId.eq(account.id))
        .filter(refresh_token::Column::ExpiresAt.lt(now_ms()))
        .exec(&state.db)
        .await?;
    open_session(state, &account, Uuid::now_v7()).await
}

/// The account of `email` if `password` is its password.
async fn check_password(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<user::Model>, ApiError> {
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&state.db)
        .await?;
    let stored = account.as_ref().map(|u| u.password_hash.clone());
    Ok(password::verify(password, stored)
        .await?
        .then_some(account)
        .flatten())
}

/// The `refresh_token` grant: marks the token used and continues its family
/// with a new pair; a token used before revokes the family.
pub async fn refresh_grant(state: &AppState, token: &str) -> Result<TokenResponse, ApiError> {
    let hash = digest(token);
    let Some(stored) = refresh_token::Entity::find_by_id(hash.clone())
        .one(&state.db)
        .await?
    else {
        return Err(invalid_refresh());
    };
    if stored.used_at.is_some() {
        tracing::warn!(user_id = %stored.user_id, "refresh token reused; revoking its family");
        revoke_family(state, &stored).await?;
        return Err(invalid_refresh());
    }
    if stored.expires_at <= now_ms() {
        return Err(invalid_refresh());
    }
    // Only one of two concurrent uses marks the token; the other is a reuse.
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now_ms()))
        .filter(refresh_token::Column::TokenHash.eq(hash.clone()))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&state.db)
        .await?;
    if marked.rows_affected != 1 {
        tracing::warn!(user_id = %stored.user_id, "refresh token reused concurrently; revoking its family");
        revoke_family(state, &stored).await?;
        return Err(invalid_refresh());
    }
    let account = user::Entity::find_by_id(stored.user_id)
        .one(&state.db)
        .await?
        .filter(|account| !account.disabled)
        .ok_or_else(invalid_refresh)?;
    let family = stored.family_id.unwrap_or_else(Uuid::now_v7);
    let session = open_session(state, &account, family).await?;
    // A reuse revoking the family while we issued deletes `stored`; then the
    // new token must not survive either.
    if refresh_token::Entity::find_by_id(hash)
        .one(&state.db)
        .await?
        .is_none()
    {
        revoke_family(state, &stored).await?;
        return Err(invalid_refresh());
    }
    Ok(session)
}

async fn open_session(
    state: &AppState,
    account: &user::Model,
    family: Uuid,
) -> Result<TokenResponse, ApiError> {
    let role: Role = account
        .role
        .parse()
        .map_err(|e| ApiError::Internal(format!("user {}: {e}", account.id)))?;
    let access = state.issuer.issue(
        &Grant::User {
            id: account.id,
            role,
            session: Some(family),
        },
        ACCESS_TTL,
    )?;
    let refresh = hex::encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    refresh_token::ActiveModel {
        token_hash: Set(digest(&refresh)),
        user_id: Set(account.id),
        expires_at: Set(now + REFRESH_TTL.as_millis() as i64),
        created_at: Set(now),
        family_id: Set(Some(family)),
        used_at: Set(None),
        access_id: Set(Some(access.revocation_id)),
        access_expires_at: Set(Some(access.expires_at.timestamp_millis())),
    }
    .insert(&state.db)
    .await?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL.as_secs(),
        refresh_token: Some(refresh),
        scope: None,
    })
}

/// Revokes the family of `row` (or `row` alone when it predates families):
/// its refresh tokens are deleted and its access tokens revoked.
async fn revoke_family(state: &AppState, row: &refresh_token::Model) -> Result<(), ApiError> {
    let condition = match row.family_id {
        Some(family) => Condition::all().add(refresh_token::Column::FamilyId.eq(family)),
        None => Condition::all().add(refresh_token::Column::TokenHash.eq(row.token_hash.clone())),
    };
    revoke_where(state, condition).await?;
    publish_playback_revocations(state).await;
    Ok(())
}

/// Ends every session of `user_id` (password reset, role change, disabling).
pub async fn revoke_user_sessions(state: &AppState, user_id: Uuid) -> Result<(), ApiError> {
    revoke_where(
        state,
        Condition::all().add(refresh_token::Column::UserId.eq(user_id)),
    )
    .await?;
    playback_revocations::record_user(&state.db, user_id).await?;
    publish_playback_revocations(state).await;
    Ok(())
}

/// Writes the playback revocation feed right after a revocation; when
/// storage fails, the periodic republish writes it once storage is back.
async fn publish_playback_revocations(state: &AppState) {
    if let Err(e) = state
        .playback_revocations
        .publish(&state.db, &state.store)
        .await
    {
        tracing::warn!(error = %e, "could not publish playback revocations; the next periodic republish will");
    }
}

async fn revoke_where(state: &AppState, condition: Condition) -> Result<(), ApiError> {
    let rows = refresh_token::Entity::find()
        .filter(condition.clone())
        .all(&state.db)
        .await?;
    // Their playback tokens die at the origins too.
    playback_revocations::record_sessions(&state.db, rows.iter().filter_map(|r| r.family_id))
        .await?;
    let access: Vec<_> = rows
        .iter()
        .filter_map(|r| Some((r.access_id.clone()?, time_of(r.access_expires_at?))))
        .collect();
    state.revocations.revoke(&state.db, &access).await?;
    refresh_token::Entity::delete_many()
        .filter(condition)
        .exec(&state.db)
        .await?;
    Ok(())
}

/// RFC 7009 for a refresh token: revokes its family. Unknown tokens are
/// ignored (the RFC answers 200 either way).
pub async fn revoke_refresh_token(state: &AppState, token: &str) -> Result<bool, ApiError> {
    match refresh_token::Entity::find_by_id(digest(token))
        .one(&state.db)
        .await?
    {
        Some(row) => {
            revoke_family(state, &row).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// RFC 7009 for an access token: revokes it (every block) and the refresh
/// token family it was issued with, if any.
pub async fn revoke_access_token(
    state: &AppState,
    revocation_ids: &[String],
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let ids: Vec<_> = revocation_ids
        .iter()
        .map(|id| (id.clone(), expires_at))
        .collect();
    state.revocations.revoke(&state.db, &ids).await?;
    if let Some(authority) = revocation_ids.first() {
        let issued_with = refresh_token::Entity::find()
            .filter(refresh_token::Column::AccessId.eq(authority.clone()))
            .one(&state.db)
            .await?;
        if let Some(row) = issued_with {
            revoke_family(state, &row).await?;
        }
    }
    Ok(())
}

/// What introspection reports about a refresh token.
#[derive(Debug)]
pub struct RefreshInfo {
    /// Its user.
    pub user_id: Uuid,
    /// Its expiry, Unix ms.
    pub expires_at: i64,
    /// Its issue time, Unix ms.
    pub issued_at: i64,
}

/// An unused, unexpired refresh token's details, for RFC 7662.
pub async fn active_refresh_token(
    state: &AppState,
    token: &str,
) -> Result<Option<RefreshInfo>, ApiError> {
    let row = refresh_token::Entity::find_by_id(digest(token))
        .one(&state.db)
        .await?;
    Ok(row
        .filter(|r| r.used_at.is_none() && r.expires_at > now_ms())
        .map(|r| RefreshInfo {
            user_id: r.user_id,
            expires_at: r.expires_at,
            issued_at: r.created_at,
        }))
}

/// How random tokens are stored: hex SHA-256 (they carry 256 random bits,
/// so no salt or stretching is needed).
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
