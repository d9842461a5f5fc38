//! Single-use, expiring tokens mailed to a user: e-mail verification and
//! password reset. Only the SHA-256 of a token is stored; issuing a new
//! token of a purpose voids the user's earlier ones of that purpose, and
//! using one marks it used in the same statement that checks it, so it
//! works once even under concurrent use. [`is_usable`] checks a token
//! without using it, so that expensive work (hashing a new password) is
//! done only for a token that can succeed.

use super::session::digest;
use crate::db::{account_token, now_ms};
use crate::error::ApiError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use std::time::Duration;
use uuid::Uuid;

/// What a mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms the account's e-mail address; valid a day.
    VerifyEmail,
    /// Sets a new password; valid an hour.
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }

    fn ttl(self) -> Duration {
        match self {
            Self::VerifyEmail => Duration::from_secs(24 * 3600),
            Self::PasswordReset => Duration::from_secs(3600),
        }
    }
}

/// Creates a token for `user_id` (voiding earlier ones of `purpose`) and
/// returns it; `db` may be the transaction that enqueues the e-mail.
pub async fn issue(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
) -> Result<String, ApiError> {
    account_token::Entity::delete_many()
        .filter(account_token::Column::UserId.eq(user_id))
        .filter(account_token::Column::Purpose.eq(purpose.as_str()))
        .exec(db)
        .await?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let now = now_ms();
    account_token::ActiveModel {
        token_hash: Set(digest(&token)),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        expires_at: Set(now + purpose.ttl().as_millis() as i64),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Whether `token` would be accepted for `purpose` now (known, unused,
/// unexpired), without using it.
pub async fn is_usable(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: Purpose,
) -> Result<bool, ApiError> {
    let row = account_token::Entity::find_by_id(digest(token))
        .filter(account_token::Column::Purpose.eq(purpose.as_str()))
        .filter(account_token::Column::UsedAt.is_null())
        .filter(account_token::Column::ExpiresAt.gt(now_ms()))
        .one(db)
        .await?;
    Ok(row.is_some())
}

/// Uses `token` for `purpose`: the user it was issued to, or `None` when it
/// is unknown, for another purpose, expired or already used.
pub async fn consume(
    db: &impl ConnectionTrait,
    token: &str,
    purpose: Purpose,
) -> Result<Option<Uuid>, ApiError> {
    let hash = digest(token);
    let now = now_ms();
    let used = account_token::Entity::update_many()
        .col_expr(account_token::Column::UsedAt, Expr::value(now))
        .filter(account_token::Column::TokenHash.eq(hash.clone()))
        .filter(account_token::Column::Purpose.eq(purpose.as_str()))
        .filter(account_token::Column::UsedAt.is_null())
        .filter(account_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Ok(None);
    }
    Ok(account_token::Entity::find_by_id(hash)
        .one(db)
        .await?
        .map(|row| row.user_id))
}
