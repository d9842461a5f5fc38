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
        let table = || Videos::Table;
        let mut job = ColumnDef::new(Videos::CurrentJobId);
        super::add_column(manager, table(), job.uuid().null()).await?;
        let mut started = ColumnDef::new(Videos::ProcessingStartedAt);
        super::add_column(manager, table(), started.big_integer().null()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Videos::ProcessingStartedAt, Videos::CurrentJobId] {
            super::drop_column(manager, Videos::Table, column).await?;
        }
        Ok(())
    }
}
