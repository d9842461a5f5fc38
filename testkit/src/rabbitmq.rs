//! RabbitMQ on `GOFLIX_TEST_AMQP_URL` under a name prefix of the test's
//! own: every queue and exchange of [`Names`] is deleted with the guard.

use goflix_shared::broker::{Broker, Names};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

/// Queue and exchange names under `{tag}` and a random suffix; deleted when
/// dropped (the queues the roles bind of their own are exclusive and go with
/// their connections).
pub struct TestBroker {
    server: String,
    names: Names,
}

impl TestBroker {
    /// Names under `{tag}` followed by 12 random hex digits.
    pub fn new(tag: &str) -> Self {
        let prefix = format!("{tag}{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Self {
            server: crate::var("GOFLIX_TEST_AMQP_URL"),
            names: Names::with_prefix(&prefix),
        }
    }

    /// The `GOFLIX_QUEUE` URL of these names (`…?prefix=…`).
    pub fn url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{separator}prefix={}", self.server, self.names.prefix)
    }

    /// The server's URL, without the prefix.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.names.prefix
    }

    /// The queue and exchange names under the prefix.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// A broker handle with a connection of its own, named
    /// `goflix-conformance-{name}`.
    pub fn connect(&self, name: &str) -> Broker {
        Broker::new(
            &self
                .url()
                .parse()
                .expect("GOFLIX_TEST_AMQP_URL is an amqp:// URL"),
            format!("goflix-conformance-{name}"),
        )
    }

    /// How many messages wait in `queue` (one of [`TestBroker::names`]).
    pub async fn message_count(&self, queue: &str) -> u32 {
        let connection = connect(&self.server).await.expect("connecting to RabbitMQ");
        let channel = connection.create_channel().await.unwrap();
        let declared = channel
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("queue {queue}: {e}"));
        let _ = connection.close(200, "done").await;
        declared.message_count()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let (server, names) = (self.server.clone(), self.names.clone());
        let deleted = crate::block_on_own_thread(async move {
            let connection = connect(&server).await?;
            let channel = connection.create_channel().await?;
            for queue in [&names.transcode, &names.dead, &names.control_events] {
                channel
                    .queue_delete(queue, QueueDeleteOptions::default())
                    .await?;
            }
            for exchange in [&names.events, &names.commands] {
                channel
                    .exchange_delete(exchange, ExchangeDeleteOptions::default())
                    .await?;
            }
            connection.close(200, "done").await
        });
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "could not delete the test queues {}: {deleted:?}",
                self.names.prefix
            );
        }
    }
}

async fn connect(url: &str) -> Result<Connection, lapin::Error> {
    Connection::connect(
        url,
        ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await
}
