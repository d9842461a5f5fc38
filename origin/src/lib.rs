//! The Goflix origin: serves HLS and DASH manifests and media to players and
//! CDNs from object storage, with RFC 9110 ranges and conditional requests,
//! CORS, a manifest cache, and playback tokens for private videos.
//!
//! Routes (all under `/v`, GET and HEAD, OPTIONS for CORS preflights):
//!
//! - `/v/{video_id}/master.m3u8`, `/v/{video_id}/manifest.mpd`: the current
//!   version's manifests, found through the playback record; short-lived.
//! - `/v/{video_id}/{version}/{file}`: immutable files of one version.
//!
//! Where things are handled: `paths` (path safety), `auth` (tokens),
//! `verified` (tokens already verified), `tokened` (manifests rewritten for a token),
//! `revocations` (the playback revocation feed), `cdn`
//! (the optional CDN shared secret),
//! `records` (playback records in process), `manifest` (the cache), `handles` (open media files and their metadata), `slices` (the media cache on remote stores), `file_body` (local-file reads), `modifiers` (`?max_height=`, `?min_height=`), `rewrite` (tokens into manifests), `encoding`
//! (brotli, gzip), `conditional` and [`range`] (RFC 9110), `multipart`, `response`
//! (assembling responses), `cors`, `error` (codes and statuses), `routes`.

mod auth;
mod cdn;
mod conditional;
mod cors;
mod encoding;
mod error;
mod file_body;
mod handles;
mod manifest;
mod modifiers;
mod multipart;
pub mod paths;
pub mod range;
mod records;
mod response;
mod revocations;
mod rewrite;
mod routes;
mod slices;
mod tokened;
mod verified;

pub use revocations::FeedError;

use cdn::CdnSecret;
use goflix_shared::cache::ManifestCache;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::Store;
use goflix_shared::token::TokenVerifier;
use handles::Handles;
use records::Records;
use revocations::Revocations;
use secrecy::SecretString;
use slices::SliceCache;
use std::sync::Arc;
use tokened::TokenedManifests;
use verified::VerifiedTokens;

/// The origin role: cheap to clone, one per HTTP worker.
#[derive(Clone)]
pub struct Origin {
    inner: Arc<Inner>,
    cdn_secret: Option<CdnSecret>,
}

struct Inner {
    store: Store,
    cache: Arc<dyn ManifestCache>,
    records: Records,
    handles: Handles,
    slices: SliceCache,
    verifier: Option<TokenVerifier>,
    verified: VerifiedTokens,
    tokened: TokenedManifests,
    revocations: Revocations,
}

impl Origin {
    /// An origin reading `store` through `cache`. Without a `verifier`
    /// (no public key), private videos are always refused.
    pub fn new(
        store: Store,
        cache: Arc<dyn ManifestCache>,
        verifier: Option<TokenVerifier>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                slices: SliceCache::new(store.clone(), slices::DEFAULT_BUDGET),
                store,
                cache,
                records: Records::default(),
                handles: Handles::default(),
                verifier,
                verified: VerifiedTokens::default(),
                tokened: TokenedManifests::default(),
                revocations: Revocations::default(),
            }),
            cdn_secret: None,
        }
    }

    /// Caches at most `budget` bytes of media read from a remote store
    /// (`GOFLIX_ORIGIN_CACHE_BYTES`; [`slices::DEFAULT_BUDGET`] unless
    /// set). Call before the origin is cloned.
    pub fn with_media_cache(mut self, budget: u64) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("an origin not yet cloned");
        inner.slices = SliceCache::new(inner.store.clone(), budget);
        self
    }

    /// Refuses every request that does not carry `secret` in the
    /// `X-Goflix-Cdn-Secret` header (`GOFLIX_ORIGIN_CDN_SECRET`).
    pub fn with_cdn_secret(mut self, secret: &SecretString) -> Self {
        self.cdn_secret = Some(CdnSecret::new(secret));
        self
    }

    /// Reads the playback revocation feed once. Until a read succeeds,
    /// private videos answer `503`; see [`Origin::follow_revocations`].
    pub async fn read_revocations(&self) -> Result<(), revocations::FeedError> {
        self.inner
            .revocations
            .refresh(&self.inner.store)
            .await
            .map(drop)
    }

    /// Re-reads the playback revocation feed every second until
    /// `shutdown`, so a revoked playback token is refused within seconds;
    /// a failed read keeps the last good copy.
    pub async fn follow_revocations(&self, shutdown: Shutdown) {
        self.inner
            .revocations
            .follow(&self.inner.store, shutdown)
            .await;
    }

    /// Mounts the `/v/…` routes (health routes are the binary's).
    pub fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        routes::configure(self.clone(), cfg);
    }
}
