//! The `uploads` table: tus uploads, from creation until they expire.

use sea_orm_migration::prelude::*;

/// Adds the table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    OwnerId,
    Title,
    Visibility,
    Filename,
    Length,
    Offset,
    Staged,
    State,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(ColumnDef::new(Uploads::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Uploads::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Uploads::Title).string().not_null())
                    .col(ColumnDef::new(Uploads::Visibility).string().not_null())
                    .col(ColumnDef::new(Uploads::Filename).string().null())
                    .col(ColumnDef::new(Uploads::Length).big_integer().not_null())
                    .col(ColumnDef::new(Uploads::Offset).big_integer().not_null())
                    .col(ColumnDef::new(Uploads::Staged).json().not_null())
                    .col(ColumnDef::new(Uploads::State).string().not_null())
                    .col(
                        ColumnDef::new(Uploads::TokenHash)
                            .string()
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Uploads::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(Uploads::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Uploads::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uploads_expires_at")
                    .table(Uploads::Table)
                    .col(Uploads::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await
    }
}
