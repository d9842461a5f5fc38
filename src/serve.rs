//! `goflix serve`: control-api, a transcoder worker (`GOFLIX_SERVE_WORKERS`
//! jobs at once) and the origin in one process on one listener, over the embedded backends (SQLite, a folder,
//! the database as queue, an in-process bus and cache) unless configured
//! otherwise. With `GOFLIX_QUEUE=amqp://…` the jobs, events and dead
//! letters go through RabbitMQ exactly as between the separate roles: the
//! same messaging stack (`messaging.rs`) and control-plane loops.

use crate::messaging::{Messaging, Process};
use crate::parts::{self, open_database, open_store, spawn_control_loops, spawn_runner_port};
use crate::running::{database_check, queue_check, serve_http, storage_check, Running};
use actix_web::web;
use anyhow::Context;
use goflix_shared::config::Config;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::token::TokenVerifier;

/// Starts every role; they stop when `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    let db = open_database(&config).await?;
    let store = open_store(&config).await?;
    let messaging = Messaging::open(&config, Process::Serve(&db))?;
    let control = parts::control_plane(&config, &db, &store, &messaging).await?;
    // The control plane has just written the public key.
    let verifier = TokenVerifier::load(&config.token_public_key_file)
        .context("loading the token public key")?;
    let origin = parts::origin(&config, &store, Some(verifier)).await?;
    let worker = parts::worker(&config, &store, &messaging)?;

    let checks = vec![
        database_check(&db),
        storage_check(&store),
        queue_check(messaging.queue.clone()),
    ];
    let routes = {
        let (control, origin) = (control.clone(), origin.clone());
        // The origin's `/v` scope first: a player's request is matched by
        // one prefix test instead of failing every console and API route
        // before it; the control API's requests fail that one test.
        move |cfg: &mut web::ServiceConfig| {
            origin.configure(cfg);
            control.configure(cfg);
        }
    };
    let samplers = vec![messaging.depth_sampler.clone()];
    let mut running = serve_http(&config, checks, samplers, routes, shutdown.clone())?;
    running.close_at_exit(messaging.connection());
    spawn_control_loops(&mut running, &control, &messaging, &shutdown);
    spawn_runner_port(&mut running, &config, &control, &messaging, &shutdown)?;
    running.spawn({
        let shutdown = shutdown.clone();
        async move {
            origin.follow_revocations(shutdown).await;
            Ok(())
        }
    });
    if config.serve_workers > 0 {
        let workers = config.serve_workers;
        running.spawn(async move {
            worker.run(workers, shutdown).await;
            Ok(())
        });
    }
    tracing::info!(addr = %running.addr, "goflix serve started");
    Ok(running)
}
