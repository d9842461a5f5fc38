//! Accounts: creating users (CLI and first start) and bootstrapping the
//! first admin.

use crate::auth::password;
use crate::auth::session::normalize_email;
use crate::db::{now_ms, user};
use crate::error::ApiError;
use goflix_shared::config::Config;
use goflix_shared::token::Role;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set, SqlErr,
};
use secrecy::ExposeSecret;
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
    let email = normalize_email(email);
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if !plausible {
        return Err(ApiError::bad_request(
            "invalid_email",
            format!("{email:?} is not an e-mail address"),
        ));
    }
    let password_hash = password::hash(password).await?;
    let id = Uuid::now_v7();
    let inserted = user::ActiveModel {
        id: Set(id),
        email: Set(email.clone()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now_ms()),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => Ok(id),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(
            ApiError::conflict("email_taken", format!("a user with e-mail {email} exists")),
        ),
        Err(e) => Err(e.into()),
    }
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
