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
mod m20261202_000020_playback_revocations;
mod m20261202_000021_single_use_tokens;
mod m20261202_000030_uploads;
mod m20261202_000031_imports;
mod m20261203_000040_runners;
mod m20261203_000050_captions;
mod m20261203_000060_downloads;
mod m20261206_000070_download_remux;
mod m20261207_000080_codec_ladders;

use crate::error::ApiError;
use sea_orm::DatabaseConnection;
use sea_orm_migration::prelude::*;
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
            Box::new(m20261202_000020_playback_revocations::Migration),
            Box::new(m20261202_000021_single_use_tokens::Migration),
            Box::new(m20261202_000030_uploads::Migration),
            Box::new(m20261202_000031_imports::Migration),
            Box::new(m20261203_000040_runners::Migration),
            Box::new(m20261203_000050_captions::Migration),
            Box::new(m20261203_000060_downloads::Migration),
            Box::new(m20261206_000070_download_remux::Migration),
            Box::new(m20261207_000080_codec_ladders::Migration),
        ]
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), ApiError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Adds one column to `table` (SQLite alters one column per statement).
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

/// Drops one column of `table`.
async fn drop_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_migration_goes_down_and_up_again() {
        let db = crate::connect("sqlite::memory:", 1).await.unwrap();
        migrate(&db).await.unwrap();
        Migrator::down(&db, None).await.unwrap();
        migrate(&db).await.unwrap();
    }
}
