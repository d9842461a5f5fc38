//! Conformance suite for [`CommandBus`], run against the in-process channel
//! and against RabbitMQ (`GOFLIX_TEST_AMQP_URL`, exchange under a prefix of
//! the test's own, deleted after).
//!
//! The contract: every listener gets its own copy of every command sent
//! after it started listening, intact; a command sent before a listener
//! started is not delivered to it.

use goflix_testkit::rabbitmq::TestBroker;

use futures_util::StreamExt;
use goflix_shared::command::{Command, CommandBus, CommandStream};
use goflix_shared::domain::VideoId;
use std::time::Duration;

/// Longest wait for a command that must arrive.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs one case against the in-process channel and RabbitMQ.
macro_rules! on_every_bus {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn memory() {
                super::$case(&goflix_shared::command::MemoryCommandBus::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn amqp() {
                let broker = super::TestBroker::new("tc");
                super::$case(&goflix_shared::command::AmqpCommandBus::new(
                    broker.connect("commands"),
                ))
                .await;
            }
        }
    };
}

on_every_bus!(every_listener_gets_every_command);
on_every_bus!(commands_sent_before_listening_are_not_delivered);

fn cancel() -> Command {
    Command::CancelJob {
        video_id: VideoId::new(),
        job_id: uuid::Uuid::now_v7(),
    }
}

/// The next command, failing the test if none comes.
async fn next(stream: &mut CommandStream) -> Command {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("a command arrives")
        .expect("the listener stays open")
}

async fn every_listener_gets_every_command(bus: &dyn CommandBus) {
    let mut a = bus.listen().await.unwrap();
    let mut b = bus.listen().await.unwrap();
    let (first, second) = (cancel(), cancel());
    bus.send(first.clone()).await.unwrap();
    bus.send(second.clone()).await.unwrap();
    for listener in [&mut a, &mut b] {
        assert_eq!(next(listener).await, first);
        assert_eq!(next(listener).await, second);
    }
}

async fn commands_sent_before_listening_are_not_delivered(bus: &dyn CommandBus) {
    // With nobody listening, sending succeeds and the command is dropped.
    bus.send(cancel()).await.unwrap();
    let mut late = bus.listen().await.unwrap();
    let after = cancel();
    bus.send(after.clone()).await.unwrap();
    assert_eq!(
        next(&mut late).await,
        after,
        "the earlier command is not replayed"
    );
}
