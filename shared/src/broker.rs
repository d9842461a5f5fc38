//! The RabbitMQ connection shared by the AMQP job queue and event bus
//! (`GOFLIX_QUEUE=amqp://…`): [`AmqpUrl`] with its optional name prefix,
//! one lazily (re)established connection, the topology every role
//! declares, and publishing with confirms and the `mandatory` flag.
//!
//! Topology (names get `{prefix}.` in front when the URL has `?prefix=…`):
//!
//! - `goflix.transcode`: durable quorum queue of jobs, `x-delivery-limit`
//!   of [`MAX_ATTEMPTS`], dead-lettering to `goflix.transcode.dead`;
//! - `goflix.transcode.dead`: durable quorum queue of failed jobs;
//! - `goflix.events`: durable topic exchange, routing key = event type;
//! - `goflix.events.control-api`: durable quorum queue bound to every
//!   event, consumed by the control-api replicas, so events published
//!   while no control-api runs wait for it;
//! - `goflix.commands`: durable fanout exchange of control-plane commands
//!   (see [`crate::command`]); each worker binds a queue of its own.
//!
//! A lost connection or channel is replaced on the next call; callers
//! retry with backoff.

use crate::config::ServiceUrl;
use crate::queue::MAX_ATTEMPTS;
use crate::trace_context::TRACEPARENT;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Persistent delivery mode of AMQP 0-9-1.
const PERSISTENT: u8 = 2;

/// Why a broker call failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker could not be reached or the connection or channel broke.
    #[error("RabbitMQ unavailable: {0}")]
    Unavailable(#[from] lapin::Error),
    /// The broker refused the message (negative confirm).
    #[error("RabbitMQ refused a message to {0}")]
    Nacked(String),
    /// No queue is bound for the message (returned under `mandatory`).
    #[error("message to {0} is unroutable: {1}")]
    Unroutable(String, String),
}

/// The queue and exchange names, with the optional prefix applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The prefix (`""` for none).
    pub prefix: String,
    /// The job queue (`goflix.transcode`).
    pub transcode: String,
    /// Its dead-letter queue (`goflix.transcode.dead`).
    pub dead: String,
    /// The event exchange (`goflix.events`).
    pub events: String,
    /// The control plane's event queue (`goflix.events.control-api`).
    pub control_events: String,
    /// The command exchange (`goflix.commands`).
    pub commands: String,
}

impl Names {
    /// The names under `prefix` (`""` for the names `docs/interface.md` lists).
    pub fn with_prefix(prefix: &str) -> Self {
        let name = |base: &str| {
            if prefix.is_empty() {
                base.to_owned()
            } else {
                format!("{prefix}.{base}")
            }
        };
        Self {
            prefix: prefix.to_owned(),
            transcode: name("goflix.transcode"),
            dead: name("goflix.transcode.dead"),
            events: name("goflix.events"),
            control_events: name("goflix.events.control-api"),
            commands: name("goflix.commands"),
        }
    }
}

/// A `GOFLIX_QUEUE=amqp://…?prefix=p&…` URL, parsed: the URL lapin
/// connects to (without `prefix`) and the names under the prefix. Prints
/// without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    /// The URL lapin connects to.
    connect: ServiceUrl,
    names: Names,
}

impl AmqpUrl {
    /// The queue and exchange names of this URL's prefix.
    pub fn names(&self) -> &Names {
        &self.names
    }
}

impl std::fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpUrl")
            .field("connect", &self.connect)
            .field("prefix", &self.names.prefix)
            .finish()
    }
}

impl std::str::FromStr for AmqpUrl {
    type Err = String;

    /// Splits `amqp://…?prefix=p&…` into the URL lapin reads and the name prefix.
    fn from_str(url: &str) -> Result<Self, String> {
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err("expected amqp://user:password@host:port/vhost".into());
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut prefix = String::new();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.strip_prefix("prefix=") {
                Some(value) => {
                    if !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    {
                        return Err(format!(
                            "prefix {value:?} may hold only letters, digits, '-', '_' and '.'"
                        ));
                    }
                    prefix = value.to_owned();
                }
                None => kept.push(pair),
            }
        }
        let connect = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        connect.parse::<lapin::uri::AMQPUri>()?;
        Ok(Self {
            connect: connect.into(),
            names: Names::with_prefix(&prefix),
        })
    }
}

/// A handle on the broker; cheap to clone, one connection per process.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    url: SecretString,
    names: Names,
    connection_name: String,
    connection: Mutex<Option<Arc<Connection>>>,
    publisher: Mutex<Option<Channel>>,
}

impl Broker {
    /// A broker at `url`; connects on first use. `connection_name` shows
    /// in `rabbitmqctl list_connections name`.
    pub fn new(url: &AmqpUrl, connection_name: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: url.connect.as_str().into(),
                names: url.names.clone(),
                connection_name: connection_name.into(),
                connection: Mutex::new(None),
                publisher: Mutex::new(None),
            }),
        }
    }

    /// The queue and exchange names.
    pub fn names(&self) -> &Names {
        &self.inner.names
    }

    /// The current connection, or a new one (with the topology declared).
    async fn connection(&self) -> Result<Arc<Connection>, BrokerError> {
        let mut current = self.inner.connection.lock().await;
        if let Some(connection) = current.as_ref() {
            if connection.status().connected() {
                return Ok(connection.clone());
            }
        }
        *current = None;
        let properties = ConnectionProperties::default()
            .with_connection_name(self.inner.connection_name.clone().into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection =
            Arc::new(Connection::connect(self.inner.url.expose_secret(), properties).await?);
        connection.on_error(|e| tracing::warn!(error = %e, "RabbitMQ connection lost"));
        declare_topology(&connection.create_channel().await?, &self.inner.names).await?;
        tracing::info!(name = %self.inner.connection_name, "connected to RabbitMQ");
        *current = Some(connection.clone());
        Ok(connection)
    }

    /// A fresh channel on the current connection.
    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        Ok(self.connection().await?.create_channel().await?)
    }

    /// Closes the connection (at shutdown, after the last publish and ack).
    pub async fn close(&self) {
        if let Some(connection) = self.inner.connection.lock().await.take() {
            if let Err(e) = connection.close(200, "shutting down").await {
                tracing::debug!(error = %e, "closing the RabbitMQ connection");
            }
        }
    }

    /// Whether the broker answers (for `/readyz`).
    pub async fn check(&self) -> Result<(), BrokerError> {
        self.connection().await.map(drop)
    }

    /// Publishes one persistent JSON message with `mandatory` (and the
    /// `traceparent` header when given) and waits for the broker's confirm;
    /// an unroutable or refused message is an error.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        message_id: &str,
        payload: &[u8],
        traceparent: Option<&str>,
    ) -> Result<(), BrokerError> {
        let channel = self.publisher().await?;
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_message_id(message_id.into());
        if let Some(traceparent) = traceparent {
            let mut headers = FieldTable::default();
            headers.insert(
                TRACEPARENT.into(),
                AMQPValue::LongString(traceparent.into()),
            );
            properties = properties.with_headers(headers);
        }
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let target = if exchange.is_empty() {
            routing_key
        } else {
            exchange
        };
        let confirmation = async {
            channel
                .basic_publish(exchange, routing_key, options, payload, properties)
                .await?
                .await
        }
        .await;
        match confirmation {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => Err(BrokerError::Unroutable(
                target.to_owned(),
                returned.reply_text.to_string(),
            )),
            Ok(Confirmation::Nack(_)) => Err(BrokerError::Nacked(target.to_owned())),
            Ok(Confirmation::NotRequested) => {
                // The channel lost confirm mode: never trust it again.
                *self.inner.publisher.lock().await = None;
                Err(BrokerError::Nacked(target.to_owned()))
            }
            Err(e) => {
                *self.inner.publisher.lock().await = None;
                Err(e.into())
            }
        }
    }

    /// The publishing channel (in confirm mode), replaced when it broke.
    async fn publisher(&self) -> Result<Channel, BrokerError> {
        let mut current = self.inner.publisher.lock().await;
        if let Some(channel) = current.as_ref() {
            if channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *current = Some(channel.clone());
        Ok(channel)
    }
}

/// The `traceparent` header of a delivered message (see [`crate::trace_context`]).
pub fn traceparent(properties: &BasicProperties) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(TRACEPARENT)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// Declares every queue, exchange and binding (idempotent).
async fn declare_topology(channel: &Channel, names: &Names) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(&names.dead, durable, quorum())
        .await?;
    let mut jobs = quorum();
    jobs.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(MAX_ATTEMPTS as i32),
    );
    jobs.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    jobs.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(names.dead.clone().into()),
    );
    channel
        .queue_declare(&names.transcode, durable, jobs)
        .await?;
    channel
        .exchange_declare(
            &names.events,
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            &names.commands,
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(&names.control_events, durable, quorum())
        .await?;
    channel
        .queue_bind(
            &names.control_events,
            &names.events,
            "#",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel.close(200, "topology declared").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_names_unless_prefixed() {
        let url: AmqpUrl = "amqp://guest:guest@127.0.0.1:5672/%2f".parse().unwrap();
        assert_eq!(url.connect, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(url.names().transcode, "goflix.transcode");
        assert_eq!(url.names().dead, "goflix.transcode.dead");
        assert_eq!(url.names().events, "goflix.events");
        let url: AmqpUrl = "amqp://h/%2f?heartbeat=10&prefix=t123".parse().unwrap();
        assert_eq!(url.connect, "amqp://h/%2f?heartbeat=10");
        assert_eq!(url.names().transcode, "t123.goflix.transcode");
        assert_eq!(url.names().dead, "t123.goflix.transcode.dead");
        assert!("database".parse::<AmqpUrl>().is_err());
        assert!("amqp://h/?prefix=a b".parse::<AmqpUrl>().is_err());
        let printed = format!(
            "{:?}",
            "amqp://u:pw-1@h/%2f?prefix=p".parse::<AmqpUrl>().unwrap()
        );
        assert!(!printed.contains("pw-1"), "{printed}");
    }
}
