//! The distributed roles — `goflix control-api`, `goflix origin` and
//! `goflix transcoder` — and the plumbing they share with `goflix serve`:
//! choosing the queue and bus from `GOFLIX_QUEUE`, the HTTP listener with
//! `/healthz`, `/readyz` and `/metrics`, and [`Running`], a started role.
//!
//! Only control-api talks to the database: the origin needs object storage
//! and the token public key, the transcoder object storage and RabbitMQ.

use crate::http::{self, Check, Metrics, Sampler};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::{bail, Context};
use futures_util::future::BoxFuture;
use goflix_control_api::ControlPlane;
use goflix_origin::Origin;
use goflix_shared::broker::Broker;
use goflix_shared::cache;
use goflix_shared::command::AmqpCommandBus;
use goflix_shared::config::Config;
use goflix_shared::events::amqp::AmqpBus;
use goflix_shared::events::EventBus;
use goflix_shared::queue::amqp::{AmqpDeadLetters, AmqpPublisher, AmqpQueue};
use goflix_shared::queue::JobQueue;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store};
use goflix_shared::token::TokenVerifier;
use goflix_transcoder::supervise::Isolation;
use goflix_transcoder::worker::{RunningJobs, Worker};
use goflix_transcoder::TranscodeOptions;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Where the origin's Redis keys start (`GOFLIX_CACHE=redis://…`).
pub(crate) const CACHE_KEY_PREFIX: &str = "goflix:";

/// A started role: where it listens and how to wait for it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    pub(crate) tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    /// Closed once every part has stopped.
    pub(crate) broker: Option<Broker>,
}

impl Running {
    /// Waits until every part has stopped (after the shutdown token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut result = Ok(());
        for task in self.tasks {
            if let Err(e) = task.await.context("a role panicked").and_then(|r| r) {
                result = result.and(Err(e));
            }
        }
        if let Some(broker) = self.broker {
            broker.close().await;
        }
        result
    }

    /// Runs `work` as one more part of the role.
    pub(crate) fn spawn(
        &mut self,
        work: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.push(tokio::spawn(work));
    }
}

/// A `/readyz` check from an async closure.
pub(crate) fn check<F>(probe: F) -> Check
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    Arc::new(probe)
}

/// The storage check every role has.
pub(crate) fn storage_check(store: &Store) -> (&'static str, Check) {
    let store = store.clone();
    (
        "storage",
        check(move || {
            let store = store.clone();
            Box::pin(async move { store.check().await.map_err(|e| e.to_string()) })
        }),
    )
}

/// The queue check of the roles that use one.
pub(crate) fn queue_check(queue: Arc<dyn JobQueue>) -> (&'static str, Check) {
    (
        "queue",
        check(move || {
            let queue = queue.clone();
            Box::pin(async move { queue.check().await.map_err(|e| e.to_string()) })
        }),
    )
}

/// The database check of the roles that use one.
pub(crate) fn database_check(db: &sea_orm::DatabaseConnection) -> (&'static str, Check) {
    let db = db.clone();
    (
        "database",
        check(move || {
            let db = db.clone();
            Box::pin(async move { db.ping().await.map_err(|e| e.to_string()) })
        }),
    )
}

/// `/metrics` sampling of the RabbitMQ job queue's depth and consumers.
pub(crate) fn amqp_queue_sampler(broker: &Broker) -> Sampler {
    let broker = broker.clone();
    Arc::new(move || {
        let broker = broker.clone();
        Box::pin(async move {
            goflix_shared::queue::amqp::sample_depths(&broker)
                .await
                .map_err(|e| e.to_string())
        })
    })
}

/// Binds `config.listen` and serves `/healthz`, `/readyz` over `checks`,
/// `/metrics` (refreshed by `samplers`) and whatever `routes` mounts, until
/// `shutdown`; in-flight requests then get `config.drain` to finish.
pub(crate) fn serve_http<R>(
    config: &Config,
    checks: Vec<(&'static str, Check)>,
    samplers: Vec<Sampler>,
    routes: R,
    shutdown: Shutdown,
) -> anyhow::Result<Running>
where
    R: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let metrics = web::Data::new(Metrics::default());
    let server = HttpServer::new(move || {
        let (checks, samplers, routes) = (checks.clone(), samplers.clone(), routes.clone());
        App::new()
            .app_data(metrics.clone())
            .wrap(middleware::from_fn(http::track))
            .configure(|cfg| http::configure(cfg, checks, samplers))
            .configure(routes)
    })
    .disable_signals()
    .shutdown_timeout(config.drain.as_secs())
    .bind(config.listen)
    .with_context(|| format!("binding {}", config.listen))?;
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    let mut running = Running {
        addr,
        tasks: Vec::new(),
        broker: None,
    };
    running.spawn(async move { server.await.context("HTTP server") });
    Ok(running)
}

/// RabbitMQ from `GOFLIX_QUEUE`; the separate roles refuse the database queue.
pub(crate) fn broker(config: &Config, role: &str) -> anyhow::Result<Broker> {
    if config.queue_url == "database" {
        bail!(
            "GOFLIX_QUEUE=database is the embedded queue of `goflix serve`; \
             `goflix {role}` runs beside other processes and needs RabbitMQ: \
             set GOFLIX_QUEUE=amqp://user:password@host:5672/vhost"
        );
    }
    Ok(Broker::new(
        &config.queue_url,
        format!("goflix-{role}-{}", std::process::id()),
    )?)
}

/// Opens object storage from `GOFLIX_STORAGE`.
pub(crate) async fn store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.storage_url)
        .await
        .context("opening object storage")
}

/// The control plane on RabbitMQ: API, event follower and outbox relay.
pub async fn control_api(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    let broker = broker(&config, "control-api")?;
    crate::cli::prepare_data_dir(&config)?;
    let db = goflix_control_api::connect(config.database_url.expose_secret(), config.database_pool)
        .await?;
    goflix_control_api::migrate(&db).await?;
    let store = store(&config).await?;
    let bus: Arc<dyn EventBus> = Arc::new(AmqpBus::new(broker.clone()));
    let commands = Arc::new(AmqpCommandBus::new(broker.clone()));
    let control =
        ControlPlane::start_with_commands(&config, db.clone(), store.clone(), bus, commands)
            .await?;
    let queue_check = {
        let broker = broker.clone();
        (
            "queue",
            check(move || {
                let broker = broker.clone();
                Box::pin(async move { broker.check().await.map_err(|e| e.to_string()) })
            }),
        )
    };
    let checks = vec![database_check(&db), storage_check(&store), queue_check];
    let routes = {
        let control = control.clone();
        move |cfg: &mut web::ServiceConfig| control.configure(cfg)
    };
    let samplers = vec![amqp_queue_sampler(&broker)];
    let mut running = serve_http(&config, checks, samplers, routes, shutdown.clone())?;
    running.broker = Some(broker.clone());
    running.spawn({
        let (control, shutdown) = (control.clone(), shutdown.clone());
        async move { Ok(control.follow_events(shutdown).await?) }
    });
    running.spawn({
        let (control, shutdown) = (control.clone(), shutdown.clone());
        async move {
            control.deliver_notifications(shutdown).await;
            Ok(())
        }
    });
    running.spawn({
        let (control, shutdown) = (control.clone(), shutdown.clone());
        async move {
            control.retire_versions(shutdown).await;
            Ok(())
        }
    });
    running.spawn({
        let (control, shutdown) = (control.clone(), shutdown.clone());
        async move {
            control.publish_playback_revocations(shutdown).await;
            Ok(())
        }
    });
    running.spawn({
        let (control, broker, shutdown) = (control.clone(), broker.clone(), shutdown.clone());
        async move {
            control
                .follow_dead_letters(Arc::new(AmqpDeadLetters::new(broker)), shutdown)
                .await;
            Ok(())
        }
    });
    running.spawn(async move {
        control
            .relay_jobs(Arc::new(AmqpPublisher::new(broker)), shutdown)
            .await;
        Ok(())
    });
    tracing::info!(addr = %running.addr, "goflix control-api started");
    Ok(running)
}

/// The origin: manifests and media from object storage, no database.
pub async fn origin(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    let store = store(&config).await?;
    let verifier = if config.token_public_key_file.exists() {
        Some(
            TokenVerifier::load(&config.token_public_key_file)
                .context("loading the token public key")?,
        )
    } else {
        tracing::warn!(
            path = %config.token_public_key_file.display(),
            "no token public key (GOFLIX_TOKEN_PUBLIC_KEY_FILE): private videos are refused"
        );
        None
    };
    let cache = cache::open(&config.cache_url, CACHE_KEY_PREFIX)?;
    let mut origin = Origin::new(store.clone(), cache, verifier);
    if let Some(secret) = &config.origin_cdn_secret {
        origin = origin.with_cdn_secret(secret);
    }
    // Private videos answer 503 until a first revocation feed is read.
    if let Err(e) = origin.read_revocations().await {
        tracing::warn!(error = %e, "no playback revocation feed yet: private videos answer 503 until one is read");
    }
    let routes = {
        let origin = origin.clone();
        move |cfg: &mut web::ServiceConfig| origin.configure(cfg)
    };
    let mut running = serve_http(
        &config,
        vec![storage_check(&store)],
        Vec::new(),
        routes,
        shutdown.clone(),
    )?;
    running.spawn(async move {
        origin.follow_revocations(shutdown).await;
        Ok(())
    });
    tracing::info!(addr = %running.addr, "goflix origin started");
    Ok(running)
}

/// A transcoder: `concurrency` jobs at a time from RabbitMQ, no database.
pub async fn transcoder(
    config: Config,
    concurrency: usize,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    let broker = broker(&config, "transcoder")?;
    let concurrency = concurrency.clamp(1, usize::from(u16::MAX));
    let store = store(&config).await?;
    let queue: Arc<dyn JobQueue> = Arc::new(AmqpQueue::new(broker.clone(), concurrency as u16));
    let worker = Worker {
        store: store.clone(),
        queue: queue.clone(),
        bus: Arc::new(AmqpBus::new(broker.clone())),
        options: TranscodeOptions::default(),
        drain: config.drain,
        isolation: Isolation::from_config(&config).context("locating the goflix executable")?,
        commands: Arc::new(AmqpCommandBus::new(broker.clone())),
        running: RunningJobs::default(),
    };
    let checks = vec![storage_check(&store), queue_check(queue)];
    let mut running = serve_http(
        &config,
        checks,
        vec![amqp_queue_sampler(&broker)],
        |_: &mut web::ServiceConfig| {},
        shutdown.clone(),
    )?;
    running.spawn(async move {
        worker.run(concurrency, shutdown).await;
        Ok(())
    });
    tracing::info!(addr = %running.addr, concurrency, "goflix transcoder started");
    Ok(running)
}
