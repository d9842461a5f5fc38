//! Throwaway PostgreSQL databases on `GOFLIX_TEST_POSTGRES_URL`.

use sea_orm::{ConnectionTrait, Database};

/// A database `goflix_test_<uuid>` created for one test; dropped (`WITH
/// (FORCE)`, whoever is still connected) when the guard is.
pub struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    /// Creates the database on the server `GOFLIX_TEST_POSTGRES_URL` names.
    pub async fn create() -> Self {
        let server = crate::var("GOFLIX_TEST_POSTGRES_URL")
            .trim_end_matches('/')
            .to_owned();
        let name = format!("goflix_test_{}", uuid::Uuid::new_v4().simple());
        admin_execute(&server, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating {name} on GOFLIX_TEST_POSTGRES_URL: {e}"));
        Self { server, name }
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = crate::block_on_own_thread(async move { admin_execute(&server, &sql).await });
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// Runs `sql` on the server's `postgres` database.
async fn admin_execute(server: &str, sql: &str) -> Result<(), sea_orm::DbErr> {
    let admin = Database::connect(format!("{server}/postgres")).await?;
    admin.execute_unprepared(sql).await?;
    admin.close().await
}
