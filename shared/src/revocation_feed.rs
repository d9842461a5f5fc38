//! The playback revocation feed: the one small object
//! ([`crate::layout::playback_revocations`]) through which the control plane
//! tells every origin which playback tokens died before their expiry. The
//! control plane writes the whole feed from its database with one put
//! (atomic on every backend) after each revocation and periodically; the
//! origin re-reads it and refuses the tokens it names, so it still needs
//! nothing but storage and the public key.
//!
//! An entry stays until [`SessionRevocation::until`] /
//! [`UserRevocation::until`]: by then every playback token it could hit
//! has expired on its own. Maps are ordered so the same revocations always
//! serialize to the same bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every revocation an origin must apply to playback tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationFeed {
    /// Ended sessions (a logout, a reused refresh token): every playback
    /// token issued to one is refused.
    #[serde(default)]
    pub sessions: BTreeMap<Uuid, SessionRevocation>,
    /// Users whose earlier tokens are refused (a password change, a role
    /// change, a disabled or deleted account).
    #[serde(default)]
    pub users: BTreeMap<Uuid, UserRevocation>,
}

/// A revoked session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRevocation {
    /// When every playback token of the session has expired.
    pub until: DateTime<Utc>,
}

/// A user whose playback tokens issued before a time are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRevocation {
    /// Tokens issued before this instant are refused. Token issue times
    /// have whole-second resolution, so a token issued in the same second,
    /// just after the revocation, is refused too (the safe side).
    pub before: DateTime<Utc>,
    /// When every token issued before [`UserRevocation::before`] has expired.
    pub until: DateTime<Utc>,
}

impl RevocationFeed {
    /// Whether a playback token of `user`, issued to `session` at
    /// `issued_at`, is revoked.
    pub fn revokes(&self, user: Uuid, session: Option<Uuid>, issued_at: DateTime<Utc>) -> bool {
        session.is_some_and(|session| self.sessions.contains_key(&session))
            || self
                .users
                .get(&user)
                .is_some_and(|revoked| issued_at < revoked.before)
    }

    /// The feed without the entries whose tokens have all expired by `now`.
    pub fn without_expired(mut self, now: DateTime<Utc>) -> Self {
        self.sessions.retain(|_, revoked| revoked.until > now);
        self.users.retain(|_, revoked| revoked.until > now);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn sessions_and_users_revoke_what_they_name() {
        let now = Utc::now();
        let (user, session, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut feed = RevocationFeed::default();
        feed.sessions.insert(
            session,
            SessionRevocation {
                until: now + Duration::hours(4),
            },
        );
        assert!(feed.revokes(user, Some(session), now));
        assert!(!feed.revokes(user, Some(other), now));
        assert!(!feed.revokes(user, None, now));
        feed.users.insert(
            user,
            UserRevocation {
                before: now,
                until: now + Duration::hours(4),
            },
        );
        assert!(feed.revokes(user, None, now - Duration::seconds(1)));
        assert!(feed.revokes(user, Some(other), now - Duration::seconds(1)));
        assert!(!feed.revokes(user, Some(other), now));
        assert!(!feed.revokes(other, None, now - Duration::seconds(1)));
    }

    #[test]
    fn the_feed_round_trips_and_drops_expired_entries() {
        let now = Utc::now();
        let mut feed = RevocationFeed::default();
        let (live, expired) = (Uuid::new_v4(), Uuid::new_v4());
        for (id, until) in [(live, now + Duration::seconds(1)), (expired, now)] {
            feed.sessions.insert(id, SessionRevocation { until });
            feed.users.insert(id, UserRevocation { before: now, until });
        }
        let json = serde_json::to_vec(&feed).unwrap();
        let parsed: RevocationFeed = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed, feed);
        let pruned = parsed.without_expired(now);
        assert_eq!(pruned.sessions.keys().collect::<Vec<_>>(), [&live]);
        assert_eq!(pruned.users.keys().collect::<Vec<_>>(), [&live]);
        assert_eq!(
            serde_json::from_str::<RevocationFeed>("{}").unwrap(),
            RevocationFeed::default()
        );
    }
}
