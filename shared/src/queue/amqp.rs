//! RabbitMQ as job queue (`GOFLIX_QUEUE=amqp://…`). Jobs are persistent
//! JSON messages on the quorum queue `goflix.transcode` (see
//! [`crate::broker`]). A worker consumes with manual acks and a prefetch
//! equal to its concurrency; a lease is one unacked delivery:
//!
//! - `ack` once outputs and the playback record are written;
//! - `retry` waits out the delay, then returns the message to the queue;
//! - `reject` dead-letters it to `goflix.transcode.dead`;
//! - a worker that dies or loses its channel returns its deliveries to the
//!   queue (RabbitMQ counts them in `x-delivery-count`, the attempt number),
//!   and its leases report [`Lease::lost`] so a job whose delivery went
//!   elsewhere is abandoned rather than completed twice.
//!
//! The broker's consumer timeout (30 min by default) must exceed the
//! longest job; see `docs/design/rabbitmq.md`.

use super::{JobPublisher, JobQueue, Lease, QueueError};
use crate::broker::{Broker, BrokerError};
use crate::domain::TranscodeJob;
use crate::shutdown::Shutdown;
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use std::time::Duration;
use tokio::sync::Mutex;

/// How often a running job checks that its channel (and so its delivery) is alive.
const LEASE_CHECK: Duration = Duration::from_millis(250);

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

/// Publishes jobs to `goflix.transcode` (the outbox relay's sink).
#[derive(Clone)]
pub struct AmqpPublisher {
    broker: Broker,
}

impl AmqpPublisher {
    /// A publisher over `broker`.
    pub fn new(broker: Broker) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl JobPublisher for AmqpPublisher {
    async fn publish(&self, job: &TranscodeJob) -> Result<(), QueueError> {
        let payload = serde_json::to_vec(job).expect("jobs serialise");
        self.broker
            .publish(
                "",
                &self.broker.names().transcode,
                &job.job_id.to_string(),
                &payload,
            )
            .await
            .map_err(unavailable)
    }
}

/// A worker's consumer of `goflix.transcode`.
pub struct AmqpQueue {
    broker: Broker,
    prefetch: u16,
    consumer: Mutex<Option<(Channel, Consumer)>>,
}

impl AmqpQueue {
    /// A consumer holding at most `prefetch` unacked jobs (the worker's concurrency).
    pub fn new(broker: Broker, prefetch: u16) -> Self {
        Self {
            broker,
            prefetch: prefetch.max(1),
            consumer: Mutex::new(None),
        }
    }

    async fn consume(&self) -> Result<(Channel, Consumer), BrokerError> {
        let channel = self.broker.channel().await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("goflix-worker-{}", uuid::Uuid::now_v7().simple());
        let consumer = channel
            .basic_consume(
                &self.broker.names().transcode,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((channel, consumer))
    }
}

/// 1 on the first delivery; quorum queues count earlier ones in `x-delivery-count`.
fn attempt_of(delivery: &Delivery) -> u32 {
    let count = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-delivery-count").cloned())
        .and_then(|value| match value {
            AMQPValue::LongLongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongInt(n) => u32::try_from(n).ok(),
            AMQPValue::LongUInt(n) => Some(n),
            AMQPValue::ShortInt(n) => u32::try_from(n).ok(),
            AMQPValue::ShortUInt(n) => Some(n.into()),
            _ => None,
        });
    match count {
        Some(count) => count.saturating_add(1),
        None if delivery.redelivered => 2,
        None => 1,
    }
}

#[async_trait]
impl JobQueue for AmqpQueue {
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn Lease>>, QueueError> {
        // Job loops take turns waiting on the one consumer.
        let mut consumer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            guard = self.consumer.lock() => guard,
        };
        loop {
            if consumer.is_none() {
                *consumer = Some(self.consume().await.map_err(unavailable)?);
            }
            let (channel, deliveries) = consumer.as_mut().expect("consumer set above");
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                delivery = deliveries.next() => delivery,
            };
            let delivery = match delivery {
                Some(Ok(delivery)) => delivery,
                Some(Err(e)) => {
                    *consumer = None;
                    return Err(unavailable(e));
                }
                None => {
                    *consumer = None;
                    return Err(QueueError::Unavailable("the consumer was cancelled".into()));
                }
            };
            let attempt = attempt_of(&delivery);
            match serde_json::from_slice::<TranscodeJob>(&delivery.data) {
                Ok(job) => {
                    return Ok(Some(Box::new(AmqpLease {
                        job,
                        attempt,
                        acker: delivery.acker,
                        channel: channel.clone(),
                    })))
                }
                Err(e) => {
                    tracing::error!(error = %e, "dead-lettering malformed job message");
                    let dead = BasicNackOptions {
                        requeue: false,
                        ..BasicNackOptions::default()
                    };
                    if let Err(e) = delivery.acker.nack(dead).await {
                        tracing::warn!(error = %e, "could not dead-letter a malformed job");
                    }
                }
            }
        }
    }

    async fn check(&self) -> Result<(), QueueError> {
        self.broker.check().await.map_err(unavailable)
    }
}

/// One unacked delivery.
struct AmqpLease {
    job: TranscodeJob,
    attempt: u32,
    acker: Acker,
    channel: Channel,
}

impl AmqpLease {
    fn settled(&self, result: Result<(), lapin::Error>) -> Result<(), QueueError> {
        match result {
            Ok(()) => Ok(()),
            Err(_) if !self.channel.status().connected() => {
                Err(QueueError::LeaseLost(self.job.job_id))
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl Lease for AmqpLease {
    fn job(&self) -> &TranscodeJob {
        &self.job
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    async fn heartbeat(&self) -> Result<(), QueueError> {
        if self.channel.status().connected() {
            Ok(())
        } else {
            Err(QueueError::LeaseLost(self.job.job_id))
        }
    }

    async fn lost(&self) {
        while self.channel.status().connected() {
            tokio::time::sleep(LEASE_CHECK).await;
        }
    }

    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        let result = self.acker.ack(BasicAckOptions::default()).await;
        self.settled(result)
    }

    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), QueueError> {
        // Quorum queues have no delayed redelivery: hold the message for the delay.
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.lost() => return Err(QueueError::LeaseLost(self.job.job_id)),
        }
        let requeue = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        let result = self.acker.nack(requeue).await;
        self.settled(result)
    }

    async fn reject(self: Box<Self>) -> Result<(), QueueError> {
        let dead = BasicNackOptions {
            requeue: false,
            ..BasicNackOptions::default()
        };
        let result = self.acker.nack(dead).await;
        self.settled(result)
    }
}
