//! What the token tests share: an issuer with fresh keys, a lifetime, and
//! a viewer's playback session.

use super::{PlaybackSession, TokenIssuer};
use std::time::Duration;
use uuid::Uuid;

/// A lifetime long enough for any test.
pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// An issuer whose keys live in a fresh directory (kept alive by the guard).
pub(super) fn issuer() -> (tempfile::TempDir, TokenIssuer) {
    let dir = tempfile::tempdir().unwrap();
    let issuer =
        TokenIssuer::load_or_generate(&dir.path().join("token.key"), &dir.path().join("token.pub"))
            .unwrap();
    (dir, issuer)
}

/// A user asking in a sign-in session.
pub(super) fn viewer() -> PlaybackSession {
    PlaybackSession {
        user: Uuid::new_v4(),
        session: Some(Uuid::new_v4()),
    }
}
