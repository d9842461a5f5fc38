//! Publishing playback revocations to the origins. The origins verify
//! playback tokens offline, so when a session ends (a logout, a reused
//! refresh token) or a user's tokens must die (a password, role or account
//! change), the revocation is recorded here and the whole
//! [`RevocationFeed`] is written to storage right after: an origin re-reads
//! it every second and refuses the tokens it names.
//!
//! The database is the truth, so every replica writes the same whole feed.
//! Within a process, publishing is serialized (a feed read from the
//! database is never written after a newer one); across replicas, every
//! replica compares the stored feed with the database every
//! [`REPUBLISH_EVERY`] and rewrites it when they differ, which repairs a
//! write that raced another replica's, one that failed, and drops entries
//! whose tokens have all expired.

use crate::db::{now_ms, playback_session_revocation, playback_user_revocation, time_of};
use crate::error::ApiError;
use crate::videos::PLAYBACK_TTL;
use bytes::Bytes;
use goflix_shared::layout;
use goflix_shared::revocation_feed::{RevocationFeed, SessionRevocation, UserRevocation};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store, StoreError};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use std::time::Duration;
use tokio::sync::Mutex;
use uuid::Uuid;

/// How often every replica checks the stored feed against the database.
pub const REPUBLISH_EVERY: Duration = Duration::from_secs(2);

/// How long past a token's lifetime an entry is kept: covers a playback
/// token issued by a request already past its checks when the revocation
/// landed, and clock skew between replicas.
const MARGIN: Duration = Duration::from_secs(5 * 60);

/// How long an entry recorded at `now_ms` must stay, Unix milliseconds.
fn until(now_ms: i64) -> i64 {
    now_ms + (PLAYBACK_TTL + MARGIN).as_millis() as i64
}

/// Records that `sessions` ended: every playback token issued to one is
/// refused. Publish afterwards ([`Publisher::publish`]).
pub async fn record_sessions(
    db: &impl ConnectionTrait,
    sessions: impl IntoIterator<Item = Uuid>,
) -> Result<(), ApiError> {
    let until = until(now_ms());
    let rows: Vec<_> = sessions
        .into_iter()
        .map(|session| playback_session_revocation::ActiveModel {
            session_id: Set(session),
            until: Set(until),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    playback_session_revocation::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(playback_session_revocation::Column::SessionId)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await?;
    Ok(())
}

/// Records that every playback token `user` was issued until now is
/// refused (a later revocation moves the time forward). Publish afterwards.
pub async fn record_user(db: &impl ConnectionTrait, user: Uuid) -> Result<(), ApiError> {
    let now = now_ms();
    playback_user_revocation::Entity::insert(playback_user_revocation::ActiveModel {
        user_id: Set(user),
        before: Set(now),
        until: Set(until(now)),
    })
    .on_conflict(
        OnConflict::column(playback_user_revocation::Column::UserId)
            .update_columns([
                playback_user_revocation::Column::Before,
                playback_user_revocation::Column::Until,
            ])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Writes the feed; one per process, in the [`crate::state::AppState`].
#[derive(Debug, Default)]
pub struct Publisher {
    /// Held from reading the database to the end of the write.
    writing: Mutex<()>,
}

impl Publisher {
    /// Writes the feed as the database holds it now.
    pub async fn publish(&self, db: &DatabaseConnection, store: &Store) -> Result<(), ApiError> {
        let _writing = self.writing.lock().await;
        let feed = encode(&read(db).await?)?;
        store
            .put_bytes(&layout::playback_revocations(), feed)
            .await?;
        Ok(())
    }

    /// Deletes entries whose tokens have all expired and rewrites the
    /// stored feed if it differs from the database; `true` when it wrote.
    pub async fn republish_if_stale(
        &self,
        db: &DatabaseConnection,
        store: &Store,
    ) -> Result<bool, ApiError> {
        let _writing = self.writing.lock().await;
        let now = now_ms();
        playback_session_revocation::Entity::delete_many()
            .filter(playback_session_revocation::Column::Until.lte(now))
            .exec(db)
            .await?;
        playback_user_revocation::Entity::delete_many()
            .filter(playback_user_revocation::Column::Until.lte(now))
            .exec(db)
            .await?;
        let feed = encode(&read(db).await?)?;
        let key = layout::playback_revocations();
        let stored = match store.get_bytes(&key).await {
            Ok(stored) => Some(stored),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        if stored.as_ref() == Some(&feed) {
            return Ok(false);
        }
        store.put_bytes(&key, feed).await?;
        Ok(true)
    }

    /// Keeps the stored feed in step with the database until `shutdown`,
    /// starting at once (so an origin finds a feed as soon as a control
    /// plane has run).
    pub async fn run(&self, db: &DatabaseConnection, store: &Store, shutdown: Shutdown) {
        loop {
            match self.republish_if_stale(db, store).await {
                Ok(true) => tracing::debug!("playback revocation feed rewritten"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not publish playback revocations; will try again")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REPUBLISH_EVERY) => {}
            }
        }
    }
}

/// The feed of every unexpired revocation in the database.
async fn read(db: &DatabaseConnection) -> Result<RevocationFeed, ApiError> {
    let now = now_ms();
    let sessions = playback_session_revocation::Entity::find()
        .filter(playback_session_revocation::Column::Until.gt(now))
        .all(db)
        .await?;
    let users = playback_user_revocation::Entity::find()
        .filter(playback_user_revocation::Column::Until.gt(now))
        .all(db)
        .await?;
    Ok(RevocationFeed {
        sessions: sessions
            .into_iter()
            .map(|row| {
                let revoked = SessionRevocation {
                    until: time_of(row.until),
                };
                (row.session_id, revoked)
            })
            .collect(),
        users: users
            .into_iter()
            .map(|row| {
                let revoked = UserRevocation {
                    before: time_of(row.before),
                    until: time_of(row.until),
                };
                (row.user_id, revoked)
            })
            .collect(),
    })
}

fn encode(feed: &RevocationFeed) -> Result<Bytes, ApiError> {
    serde_json::to_vec(feed)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(format!("encoding the revocation feed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    async fn stored(store: &Store) -> RevocationFeed {
        let bytes = store
            .get_bytes(&layout::playback_revocations())
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn recorded_revocations_are_published_and_repaired() {
        let (db, store, _dir) = fixture().await;
        let publisher = Publisher::default();
        // A control plane that has run leaves a feed, even an empty one.
        assert!(publisher.republish_if_stale(&db, &store).await.unwrap());
        assert_eq!(stored(&store).await, RevocationFeed::default());
        assert!(!publisher.republish_if_stale(&db, &store).await.unwrap());

        let (session, user) = (Uuid::now_v7(), Uuid::new_v4());
        record_sessions(&db, [session, session]).await.unwrap();
        record_user(&db, user).await.unwrap();
        publisher.publish(&db, &store).await.unwrap();
        let feed = stored(&store).await;
        assert!(feed.revokes(Uuid::new_v4(), Some(session), chrono::Utc::now()));
        let issued_before = chrono::Utc::now() - chrono::Duration::seconds(1);
        assert!(feed.revokes(user, None, issued_before));
        let expires = feed.users[&user].until - feed.users[&user].before;
        assert!(expires.to_std().unwrap() > PLAYBACK_TTL);

        // A replica that raced this one wrote an older feed: the next check repairs it.
        store
            .put_bytes(&layout::playback_revocations(), Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert!(publisher.republish_if_stale(&db, &store).await.unwrap());
        assert_eq!(stored(&store).await, feed);
    }

    #[tokio::test]
    async fn entries_go_once_their_tokens_expired() {
        let (db, store, _dir) = fixture().await;
        let expired = Uuid::now_v7();
        playback_session_revocation::Entity::insert(playback_session_revocation::ActiveModel {
            session_id: Set(expired),
            until: Set(now_ms() - 1),
        })
        .exec(&db)
        .await
        .unwrap();
        let publisher = Publisher::default();
        publisher.republish_if_stale(&db, &store).await.unwrap();
        assert!(stored(&store).await.sessions.is_empty());
        assert!(playback_session_revocation::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty());
    }
}
