//! The control plane's database: connecting (SQLite or PostgreSQL) and the
//! sea-orm entities of its tables. Times are stored as Unix milliseconds
//! (`i64`) so SQLite and PostgreSQL hold them the same way; the shared
//! `jobs` table (see [`goflix_shared::queue::database`]) does the same.

pub mod account_token;
pub mod caption;
pub mod import;
pub mod notification_attempt;
pub mod notification_job;
pub mod notification_preference;
pub mod notification_template;
pub mod oauth_client;
pub mod playback_session_revocation;
pub mod playback_user_revocation;
pub mod refresh_token;
pub mod retired_version;
pub mod revoked_token;
pub mod runner;
pub mod runner_registration_token;
pub mod single_use_token;
pub mod upload;
pub mod user;
pub mod video;
pub mod webhook;

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// How long a SQLite writer waits for another writer's lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `database_url` with a pool of at most `max_connections`:
/// `sqlite://path?mode=rwc` (WAL, busy timeout, foreign keys; the file's
/// directory is created) or `postgres://…`.
pub async fn connect(
    database_url: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, ApiError> {
    let mut options = ConnectOptions::new(database_url.to_owned());
    options.sqlx_logging(false).max_connections(max_connections);
    if let Some(rest) = database_url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        let in_memory = path.is_empty() || path == ":memory:" || rest.contains("mode=memory");
        if in_memory {
            // Every connection of the pool would open its own empty database.
            options.max_connections(1).min_connections(1);
        } else if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ApiError::Internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        options.map_sqlx_sqlite_opts(move |opts| {
            let opts = opts
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .create_if_missing(true);
            if in_memory {
                opts
            } else {
                opts.journal_mode(SqliteJournalMode::Wal)
            }
        });
    }
    Ok(Database::connect(options).await?)
}

/// The current time in Unix milliseconds, as stored.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored time as a UTC timestamp.
pub(crate) fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
