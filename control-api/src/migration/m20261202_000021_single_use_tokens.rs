//! The `single_use_tokens` table: single-use tokens issued and not yet used.

use sea_orm_migration::prelude::*;

/// Adds the table.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SingleUseTokens {
    Table,
    RevocationId,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SingleUseTokens::Table)
                    .col(
                        ColumnDef::new(SingleUseTokens::RevocationId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SingleUseTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SingleUseTokens::Table).to_owned())
            .await
    }
}
