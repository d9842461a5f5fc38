//! The messaging stack `GOFLIX_QUEUE` chooses, opened in one place for
//! `goflix serve` and the separate roles: the job queue, the event bus,
//! the command channel to the workers and the `/metrics` sampler of the
//! queue's depth; on RabbitMQ also the outbox relay's publisher, the
//! dead-letter queue and the broker connection they share.

use crate::http::Sampler;
use anyhow::bail;
use futures_util::future::BoxFuture;
use goflix_control_api::runners::QueueOpener;
use goflix_shared::broker::{AmqpUrl, Broker};
use goflix_shared::command::{AmqpCommandBus, CommandBus, MemoryCommandBus};
use goflix_shared::config::{Config, Queue};
use goflix_shared::events::amqp::AmqpBus;
use goflix_shared::events::{EventBus, MemoryBus};
use goflix_shared::queue::amqp::{AmqpDeadLetters, AmqpPublisher, AmqpQueue};
use goflix_shared::queue::database::DatabaseQueue;
use goflix_shared::queue::{DeadLetters, JobPublisher, JobQueue, QueueError};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::sync::Arc;

/// The process that opens the stack.
#[derive(Clone, Copy)]
pub(crate) enum Process<'a> {
    /// `goflix serve`, whose own database may be the queue.
    Serve(&'a DatabaseConnection),
    /// `goflix control-api`, which needs RabbitMQ.
    ControlApi,
    /// `goflix transcoder`, which needs RabbitMQ and holds up to `concurrency` jobs.
    Transcoder {
        /// Jobs held at once (the RabbitMQ prefetch).
        concurrency: u16,
    },
}

impl Process<'_> {
    /// The subcommand, as named in RabbitMQ connection names and errors.
    fn name(self) -> &'static str {
        match self {
            Self::Serve(_) => "serve",
            Self::ControlApi => "control-api",
            Self::Transcoder { .. } => "transcoder",
        }
    }
}

/// The messaging stack of one process.
pub(crate) struct Messaging {
    /// Where workers take jobs from.
    pub queue: Arc<dyn JobQueue>,
    /// Opens a consumer for one remote runner's session (the control API
    /// takes jobs on the runner's behalf).
    pub runner_queues: QueueOpener,
    /// Worker events to the control plane.
    pub bus: Arc<dyn EventBus>,
    /// Control-plane commands (job cancel) to every worker.
    pub commands: Arc<dyn CommandBus>,
    /// Refreshes the queue depth gauges of `/metrics`.
    pub depth_sampler: Sampler,
    /// What only RabbitMQ has; `None` on the database queue.
    pub broker: Option<BrokerParts>,
}

/// The parts of the stack only RabbitMQ has: with the database queue,
/// workers read the job rows directly and the database keeps dead jobs.
pub(crate) struct BrokerParts {
    /// Where the outbox relay publishes committed jobs.
    pub publisher: Arc<dyn JobPublisher>,
    /// The jobs RabbitMQ gave up on, for the control plane to fail.
    pub dead_letters: Arc<dyn DeadLetters>,
    /// The connection behind every part, closed at exit.
    pub connection: Broker,
}

impl Messaging {
    /// Opens the stack `config.queue` names for `process`; the separate
    /// roles refuse the database queue.
    pub(crate) fn open(config: &Config, process: Process<'_>) -> anyhow::Result<Self> {
        match (&config.queue, process) {
            (Queue::Database, Process::Serve(db)) => Ok(Self::on_database(db)),
            (Queue::Database, _) => bail!(
                "GOFLIX_QUEUE=database is the embedded queue of `goflix serve`; \
                 `goflix {}` runs beside other processes and needs RabbitMQ: \
                 set GOFLIX_QUEUE=amqp://user:password@host:5672/vhost",
                process.name()
            ),
            (Queue::Amqp(url), _) => Ok(Self::on_rabbitmq(url, process)),
        }
    }

    /// The database's `jobs` table and in-process buses.
    fn on_database(db: &DatabaseConnection) -> Self {
        let worker = format!("serve-{}", std::process::id());
        let db = db.clone();
        let queue: Arc<dyn JobQueue> = Arc::new(DatabaseQueue::new(db.clone(), worker));
        // The jobs table needs no consumer of its own: runner sessions share it.
        let shared = queue.clone();
        Self {
            queue,
            runner_queues: Arc::new(move |_capacity| shared.clone()),
            bus: Arc::new(MemoryBus::default()),
            commands: Arc::new(MemoryCommandBus::default()),
            depth_sampler: sampler(move || {
                let db = db.clone();
                async move { goflix_shared::queue::database::sample_depths(&db).await }
            }),
            broker: None,
        }
    }

    /// Everything on one RabbitMQ connection.
    fn on_rabbitmq(url: &AmqpUrl, process: Process<'_>) -> Self {
        let name = format!("goflix-{}-{}", process.name(), std::process::id());
        let broker = Broker::new(url, name);
        let prefetch = match process {
            Process::Transcoder { concurrency } => concurrency,
            Process::Serve(_) | Process::ControlApi => 1,
        };
        let sampled = broker.clone();
        let consumers = broker.clone();
        Self {
            queue: Arc::new(AmqpQueue::new(broker.clone(), prefetch)),
            // Each session its own channel with the runner's capacity as
            // prefetch, closed with the session.
            runner_queues: Arc::new(move |capacity| {
                Arc::new(AmqpQueue::new(consumers.clone(), capacity)) as Arc<dyn JobQueue>
            }),
            bus: Arc::new(AmqpBus::new(broker.clone())),
            commands: Arc::new(AmqpCommandBus::new(broker.clone())),
            depth_sampler: sampler(move || {
                let broker = sampled.clone();
                async move { goflix_shared::queue::amqp::sample_depths(&broker).await }
            }),
            broker: Some(BrokerParts {
                publisher: Arc::new(AmqpPublisher::new(broker.clone())),
                dead_letters: Arc::new(AmqpDeadLetters::new(broker.clone())),
                connection: broker,
            }),
        }
    }

    /// The broker connection to close at exit, if any.
    pub(crate) fn connection(&self) -> Option<Broker> {
        self.broker.as_ref().map(|parts| parts.connection.clone())
    }
}

/// A [`Sampler`] from a function starting one sampling.
fn sampler<F, S>(sample: S) -> Sampler
where
    S: Fn() -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), QueueError>> + Send + 'static,
{
    Arc::new(move || {
        let sampling = sample();
        Box::pin(async move { sampling.await.map_err(|e| e.to_string()) }) as BoxFuture<'static, _>
    })
}
