//! `videos.downloads` and `videos.download_version`: whether a video
//! offers a downloadable progressive MP4, and the version whose
//! `download.mp4` it is.

use sea_orm_migration::prelude::*;

/// Adds the columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Downloads,
    DownloadVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut downloads = ColumnDef::new(Videos::Downloads);
        downloads.boolean().not_null().default(false);
        super::add_column(manager, Videos::Table, &mut downloads).await?;
        let mut version = ColumnDef::new(Videos::DownloadVersion);
        super::add_column(manager, Videos::Table, version.string().null()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_column(manager, Videos::Table, Videos::DownloadVersion).await?;
        super::drop_column(manager, Videos::Table, Videos::Downloads).await
    }
}
