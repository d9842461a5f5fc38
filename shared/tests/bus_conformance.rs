//! Conformance suite for [`EventBus`], run against the in-process bus and
//! against RabbitMQ (`GOFLIX_TEST_AMQP_URL`, exchange and queue names under
//! a prefix of the test's own, deleted after).
//!
//! The shared contract: an event published after a subscription was made
//! reaches it intact (every kind, with `video_id` and `at`), and events of
//! one publisher arrive in the order they were published. The mechanisms
//! differ beyond that and are tested per backend: the in-process bus fans
//! every event out to every subscriber and keeps nothing for later;
//! RabbitMQ keeps events for the control plane while no subscriber runs
//! and delivers again an event whose subscriber died while applying it.

use goflix_testkit::rabbitmq::TestBroker;

use futures_util::StreamExt;
use goflix_shared::domain::{FailureCode, Rendition, RenditionKind, VideoId};
use goflix_shared::events::amqp::AmqpBus;
use goflix_shared::events::{Event, EventBus, EventKind, EventSink, EventStream, MemoryBus};
use std::time::Duration;

/// Longest wait for an event that must arrive.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs one shared case against the in-process bus and RabbitMQ.
macro_rules! on_every_bus {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn memory() {
                super::$case(&goflix_shared::events::MemoryBus::default()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn amqp() {
                let broker = super::TestBroker::new("tb");
                super::$case(&goflix_shared::events::amqp::AmqpBus::new(
                    broker.connect("bus"),
                ))
                .await;
            }
        }
    };
}

on_every_bus!(every_kind_arrives_intact);
on_every_bus!(events_of_one_publisher_arrive_in_order);

/// One event of every kind, about one video.
fn every_kind() -> Vec<Event> {
    let video = VideoId::new();
    let rendition = Rendition {
        name: "360p".into(),
        kind: RenditionKind::Video,
        width: Some(640),
        height: Some(360),
        frame_rate: Some(30.0),
        codecs: "avc1.64001e".into(),
        bandwidth: 900_000,
        average_bandwidth: 800_000,
        language: None,
        label: None,
        default: false,
        channels: None,
    };
    [
        EventKind::Queued,
        EventKind::Processing { attempt: 2 },
        EventKind::Progress { progress: 0.25 },
        EventKind::RenditionReady {
            rendition: rendition.clone(),
        },
        EventKind::Ready {
            version: "0193abc".into(),
            duration_s: 12.5,
            renditions: vec![rendition],
            captions: Vec::new(),
            download: None,
        },
        EventKind::Failed {
            code: FailureCode::DecodeFailed,
            message: "the master is truncated".into(),
        },
    ]
    .into_iter()
    .map(|kind| Event::now(video, kind))
    .collect()
}

/// The next event, failing the test if none comes.
async fn next(stream: &mut EventStream) -> Event {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("an event arrives")
        .expect("the subscription stays open")
}

async fn every_kind_arrives_intact(bus: &dyn EventBus) {
    let mut stream = bus.subscribe().await.unwrap();
    let events = every_kind();
    for event in &events {
        bus.publish(event.clone()).await.unwrap();
    }
    for event in &events {
        assert_eq!(&next(&mut stream).await, event);
    }
}

async fn events_of_one_publisher_arrive_in_order(bus: &dyn EventBus) {
    let mut stream = bus.subscribe().await.unwrap();
    let video = VideoId::new();
    let events: Vec<Event> = (1..=50)
        .map(|n| {
            Event::now(
                video,
                EventKind::Progress {
                    progress: f64::from(n) / 50.0,
                },
            )
        })
        .collect();
    for event in &events {
        bus.publish(event.clone()).await.unwrap();
    }
    for event in &events {
        assert_eq!(&next(&mut stream).await, event);
    }
}

#[tokio::test]
async fn memory_bus_fans_out_and_keeps_nothing_for_later() {
    let bus = MemoryBus::default();
    let before = Event::now(VideoId::new(), EventKind::Queued);
    bus.publish(before).await.unwrap();
    let mut a = bus.subscribe().await.unwrap();
    let mut b = bus.subscribe().await.unwrap();
    let after = Event::now(VideoId::new(), EventKind::Queued);
    bus.publish(after.clone()).await.unwrap();
    assert_eq!(
        next(&mut a).await,
        after,
        "the earlier event is not replayed"
    );
    assert_eq!(next(&mut b).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_bus_keeps_events_until_a_subscriber_comes() {
    let broker = TestBroker::new("tb");
    let publisher = AmqpBus::new(broker.connect("publisher"));
    // Declares the topology, as a control-api that ran before would have.
    drop(publisher.subscribe().await.unwrap());
    let event = Event::now(VideoId::new(), EventKind::Queued);
    publisher.publish(event.clone()).await.unwrap();
    let subscriber = AmqpBus::new(broker.connect("subscriber"));
    let mut stream = subscriber.subscribe().await.unwrap();
    assert_eq!(next(&mut stream).await, event);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_bus_redelivers_an_event_whose_subscriber_died_applying_it() {
    let broker = TestBroker::new("tb");
    let publisher = AmqpBus::new(broker.connect("publisher"));
    let dying = broker.connect("dying");
    let mut stream = AmqpBus::new(dying.clone()).subscribe().await.unwrap();
    let (first, second) = (
        Event::now(VideoId::new(), EventKind::Queued),
        Event::now(VideoId::new(), EventKind::Queued),
    );
    publisher.publish(first.clone()).await.unwrap();
    publisher.publish(second.clone()).await.unwrap();
    assert_eq!(next(&mut stream).await, first);
    // Dies while applying `first` (acknowledged only on the next pull).
    dying.close().await;
    drop(stream);
    let mut stream = AmqpBus::new(broker.connect("successor"))
        .subscribe()
        .await
        .unwrap();
    assert_eq!(next(&mut stream).await, first);
    assert_eq!(next(&mut stream).await, second);
}
