//! RabbitMQ as event bus: events are persistent JSON messages on the topic
//! exchange `goflix.events` with the event type as routing key, published
//! with confirms and `mandatory`. A publish that fails (the connection is
//! down) is retried on a fresh connection with backoff for up to
//! [`PUBLISH_PATIENCE`], so a short broker outage loses no `video.ready`.
//!
//! Subscribers consume the durable queue `goflix.events.control-api`. An
//! event is acknowledged when the subscriber asks for the next one, i.e.
//! after it has been applied: one being applied when the subscriber died is
//! delivered again (applying events is idempotent).

use super::{BusError, Event, EventBus, EventSink, EventStream};
use crate::broker::{Broker, BrokerError};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::acker::Acker;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use std::time::{Duration, Instant};

/// How long a publish keeps retrying through a broker outage.
pub const PUBLISH_PATIENCE: Duration = Duration::from_secs(60);
/// Unacknowledged events a subscriber holds.
const SUBSCRIBER_PREFETCH: u16 = 64;

fn unavailable(e: BrokerError) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// The bus over a [`Broker`].
#[derive(Clone)]
pub struct AmqpBus {
    broker: Broker,
}

impl AmqpBus {
    /// A bus over `broker`.
    pub fn new(broker: Broker) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl EventSink for AmqpBus {
    async fn publish(&self, event: Event) -> Result<(), BusError> {
        let payload = serde_json::to_vec(&event).expect("events serialise");
        let message_id = uuid::Uuid::now_v7().to_string();
        let started = Instant::now();
        let mut backoff = Duration::from_millis(200);
        loop {
            match self
                .broker
                .publish(
                    &self.broker.names().events,
                    event.kind.name(),
                    &message_id,
                    &payload,
                    event.traceparent.as_deref(),
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) if started.elapsed() + backoff > PUBLISH_PATIENCE => {
                    return Err(unavailable(e))
                }
                Err(e) => {
                    tracing::debug!(error = %e, ?backoff, "event publish failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[async_trait]
impl EventBus for AmqpBus {
    async fn subscribe(&self) -> Result<EventStream, BusError> {
        let channel = self.broker.channel().await.map_err(unavailable)?;
        let consume = async {
            channel
                .basic_qos(SUBSCRIBER_PREFETCH, BasicQosOptions::default())
                .await?;
            let tag = format!("goflix-events-{}", uuid::Uuid::now_v7().simple());
            channel
                .basic_consume(
                    &self.broker.names().control_events,
                    &tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
        };
        let consumer = consume.await.map_err(|e| unavailable(e.into()))?;
        Ok(Box::pin(futures_util::stream::unfold(
            Subscription {
                _channel: channel,
                consumer,
                applied: None,
            },
            Subscription::next,
        )))
    }
}

/// A consumer and the delivery handed out last (acked on the next pull).
struct Subscription {
    /// Kept so the channel lives as long as the stream.
    _channel: Channel,
    consumer: Consumer,
    applied: Option<Acker>,
}

impl Subscription {
    async fn next(mut self) -> Option<(Event, Self)> {
        if let Some(acker) = self.applied.take() {
            if let Err(e) = acker.ack(BasicAckOptions::default()).await {
                tracing::warn!(error = %e, "could not acknowledge an event; it will be applied again");
                return None;
            }
        }
        loop {
            let delivery = match self.consumer.next().await? {
                Ok(delivery) => delivery,
                Err(e) => {
                    tracing::warn!(error = %e, "event subscription broke");
                    return None;
                }
            };
            match serde_json::from_slice::<Event>(&delivery.data) {
                Ok(mut event) => {
                    if event.traceparent.is_none() {
                        event.traceparent = crate::broker::traceparent(&delivery.properties);
                    }
                    self.applied = Some(delivery.acker);
                    return Some((event, self));
                }
                Err(e) => {
                    tracing::warn!(error = %e, routing_key = %delivery.routing_key, "dropping a malformed event");
                    if delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .is_err()
                    {
                        return None;
                    }
                }
            }
        }
    }
}
