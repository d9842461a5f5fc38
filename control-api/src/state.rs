//! What every request handler and the event follower share.

use crate::auth::rate_limit::RateLimits;
use crate::auth::revocation::Revocations;
use goflix_shared::command::CommandBus;
use goflix_shared::events::EventBus;
use goflix_shared::store::Store;
use goflix_shared::token::{TokenIssuer, TokenVerifier};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio::sync::Notify;

/// The control plane's dependencies, behind one `Arc`.
pub(crate) struct AppState {
    /// The control plane's database.
    pub db: DatabaseConnection,
    /// Masters and published media.
    pub store: Store,
    /// Where lifecycle events are published and followed.
    pub bus: Arc<dyn EventBus>,
    /// Where commands to the workers (cancel a job) are sent.
    pub commands: Arc<dyn CommandBus>,
    /// Each applied event, for the event streams (per video and per caller).
    pub applied: tokio::sync::broadcast::Sender<goflix_shared::events::Event>,
    /// Signs access and playback tokens.
    pub issuer: TokenIssuer,
    /// Checks bearer tokens.
    pub verifier: TokenVerifier,
    /// Largest accepted master, in bytes.
    pub max_upload_bytes: u64,
    /// Whether new videos offer downloads, and of which rung.
    pub downloads: crate::downloads::Downloads,
    /// `GOFLIX_PUBLIC_URL`: the base of the URLs handed to clients (tus
    /// `Location`, direct-upload `upload_url`); `None`: each request's own.
    pub public_url: Option<url::Url>,
    /// Who may frame the embed page of a shared video (`GOFLIX_FRAME_ANCESTORS`).
    pub frame_ancestors: goflix_shared::config::frame_ancestors::FrameAncestors,
    /// How long an unfinished tus upload lives (`GOFLIX_UPLOAD_EXPIRY_HOURS`).
    pub upload_expiry: std::time::Duration,
    /// Whether URL imports may fetch from private addresses (tests only).
    pub import_allow_private: bool,
    /// Longest a URL import may take.
    pub import_timeout: std::time::Duration,
    /// The in-process locks of tus uploads being changed.
    pub upload_locks: crate::tus::UploadLocks,
    /// Wakes the outbox relay after an upload committed its job.
    pub outbox: Arc<Notify>,
    /// Wakes this process's import runner after a request asked for an import.
    pub imports: Arc<Notify>,
    /// Wakes this process's download remuxer after a request turned downloads on.
    pub download_remuxes: Arc<Notify>,
    /// How jobs choose the ladder's bitrates (`GOFLIX_LADDER`).
    pub ladder: goflix_shared::domain::LadderMode,
    /// The codecs of every ladder, H.264 first (`GOFLIX_CODECS`).
    pub codecs: Vec<goflix_shared::domain::VideoCodec>,
    /// Revoked token ids, checked on every request.
    pub revocations: Revocations,
    /// Writes the playback revocation feed the origins read.
    pub playback_revocations: crate::auth::playback_revocations::Publisher,
    /// Per-IP and per-account limits of the secret-checking endpoints.
    pub rate_limits: RateLimits,
    /// Whether anyone may sign up (`GOFLIX_SIGNUP=open`).
    pub signup_open: bool,
    /// Notification channels (e-mail, SMS, webhooks) and retry policy.
    pub notifier: crate::notify::Notifier,
}
