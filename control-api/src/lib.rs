//! The Goflix control plane: accounts and OAuth tokens, video uploads and
//! their lifecycle, on actix-web and sea-orm (SQLite or PostgreSQL).
//!
//! - [`connect`] and [`migrate`] prepare the database (including the shared
//!   `jobs` queue table); [`create_user`] adds an account.
//! - [`ControlPlane::start`] loads the token keys and bootstraps the first
//!   admin; [`ControlPlane::configure`] mounts `/api/v1/...` and the pages on an actix
//!   app; [`ControlPlane::follow_events`] keeps video rows in step with the
//!   transcoder's events; [`ControlPlane::relay_jobs`] runs the outbox
//!   relay when jobs go through RabbitMQ;
//!   [`ControlPlane::deliver_notifications`] delivers e-mail, SMS and
//!   webhook notifications; [`ControlPlane::run_imports`] fetches the
//!   masters of URL imports.
//!
//! Public modules: [`db`] (connection and entities), [`migration`],
//! [`error`] (the one error→HTTP mapping), [`multipart`] (the bounded
//! reader of upload forms, with its header-section parser) and [`notify`]
//! (notification jobs; [`notify::enqueue`] for account events). Private
//! ones: `auth` (passwords, OAuth sessions, the `Caller` capabilities), `users`
//! (accounts, first admin), `videos` (video operations), `captions` (caption
//! tracks and the manifest-only versions that publish them), `routes` (HTTP
//! handlers), `events` (bus follower), `outbox` (job relay), `imports`
//! (URL imports), `egress` (the SSRF guard of webhooks and imports) and
//! `state`.

mod auth;
mod captions;
mod codecs;
pub mod db;
mod downloads;
mod egress;
pub mod error;
mod events;
mod failures;
mod imports;
pub mod migration;
pub mod multipart;
pub mod notify;
mod outbox;
mod pages;
mod public_url;
mod routes;
pub mod runners;
mod state;
#[cfg(test)]
mod testing;
mod tus;
mod users;
mod versions;
mod videos;

pub use db::connect;
pub use error::ApiError;
pub use migration::migrate;
pub use users::create_user;

use actix_web::web;
use auth::rate_limit::RateLimits;
use goflix_shared::config::Config;
use goflix_shared::domain::DownloadProfile;
use goflix_shared::events::{EventBus, EventStream};
use goflix_shared::queue::{DeadLetters, JobPublisher};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::Store;
use goflix_shared::token::TokenIssuer;
use sea_orm::DatabaseConnection;
use state::AppState;
use std::sync::{Arc, Mutex};

/// A running control plane; cheap to clone (one per actix worker).
#[derive(Clone)]
pub struct ControlPlane {
    state: web::Data<AppState>,
    /// The subscription made at start, taken by [`ControlPlane::follow_events`].
    events: Arc<Mutex<Option<EventStream>>>,
}

impl ControlPlane {
    /// Loads or creates the token keys, creates the first admin when none
    /// exists (from `GOFLIX_ADMIN_EMAIL` / `GOFLIX_ADMIN_PASSWORD`, else
    /// `admin@localhost` with a random password printed once as
    /// `admin: EMAIL / PASSWORD` and written mode 0600 to
    /// `{data_dir}/admin-credentials.txt`), and subscribes to the event bus
    /// so no event published from now on is missed (when the bus is down,
    /// [`ControlPlane::follow_events`] subscribes once it is back).
    /// Commands go to an in-process channel here (no worker of another
    /// process hears them); see [`ControlPlane::start_with_commands`].
    pub async fn start(
        config: &Config,
        db: DatabaseConnection,
        store: Store,
        bus: Arc<dyn EventBus>,
    ) -> Result<Self, ApiError> {
        let commands = Arc::new(goflix_shared::command::MemoryCommandBus::default());
        Self::start_with_commands(config, db, store, bus, commands).await
    }

    /// [`ControlPlane::start`], sending job commands (cancel) to the
    /// workers over `commands`.
    pub async fn start_with_commands(
        config: &Config,
        db: DatabaseConnection,
        store: Store,
        bus: Arc<dyn EventBus>,
        commands: Arc<dyn goflix_shared::command::CommandBus>,
    ) -> Result<Self, ApiError> {
        let (key, public) = (
            config.token_key_file.clone(),
            config.token_public_key_file.clone(),
        );
        let issuer =
            tokio::task::spawn_blocking(move || TokenIssuer::load_or_generate(&key, &public))
                .await
                .map_err(|e| ApiError::Internal(format!("key loading task: {e}")))?
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        users::bootstrap_admin(config, &db).await?;
        // Without the bus now, the follower subscribes once it is back.
        let events = match bus.subscribe().await {
            Ok(events) => Some(events),
            Err(e) => {
                tracing::warn!(error = %e, "event bus unavailable at start");
                None
            }
        };
        // Origins refuse private playback until they have read a feed.
        let playback_revocations = auth::playback_revocations::Publisher::default();
        if let Err(e) = playback_revocations.republish_if_stale(&db, &store).await {
            tracing::warn!(error = %e, "cannot publish playback revocations at start; will try again");
        }
        Ok(Self {
            state: web::Data::new(AppState {
                db,
                store,
                bus,
                commands,
                applied: tokio::sync::broadcast::channel(events::APPLIED_CAPACITY).0,
                verifier: issuer.verifier(),
                issuer,
                max_upload_bytes: config.max_upload_bytes,
                downloads: downloads::Downloads::of(config),
                ladder: config.ladder,
                codecs: config.codecs.clone(),
                public_url: config.public_url.clone(),
                frame_ancestors: config.frame_ancestors.clone(),
                upload_expiry: config.upload_expiry,
                import_allow_private: config.import_allow_private,
                import_timeout: config.import_timeout,
                upload_locks: Default::default(),
                outbox: Arc::default(),
                imports: Arc::default(),
                download_remuxes: Arc::default(),
                revocations: Default::default(),
                playback_revocations,
                rate_limits: RateLimits::new(config.trusted_proxies.clone()),
                signup_open: config.signup_open,
                notifier: notify::Notifier::from_config(config).map_err(ApiError::Internal)?,
            }),
            events: Arc::new(Mutex::new(events)),
        })
    }

    /// Mounts `/api/v1/...` and the pages (`/`, `/watch/{id}`,
    /// `/embed/{id}`, `/oembed`, `/assets/…`) on an actix app.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        routes::configure(self.state.clone(), cfg);
        pages::configure(self.state.clone(), cfg);
    }

    /// Consumes the bus until `shutdown`, updating each video's state,
    /// progress, error, duration and renditions from its events
    /// (idempotently; a `ready` or `failed` video never moves back and stale
    /// progress is ignored). Resubscribes after a bus failure.
    pub async fn follow_events(&self, shutdown: Shutdown) -> Result<(), ApiError> {
        let first = self
            .events
            .lock()
            .map_err(|_| ApiError::Internal("event subscription lock poisoned".into()))?
            .take();
        events::follow(&self.state, first, shutdown).await
    }

    /// Delivers notifications (e-mail, SMS, webhooks) until `shutdown`,
    /// retrying failed deliveries with backoff; safe to run in every replica.
    pub async fn deliver_notifications(&self, shutdown: Shutdown) {
        self.state.notifier.run(&self.state.db, shutdown).await;
    }

    /// Deletes the files of media versions playback left (a finished job's
    /// live copy, a replaced final version) a day after they were
    /// superseded, until `shutdown`; safe to run in every replica.
    pub async fn retire_versions(&self, shutdown: Shutdown) {
        versions::run(&self.state.db, &self.state.store, shutdown).await;
    }

    /// Finishes tus uploads whose process died after their last byte and
    /// removes expired unfinished ones with their bytes, until `shutdown`;
    /// safe to run in every replica.
    pub async fn sweep_uploads(&self, shutdown: Shutdown) {
        tus::uploads::run(&self.state, shutdown).await;
    }

    /// Keeps the playback revocation feed in storage in step with the
    /// database until `shutdown`, writing it at once (the origins refuse
    /// private playback until they have read one); safe to run in every
    /// replica.
    pub async fn publish_playback_revocations(&self, shutdown: Shutdown) {
        let state = &self.state;
        state
            .playback_revocations
            .run(&state.db, &state.store, shutdown)
            .await;
    }

    /// Publishes the jobs of committed uploads to `publisher` until
    /// `shutdown` (the outbox relay; only when jobs go through RabbitMQ —
    /// with the database queue, workers read the same rows directly).
    pub async fn relay_jobs(&self, publisher: Arc<dyn JobPublisher>, shutdown: Shutdown) {
        outbox::relay(&self.state, publisher.as_ref(), shutdown).await;
    }

    /// Runs URL imports until `shutdown`: those asked for in this process,
    /// and those whose process stopped mid-way (started again from byte
    /// zero); at shutdown it stops its imports and frees them for another
    /// process. Safe to run in every replica.
    pub async fn run_imports(&self, shutdown: Shutdown) {
        imports::run(&self.state, shutdown).await;
    }

    /// Remuxes the downloads of ready videos that turned downloads on
    /// ([`downloads::remux`]) until `shutdown`; safe to run in every replica.
    pub async fn remux_downloads(&self, shutdown: Shutdown) {
        let state = &self.state;
        let profile = DownloadProfile {
            max_height: state.downloads.max_height,
        };
        downloads::remux::run(
            &state.db,
            &state.store,
            profile,
            state.download_remuxes.clone(),
            shutdown,
        )
        .await;
    }

    /// The runner service's shared state over this control plane's
    /// database, store and event bus, taking jobs through `queues`.
    pub fn runner_hub(&self, queues: runners::QueueOpener) -> runners::RunnerHub {
        let state = &self.state;
        runners::RunnerHub::new(
            state.db.clone(),
            state.store.clone(),
            state.bus.clone(),
            queues,
        )
    }

    /// Passes cancels and runner revocations from the command channel to
    /// the runner sessions `hub` holds, until `shutdown`.
    pub async fn follow_runner_commands(&self, hub: &runners::RunnerHub, shutdown: Shutdown) {
        hub.follow_commands(self.state.commands.clone(), shutdown)
            .await;
    }

    /// Records the jobs RabbitMQ dead-lettered until `shutdown`: a video
    /// still waiting on such a job fails with `job_dead_lettered`.
    pub async fn follow_dead_letters(
        &self,
        dead_letters: Arc<dyn DeadLetters>,
        shutdown: Shutdown,
    ) {
        outbox::follow_dead_letters(&self.state, dead_letters.as_ref(), shutdown).await;
    }
}
