//! `videos.codec_job_id` and `videos.codec_version`: the job encoding the
//! ladder of a codec beyond H.264 (`GOFLIX_CODECS`) for the video's
//! current version, and the version holding that ladder once it is done.

use sea_orm_migration::prelude::*;

/// Adds the columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    CodecJobId,
    CodecVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut job = ColumnDef::new(Videos::CodecJobId);
        super::add_column(manager, Videos::Table, job.uuid().null()).await?;
        let mut version = ColumnDef::new(Videos::CodecVersion);
        super::add_column(manager, Videos::Table, version.string().null()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_column(manager, Videos::Table, Videos::CodecVersion).await?;
        super::drop_column(manager, Videos::Table, Videos::CodecJobId).await
    }
}
