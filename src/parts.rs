//! The parts `goflix serve` and the separate roles are built from, each
//! made in one place: the database, object storage, the origin, a
//! transcoder worker and the control plane's background loops.

use crate::messaging::Messaging;
use crate::running::Running;
use anyhow::Context;
use futures_util::future::BoxFuture;
use goflix_control_api::runners::grpc::GrpcPort;
use goflix_control_api::ControlPlane;
use goflix_origin::Origin;
use goflix_shared::cache;
use goflix_shared::config::Config;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::Store;
use goflix_shared::token::TokenVerifier;
use goflix_transcoder::runtime::supervise::Isolation;
use goflix_transcoder::runtime::worker::{RunningJobs, Worker};
use goflix_transcoder::TranscodeOptions;
use sea_orm::DatabaseConnection;

/// Where the origin's Redis keys start (`GOFLIX_CACHE=redis://…`).
const CACHE_KEY_PREFIX: &str = "goflix:";

/// Connects to `GOFLIX_DATABASE_URL` (creating the data directory first)
/// and brings its schema up to date.
pub(crate) async fn open_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    prepare_data_dir(config)?;
    let db =
        goflix_control_api::connect(config.database.connection_url(), config.database_pool).await?;
    goflix_control_api::migrate(&db).await?;
    Ok(db)
}

/// Creates the data directory (private to the user) when it is missing.
pub(crate) fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut permissions = std::fs::metadata(&config.data_dir)?.permissions();
        permissions.set_mode(0o700);
        std::fs::set_permissions(&config.data_dir, permissions)?;
    }
    Ok(())
}

/// Opens `GOFLIX_STORAGE`.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.storage)
        .await
        .context("opening object storage")
}

/// The origin over `store` with the configured cache and CDN secret,
/// checking private playback with `verifier`; it has tried to read the
/// playback revocation feed once (private videos answer 503 until it has).
pub(crate) async fn origin(
    config: &Config,
    store: &Store,
    verifier: Option<TokenVerifier>,
) -> anyhow::Result<Origin> {
    let cache = cache::open(&config.cache, CACHE_KEY_PREFIX)?;
    let mut origin =
        Origin::new(store.clone(), cache, verifier).with_media_cache(config.origin_cache_bytes);
    if let Some(secret) = &config.origin_cdn_secret {
        origin = origin.with_cdn_secret(secret);
    }
    if let Err(e) = origin.read_revocations().await {
        tracing::warn!(error = %e, "no playback revocation feed yet: private videos answer 503 until one is read");
    }
    Ok(origin)
}

/// The control plane over `db` and `store`, hearing the workers and
/// commanding them through `messaging` (see [`ControlPlane::start`]).
pub(crate) async fn control_plane(
    config: &Config,
    db: &DatabaseConnection,
    store: &Store,
    messaging: &Messaging,
) -> anyhow::Result<ControlPlane> {
    let bus = messaging.bus.clone();
    let commands = messaging.commands.clone();
    Ok(ControlPlane::start_with_commands(config, db.clone(), store.clone(), bus, commands).await?)
}

/// A transcoder worker on `messaging`, writing to `store`.
pub(crate) fn worker(
    config: &Config,
    store: &Store,
    messaging: &Messaging,
) -> anyhow::Result<Worker> {
    Ok(Worker {
        store: store.clone().into(),
        queue: messaging.queue.clone(),
        bus: messaging.bus.clone(),
        options: TranscodeOptions::default(),
        drain: config.drain,
        isolation: Isolation::from_config(config).context("locating the goflix executable")?,
        commands: messaging.commands.clone(),
        running: RunningJobs::default(),
    })
}

/// Runs every background loop of the control plane in `running` until
/// `shutdown`: the event follower, notification delivery, the retirement
/// of old media versions, the playback revocation feed, URL imports and the
/// downloads of videos that turned them on once ready; on RabbitMQ
/// also the outbox relay and the dead-letter follower (a job RabbitMQ gave
/// up on fails its video).
pub(crate) fn spawn_control_loops(
    running: &mut Running,
    control: &ControlPlane,
    messaging: &Messaging,
    shutdown: &Shutdown,
) {
    let loops: [ControlLoop; 6] = [
        |c, s| Box::pin(async move { c.deliver_notifications(s).await }),
        |c, s| Box::pin(async move { c.sweep_uploads(s).await }),
        |c, s| Box::pin(async move { c.retire_versions(s).await }),
        |c, s| Box::pin(async move { c.publish_playback_revocations(s).await }),
        |c, s| Box::pin(async move { c.run_imports(s).await }),
        |c, s| Box::pin(async move { c.remux_downloads(s).await }),
    ];
    let mut tasks: Vec<BoxFuture<'static, ()>> = loops
        .into_iter()
        .map(|start| start(control.clone(), shutdown.clone()))
        .collect();
    if let Some(broker) = &messaging.broker {
        let (c, s, publisher) = (control.clone(), shutdown.clone(), broker.publisher.clone());
        tasks.push(Box::pin(async move { c.relay_jobs(publisher, s).await }));
        let (c, s, dead) = (
            control.clone(),
            shutdown.clone(),
            broker.dead_letters.clone(),
        );
        tasks.push(Box::pin(
            async move { c.follow_dead_letters(dead, s).await },
        ));
    }
    for task in tasks {
        running.spawn(async move {
            task.await;
            Ok(())
        });
    }
    let (control, shutdown) = (control.clone(), shutdown.clone());
    running.spawn(async move { Ok(control.follow_events(shutdown).await?) });
}

/// Opens the gRPC port of remote runners when `GOFLIX_GRPC_LISTEN` is set,
/// serving in `running` until `shutdown`, with the follower that passes
/// cancels and revocations to its sessions (`running.grpc_addr` is set).
pub(crate) fn spawn_runner_port(
    running: &mut Running,
    config: &Config,
    control: &ControlPlane,
    messaging: &Messaging,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let Some(listen) = config.grpc_listen else {
        return Ok(());
    };
    let hub = control.runner_hub(messaging.runner_queues.clone());
    let port = GrpcPort::bind(listen, config.grpc_tls.as_ref(), hub.clone())
        .with_context(|| format!("opening the gRPC port GOFLIX_GRPC_LISTEN={listen}"))?;
    let addr = port.addr;
    let s = shutdown.clone();
    running.spawn(async move { Ok(port.serve(s).await?) });
    let (control, s) = (control.clone(), shutdown.clone());
    running.spawn(async move {
        control.follow_runner_commands(&hub, s).await;
        Ok(())
    });
    let tls = if config.grpc_tls.is_some() {
        "TLS"
    } else {
        "plain text"
    };
    tracing::info!(%addr, tls, "gRPC port for remote runners open");
    running.grpc_addr = Some(addr);
    Ok(())
}

/// Starts one background loop of the control plane.
type ControlLoop = fn(ControlPlane, Shutdown) -> BoxFuture<'static, ()>;
