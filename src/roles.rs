//! The distributed roles — `goflix control-api`, `goflix origin` and
//! `goflix transcoder` — each started from the same parts (`parts.rs`) and
//! messaging stack (`messaging.rs`) as `goflix serve`.
//!
//! Only control-api talks to the database: the origin needs object storage
//! and the token public key, the transcoder object storage and RabbitMQ.
//! `goflix runner` needs none of them: only control-api's gRPC port.

use crate::messaging::{Messaging, Process};
use crate::parts::{self, open_database, open_store, spawn_control_loops, spawn_runner_port};
use crate::running::{database_check, queue_check, serve_http, storage_check, Running};
use actix_web::web;
use anyhow::Context;
use goflix_shared::config::Config;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::token::TokenVerifier;
use goflix_transcoder::runtime::remote::{Runner, RunnerOptions};
use goflix_transcoder::runtime::supervise::Isolation;
use secrecy::ExposeSecret;
use std::sync::Arc;

/// The control plane on RabbitMQ: the API and every control-plane loop.
pub async fn control_api(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    let messaging = Messaging::open(&config, Process::ControlApi)?;
    let db = open_database(&config).await?;
    let store = open_store(&config).await?;
    let control = parts::control_plane(&config, &db, &store, &messaging).await?;
    let checks = vec![
        database_check(&db),
        storage_check(&store),
        queue_check(messaging.queue.clone()),
    ];
    let routes = {
        let control = control.clone();
        move |cfg: &mut web::ServiceConfig| control.configure(cfg)
    };
    let samplers = vec![messaging.depth_sampler.clone()];
    let mut running = serve_http(&config, checks, samplers, routes, shutdown.clone())?;
    running.close_at_exit(messaging.connection());
    spawn_control_loops(&mut running, &control, &messaging, &shutdown);
    spawn_runner_port(&mut running, &config, &control, &messaging, &shutdown)?;
    tracing::info!(addr = %running.addr, "goflix control-api started");
    Ok(running)
}

/// The origin: manifests and media from object storage, no database.
pub async fn origin(config: Config, shutdown: Shutdown) -> anyhow::Result<Running> {
    let store = open_store(&config).await?;
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
    let origin = parts::origin(&config, &store, verifier).await?;
    let routes = {
        let origin = origin.clone();
        move |cfg: &mut web::ServiceConfig| origin.configure(cfg)
    };
    let checks = vec![storage_check(&store)];
    let mut running = serve_http(&config, checks, Vec::new(), routes, shutdown.clone())?;
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
    let concurrency = concurrency.clamp(1, usize::from(u16::MAX));
    let process = Process::Transcoder {
        concurrency: concurrency as u16,
    };
    let messaging = Messaging::open(&config, process)?;
    let store = open_store(&config).await?;
    let worker = parts::worker(&config, &store, &messaging)?;
    let checks = vec![storage_check(&store), queue_check(messaging.queue.clone())];
    let samplers = vec![messaging.depth_sampler.clone()];
    let no_routes = |_: &mut web::ServiceConfig| {};
    let mut running = serve_http(&config, checks, samplers, no_routes, shutdown.clone())?;
    running.close_at_exit(messaging.connection());
    running.spawn(async move {
        worker.run(concurrency, shutdown).await;
        Ok(())
    });
    tracing::info!(addr = %running.addr, concurrency, "goflix transcoder started");
    Ok(running)
}

/// What `goflix runner` is started with besides the settings.
pub struct RunnerArgs {
    /// The control API's gRPC address.
    pub server: String,
    /// The name admins see; the host name when `None`.
    pub name: Option<String>,
    /// Jobs at once.
    pub concurrency: usize,
}

/// A remote runner: jobs, events and media over control-api's gRPC port,
/// nothing else; `/healthz`, `/readyz` (connected) and `/metrics` on
/// `GOFLIX_LISTEN`. Ends with an error when its credential is refused.
pub async fn runner(
    config: Config,
    args: RunnerArgs,
    shutdown: Shutdown,
) -> anyhow::Result<Running> {
    parts::prepare_data_dir(&config)?;
    let options = RunnerOptions {
        server: args.server,
        ca_file: config.runner_ca_file.clone(),
        data_dir: config.data_dir.clone(),
        name: args.name.unwrap_or_else(host_name),
        registration_token: config
            .runner_token
            .as_ref()
            .map(|token| token.expose_secret().to_owned()),
        concurrency: args.concurrency,
        isolation: Isolation::from_config(&config).context("locating the goflix executable")?,
        drain: config.drain,
    };
    let runner = Runner::start(options).await?;
    let checks = vec![queue_check(Arc::new(runner.link().queue()))];
    let no_routes = |_: &mut web::ServiceConfig| {};
    let mut running = serve_http(&config, checks, Vec::new(), no_routes, shutdown.clone())?;
    running.spawn(async move { Ok(runner.run(shutdown).await?) });
    tracing::info!(addr = %running.addr, concurrency = args.concurrency, "goflix runner started");
    Ok(running)
}

/// This machine's host name, the default runner name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "runner".to_owned())
}
