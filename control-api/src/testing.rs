//! Fixtures of the unit tests: a migrated in-memory database, a folder
//! store, a user to own rows.

use goflix_shared::store::Store;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

/// A migrated in-memory database and a folder store (kept while the guard lives).
pub(crate) async fn fixture() -> (DatabaseConnection, Store, tempfile::TempDir) {
    let db = crate::connect("sqlite::memory:", 1).await.unwrap();
    crate::migrate(&db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&goflix_shared::config::Storage::Folder(dir.path().into()))
        .await
        .unwrap();
    (db, store, dir)
}

/// Inserts an uploader and returns its id; written as SQLite SQL so tests
/// do not depend on the row types.
pub(crate) async fn insert_uploader(db: &DatabaseConnection) -> Uuid {
    let owner = Uuid::now_v7();
    db.execute(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, 'x', 'uploader', 0)",
        [owner.into(), format!("{owner}@fixture.test").into()],
    ))
    .await
    .unwrap();
    owner
}
