//! `videos.live_version` and the `retired_versions` table: the live version
//! a video plays from while it encodes, and the versions a finished job
//! superseded, each deleted from storage once players are done with it.

use sea_orm_migration::prelude::*;

/// Adds the column and the table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    LiveVersion,
}

#[derive(DeriveIden)]
enum RetiredVersions {
    Table,
    VideoId,
    Version,
    DeleteAfter,
}

/// The index the sweep reads by.
const BY_DELETE_AFTER: &str = "retired_versions_by_delete_after";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut live_version = ColumnDef::new(Videos::LiveVersion);
        super::add_column(manager, Videos::Table, live_version.string().null()).await?;
        manager
            .create_table(
                Table::create()
                    .table(RetiredVersions::Table)
                    .col(ColumnDef::new(RetiredVersions::VideoId).uuid().not_null())
                    .col(ColumnDef::new(RetiredVersions::Version).string().not_null())
                    .col(
                        ColumnDef::new(RetiredVersions::DeleteAfter)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RetiredVersions::VideoId)
                            .col(RetiredVersions::Version),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_DELETE_AFTER)
                    .table(RetiredVersions::Table)
                    .col(RetiredVersions::DeleteAfter)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RetiredVersions::Table).to_owned())
            .await?;
        super::drop_column(manager, Videos::Table, Videos::LiveVersion).await
    }
}
