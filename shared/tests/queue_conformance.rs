//! Conformance suite for [`JobQueue`]: ordering, exclusive leases,
//! redelivery after an expired lease, retry delays and dead-lettering.
//! Runs against the database queue on SQLite.

use goflix_shared::domain::{TranscodeJob, VideoId, Visibility};
use goflix_shared::queue::database::{enqueue, job, DatabaseQueue};
use goflix_shared::queue::{JobQueue, QueueError};
use goflix_shared::shutdown::Shutdown;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Schema};
use std::time::Duration;

async fn sqlite() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("q.db").display());
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let stmt = Schema::new(backend).create_table_from_entity(job::Entity);
    db.execute(backend.build(&stmt)).await.unwrap();
    (dir, db)
}

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

#[tokio::test]
async fn jobs_come_out_in_order_and_once() {
    let (_dir, db) = sqlite().await;
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

#[tokio::test]
async fn an_expired_lease_is_redelivered_and_the_old_holder_loses_it() {
    let (_dir, db) = sqlite().await;
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

#[tokio::test]
async fn retries_wait_and_rejections_are_final() {
    let (_dir, db) = sqlite().await;
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

#[tokio::test]
async fn shutdown_ends_the_wait() {
    let (_dir, db) = sqlite().await;
    let queue = DatabaseQueue::new(db, "w");
    let shutdown = Shutdown::new();
    shutdown.cancel();
    assert!(queue.next(&shutdown).await.unwrap().is_none());
    queue.check().await.unwrap();
}
