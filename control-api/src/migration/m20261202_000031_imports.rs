//! The `imports` table: URL imports still running, with the lease of the
//! process running each (see `crate::db::import`).

use sea_orm_migration::prelude::*;

/// Adds the table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Imports {
    Table,
    VideoId,
    Url,
    Traceparent,
    Attempts,
    LeaseToken,
    LeaseUntil,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
}

/// The index the take-over of expired leases reads by.
const BY_LEASE_UNTIL: &str = "imports_by_lease_until";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Imports::Table)
                    .col(
                        ColumnDef::new(Imports::VideoId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Imports::Url).text().not_null())
                    .col(ColumnDef::new(Imports::Traceparent).string().null())
                    .col(ColumnDef::new(Imports::Attempts).integer().not_null())
                    .col(ColumnDef::new(Imports::LeaseToken).uuid().null())
                    .col(ColumnDef::new(Imports::LeaseUntil).big_integer().not_null())
                    .col(ColumnDef::new(Imports::CreatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Imports::Table, Imports::VideoId)
                            .to(Videos::Table, Videos::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_LEASE_UNTIL)
                    .table(Imports::Table)
                    .col(Imports::LeaseUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Imports::Table).to_owned())
            .await
    }
}
