//! The `runner_registration_tokens` and `runners` tables: remote
//! transcoding runners and the tokens they register with (see
//! `crate::runners`). Secrets are stored as SHA-256 digests only.

use sea_orm_migration::prelude::*;

/// Adds the tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RunnerRegistrationTokens {
    Table,
    Id,
    TokenHash,
    Description,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Runners {
    Table,
    Id,
    Name,
    Version,
    RegistrationTokenId,
    CredentialHash,
    CreatedAt,
    LastSeenAt,
    RevokedAt,
    CurrentJobs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RunnerRegistrationTokens::Table)
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::TokenHash)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::Description)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::CreatedBy)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RunnerRegistrationTokens::RevokedAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Runners::Table)
                    .col(ColumnDef::new(Runners::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Runners::Name).string().not_null())
                    .col(ColumnDef::new(Runners::Version).string().not_null())
                    .col(
                        ColumnDef::new(Runners::RegistrationTokenId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Runners::CredentialHash)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Runners::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Runners::LastSeenAt).big_integer().not_null())
                    .col(ColumnDef::new(Runners::RevokedAt).big_integer().null())
                    .col(ColumnDef::new(Runners::CurrentJobs).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Runners::Table).to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(RunnerRegistrationTokens::Table)
                    .to_owned(),
            )
            .await
    }
}
