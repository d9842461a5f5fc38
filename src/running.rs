//! [`Running`], a started process (`goflix serve` or one role): its HTTP
//! listener with `/healthz`, `/readyz` over its dependency [`Check`]s,
//! `/metrics` and the routes it mounts, and the tasks it runs until
//! shutdown.

use crate::http::{self, Check, Metrics, Sampler};
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context;
use futures_util::future::BoxFuture;
use goflix_shared::broker::Broker;
use goflix_shared::config::Config;
use goflix_shared::queue::JobQueue;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A started process: where it listens and how to wait for it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The bound gRPC port of remote runners, when `GOFLIX_GRPC_LISTEN` is set.
    pub grpc_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    /// Closed once every part has stopped.
    broker: Option<Broker>,
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

    /// Runs `work` as one more part of the process.
    pub(crate) fn spawn(
        &mut self,
        work: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.tasks.push(tokio::spawn(work));
    }

    /// Closes `broker`'s connection once every part has stopped.
    pub(crate) fn close_at_exit(&mut self, broker: Option<Broker>) {
        self.broker = broker;
    }
}

/// A `/readyz` check from an async closure.
fn check<F>(probe: F) -> Check
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
        grpc_addr: None,
        tasks: Vec::new(),
        broker: None,
    };
    running.spawn(async move { server.await.context("HTTP server") });
    Ok(running)
}
