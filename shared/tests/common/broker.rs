//! A RabbitMQ broker for one test: its queue and exchange names carry a
//! prefix of the test's own, and are deleted when the test ends.

use goflix_shared::broker::Broker;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use uuid::Uuid;

/// RabbitMQ names under a prefix of this test's own; deleted when dropped.
pub struct TestBroker {
    url: String,
    prefix: String,
}

impl TestBroker {
    /// Names under `{tag}` plus a random suffix.
    pub fn new(tag: &str) -> Self {
        let server = super::service("GOFLIX_TEST_AMQP_URL");
        let prefix = format!("{tag}{}", &Uuid::new_v4().simple().to_string()[..12]);
        let separator = if server.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{server}{separator}prefix={prefix}"),
            prefix,
        }
    }

    /// A broker handle with a connection of its own.
    pub fn connect(&self, name: &str) -> Broker {
        Broker::new(
            &self.url.parse().unwrap(),
            format!("goflix-conformance-{name}"),
        )
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let server = super::service("GOFLIX_TEST_AMQP_URL");
        let prefix = self.prefix.clone();
        let deleted = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let connection = lapin::Connection::connect(
                        &server,
                        lapin::ConnectionProperties::default()
                            .with_executor(tokio_executor_trait::Tokio::current())
                            .with_reactor(tokio_reactor_trait::Tokio),
                    )
                    .await?;
                    let channel = connection.create_channel().await?;
                    for queue in [
                        "goflix.transcode",
                        "goflix.transcode.dead",
                        "goflix.events.control-api",
                    ] {
                        channel
                            .queue_delete(
                                &format!("{prefix}.{queue}"),
                                QueueDeleteOptions::default(),
                            )
                            .await?;
                    }
                    for exchange in ["goflix.events", "goflix.commands"] {
                        channel
                            .exchange_delete(
                                &format!("{prefix}.{exchange}"),
                                ExchangeDeleteOptions::default(),
                            )
                            .await?;
                    }
                    connection.close(200, "done").await
                })
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!("could not delete test queues {}: {deleted:?}", self.prefix);
        }
    }
}
