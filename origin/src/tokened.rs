//! Manifests with a private video's playback token carried into their
//! URIs ([`crate::rewrite`]), remembered per token: a live player fetches
//! the same media playlist again every segment, and rewriting (and
//! compressing) a playlist whose every URI gains a 600-byte token costs
//! far more than serving it.
//!
//! An entry is keyed by the token's digest (the one its verification is
//! remembered under, [`crate::verified`]), the content hash of the
//! base manifest it was made from, the manifest kind and the content
//! coding, so it is only ever served to a request presenting the same
//! token for the same bytes; a changed manifest (a live playlist that
//! grew) has a new hash and misses. Authorization runs before any lookup
//! (`crate::auth`), so a revoked or expired token is refused before its
//! remembered manifests could be served. Bounded by bytes.

use crate::encoding::Coding;
use crate::manifest::Manifest;
use crate::paths::FileKind;
use crate::verified::TokenDigest;

/// Bytes of rewritten manifests held at most.
const BUDGET: u64 = 16 << 20;

/// A rewritten manifest's identity: token, base bytes, kind and coding.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenedKey {
    token: TokenDigest,
    base: u64,
    kind: FileKind,
    coding: Option<Coding>,
}

impl TokenedKey {
    /// The key of `base` (by content hash) rewritten for the token of
    /// digest `token`, sent in `coding`.
    pub fn new(
        token: TokenDigest,
        base: &Manifest,
        kind: FileKind,
        coding: Option<Coding>,
    ) -> Self {
        Self {
            token,
            base: base.hash,
            kind,
            coding,
        }
    }
}

/// Weighs a manifest by its body.
#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<TokenedKey, Manifest> for ByLength {
    fn weight(&self, _: &TokenedKey, manifest: &Manifest) -> u64 {
        manifest.body.len() as u64
    }
}

/// The remembered rewritten manifests.
pub struct TokenedManifests {
    entries: quick_cache::sync::Cache<TokenedKey, Manifest, ByLength>,
}

impl Default for TokenedManifests {
    fn default() -> Self {
        Self {
            entries: quick_cache::sync::Cache::with_weighter(1024, BUDGET, ByLength),
        }
    }
}

impl TokenedManifests {
    /// The manifest remembered under `key`, else `make()`'s, remembered.
    pub fn get_or_make(
        &self,
        key: TokenedKey,
        make: impl FnOnce() -> Result<Manifest, crate::error::OriginError>,
    ) -> Result<Manifest, crate::error::OriginError> {
        if let Some(manifest) = self.entries.get(&key) {
            return Ok(manifest);
        }
        let manifest = make()?;
        self.entries.insert(key, manifest.clone());
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn manifest(body: &'static str) -> Manifest {
        Manifest::new(
            SystemTime::UNIX_EPOCH,
            bytes::Bytes::from_static(body.as_bytes()),
        )
    }

    #[test]
    fn a_rewritten_manifest_is_remembered_for_its_token_bytes_and_coding_only() {
        let manifests = TokenedManifests::default();
        let (base, grown) = (
            manifest("#EXTM3U\na.mp4\n"),
            manifest("#EXTM3U\na.mp4\nb.mp4\n"),
        );
        let key = |token, base: &Manifest, coding| {
            TokenedKey::new(TokenDigest::of(token), base, FileKind::Hls, coding)
        };
        let made = manifests
            .get_or_make(key("t", &base, None), || Ok(manifest("for t")))
            .unwrap();
        assert_eq!(made.body, "for t");
        let again = manifests
            .get_or_make(key("t", &base, None), || panic!("made twice"))
            .unwrap();
        assert_eq!(again.body, "for t");
        for other in [
            key("u", &base, None),
            key("t", &grown, None),
            key("t", &base, Some(Coding::Gzip)),
        ] {
            let made = manifests
                .get_or_make(other, || Ok(manifest("fresh")))
                .unwrap();
            assert_eq!(made.body, "fresh");
        }
    }
}
