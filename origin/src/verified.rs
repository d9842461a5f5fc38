//! Playback tokens this origin has verified, remembered so that a player's
//! hundreds of playlist and segment requests cost one signature check.
//!
//! An entry is keyed by the SHA-256 of the token *and* the video it was
//! verified for, so a remembered token never opens another video (the
//! lookup for any other video misses and verifies from scratch, which
//! refuses it). It holds the token's claims, and is used only while they
//! have not expired; the revocation feed is checked on every request, hit
//! or miss ([`crate::auth`]), so a revoked token stops working as soon as
//! the feed says so. Refused tokens are never remembered.

use goflix_shared::domain::VideoId;
use goflix_shared::token::PlaybackClaims;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// Tokens remembered at most: a few hundred bytes each, and one per
/// player watching a private video through this origin.
const CAPACITY: usize = 16 * 1024;

/// The SHA-256 of a presented token, as verification reads it (without
/// surrounding whitespace): computed once per request, it keys both the
/// verified claims and the manifests rewritten for the token
/// ([`crate::tokened`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.trim().as_bytes()).into())
    }
}

/// A token, by digest, as verified for one video.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    digest: TokenDigest,
    video: VideoId,
}

impl TokenKey {
    /// The key of the token with `digest` presented for `video`.
    pub fn new(digest: TokenDigest, video: VideoId) -> Self {
        Self { digest, video }
    }
}

/// The claims of recently verified playback tokens.
pub struct VerifiedTokens {
    entries: quick_cache::sync::Cache<TokenKey, PlaybackClaims>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }
}

impl VerifiedTokens {
    /// The claims of `key`'s token if it was verified and has not expired
    /// at `now`; an expired entry is dropped.
    pub fn get(&self, key: &TokenKey, now: SystemTime) -> Option<PlaybackClaims> {
        let claims = self.entries.get(key)?;
        if SystemTime::from(claims.expires_at) > now {
            return Some(claims);
        }
        self.entries.remove(key);
        None
    }

    /// Remembers the claims a verification of `key`'s token returned.
    pub fn remember(&self, key: TokenKey, claims: PlaybackClaims) {
        self.entries.insert(key, claims);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use std::time::Duration;

    fn claims(expires_at: DateTime<Utc>) -> PlaybackClaims {
        PlaybackClaims {
            user: uuid::Uuid::new_v4(),
            session: None,
            issued_at: Utc::now(),
            expires_at,
        }
    }

    #[test]
    fn a_token_is_remembered_for_its_video_only() {
        let tokens = VerifiedTokens::default();
        let (video, other) = (VideoId::new(), VideoId::new());
        let expires = Utc::now() + Duration::from_secs(60);
        let key = |token, video| TokenKey::new(TokenDigest::of(token), video);
        tokens.remember(key("t", video), claims(expires));
        let now = SystemTime::now();
        assert!(tokens.get(&key("t", video), now).is_some());
        assert!(tokens.get(&key(" t ", video), now).is_some());
        assert!(tokens.get(&key("t", other), now).is_none());
        assert!(tokens.get(&key("u", video), now).is_none());
    }

    #[test]
    fn an_expired_token_is_forgotten() {
        let tokens = VerifiedTokens::default();
        let video = VideoId::new();
        let expires = Utc::now() + Duration::from_secs(60);
        let key = TokenKey::new(TokenDigest::of("t"), video);
        tokens.remember(key.clone(), claims(expires));
        let at_expiry = SystemTime::from(expires);
        assert!(tokens
            .get(&key, at_expiry - Duration::from_secs(1))
            .is_some());
        assert!(tokens.get(&key, at_expiry).is_none());
        // Gone, not just hidden: even an earlier clock misses now.
        assert!(tokens.get(&key, SystemTime::now()).is_none());
    }
}
