//! The playback revocation feed as this origin last read it: the control
//! plane writes [`layout::playback_revocations`] after every logout,
//! password, role or account change, and the origin re-reads it every
//! [`REFRESH_EVERY`] (a `HEAD`, and a `GET` only when its etag changed),
//! so a revoked playback token is refused within seconds while the origin
//! still needs nothing but storage and the public key.
//!
//! A read that fails (storage down, a feed that does not parse, a feed
//! that is gone) keeps the last good copy. Until a first copy was read,
//! the origin cannot tell a revoked token from a good one, so private
//! playback answers `503` with `Retry-After` (fail closed); public and
//! unlisted videos need no token and are unaffected.

use crate::error::OriginError;
use goflix_shared::layout;
use goflix_shared::revocation_feed::RevocationFeed;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store, StoreError};
use goflix_shared::token::PlaybackClaims;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the feed is re-read.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Why a read of the feed changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Storage failed, or the control plane has not written a feed yet.
    #[error("reading the playback revocation feed: {0}")]
    Store(#[from] StoreError),
    /// The stored feed does not parse.
    #[error("the playback revocation feed is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// The last good copy of the feed, and the etag it was read under.
#[derive(Default)]
pub struct Revocations {
    current: RwLock<Option<Read>>,
}

struct Read {
    etag: String,
    feed: Arc<RevocationFeed>,
}

impl Revocations {
    /// Refuses a verified playback token the feed revokes (`Forbidden`),
    /// and every token while no feed has been read yet (`RevocationsUnknown`).
    pub fn check(&self, claims: &PlaybackClaims) -> Result<(), OriginError> {
        let feed = self.feed().ok_or(OriginError::RevocationsUnknown)?;
        if feed.revokes(claims.user, claims.session, claims.issued_at) {
            tracing::debug!(user_id = %claims.user, "revoked playback token refused");
            return Err(OriginError::Forbidden);
        }
        Ok(())
    }

    fn feed(&self) -> Option<Arc<RevocationFeed>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|read| read.feed.clone())
    }

    /// Reads the feed if it changed since the last good read; `true` when
    /// a new copy was taken.
    pub async fn refresh(&self, store: &Store) -> Result<bool, FeedError> {
        let key = layout::playback_revocations();
        let meta = store.head(&key).await?;
        let seen = {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            current.as_ref().map(|read| read.etag.clone())
        };
        if seen.as_deref() == Some(meta.etag.as_str()) {
            return Ok(false);
        }
        let feed: RevocationFeed = serde_json::from_slice(&store.get_bytes(&key).await?)?;
        let read = Read {
            etag: meta.etag,
            feed: Arc::new(feed),
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(read);
        Ok(true)
    }

    /// Re-reads the feed every [`REFRESH_EVERY`] until `shutdown`, logging
    /// when reads start and stop failing.
    pub async fn follow(&self, store: &Store, shutdown: Shutdown) {
        let mut failing = false;
        loop {
            match self.refresh(store).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("playback revocation feed readable again");
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    failing = true;
                    let kept = if self.feed().is_some() {
                        "the last good copy stays in force"
                    } else {
                        "private videos are refused until one is read"
                    };
                    tracing::warn!(error = %e, "cannot read the playback revocation feed; {kept}");
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use chrono::Utc;
    use goflix_shared::revocation_feed::SessionRevocation;
    use uuid::Uuid;

    fn claims(session: Uuid) -> PlaybackClaims {
        PlaybackClaims {
            user: Uuid::new_v4(),
            session: Some(session),
            issued_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
        }
    }

    async fn put(store: &Store, feed: &[u8]) {
        store
            .put_bytes(
                &layout::playback_revocations(),
                Bytes::copy_from_slice(feed),
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn unread_fails_closed_then_the_feed_and_its_last_good_copy_apply() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&goflix_shared::config::Storage::Folder(dir.path().into()))
            .await
            .unwrap();
        let revocations = Revocations::default();
        let session = Uuid::now_v7();
        assert!(matches!(
            revocations.check(&claims(session)),
            Err(OriginError::RevocationsUnknown)
        ));
        assert!(matches!(
            revocations.refresh(&store).await,
            Err(FeedError::Store(StoreError::NotFound(_)))
        ));

        put(&store, b"{}").await;
        assert!(revocations.refresh(&store).await.unwrap());
        assert!(!revocations.refresh(&store).await.unwrap(), "unchanged");
        revocations.check(&claims(session)).unwrap();

        let mut feed = RevocationFeed::default();
        feed.sessions.insert(
            session,
            SessionRevocation {
                until: Utc::now() + chrono::Duration::hours(4),
            },
        );
        put(&store, &serde_json::to_vec(&feed).unwrap()).await;
        assert!(revocations.refresh(&store).await.unwrap());
        assert!(matches!(
            revocations.check(&claims(session)),
            Err(OriginError::Forbidden)
        ));
        revocations.check(&claims(Uuid::now_v7())).unwrap();

        // A broken or missing feed keeps the last good copy in force.
        put(&store, b"{\"sessions\": 7").await;
        assert!(matches!(
            revocations.refresh(&store).await,
            Err(FeedError::Malformed(_))
        ));
        store
            .delete_prefix(layout::playback_revocations().as_str())
            .await
            .unwrap();
        assert!(revocations.refresh(&store).await.is_err());
        assert!(matches!(
            revocations.check(&claims(session)),
            Err(OriginError::Forbidden)
        ));
    }
}
