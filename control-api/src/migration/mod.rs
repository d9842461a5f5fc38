//! Schema migrations (sea-orm-migration). The control plane owns the schema
//! of every table in its database, including the shared `jobs` queue table,
//! which is created from [`goflix_shared::queue::database::job::Entity`] so
//! it always matches what the transcoder reads.

mod m20250101_000001_foundation;
mod m20261128_000002_identity;
mod m20261128_000003_notifications;
mod m20261128_000010_playable;
mod m20261128_000011_job_control;
mod m20261128_000012_retired_versions;

use crate::error::ApiError;
use sea_orm::DatabaseConnection;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Every migration, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_foundation::Migration),
            Box::new(m20261128_000002_identity::Migration),
            Box::new(m20261128_000003_notifications::Migration),
            Box::new(m20261128_000010_playable::Migration),
            Box::new(m20261128_000011_job_control::Migration),
            Box::new(m20261128_000012_retired_versions::Migration),
        ]
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), ApiError> {
    Migrator::up(db, None).await?;
    Ok(())
}
