//! `goflix serve`: control-api, one transcoder worker and the origin in one
//! process on one listener, over the embedded backends (SQLite, a folder,
//! the database as queue, an in-process bus and cache).

use crate::http::{self, Check, Metrics};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use goflix_control_api::ControlPlane;
use goflix_origin::Origin;
use goflix_shared::cache::MemoryCache;
use goflix_shared::config::Config;
use goflix_shared::events::{EventBus, MemoryBus};
use goflix_shared::queue::database::DatabaseQueue;
use goflix_shared::queue::JobQueue;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store};
use goflix_shared::token::TokenVerifier;
use goflix_transcoder::worker::Worker;
use goflix_transcoder::TranscodeOptions;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Bytes the in-process manifest cache may hold.
const MANIFEST_CACHE_BYTES: u64 = 64 << 20;
/// Seconds in-flight requests get to finish after a shutdown signal.
const DRAIN_SECONDS: u64 = 25;

/// A started `serve`: where it listens and how to wait for it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// Waits until every part has stopped (after the shutdown token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        for task in self.tasks {
            task.await.context("a role panicked")??;
        }
        Ok(())
    }
}

/// Starts every role; they stop when `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    crate::cli::prepare_data_dir(&config)?;
    let db = goflix_control_api::connect(config.database_url.expose_secret()).await?;
    goflix_control_api::migrate(&db).await?;
    let store = Store::open(&config.storage_url)
        .await
        .context("opening object storage")?;
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::default());

    let control = ControlPlane::start(&config, db.clone(), store.clone(), bus.clone()).await?;
    let verifier = TokenVerifier::load(&config.token_public_key_file)
        .context("loading the token public key")?;
    let origin = Origin::new(
        store.clone(),
        Arc::new(MemoryCache::new(MANIFEST_CACHE_BYTES)),
        Some(verifier),
    );
    let queue = Arc::new(DatabaseQueue::new(
        db.clone(),
        format!("serve-{}", std::process::id()),
    ));
    let worker = Worker {
        store: store.clone(),
        queue: queue.clone(),
        bus,
        options: TranscodeOptions::default(),
    };

    let checks: Vec<(&'static str, Check)> = vec![
        ("database", {
            let db = db.clone();
            Arc::new(move || {
                let db = db.clone();
                Box::pin(async move { db.ping().await.map_err(|e| e.to_string()) })
            })
        }),
        ("storage", {
            let store = store.clone();
            Arc::new(move || {
                let store = store.clone();
                Box::pin(async move { store.check().await.map_err(|e| e.to_string()) })
            })
        }),
        ("queue", {
            let queue = queue.clone();
            Arc::new(move || {
                let queue = queue.clone();
                Box::pin(async move { queue.check().await.map_err(|e| e.to_string()) })
            })
        }),
    ];
    let metrics = web::Data::new(Metrics::default());
    let app_control = control.clone();
    let server = HttpServer::new(move || {
        let (control, origin, checks) = (app_control.clone(), origin.clone(), checks.clone());
        App::new()
            .app_data(metrics.clone())
            .wrap(middleware::from_fn(http::track))
            .configure(|cfg| http::configure(cfg, checks))
            .configure(|cfg| control.configure(cfg))
            .configure(|cfg| origin.configure(cfg))
    })
    .disable_signals()
    .shutdown_timeout(DRAIN_SECONDS)
    .bind(config.listen)
    .with_context(|| format!("binding {}", config.listen))?;
    let addr = server.addrs()[0];
    let server = server.run();
    let server_handle = server.handle();

    let mut tasks: Vec<JoinHandle<anyhow::Result<()>>> = Vec::new();
    tasks.push(tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            control.follow_events(shutdown).await?;
            Ok(())
        }
    }));
    tasks.push(tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            worker.run(1, shutdown).await;
            Ok(())
        }
    }));
    tasks.push(tokio::spawn(async move {
        server.await.context("HTTP server")?;
        Ok(())
    }));
    tokio::spawn(async move {
        shutdown.cancelled().await;
        server_handle.stop(true).await;
    });
    tracing::info!(%addr, "goflix serve started");
    Ok(Running { addr, tasks })
}
