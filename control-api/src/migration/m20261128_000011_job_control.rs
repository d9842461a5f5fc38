//! `videos.current_job_id` and `videos.processing_started_at`: the job
//! whose events may still move the video (events of an older, cancelled or
//! replaced job are ignored), and when a worker started it (for `eta_s`).

use sea_orm_migration::prelude::*;

/// Adds both columns, one statement each (SQLite alters one column at a time).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    CurrentJobId,
    ProcessingStartedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .add_column(ColumnDef::new(Videos::CurrentJobId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .add_column(
                        ColumnDef::new(Videos::ProcessingStartedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Videos::ProcessingStartedAt, Videos::CurrentJobId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Videos::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
