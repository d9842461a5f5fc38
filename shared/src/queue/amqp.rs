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
//! longest job; see `docs/design/rabbitmq.md`. Should it strike anyway, the
//! broker closes the channel: the lease reports [`Lease::lost`] (the worker
//! cancels the encode) and the error is logged with that hint.
//!
//! [`AmqpDeadLetters`] reads `goflix.transcode.dead` for the control plane.

use super::{DeadJob, DeadLetters, JobPublisher, JobQueue, Lease, QueueError};
use crate::broker::{Broker, BrokerError};
use crate::domain::TranscodeJob;
use crate::metrics;
use crate::shutdown::Shutdown;
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use std::sync::atomic::{AtomicBool, Ordering};
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
                job.traceparent.as_deref(),
            )
            .await
            .map_err(unavailable)
    }
}

/// Sets `goflix_queue_depth` and `goflix_queue_consumers` of
/// `goflix.transcode` and its dead letters from passive declares (ready
/// messages; unacked ones are with their consumers).
pub async fn sample_depths(broker: &Broker) -> Result<(), QueueError> {
    let channel = broker.channel().await.map_err(unavailable)?;
    let names = broker.names();
    for (label, name) in [
        (super::TRANSCODE_QUEUE, &names.transcode),
        (super::DEAD_QUEUE, &names.dead),
    ] {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare(name, passive, FieldTable::default())
            .await
            .map_err(unavailable)?;
        metrics::QUEUE_DEPTH
            .gauge(&[label])
            .set(queue.message_count().into());
        metrics::QUEUE_CONSUMERS
            .gauge(&[label])
            .set(queue.consumer_count().into());
    }
    let _ = channel.close(200, "sampled").await;
    Ok(())
}

/// A worker's consumer of `goflix.transcode`.
pub struct AmqpQueue {
    broker: Broker,
    prefetch: u16,
    consumer: Mutex<Option<(Channel, Consumer)>>,
    /// Set by [`JobQueue::close`]: a closed consumer never consumes again.
    closed: AtomicBool,
}

impl AmqpQueue {
    /// A consumer holding at most `prefetch` unacked jobs (the worker's concurrency).
    pub fn new(broker: Broker, prefetch: u16) -> Self {
        Self {
            broker,
            prefetch: prefetch.max(1),
            consumer: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }
}

/// A fresh channel consuming `queue` with manual acks and `prefetch`.
async fn consume(
    broker: &Broker,
    queue: &str,
    prefetch: u16,
) -> Result<(Channel, Consumer), BrokerError> {
    let channel = broker.channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let tag = format!("goflix-{}", uuid::Uuid::now_v7().simple());
    let consumer = channel
        .basic_consume(
            queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// The next delivery of a consumer that may be unset or broken: (re)creates
/// it, and forgets it when it fails so the next call starts afresh.
async fn next_delivery(
    slot: &mut Option<(Channel, Consumer)>,
    broker: &Broker,
    queue: &str,
    prefetch: u16,
    shutdown: &Shutdown,
) -> Result<Option<(Channel, Delivery)>, QueueError> {
    if slot.is_none() {
        *slot = Some(
            consume(broker, queue, prefetch)
                .await
                .map_err(unavailable)?,
        );
    }
    let (channel, deliveries) = slot.as_mut().expect("consumer set above");
    let delivery = tokio::select! {
        _ = shutdown.cancelled() => return Ok(None),
        delivery = deliveries.next() => delivery,
    };
    match delivery {
        Some(Ok(delivery)) => Ok(Some((channel.clone(), delivery))),
        Some(Err(e)) => {
            *slot = None;
            let text = e.to_string();
            if text.contains("acknowledgement") && text.contains("timed out") {
                tracing::error!(error = %e, "RabbitMQ's consumer_timeout cut off a running job: \
                    set it above the longest job (docs/design/rabbitmq.md)");
            }
            Err(unavailable(e))
        }
        None => {
            *slot = None;
            Err(QueueError::Unavailable("the consumer was cancelled".into()))
        }
    }
}

fn dead_letter_options() -> BasicNackOptions {
    BasicNackOptions {
        requeue: false,
        ..BasicNackOptions::default()
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
            biased;
            _ = shutdown.cancelled() => return Ok(None),
            guard = self.consumer.lock() => guard,
        };
        // Closed while this loop waited: opening a new consumer would take
        // jobs nobody is left to run.
        if self.closed.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let queue = &self.broker.names().transcode;
        loop {
            let Some((channel, delivery)) =
                next_delivery(&mut consumer, &self.broker, queue, self.prefetch, shutdown).await?
            else {
                return Ok(None);
            };
            let attempt = attempt_of(&delivery);
            match serde_json::from_slice::<TranscodeJob>(&delivery.data) {
                Ok(mut job) => {
                    if job.traceparent.is_none() {
                        job.traceparent = crate::broker::traceparent(&delivery.properties);
                    }
                    return Ok(Some(Box::new(AmqpLease {
                        job,
                        attempt,
                        acker: delivery.acker,
                        channel,
                    })));
                }
                Err(e) => {
                    tracing::error!(error = %e, "dead-lettering malformed job message");
                    if let Err(e) = delivery.acker.nack(dead_letter_options()).await {
                        tracing::warn!(error = %e, "could not dead-letter a malformed job");
                    }
                }
            }
        }
    }

    async fn check(&self) -> Result<(), QueueError> {
        self.broker.check().await.map_err(unavailable)
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some((channel, _)) = self.consumer.lock().await.take() {
            if let Err(e) = channel.close(200, "consumer closed").await {
                tracing::warn!(error = %e, "could not close a job consumer's channel");
            }
        }
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
    /// Sends one settlement (ack or nack) and waits for lapin to hand it to
    /// the channel, unless the channel is or becomes closed first: a lost
    /// holder's settlement would otherwise wait for an answer that never
    /// comes, and RabbitMQ has already given the job to someone else.
    async fn settle(
        &self,
        settlement: impl std::future::Future<Output = Result<(), lapin::Error>>,
    ) -> Result<(), QueueError> {
        let lost = || QueueError::LeaseLost(self.job.job_id);
        if !self.channel.status().connected() {
            return Err(lost());
        }
        tokio::select! {
            result = settlement => match result {
                Ok(()) => Ok(()),
                Err(_) if !self.channel.status().connected() => Err(lost()),
                Err(e) => Err(unavailable(e)),
            },
            _ = self.lost() => Err(lost()),
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
        self.settle(self.acker.ack(BasicAckOptions::default()))
            .await
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
        self.settle(self.acker.nack(requeue)).await
    }

    async fn reject(self: Box<Self>) -> Result<(), QueueError> {
        self.settle(self.acker.nack(dead_letter_options())).await
    }
}

/// Dead jobs the control plane holds unacknowledged at a time.
const DEAD_PREFETCH: u16 = 16;

/// The control plane's consumer of `goflix.transcode.dead`.
pub struct AmqpDeadLetters {
    broker: Broker,
    consumer: Mutex<Option<(Channel, Consumer)>>,
}

impl AmqpDeadLetters {
    /// A consumer of the dead-letter queue over `broker`.
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            consumer: Mutex::new(None),
        }
    }
}

/// `x-first-death-reason` of a dead-lettered message (`rejected`, `delivery_limit`, …).
fn death_reason(delivery: &Delivery) -> String {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get("x-first-death-reason").cloned())
        .and_then(|value| match value {
            AMQPValue::LongString(reason) => {
                Some(String::from_utf8_lossy(reason.as_bytes()).into_owned())
            }
            AMQPValue::ShortString(reason) => Some(reason.as_str().to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| "unknown".into())
}

#[async_trait]
impl DeadLetters for AmqpDeadLetters {
    async fn next(&self, shutdown: &Shutdown) -> Result<Option<Box<dyn DeadJob>>, QueueError> {
        let mut consumer = tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            guard = self.consumer.lock() => guard,
        };
        let queue = &self.broker.names().dead;
        loop {
            let Some((_, delivery)) =
                next_delivery(&mut consumer, &self.broker, queue, DEAD_PREFETCH, shutdown).await?
            else {
                return Ok(None);
            };
            match serde_json::from_slice::<TranscodeJob>(&delivery.data) {
                Ok(job) => {
                    return Ok(Some(Box::new(AmqpDeadJob {
                        job,
                        reason: death_reason(&delivery),
                        acker: delivery.acker,
                    })))
                }
                Err(e) => {
                    // Nothing names a video: there is nothing to record.
                    tracing::error!(error = %e, "dropping a malformed dead-lettered job");
                    delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(unavailable)?;
                }
            }
        }
    }
}

/// One dead-lettered job, unacknowledged until recorded.
struct AmqpDeadJob {
    job: TranscodeJob,
    reason: String,
    acker: Acker,
}

#[async_trait]
impl DeadJob for AmqpDeadJob {
    fn job(&self) -> &TranscodeJob {
        &self.job
    }

    fn reason(&self) -> &str {
        &self.reason
    }

    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        self.acker
            .ack(BasicAckOptions::default())
            .await
            .map_err(unavailable)
    }
}
