//! The lock every change to a tus upload holds ([`lock`]): a mutex in this
//! process, so requests to one upload queue up here without holding
//! database connections, and on PostgreSQL also the row's `FOR UPDATE`
//! lock, in a transaction kept open until the change commits, which
//! serialises replicas. SQLite deployments are one process (`goflix
//! serve`), where the mutex is enough; there no transaction stays open
//! while a body streams in (SQLite has one writer for the whole file), and
//! the change is written in a short transaction at the end.

use crate::db::upload;
use crate::error::ApiError;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QuerySelect,
    TransactionTrait,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// The in-process mutexes, one per upload being changed.
#[derive(Default)]
pub struct UploadLocks(Mutex<HashMap<Uuid, Weak<tokio::sync::Mutex<()>>>>);

impl UploadLocks {
    async fn acquire(&self, id: Uuid) -> OwnedMutexGuard<()> {
        let mutex = {
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.retain(|_, held| held.strong_count() > 0);
            match map.get(&id).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(id, Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        mutex.lock_owned().await
    }
}

/// An upload's row, read under its lock.
pub(super) struct Locked {
    /// The row as the lock found it.
    pub row: upload::Model,
    /// PostgreSQL: the transaction holding the row lock.
    txn: Option<DatabaseTransaction>,
    _guard: OwnedMutexGuard<()>,
}

/// Locks upload `id`; `None` when there is no such upload.
pub(super) async fn lock(
    locks: &UploadLocks,
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<Locked>, ApiError> {
    let guard = locks.acquire(id).await;
    let (row, txn) = if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        let row = upload::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?;
        (row, Some(txn))
    } else {
        (upload::Entity::find_by_id(id).one(db).await?, None)
    };
    Ok(row.map(|row| Locked {
        row,
        txn,
        _guard: guard,
    }))
}

impl Locked {
    /// The transaction to write the change in: the one holding the row
    /// lock, or a new one. Keep `self` until it is committed.
    pub(super) async fn transaction(
        &mut self,
        db: &DatabaseConnection,
    ) -> Result<DatabaseTransaction, ApiError> {
        match self.txn.take() {
            Some(txn) => Ok(txn),
            None => Ok(db.begin().await?),
        }
    }
}
