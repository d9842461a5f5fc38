//! The first schema: `users`, `refresh_tokens`, `videos` and the shared
//! `jobs` queue table with its `(state, created_at)` index.

use goflix_shared::queue::database::job;
use sea_orm::Schema;
use sea_orm_migration::prelude::*;

/// Creates the foundation tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    UserId,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    OwnerId,
    Title,
    Visibility,
    State,
    Progress,
    ErrorCode,
    ErrorMessage,
    DurationS,
    Renditions,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(Users::Email)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::Role).string().not_null())
                    .col(ColumnDef::new(Users::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RefreshTokens::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_user_id")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Videos::Table)
                    .col(ColumnDef::new(Videos::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Videos::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Videos::Title).string().not_null())
                    .col(ColumnDef::new(Videos::Visibility).string().not_null())
                    .col(ColumnDef::new(Videos::State).string().not_null())
                    .col(ColumnDef::new(Videos::Progress).double().not_null())
                    .col(ColumnDef::new(Videos::ErrorCode).string().null())
                    .col(ColumnDef::new(Videos::ErrorMessage).text().null())
                    .col(ColumnDef::new(Videos::DurationS).double().null())
                    .col(ColumnDef::new(Videos::Renditions).json().not_null())
                    .col(ColumnDef::new(Videos::Version).string().null())
                    .col(ColumnDef::new(Videos::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Videos::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Videos::Table, Videos::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("videos_owner_created", Videos::OwnerId),
            ("videos_visibility_created", Videos::Visibility),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Videos::Table)
                        .col(column)
                        .col(Videos::CreatedAt)
                        .to_owned(),
                )
                .await?;
        }
        let schema = Schema::new(manager.get_database_backend());
        manager
            .create_table(schema.create_table_from_entity(job::Entity))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_state_created_at")
                    .table(job::Entity)
                    .col(job::Column::State)
                    .col(job::Column::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(job::Entity).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Videos::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
