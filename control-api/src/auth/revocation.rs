//! The revocation list: revocation ids of tokens that must be refused
//! although their signature and expiry are fine (logged out, family
//! revoked, single-use upload token spent), and the single-use tokens
//! issued and not yet used (`single_use_tokens`): a single-use token is
//! good only if this server recorded its id when issuing it. The `revoked_tokens` table is
//! the truth; each process keeps an in-process copy so the check on every
//! request is a hash lookup. Revocations made by this process apply at once;
//! those made by other replicas are picked up by an incremental sync at most
//! [`SYNC_INTERVAL`] later.

use crate::db::{now_ms, revoked_token, single_use_token};
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Longest time a revocation by another replica goes unseen here.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Overlap of consecutive syncs, covering clock skew between replicas and
/// slow commits.
const SYNC_OVERLAP_MS: i64 = 10_000;

/// Where the last sync left off.
#[derive(Debug, Default)]
struct SyncMark {
    at: Option<Instant>,
    /// `revoked_at` from which the next sync reads (minus the overlap).
    since_ms: i64,
}

/// The in-process view of `revoked_tokens`.
#[derive(Debug, Default)]
pub struct Revocations {
    /// Revocation id → expiry (Unix ms).
    known: RwLock<HashMap<String, i64>>,
    mark: Mutex<SyncMark>,
}

impl Revocations {
    /// Whether any of `ids` is revoked.
    pub async fn is_revoked(
        &self,
        db: &DatabaseConnection,
        ids: &[String],
    ) -> Result<bool, ApiError> {
        self.sync_if_due(db).await?;
        let known = self.known.read().map_err(|_| poisoned())?;
        Ok(ids.iter().any(|id| known.contains_key(id)))
    }

    /// Revokes `ids`, each valid until its expiry; idempotent.
    pub async fn revoke(
        &self,
        db: &DatabaseConnection,
        ids: &[(String, DateTime<Utc>)],
    ) -> Result<(), ApiError> {
        let now = now_ms();
        let live: Vec<(String, i64)> = ids
            .iter()
            .map(|(id, expires)| (id.clone(), expires.timestamp_millis()))
            .filter(|(_, expires)| *expires > now)
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        revoked_token::Entity::insert_many(live.iter().map(|(id, expires)| {
            revoked_token::ActiveModel {
                revocation_id: Set(id.clone()),
                expires_at: Set(*expires),
                revoked_at: Set(now),
            }
        }))
        .on_conflict(
            OnConflict::column(revoked_token::Column::RevocationId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        // Rows of tokens that expired on their own are of no use any more.
        revoked_token::Entity::delete_many()
            .filter(revoked_token::Column::ExpiresAt.lt(now))
            .exec(db)
            .await?;
        self.known.write().map_err(|_| poisoned())?.extend(live);
        Ok(())
    }

    /// Records `id` as the revocation id of a single-use token this server
    /// issued, good until `expires`; only such ids can be [consumed].
    ///
    /// [consumed]: Self::consume
    pub async fn issue_single_use(
        &self,
        db: &DatabaseConnection,
        id: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        single_use_token::Entity::delete_many()
            .filter(single_use_token::Column::ExpiresAt.lt(now))
            .exec(db)
            .await?;
        single_use_token::Entity::insert(single_use_token::ActiveModel {
            revocation_id: Set(id.to_owned()),
            expires_at: Set(expires.timestamp_millis()),
        })
        .exec_without_returning(db)
        .await?;
        Ok(())
    }

    /// Uses the single-use token `id`: `true` only for an id this server
    /// issued ([`Self::issue_single_use`]), unexpired and not used before
    /// by this or another replica (its row is deleted atomically). A used
    /// id is revoked as well, so introspection reports it inactive.
    pub async fn consume(
        &self,
        db: &DatabaseConnection,
        id: &str,
        expires: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let used = single_use_token::Entity::delete_many()
            .filter(single_use_token::Column::RevocationId.eq(id))
            .filter(single_use_token::Column::ExpiresAt.gt(now_ms()))
            .exec(db)
            .await?;
        if used.rows_affected != 1 {
            return Ok(false);
        }
        self.revoke(db, &[(id.to_owned(), expires)]).await?;
        Ok(true)
    }

    /// Reads revocations made since the last sync, when one is due. The
    /// first call waits for the full load; later ones skip the sync while
    /// another request is doing it.
    async fn sync_if_due(&self, db: &DatabaseConnection) -> Result<(), ApiError> {
        let mut mark = match self.mark.try_lock() {
            Ok(mark) => mark,
            Err(_) => {
                let mark = self.mark.lock().await;
                if mark.at.is_some() {
                    return Ok(());
                }
                mark
            }
        };
        if mark.at.is_some_and(|at| at.elapsed() < SYNC_INTERVAL) {
            return Ok(());
        }
        let now = now_ms();
        let rows = revoked_token::Entity::find()
            .filter(revoked_token::Column::RevokedAt.gte(mark.since_ms - SYNC_OVERLAP_MS))
            .filter(revoked_token::Column::ExpiresAt.gt(now))
            .all(db)
            .await?;
        let mut known = self.known.write().map_err(|_| poisoned())?;
        known.retain(|_, expires| *expires > now);
        known.extend(rows.into_iter().map(|r| (r.revocation_id, r.expires_at)));
        mark.at = Some(Instant::now());
        mark.since_ms = now;
        Ok(())
    }
}

fn poisoned() -> ApiError {
    ApiError::Internal("revocation list lock poisoned".into())
}
