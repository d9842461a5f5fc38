//! The `playback_session_revocations` and `playback_user_revocations`
//! tables: the revocations the control plane publishes to the origins'
//! revocation feed, kept until every playback token they could hit has
//! expired.

use sea_orm_migration::prelude::*;

/// Adds both tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlaybackSessionRevocations {
    Table,
    SessionId,
    Until,
}

#[derive(DeriveIden)]
enum PlaybackUserRevocations {
    Table,
    UserId,
    Before,
    Until,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlaybackSessionRevocations::Table)
                    .col(
                        ColumnDef::new(PlaybackSessionRevocations::SessionId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PlaybackSessionRevocations::Until)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlaybackUserRevocations::Table)
                    .col(
                        ColumnDef::new(PlaybackUserRevocations::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(PlaybackUserRevocations::Before)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PlaybackUserRevocations::Until)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(PlaybackUserRevocations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(PlaybackSessionRevocations::Table)
                    .to_owned(),
            )
            .await
    }
}
