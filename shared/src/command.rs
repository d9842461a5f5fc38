//! Commands from the control plane to every transcoder worker and every
//! control-API replica ([`Command::CancelJob`], [`Command::RevokeRunner`]). Commands are broadcast and fire-and-forget: every
//! listener gets its own copy of every command sent after it started
//! listening, nothing is kept for later, and a command nobody listens to is
//! dropped. The control plane never depends on delivery: it records the
//! outcome (a cancelled job) in its database first and ignores the stale
//! events of a job that is no longer the video's current one.
//!
//! The embedded channel is an in-process broadcast ([`MemoryCommandBus`]);
//! the production one is RabbitMQ's fanout exchange `goflix.commands`
//! ([`AmqpCommandBus`]), each listener consuming an exclusive, auto-delete,
//! server-named queue bound to it.

use crate::broker::{Broker, BrokerError};
use crate::domain::VideoId;
use crate::events::BusError;
use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use tokio::sync::broadcast;
use uuid::Uuid;

/// One command, serialised as JSON with a `type` tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Stop the job now if it runs; it ends failed with code `cancelled`, not retried.
    #[serde(rename = "job.cancel")]
    CancelJob {
        /// The video the job transcodes.
        video_id: VideoId,
        /// The job to stop (a newer job of the same video keeps running).
        job_id: Uuid,
    },
    /// A remote runner's credential was revoked: the control-API replica
    /// holding its stream closes it and returns its jobs to the queue.
    #[serde(rename = "runner.revoke")]
    RevokeRunner {
        /// The runner.
        runner_id: Uuid,
    },
}

/// Every command sent after the listener started.
pub type CommandStream = Pin<Box<dyn Stream<Item = Command> + Send>>;

/// Where a listener hears commands: the command channel itself, or, for a
/// remote runner, its stream from the control API.
#[async_trait]
pub trait CommandSource: Send + Sync {
    /// Every command sent from now on, to every listener (each worker process gets its own copy).
    async fn listen(&self) -> Result<CommandStream, BusError>;
}

/// Carries commands from the control plane to every worker.
#[async_trait]
pub trait CommandBus: CommandSource {
    /// Sends a command to every listener (broadcast, fire-and-forget after the broker accepted it).
    async fn send(&self, command: Command) -> Result<(), BusError>;
}

/// Commands kept for a listener that falls behind before it loses some.
const MEMORY_CAPACITY: usize = 256;

/// The in-process command channel of `goflix serve`.
#[derive(Clone)]
pub struct MemoryCommandBus {
    sender: broadcast::Sender<Command>,
}

impl Default for MemoryCommandBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(MEMORY_CAPACITY).0,
        }
    }
}

#[async_trait]
impl CommandBus for MemoryCommandBus {
    async fn send(&self, command: Command) -> Result<(), BusError> {
        // No listener is not an error: no worker runs the job.
        let _ = self.sender.send(command);
        Ok(())
    }
}

#[async_trait]
impl CommandSource for MemoryCommandBus {
    async fn listen(&self) -> Result<CommandStream, BusError> {
        Ok(crate::broadcast::stream(
            self.sender.subscribe(),
            "command listener",
        ))
    }
}

fn unavailable(e: BrokerError) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// The command channel over a [`Broker`] (the `goflix.commands` fanout exchange).
#[derive(Clone)]
pub struct AmqpCommandBus {
    broker: Broker,
}

impl AmqpCommandBus {
    /// A command channel over `broker`.
    pub fn new(broker: Broker) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl CommandBus for AmqpCommandBus {
    async fn send(&self, command: Command) -> Result<(), BusError> {
        let payload = serde_json::to_vec(&command).expect("commands serialise");
        let message_id = Uuid::now_v7().to_string();
        match self
            .broker
            .publish(
                &self.broker.names().commands,
                "",
                &message_id,
                &payload,
                crate::trace_context::current().as_deref(),
            )
            .await
        {
            // No worker listens: nobody runs the job.
            Ok(()) | Err(BrokerError::Unroutable(..)) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl CommandSource for AmqpCommandBus {
    async fn listen(&self) -> Result<CommandStream, BusError> {
        let channel = self.broker.channel().await.map_err(unavailable)?;
        let consume = async {
            let queue = channel
                .queue_declare(
                    "",
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    queue.name().as_str(),
                    &self.broker.names().commands,
                    "",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            channel
                .basic_consume(
                    queue.name().as_str(),
                    &format!("goflix-commands-{}", Uuid::now_v7().simple()),
                    BasicConsumeOptions {
                        no_ack: true,
                        ..BasicConsumeOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
        };
        let consumer = consume.await.map_err(|e| unavailable(e.into()))?;
        Ok(Box::pin(
            futures_util::stream::unfold(
                (channel, consumer),
                |(channel, mut consumer)| async move {
                    let delivery = match consumer.next().await? {
                        Ok(delivery) => delivery,
                        Err(e) => {
                            tracing::warn!(error = %e, "command listener broke");
                            return None;
                        }
                    };
                    let command = serde_json::from_slice::<Command>(&delivery.data)
                        .map_err(|e| tracing::warn!(error = %e, "dropping a malformed command"))
                        .ok();
                    Some((command, (channel, consumer)))
                },
            )
            .filter_map(std::future::ready),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_serialise_with_a_type_tag() {
        let command = Command::CancelJob {
            video_id: VideoId::new(),
            job_id: Uuid::now_v7(),
        };
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(json["type"], "job.cancel");
        assert!(json["video_id"].is_string());
        assert!(json["job_id"].is_string());
        assert_eq!(serde_json::from_value::<Command>(json).unwrap(), command);
        let revoke = Command::RevokeRunner {
            runner_id: Uuid::now_v7(),
        };
        let json = serde_json::to_value(&revoke).unwrap();
        assert_eq!(json["type"], "runner.revoke");
        assert_eq!(serde_json::from_value::<Command>(json).unwrap(), revoke);
    }
}
