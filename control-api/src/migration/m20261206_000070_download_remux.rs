//! `videos.download_lease_until`: which control-plane process remuxes the
//! download of a ready video that turned downloads on, until when
//! (Unix milliseconds; 0 when none does).

use sea_orm_migration::prelude::*;

/// Adds the column.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    DownloadLeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut lease = ColumnDef::new(Videos::DownloadLeaseUntil);
        lease.big_integer().not_null().default(0);
        super::add_column(manager, Videos::Table, &mut lease).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_column(manager, Videos::Table, Videos::DownloadLeaseUntil).await
    }
}
