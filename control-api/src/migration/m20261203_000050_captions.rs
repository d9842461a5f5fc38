//! The `captions` table and `videos.manifest_version`: a video's caption
//! tracks (uploaded, or extracted from its master), one per language, and
//! the manifest-only version whose manifests add them to the video's media.

use sea_orm_migration::prelude::*;

/// Adds the table and the column.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    ManifestVersion,
}

#[derive(DeriveIden)]
enum Captions {
    Table,
    VideoId,
    Language,
    Label,
    Kind,
    Source,
    Bytes,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut manifest_version = ColumnDef::new(Videos::ManifestVersion);
        super::add_column(manager, Videos::Table, manifest_version.string().null()).await?;
        manager
            .create_table(
                Table::create()
                    .table(Captions::Table)
                    .col(ColumnDef::new(Captions::VideoId).uuid().not_null())
                    .col(ColumnDef::new(Captions::Language).string().not_null())
                    .col(ColumnDef::new(Captions::Label).text().not_null())
                    .col(ColumnDef::new(Captions::Kind).string().not_null())
                    .col(ColumnDef::new(Captions::Source).string().not_null())
                    .col(ColumnDef::new(Captions::Bytes).big_integer().not_null())
                    .col(ColumnDef::new(Captions::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Captions::VideoId)
                            .col(Captions::Language),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Captions::Table, Captions::VideoId)
                            .to(Videos::Table, Videos::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Captions::Table).to_owned())
            .await?;
        super::drop_column(manager, Videos::Table, Videos::ManifestVersion).await
    }
}
