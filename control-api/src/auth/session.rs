//! OAuth 2.0 sessions (RFC 6749): the `password` grant checks an e-mail and
//! password, the `refresh_token` grant exchanges a refresh token for a new
//! pair. Access tokens are short-lived biscuits; refresh tokens are random,
//! stored hashed, single-use (rotated on every refresh) and re-read the
//! user's current role.

use super::password;
use crate::db::{now_ms, refresh_token, user};
use crate::error::ApiError;
use crate::state::AppState;
use goflix_shared::token::Role;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Lifetime of an access token.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Lifetime of a refresh token.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The biscuit to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for the `refresh_token` grant.
    pub refresh_token: String,
}

/// Canonical form of a login name.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn invalid_credentials() -> ApiError {
    ApiError::oauth("invalid_grant", "invalid username or password")
}

/// The `password` grant: same error, and the same hashing work, for an
/// unknown user as for a wrong password.
pub async fn password_grant(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<TokenResponse, ApiError> {
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(normalize_email(email)))
        .one(&state.db)
        .await?;
    let stored = account.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(password, stored).await? {
        return Err(invalid_credentials());
    }
    let account = account.ok_or_else(invalid_credentials)?;
    open_session(state, &account).await
}

/// The `refresh_token` grant: consumes the token and opens a new session.
pub async fn refresh_grant(state: &AppState, token: &str) -> Result<TokenResponse, ApiError> {
    let invalid = || ApiError::oauth("invalid_grant", "the refresh token is invalid or expired");
    let hash = digest(token);
    let Some(stored) = refresh_token::Entity::find_by_id(hash.clone())
        .one(&state.db)
        .await?
    else {
        return Err(invalid());
    };
    // Deleting first makes a concurrent second use of the same token fail.
    let deleted = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .exec(&state.db)
        .await?;
    if deleted.rows_affected != 1 || stored.expires_at <= now_ms() {
        return Err(invalid());
    }
    let account = user::Entity::find_by_id(stored.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    open_session(state, &account).await
}

async fn open_session(state: &AppState, account: &user::Model) -> Result<TokenResponse, ApiError> {
    let role: Role = account
        .role
        .parse()
        .map_err(|e| ApiError::Internal(format!("user {}: {e}", account.id)))?;
    let access_token = state.issuer.issue_access(account.id, role, ACCESS_TTL)?;
    let refresh = hex::encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    refresh_token::ActiveModel {
        token_hash: Set(digest(&refresh)),
        user_id: Set(account.id),
        expires_at: Set(now + REFRESH_TTL.as_millis() as i64),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL.as_secs(),
        refresh_token: refresh,
    })
}

/// How refresh tokens are stored: hex SHA-256 (they are random, so no salt or stretching is needed).
fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
