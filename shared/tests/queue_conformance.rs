//! Conformance suite for [`JobQueue`]: ordering, exclusive leases,
//! redelivery after an expired lease, retry delays and dead-lettering.
//! Runs against the database queue on SQLite and on PostgreSQL
//! (`GOFLIX_TEST_POSTGRES_URL`, a fresh database per test, dropped after).

mod common;

use goflix_shared::domain::{TranscodeJob, VideoId, Visibility};
use goflix_shared::queue::database::{enqueue, job, DatabaseQueue};
use goflix_shared::queue::{JobQueue, QueueError};
use goflix_shared::shutdown::Shutdown;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Schema};
use std::time::Duration;

/// Keeps a test's database alive; removes it when dropped.
enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { server: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Self::Postgres { server, name } = self else {
            return;
        };
        // Drop runs inside the test's runtime: drop the database from a
        // thread with a runtime of its own.
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let admin_url = format!("{server}/postgres");
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let admin = Database::connect(admin_url).await?;
                    admin.execute_unprepared(&sql).await.map(drop)
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {name}: {dropped:?}");
        }
    }
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
    let server = common::service("GOFLIX_TEST_POSTGRES_URL");
    let server = server.trim_end_matches('/').to_string();
    let name = format!("goflix_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let guard = TestDb::Postgres {
        server: server.clone(),
        name: name.clone(),
    };
    let db = Database::connect(format!("{server}/{name}")).await.unwrap();
    create_table(&db).await;
    (guard, db)
}

/// Runs one suite case against SQLite and PostgreSQL.
macro_rules! on_every_database {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn sqlite() {
                let (_guard, db) = super::sqlite().await;
                super::$case(db).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (_guard, db) = super::postgres().await;
                super::$case(db.clone()).await;
                db.close().await.unwrap();
            }
        }
    };
}

on_every_database!(jobs_come_out_in_order_and_once);
on_every_database!(an_expired_lease_is_redelivered_and_the_old_holder_loses_it);
on_every_database!(retries_wait_and_rejections_are_final);
on_every_database!(shutdown_ends_the_wait);

fn job() -> TranscodeJob {
    TranscodeJob {
        job_id: uuid::Uuid::now_v7(),
        video_id: VideoId::new(),
        visibility: Visibility::Public,
    }
}

async fn next_now(queue: &DatabaseQueue) -> Option<Box<dyn goflix_shared::queue::Lease>> {
    let shutdown = Shutdown::new();
    let waiting = queue.next(&shutdown);
    tokio::time::timeout(Duration::from_millis(1500), waiting)
        .await
        .ok()
        .map(|r| r.unwrap().unwrap())
}

async fn jobs_come_out_in_order_and_once(db: DatabaseConnection) {
    let (a, b) = (job(), job());
    enqueue(&db, &a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    enqueue(&db, &b).await.unwrap();
    let worker1 = DatabaseQueue::new(db.clone(), "w1");
    let worker2 = DatabaseQueue::new(db.clone(), "w2");
    let first = next_now(&worker1).await.unwrap();
    let second = next_now(&worker2).await.unwrap();
    assert_eq!(first.job(), &a);
    assert_eq!(second.job(), &b);
    assert_eq!(first.attempt(), 1);
    assert!(next_now(&worker1).await.is_none(), "both jobs are leased");
    first.ack().await.unwrap();
    second.ack().await.unwrap();
    assert!(
        next_now(&worker2).await.is_none(),
        "acked jobs never return"
    );
}

async fn an_expired_lease_is_redelivered_and_the_old_holder_loses_it(db: DatabaseConnection) {
    let a = job();
    enqueue(&db, &a).await.unwrap();
    let crashed = DatabaseQueue::new(db.clone(), "crashed");
    let lease = next_now(&crashed).await.unwrap();
    // Simulate the holder dying: its lease runs out.
    job::Entity::update_many()
        .col_expr(job::Column::LeaseUntil, Expr::value(0i64))
        .exec(&db)
        .await
        .unwrap();
    let survivor = DatabaseQueue::new(db.clone(), "survivor");
    let again = next_now(&survivor).await.unwrap();
    assert_eq!(again.job(), &a);
    assert_eq!(again.attempt(), 2);
    assert!(matches!(
        lease.heartbeat().await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(matches!(lease.ack().await, Err(QueueError::LeaseLost(_))));
    again.heartbeat().await.unwrap();
    again.ack().await.unwrap();
}

async fn retries_wait_and_rejections_are_final(db: DatabaseConnection) {
    let a = job();
    enqueue(&db, &a).await.unwrap();
    let queue = DatabaseQueue::new(db.clone(), "w");
    let lease = next_now(&queue).await.unwrap();
    lease.retry(Duration::from_millis(300)).await.unwrap();
    let again = next_now(&queue).await.expect("redelivered after the delay");
    assert_eq!(again.attempt(), 2);
    again.reject().await.unwrap();
    assert!(next_now(&queue).await.is_none());
}

async fn shutdown_ends_the_wait(db: DatabaseConnection) {
    let queue = DatabaseQueue::new(db, "w");
    let shutdown = Shutdown::new();
    shutdown.cancel();
    assert!(queue.next(&shutdown).await.unwrap().is_none());
    queue.check().await.unwrap();
}
