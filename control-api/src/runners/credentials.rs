//! Runner registration tokens and runner credentials. An admin creates a
//! registration token (shown once, valid 7 days unless asked otherwise, up
//! to 90); a runner exchanges it for its own credential on first start
//! (`Register`; one token registers any number of runners until it expires
//! or is revoked). Both secrets are 256 random bits, stored as SHA-256;
//! a revoked runner's credential never works again.

use crate::auth::session::digest;
use crate::auth::ManageRunners;
use crate::db::{now_ms, runner, runner_registration_token as token};
use crate::error::ApiError;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use std::time::Duration;
use uuid::Uuid;

/// How long a registration token registers runners unless asked otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7 * 86_400);
/// The longest a registration token may be valid.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(90 * 86_400);
/// Longest runner name or token description, in characters.
const MAX_TEXT_CHARS: usize = 100;
/// Prefix of registration tokens, so a leaked one is recognisable.
const TOKEN_PREFIX: &str = "gfrt_";
/// Prefix of runner credentials.
const CREDENTIAL_PREFIX: &str = "gfr_";

/// A fresh secret with `prefix`.
fn secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// A token with its secret, shown only this once.
pub struct NewToken {
    /// The row.
    pub token: token::Model,
    /// The secret.
    pub secret: String,
}

/// Why a runner secret was refused; the runner sees `UNAUTHENTICATED`.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No token or runner has that secret.
    #[error("unknown secret")]
    Unknown,
    /// The registration token expired.
    #[error("the registration token expired")]
    Expired,
    /// An admin revoked the token or the runner.
    #[error("revoked")]
    Revoked,
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] DbErr),
}

/// A name or description: trimmed, 1 to 100 characters, no control characters.
pub fn checked_text(text: &str, what: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty()
        || text.chars().count() > MAX_TEXT_CHARS
        || text.chars().any(char::is_control)
    {
        return Err(format!(
            "a {what} has 1 to {MAX_TEXT_CHARS} printable characters"
        ));
    }
    Ok(text.to_owned())
}

/// Creates a registration token valid for `ttl`.
pub async fn create_token(
    db: &DatabaseConnection,
    right: &ManageRunners,
    description: &str,
    ttl: Duration,
) -> Result<NewToken, ApiError> {
    let description = checked_text(description, "description")
        .map_err(|message| ApiError::bad_request("invalid_description", message))?;
    if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            format!(
                "a registration token lasts 1 to {} seconds",
                MAX_TOKEN_TTL.as_secs()
            ),
        ));
    }
    let secret = secret(TOKEN_PREFIX);
    let now = now_ms();
    let token = token::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(digest(&secret)),
        description: Set(description),
        created_by: Set(right.admin_id()),
        created_at: Set(now),
        expires_at: Set(now + ttl.as_millis() as i64),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(NewToken { token, secret })
}

/// Every registration token, newest first.
pub async fn tokens(
    db: &DatabaseConnection,
    _: &ManageRunners,
) -> Result<Vec<token::Model>, DbErr> {
    token::Entity::find()
        .order_by_desc(token::Column::CreatedAt)
        .all(db)
        .await
}

/// Revokes a registration token; runners it registered keep working.
/// Whether it existed.
pub async fn revoke_token(
    db: &DatabaseConnection,
    _: &ManageRunners,
    id: Uuid,
) -> Result<bool, DbErr> {
    let revoked = token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(now_ms()))
        .filter(token::Column::Id.eq(id))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected > 0 || token::Entity::find_by_id(id).one(db).await?.is_some())
}

/// Registers a runner with registration token `secret`; returns its row
/// and its credential, shown only this once.
pub async fn register(
    db: &DatabaseConnection,
    secret_given: &str,
    name: &str,
    version: &str,
) -> Result<(runner::Model, String), Refused> {
    let found = token::Entity::find()
        .filter(token::Column::TokenHash.eq(digest(secret_given)))
        .one(db)
        .await?
        .ok_or(Refused::Unknown)?;
    if found.revoked_at.is_some() {
        return Err(Refused::Revoked);
    }
    let now = now_ms();
    if found.expires_at <= now {
        return Err(Refused::Expired);
    }
    let credential = secret(CREDENTIAL_PREFIX);
    let runner = runner::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        version: Set(version.to_owned()),
        registration_token_id: Set(found.id),
        credential_hash: Set(digest(&credential)),
        created_at: Set(now),
        last_seen_at: Set(now),
        revoked_at: Set(None),
        current_jobs: Set("[]".into()),
    }
    .insert(db)
    .await?;
    Ok((runner, credential))
}

/// The runner whose credential is `credential`, unless revoked.
pub async fn authenticate(
    db: &DatabaseConnection,
    credential: &str,
) -> Result<runner::Model, Refused> {
    let found = runner::Entity::find()
        .filter(runner::Column::CredentialHash.eq(digest(credential)))
        .one(db)
        .await?
        .ok_or(Refused::Unknown)?;
    if found.revoked_at.is_some() {
        return Err(Refused::Revoked);
    }
    Ok(found)
}

/// Whether runner `id` is revoked (or gone).
pub async fn is_revoked(db: &DatabaseConnection, id: Uuid) -> Result<bool, DbErr> {
    Ok(runner::Entity::find_by_id(id)
        .one(db)
        .await?
        .is_none_or(|runner| runner.revoked_at.is_some()))
}

/// Every runner, newest first.
pub async fn runners(
    db: &DatabaseConnection,
    _: &ManageRunners,
) -> Result<Vec<runner::Model>, DbErr> {
    runner::Entity::find()
        .order_by_desc(runner::Column::CreatedAt)
        .all(db)
        .await
}

/// Revokes runner `id`; whether it existed.
pub async fn revoke_runner(
    db: &DatabaseConnection,
    _: &ManageRunners,
    id: Uuid,
) -> Result<bool, DbErr> {
    let Some(found) = runner::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    if found.revoked_at.is_none() {
        runner::Entity::update_many()
            .col_expr(runner::Column::RevokedAt, Expr::value(now_ms()))
            .col_expr(runner::Column::CurrentJobs, Expr::value("[]"))
            .filter(runner::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(true)
}

/// A job a runner runs, as its row lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CurrentJob {
    /// The job.
    pub job_id: Uuid,
    /// The video it transcodes.
    pub video_id: Uuid,
}

/// Records that runner `id` was heard from, running `jobs`, at `version`.
pub async fn seen(
    db: &DatabaseConnection,
    id: Uuid,
    version: &str,
    jobs: &[CurrentJob],
) -> Result<(), DbErr> {
    let jobs = serde_json::to_string(jobs).expect("jobs serialise");
    runner::Entity::update_many()
        .col_expr(runner::Column::LastSeenAt, Expr::value(now_ms()))
        .col_expr(runner::Column::Version, Expr::value(version))
        .col_expr(runner::Column::CurrentJobs, Expr::value(jobs))
        .filter(runner::Column::Id.eq(id))
        .filter(runner::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
