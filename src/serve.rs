//! `goflix serve`: control-api, one transcoder worker and the origin in one
//! process on one listener, over the embedded backends (SQLite, a folder,
//! the database as queue, an in-process bus and cache). With
//! `GOFLIX_QUEUE=amqp://…` the jobs and events go through RabbitMQ instead,
//! exactly as between the separate roles; `GOFLIX_CACHE` is honoured too.

use crate::roles::{self, database_check, queue_check, storage_check, Running, CACHE_KEY_PREFIX};
use actix_web::web;
use anyhow::Context;
use goflix_control_api::ControlPlane;
use goflix_origin::Origin;
use goflix_shared::cache;
use goflix_shared::command::{AmqpCommandBus, CommandBus, MemoryCommandBus};
use goflix_shared::config::Config;
use goflix_shared::events::amqp::AmqpBus;
use goflix_shared::events::{EventBus, MemoryBus};
use goflix_shared::queue::amqp::{AmqpPublisher, AmqpQueue};
use goflix_shared::queue::database::DatabaseQueue;
use goflix_shared::queue::JobQueue;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::token::TokenVerifier;
use goflix_transcoder::supervise::Isolation;
use goflix_transcoder::worker::{RunningJobs, Worker};
use goflix_transcoder::TranscodeOptions;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// Starts every role; they stop when `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    crate::cli::prepare_data_dir(&config)?;
    let db = goflix_control_api::connect(config.database_url.expose_secret(), config.database_pool)
        .await?;
    goflix_control_api::migrate(&db).await?;
    let store = roles::store(&config).await?;
    let (queue, bus, broker): (Arc<dyn JobQueue>, Arc<dyn EventBus>, _) =
        if config.queue_url == "database" {
            let queue = DatabaseQueue::new(db.clone(), format!("serve-{}", std::process::id()));
            (Arc::new(queue), Arc::new(MemoryBus::default()), None)
        } else {
            let broker = roles::broker(&config, "serve")?;
            (
                Arc::new(AmqpQueue::new(broker.clone(), 1)),
                Arc::new(AmqpBus::new(broker.clone())),
                Some(broker),
            )
        };

    let commands: Arc<dyn CommandBus> = match &broker {
        Some(broker) => Arc::new(AmqpCommandBus::new(broker.clone())),
        None => Arc::new(MemoryCommandBus::default()),
    };
    let control = ControlPlane::start_with_commands(
        &config,
        db.clone(),
        store.clone(),
        bus.clone(),
        commands.clone(),
    )
    .await?;
    let verifier = TokenVerifier::load(&config.token_public_key_file)
        .context("loading the token public key")?;
    let mut origin = Origin::new(
        store.clone(),
        cache::open(&config.cache_url, CACHE_KEY_PREFIX)?,
        Some(verifier),
    );
    if let Some(secret) = &config.origin_cdn_secret {
        origin = origin.with_cdn_secret(secret);
    }
    // Private videos answer 503 until a first revocation feed is read.
    if let Err(e) = origin.read_revocations().await {
        tracing::warn!(error = %e, "no playback revocation feed yet: private videos answer 503 until one is read");
    }
    let worker = Worker {
        store: store.clone(),
        queue: queue.clone(),
        bus,
        options: TranscodeOptions::default(),
        drain: config.drain,
        isolation: Isolation::from_config(&config).context("locating the goflix executable")?,
        commands,
        running: RunningJobs::default(),
    };

    let checks = vec![
        database_check(&db),
        storage_check(&store),
        queue_check(queue),
    ];
    let routes = {
        let (control, origin) = (control.clone(), origin.clone());
        move |cfg: &mut web::ServiceConfig| {
            control.configure(cfg);
            origin.configure(cfg);
        }
    };
    let sampler = match &broker {
        Some(broker) => roles::amqp_queue_sampler(broker),
        None => {
            let db = db.clone();
            Arc::new(move || {
                let db = db.clone();
                Box::pin(async move {
                    goflix_shared::queue::database::sample_depths(&db)
                        .await
                        .map_err(|e| e.to_string())
                }) as futures_util::future::BoxFuture<'static, _>
            })
        }
    };
    let mut running = roles::serve_http(&config, checks, vec![sampler], routes, shutdown.clone())?;
    running.broker = broker.clone();
    if let Some(broker) = broker {
        running.spawn({
            let (control, shutdown) = (control.clone(), shutdown.clone());
            async move {
                control
                    .relay_jobs(Arc::new(AmqpPublisher::new(broker)), shutdown)
                    .await;
                Ok(())
            }
        });
    }
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
        let shutdown = shutdown.clone();
        async move {
            origin.follow_revocations(shutdown).await;
            Ok(())
        }
    });
    running.spawn({
        let shutdown = shutdown.clone();
        async move { Ok(control.follow_events(shutdown).await?) }
    });
    running.spawn(async move {
        worker.run(1, shutdown).await;
        Ok(())
    });
    tracing::info!(addr = %running.addr, "goflix serve started");
    Ok(running)
}
