//! Accounts: creating users (CLI, first start, admins, self sign-up),
//! bootstrapping the first admin, admin user management, e-mail
//! verification and password reset. Every operation on someone else's
//! account takes the [`ManageUsers`] right; operations on one's own take
//! [`OwnAccount`].

use crate::auth::account_token::{self, Purpose};
use crate::auth::password;
use crate::auth::session::{self, normalize_email};
use crate::auth::{ManageUsers, OwnAccount};
use crate::db::{now_ms, time_of, user, video};
use crate::error::ApiError;
use crate::notify::{self, AccountEvent, Notification};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use goflix_shared::config::Config;
use goflix_shared::token::Role;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};
use secrecy::ExposeSecret;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use uuid::Uuid;

/// E-mail of the first admin when `GOFLIX_ADMIN_EMAIL` is unset.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";
/// File in the data dir receiving a generated admin password.
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials.txt";

/// Creates a user; the e-mail is lowercased and must be unused.
pub async fn create_user(
    db: &DatabaseConnection,
    email: &str,
    role: Role,
    password: &str,
) -> Result<Uuid, ApiError> {
    let password_hash = password::hash(password).await?;
    Ok(insert_user(db, email, role, password_hash).await?.id)
}

fn validate_email(email: &str) -> Result<String, ApiError> {
    let email = normalize_email(email);
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if plausible {
        Ok(email)
    } else {
        Err(ApiError::bad_request(
            "invalid_email",
            format!("{email:?} is not an e-mail address"),
        ))
    }
}

fn email_taken(e: sea_orm::DbErr, email: &str) -> ApiError {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        ApiError::conflict("email_taken", format!("a user with e-mail {email} exists"))
    } else {
        e.into()
    }
}

async fn insert_user(
    db: &impl ConnectionTrait,
    email: &str,
    role: Role,
    password_hash: String,
) -> Result<user::Model, ApiError> {
    let email = validate_email(email)?;
    user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.clone()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now_ms()),
        email_verified_at: Set(None),
        disabled: Set(false),
    }
    .insert(db)
    .await
    .map_err(|e| email_taken(e, &email))
}

/// The API's view of an account (never the hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    #[schema(value_type = goflix_shared::token::Role)]
    role: String,
    email_verified: bool,
    disabled: bool,
    created_at: DateTime<Utc>,
}

impl From<user::Model> for UserView {
    fn from(row: user::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
            email_verified: row.email_verified_at.is_some(),
            disabled: row.disabled,
            created_at: time_of(row.created_at),
        }
    }
}

/// An admin creates an account with any role.
pub async fn admin_create(
    db: &DatabaseConnection,
    _: &ManageUsers,
    email: &str,
    password: &str,
    role: Role,
) -> Result<UserView, ApiError> {
    validate_email(email)?;
    let hash = password::hash(password).await?;
    Ok(insert_user(db, email, role, hash).await?.into())
}

/// Self sign-up (only when `GOFLIX_SIGNUP=open`): a `viewer` with an
/// unverified e-mail, who is sent a verification token. An address that
/// already has an account is left alone after the same hashing work, and
/// the caller learns nothing either way: which addresses have accounts
/// stays unknown to anonymous callers.
pub async fn sign_up(db: &DatabaseConnection, email: &str, password: &str) -> Result<(), ApiError> {
    let email = validate_email(email)?;
    let hash = password::hash(password).await?;
    let taken = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .count(db)
        .await?
        > 0;
    if taken {
        tracing::info!("sign-up for an address that has an account; nothing changed");
        return Ok(());
    }
    let txn = db.begin().await?;
    let row = insert_user(&txn, &email, Role::Viewer, hash).await?;
    send_verification(&txn, row.id).await?;
    txn.commit().await?;
    tracing::info!(user_id = %row.id, "account signed up");
    Ok(())
}

async fn send_verification(db: &impl ConnectionTrait, user_id: Uuid) -> Result<(), ApiError> {
    let token = account_token::issue(db, user_id, Purpose::VerifyEmail).await?;
    notify::enqueue(
        db,
        Notification::account(user_id, AccountEvent::VerifyEmail { token }),
    )
    .await?;
    Ok(())
}

/// One page of accounts in creation order: up to `limit` after the
/// account `after` (the previous page's `next_cursor`).
pub async fn list(
    db: &DatabaseConnection,
    _: &ManageUsers,
    limit: u64,
    after: Option<Uuid>,
) -> Result<(Vec<UserView>, Option<Uuid>), ApiError> {
    let mut query = user::Entity::find().order_by_asc(user::Column::Id);
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    let mut rows = query.limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = more.then(|| rows.last().map(|r| r.id)).flatten();
    Ok((rows.into_iter().map(UserView::from).collect(), next))
}

async fn find(db: &DatabaseConnection, id: &str) -> Result<user::Model, ApiError> {
    let not_found = || ApiError::not_found("no such user");
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// One account by id (as given in a URL).
pub async fn get(db: &DatabaseConnection, _: &ManageUsers, id: &str) -> Result<UserView, ApiError> {
    Ok(find(db, id).await?.into())
}

/// The caller's own account.
pub async fn me(db: &DatabaseConnection, account: &OwnAccount) -> Result<UserView, ApiError> {
    user::Entity::find_by_id(account.user_id())
        .one(db)
        .await?
        .map(UserView::from)
        .ok_or_else(|| {
            ApiError::unauthenticated("invalid_token", "the token's user no longer exists")
        })
}

/// Changes an admin may make to an account.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// A new role.
    pub role: Option<Role>,
    /// A new e-mail (unverified again).
    pub email: Option<String>,
    /// A new password.
    pub password: Option<String>,
    /// Disable or re-enable.
    pub disabled: Option<bool>,
}

/// Holds the enabled admins for the rest of `txn` and refuses to take
/// `target` out of them when it is the last one; returns `target` as it is
/// now. Two admins demoting each other at once cannot both pass:
///
/// - On PostgreSQL the enabled admins *and* `target` are row-locked in one
///   statement, in id order, before anything is counted or written; a
///   concurrent demotion waits, then counts without the admin this one took
///   out. Every row the transaction later writes is among them, so no lock
///   is taken out of order. (Locking only the admins deadlocked: a row that
///   stopped being an admin while a demotion waited for it stays locked by
///   that demotion without being returned, while another demotion that had
///   skipped it wrote it as its target.)
/// - On SQLite every enabled admin row is written first, which takes the
///   database's write lock (see `events::claim_row`).
async fn keep_an_admin(txn: &DatabaseTransaction, target: Uuid) -> Result<user::Model, ApiError> {
    let active_admin = Condition::all()
        .add(user::Column::Role.eq(Role::Admin.as_str()))
        .add(user::Column::Disabled.eq(false));
    let (enabled_admins, target) = if txn.get_database_backend() == DbBackend::Postgres {
        let locked = user::Entity::find()
            .filter(
                Condition::any()
                    .add(active_admin)
                    .add(user::Column::Id.eq(target)),
            )
            .order_by_asc(user::Column::Id)
            .lock_exclusive()
            .all(txn)
            .await?;
        let enabled_admins = locked.iter().filter(|row| is_active_admin(row)).count() as u64;
        (
            enabled_admins,
            locked.into_iter().find(|row| row.id == target),
        )
    } else {
        let enabled_admins = user::Entity::update_many()
            .col_expr(user::Column::Role, Expr::col(user::Column::Role).into())
            .filter(active_admin)
            .exec(txn)
            .await?
            .rows_affected;
        (
            enabled_admins,
            user::Entity::find_by_id(target).one(txn).await?,
        )
    };
    let target = target.ok_or_else(|| ApiError::not_found("no such user"))?;
    if is_active_admin(&target) && enabled_admins <= 1 {
        return Err(ApiError::conflict(
            "last_admin",
            "this is the last enabled admin; make another admin first",
        ));
    }
    Ok(target)
}

fn is_active_admin(row: &user::Model) -> bool {
    row.role == Role::Admin.as_str() && !row.disabled
}

/// Applies `changes`; a new role, password or disabling ends the account's
/// sessions, so the change holds from the next request on.
pub async fn update(
    state: &AppState,
    _: &ManageUsers,
    id: &str,
    changes: UserChanges,
) -> Result<UserView, ApiError> {
    let current = find(&state.db, id).await?;
    // Hashed before the transaction: no lock is held while Argon2 runs.
    let password_hash = match &changes.password {
        Some(password) => Some(password::hash(password).await?),
        None => None,
    };
    let demoted = changes.role.is_some_and(|r| r != Role::Admin) || changes.disabled == Some(true);
    let txn = state.db.begin().await?;
    let current = if demoted {
        keep_an_admin(&txn, current.id).await?
    } else {
        current
    };
    let mut row = current.clone().into_active_model();
    let mut end_sessions = false;
    if let Some(role) = changes.role {
        end_sessions |= role.as_str() != current.role;
        row.role = Set(role.as_str().to_owned());
    }
    if let Some(email) = &changes.email {
        let email = validate_email(email)?;
        if email != current.email {
            row.email = Set(email);
            row.email_verified_at = Set(None);
        }
    }
    if let Some(password_hash) = password_hash {
        row.password_hash = Set(password_hash);
        end_sessions = true;
    }
    if let Some(disabled) = changes.disabled {
        end_sessions |= disabled && !current.disabled;
        row.disabled = Set(disabled);
    }
    let email = changes.email.unwrap_or_default();
    let updated = row.update(&txn).await.map_err(|e| email_taken(e, &email))?;
    txn.commit().await?;
    if end_sessions {
        session::revoke_user_sessions(state, updated.id).await?;
    }
    Ok(updated.into())
}

/// Deletes an account with no videos, ending its sessions.
pub async fn delete(state: &AppState, _: &ManageUsers, id: &str) -> Result<(), ApiError> {
    let current = find(&state.db, id).await?;
    let videos = video::Entity::find()
        .filter(video::Column::OwnerId.eq(current.id))
        .count(&state.db)
        .await?;
    if videos > 0 {
        return Err(ApiError::conflict(
            "user_has_videos",
            format!("the user owns {videos} videos; delete them first"),
        ));
    }
    if is_active_admin(&current) {
        // Out of the enabled admins under the guard first, so that two
        // admins deleting each other cannot both pass it.
        let txn = state.db.begin().await?;
        keep_an_admin(&txn, current.id).await?;
        user::Entity::update_many()
            .col_expr(user::Column::Disabled, Expr::value(true))
            .filter(user::Column::Id.eq(current.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
    session::revoke_user_sessions(state, current.id).await?;
    user::Entity::delete_by_id(current.id)
        .exec(&state.db)
        .await?;
    tracing::info!(user_id = %current.id, "user deleted");
    Ok(())
}

/// Mails the caller a new e-mail verification token.
pub async fn request_verification(
    db: &DatabaseConnection,
    account: &OwnAccount,
) -> Result<(), ApiError> {
    let row = user::Entity::find_by_id(account.user_id())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    if row.email_verified_at.is_some() {
        return Err(ApiError::conflict(
            "already_verified",
            "the e-mail address is already verified",
        ));
    }
    let txn = db.begin().await?;
    send_verification(&txn, row.id).await?;
    txn.commit().await?;
    Ok(())
}

fn invalid_account_token() -> ApiError {
    ApiError::bad_request(
        "invalid_token",
        "the token is unknown, expired or already used",
    )
}

/// Marks the e-mail of the token's user verified.
pub async fn verify_email(db: &DatabaseConnection, token: &str) -> Result<(), ApiError> {
    let user_id = account_token::consume(db, token, Purpose::VerifyEmail)
        .await?
        .ok_or_else(invalid_account_token)?;
    user::Entity::update_many()
        .col_expr(
            user::Column::EmailVerifiedAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Mails a password reset token to `email` if it names an account. The
/// work happens after the response, so the answer and its timing are the
/// same whether or not the account exists.
pub fn request_password_reset(state: actix_web::web::Data<AppState>, email: &str) {
    let email = normalize_email(email);
    tokio::spawn(async move {
        if let Err(e) = send_password_reset(&state.db, &email).await {
            tracing::error!(error = %e, "could not issue a password reset token");
        }
    });
}

async fn send_password_reset(db: &DatabaseConnection, email: &str) -> Result<(), ApiError> {
    let Some(row) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let txn = db.begin().await?;
    let token = account_token::issue(&txn, row.id, Purpose::PasswordReset).await?;
    notify::enqueue(
        &txn,
        Notification::account(row.id, AccountEvent::PasswordReset { token }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token, ends every session of the
/// account and, since the token arrived by e-mail, marks the e-mail verified.
pub async fn reset_password(state: &AppState, token: &str, password: &str) -> Result<(), ApiError> {
    // Hashing is costly: only for an acceptable password and a usable token.
    password::check_new(password)?;
    if !account_token::is_usable(&state.db, token, Purpose::PasswordReset).await? {
        return Err(invalid_account_token());
    }
    let hash = password::hash(password).await?;
    let user_id = account_token::consume(&state.db, token, Purpose::PasswordReset)
        .await?
        .ok_or_else(invalid_account_token)?;
    let Some(row) = user::Entity::find_by_id(user_id).one(&state.db).await? else {
        return Err(invalid_account_token());
    };
    let verified = row.email_verified_at.unwrap_or_else(now_ms);
    let mut row = row.into_active_model();
    row.password_hash = Set(hash);
    row.email_verified_at = Set(Some(verified));
    row.update(&state.db).await?;
    session::revoke_user_sessions(state, user_id).await?;
    tracing::info!(user_id = %user_id, "password reset");
    Ok(())
}

async fn admin_exists(db: &DatabaseConnection) -> Result<bool, ApiError> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .count(db)
        .await?
        > 0)
}

/// Creates the first admin when none exists: from `GOFLIX_ADMIN_EMAIL` /
/// `GOFLIX_ADMIN_PASSWORD`, or with a random password that is printed once
/// and written (mode 0600) to `{data_dir}/admin-credentials.txt`.
pub(crate) async fn bootstrap_admin(
    config: &Config,
    db: &DatabaseConnection,
) -> Result<(), ApiError> {
    if admin_exists(db).await? {
        return Ok(());
    }
    let email = config
        .admin_email
        .clone()
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
    let (password, generated) = match &config.admin_password {
        Some(password) => (password.expose_secret().to_owned(), false),
        None => (
            Alphanumeric.sample_string(&mut rand::thread_rng(), 24),
            true,
        ),
    };
    match create_user(db, &email, Role::Admin, &password).await {
        Ok(id) => tracing::info!(user_id = %id, %email, "created the first admin"),
        // Another replica won the race.
        Err(ApiError::Client {
            code: "email_taken",
            ..
        }) if admin_exists(db).await? => return Ok(()),
        Err(ApiError::Client {
            code: "email_taken",
            ..
        }) => {
            return Err(ApiError::Internal(format!(
                "cannot create the first admin: {email} already belongs to a non-admin user"
            )))
        }
        Err(e) => return Err(e),
    }
    if generated {
        let line = format!("admin: {email} / {password}");
        println!("{line}");
        write_private(&config.data_dir.join(ADMIN_CREDENTIALS_FILE), &line)
            .map_err(|e| ApiError::Internal(format!("cannot write admin credentials: {e}")))?;
    }
    Ok(())
}

fn write_private(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An older file keeps its mode on open; tighten it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(file, "{line}")
}
