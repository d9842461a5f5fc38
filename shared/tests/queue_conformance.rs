//! Conformance suite for [`JobQueue`], run against the database queue on
//! SQLite and PostgreSQL (`GOFLIX_TEST_POSTGRES_URL`, a fresh database per
//! test, dropped after) and against RabbitMQ (`GOFLIX_TEST_AMQP_URL`, queue
//! names under a prefix of the test's own, deleted after).
//!
//! The shared contract: jobs come out oldest first and to one holder at a
//! time; a job is settled only by its holder (an unsettled job returns when
//! its holder is lost, and the old holder can no longer settle it); retries
//! come back after their delay (never before it) with the next attempt
//! number; a rejected job is dead for good; a job whose holders keep dying
//! is handed out [`MAX_ATTEMPTS`] times, then once more for the worker to
//! reject, and ends dead. How a holder is lost differs: the database queue
//! lets its lease run out; RabbitMQ returns the deliveries of a closed
//! connection (here the holder's own connection is closed;
//! `tests/suite/distributed_faults.rs` kills real processes) and dead-letters a
//! job delivered past its limit by itself.

use goflix_testkit::postgres::TestDatabase;
use goflix_testkit::rabbitmq::TestBroker;

use goflix_shared::broker::Broker;
use goflix_shared::domain::{TranscodeJob, VideoId};
use goflix_shared::queue::amqp::{AmqpDeadLetters, AmqpPublisher, AmqpQueue};
use goflix_shared::queue::database::{enqueue, job, DatabaseQueue};
use goflix_shared::queue::{DeadLetters, JobPublisher, JobQueue, Lease, QueueError, MAX_ATTEMPTS};
use goflix_shared::shutdown::Shutdown;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, Schema,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Longest wait for something that must happen (a dead letter arriving).
const PATIENCE: Duration = Duration::from_secs(30);

/// Keeps a test's database alive; removes it when dropped.
enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { _database: TestDatabase },
}

async fn create_table(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    let stmt = Schema::new(backend).create_table_from_entity(job::Entity);
    db.execute(backend.build(&stmt)).await.unwrap();
}

async fn sqlite() -> (TestDb, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("q.db").display());
    let db = Database::connect(url).await.unwrap();
    create_table(&db).await;
    (TestDb::Sqlite { _dir: dir }, db)
}

/// A fresh database `goflix_test_<uuid>` on the test PostgreSQL.
async fn postgres() -> (TestDb, DatabaseConnection) {
    let database = TestDatabase::create().await;
    let db = Database::connect(database.url()).await.unwrap();
    create_table(&db).await;
    (
        TestDb::Postgres {
            _database: database,
        },
        db,
    )
}

/// One queue implementation under test and what the suite does to it.
// Built once per test, so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Backend {
    Database {
        db: DatabaseConnection,
    },
    Amqp {
        broker: TestBroker,
        publisher: AmqpPublisher,
        dead: AmqpDeadLetters,
    },
}

/// A worker's view of the queue.
struct Consumer {
    name: String,
    queue: Arc<dyn JobQueue>,
    /// RabbitMQ only: the consumer's own connection.
    broker: Option<Broker>,
}

impl Backend {
    fn amqp() -> Self {
        let broker = TestBroker::new("tq");
        Self::Amqp {
            publisher: AmqpPublisher::new(broker.connect("publisher")),
            dead: AmqpDeadLetters::new(broker.connect("dead-letters")),
            broker,
        }
    }

    async fn enqueue(&self, job: &TranscodeJob) {
        match self {
            Self::Database { db } => enqueue(db, job).await.unwrap(),
            Self::Amqp { publisher, .. } => publisher.publish(job).await.unwrap(),
        }
    }

    fn consumer(&self, name: &str) -> Consumer {
        match self {
            Self::Database { db } => Consumer {
                name: name.to_owned(),
                queue: Arc::new(DatabaseQueue::new(db.clone(), name)),
                broker: None,
            },
            Self::Amqp { broker, .. } => {
                let broker = broker.connect(name);
                Consumer {
                    name: name.to_owned(),
                    queue: Arc::new(AmqpQueue::new(broker.clone(), 1)),
                    broker: Some(broker),
                }
            }
        }
    }

    /// Makes `consumer` lose what it holds, as if its process died.
    async fn lose(&self, consumer: &Consumer) {
        match self {
            // Its leases run out.
            Self::Database { db } => {
                job::Entity::update_many()
                    .col_expr(job::Column::LeaseUntil, Expr::value(0i64))
                    .filter(job::Column::LeaseOwner.eq(consumer.name.clone()))
                    .exec(db)
                    .await
                    .unwrap();
            }
            // Its connection closes.
            Self::Amqp { .. } => consumer.broker.as_ref().unwrap().close().await,
        }
    }

    /// Waits until `job` is dead; returns the queue's reason where it keeps one.
    async fn dead(&self, job: &TranscodeJob) -> Option<String> {
        match self {
            Self::Database { db } => {
                let row = job::Entity::find_by_id(job.job_id)
                    .one(db)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(row.state, "dead", "{row:?}");
                None
            }
            Self::Amqp { dead, .. } => {
                let letter = tokio::time::timeout(PATIENCE, dead.next(&Shutdown::new()))
                    .await
                    .expect("the job reaches the dead-letter queue")
                    .unwrap()
                    .unwrap();
                assert_eq!(letter.job(), job);
                let reason = letter.reason().to_owned();
                letter.ack().await.unwrap();
                Some(reason)
            }
        }
    }
}

/// Runs one suite case against SQLite, PostgreSQL and RabbitMQ.
macro_rules! on_every_backend {
    ($case:ident) => {
        mod $case {
            use super::Backend;

            #[tokio::test]
            async fn sqlite() {
                let (_guard, db) = super::sqlite().await;
                super::$case(&Backend::Database { db }).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (_guard, db) = super::postgres().await;
                super::$case(&Backend::Database { db: db.clone() }).await;
                db.close().await.unwrap();
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn amqp() {
                super::$case(&Backend::amqp()).await;
            }
        }
    };
}

on_every_backend!(jobs_come_out_in_order_and_to_one_holder);
on_every_backend!(retries_wait_and_rejections_are_final);
on_every_backend!(shutdown_ends_the_wait);
on_every_backend!(an_unsettled_job_returns_when_its_holder_is_lost);
on_every_backend!(a_job_whose_holders_keep_dying_ends_dead);

/// RabbitMQ only (the database queue's consumers hold nothing): closing a
/// consumer returns what it holds once, and it never consumes again, even
/// when a job loop asks it after the close (a control-API replica closes
/// a runner session's consumer while its slots wind down).
#[tokio::test]
async fn a_closed_consumer_returns_its_jobs_once_and_takes_no_more() {
    let backend = Backend::amqp();
    let a = job();
    backend.enqueue(&a).await;
    let session = backend.consumer("session");
    let lease = next_now(&session).await.unwrap();
    session.queue.close().await;
    tokio::time::timeout(PATIENCE, lease.lost())
        .await
        .expect("its holder learns the job went back");
    let after = tokio::time::timeout(PATIENCE, session.queue.next(&Shutdown::new()))
        .await
        .expect("a closed consumer answers at once")
        .unwrap();
    assert!(after.is_none(), "a closed consumer took a job again");
    let survivor = backend.consumer("survivor");
    let again = next_now(&survivor).await.unwrap();
    assert_eq!(again.job(), &a);
    assert_eq!(again.attempt(), 2, "returned once, counted once");
    again.ack().await.unwrap();
}

fn job() -> TranscodeJob {
    TranscodeJob {
        job_id: Uuid::now_v7(),
        video_id: VideoId::new(),
        // Every backend carries the trace context with the job.
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
        profile: Default::default(),
    }
}

/// The next job, or `None` if none comes within a moment.
async fn next_now(consumer: &Consumer) -> Option<Box<dyn Lease>> {
    let shutdown = Shutdown::new();
    let waiting = consumer.queue.next(&shutdown);
    tokio::time::timeout(Duration::from_millis(1500), waiting)
        .await
        .ok()
        .map(|r| r.unwrap().unwrap())
}

async fn jobs_come_out_in_order_and_to_one_holder(backend: &Backend) {
    let (a, b) = (job(), job());
    backend.enqueue(&a).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    backend.enqueue(&b).await;
    let worker1 = backend.consumer("w1");
    let worker2 = backend.consumer("w2");
    let first = next_now(&worker1).await.unwrap();
    let second = next_now(&worker2).await.unwrap();
    assert_eq!(first.job(), &a);
    assert_eq!(second.job(), &b);
    assert_eq!(first.attempt(), 1);
    assert_eq!(second.attempt(), 1);
    assert!(next_now(&worker1).await.is_none(), "both jobs are held");
    first.heartbeat().await.unwrap();
    first.ack().await.unwrap();
    second.ack().await.unwrap();
    assert!(
        next_now(&worker2).await.is_none(),
        "acked jobs never return"
    );
    assert!(next_now(&worker1).await.is_none());
}

async fn an_unsettled_job_returns_when_its_holder_is_lost(backend: &Backend) {
    let a = job();
    backend.enqueue(&a).await;
    let crashed = backend.consumer("crashed");
    let lease = next_now(&crashed).await.unwrap();
    backend.lose(&crashed).await;
    let survivor = backend.consumer("survivor");
    let again = next_now(&survivor).await.unwrap();
    assert_eq!(again.job(), &a);
    assert_eq!(again.attempt(), 2);
    if let Backend::Amqp { .. } = backend {
        // RabbitMQ tells the holder; the database queue tells it at its next heartbeat.
        tokio::time::timeout(PATIENCE, lease.lost())
            .await
            .expect("a holder whose channel closed learns it lost the job");
    }
    assert!(matches!(
        lease.heartbeat().await,
        Err(QueueError::LeaseLost(_))
    ));
    // The old holder can no longer settle it, and learns so at once.
    let settled = tokio::time::timeout(PATIENCE, lease.ack())
        .await
        .expect("a lost holder's ack returns");
    assert!(
        matches!(settled, Err(QueueError::LeaseLost(_))),
        "{settled:?}"
    );
    again.heartbeat().await.unwrap();
    again.ack().await.unwrap();
    assert!(next_now(&survivor).await.is_none());
}

async fn retries_wait_and_rejections_are_final(backend: &Backend) {
    let a = job();
    backend.enqueue(&a).await;
    let worker = backend.consumer("w");
    let lease = next_now(&worker).await.unwrap();
    let delay = Duration::from_millis(1200);
    let retried = Instant::now();
    lease.retry(delay).await.unwrap();
    // Nothing comes back before the delay is over, then the job does.
    let again = tokio::time::timeout(PATIENCE, worker.queue.next(&Shutdown::new()))
        .await
        .expect("redelivered after the delay")
        .unwrap()
        .unwrap();
    // (The database queue keeps times in whole milliseconds.)
    let waited = retried.elapsed() + Duration::from_millis(1);
    assert!(waited >= delay, "redelivered after {waited:?} of {delay:?}");
    assert_eq!(again.job(), &a);
    assert_eq!(again.attempt(), 2);
    again.reject().await.unwrap();
    if let Some(reason) = backend.dead(&a).await {
        assert_eq!(reason, "rejected");
    }
    assert!(next_now(&worker).await.is_none());
}

async fn a_job_whose_holders_keep_dying_ends_dead(backend: &Backend) {
    let a = job();
    backend.enqueue(&a).await;
    for attempt in 1..=MAX_ATTEMPTS {
        let holder = backend.consumer(&format!("dies-{attempt}"));
        let lease = next_now(&holder).await.expect("delivered again");
        assert_eq!(lease.job(), &a);
        assert_eq!(lease.attempt(), attempt);
        backend.lose(&holder).await;
    }
    // Every queue hands out the attempt past the limit, which the worker
    // rejects without processing it…
    let last = backend.consumer("last");
    let lease = next_now(&last).await.expect("delivered once more");
    assert_eq!(lease.job(), &a);
    assert_eq!(lease.attempt(), MAX_ATTEMPTS + 1);
    match backend {
        // …and should that holder die too, RabbitMQ's delivery limit
        // (delivery count over `MAX_ATTEMPTS`) dead-letters the job by itself.
        Backend::Amqp { .. } => {
            backend.lose(&last).await;
            assert_eq!(backend.dead(&a).await.as_deref(), Some("delivery_limit"));
        }
        Backend::Database { .. } => {
            lease.reject().await.unwrap();
            backend.dead(&a).await;
        }
    }
    assert!(next_now(&backend.consumer("after")).await.is_none());
}

async fn shutdown_ends_the_wait(backend: &Backend) {
    let consumer = backend.consumer("w");
    let shutdown = Shutdown::new();
    shutdown.cancel();
    assert!(consumer.queue.next(&shutdown).await.unwrap().is_none());
    consumer.queue.check().await.unwrap();
}
