//! Identity: account state on `users` (verified e-mail, disabled), refresh
//! token families on `refresh_tokens` (rotation keeps used tokens so reuse
//! is detected), and the tables `revoked_tokens` (token revocation ids),
//! `oauth_clients` (service clients) and `account_tokens` (e-mail
//! verification and password reset tokens).

use sea_orm_migration::prelude::*;

/// Adds the identity columns and tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    EmailVerifiedAt,
    Disabled,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    FamilyId,
    UsedAt,
    AccessId,
    AccessExpiresAt,
}

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    RevocationId,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    Id,
    ClientId,
    Name,
    SecretHash,
    Scopes,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    TokenHash,
    UserId,
    Purpose,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::EmailVerifiedAt)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::Disabled)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                ColumnDef::new(RefreshTokens::FamilyId)
                    .uuid()
                    .null()
                    .to_owned(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                ColumnDef::new(RefreshTokens::UsedAt)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                ColumnDef::new(RefreshTokens::AccessId)
                    .string()
                    .null()
                    .to_owned(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                ColumnDef::new(RefreshTokens::AccessExpiresAt)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            super::add_column(manager, table, &mut column).await?;
        }
        for (name, column) in [
            ("refresh_tokens_family_id", RefreshTokens::FamilyId),
            ("refresh_tokens_access_id", RefreshTokens::AccessId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .col(
                        ColumnDef::new(RevokedTokens::RevocationId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RevokedTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RevokedTokens::RevokedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("revoked_tokens_revoked_at")
                    .table(RevokedTokens::Table)
                    .col(RevokedTokens::RevokedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .col(
                        ColumnDef::new(OauthClients::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OauthClients::ClientId)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(OauthClients::Name).string().not_null())
                    .col(ColumnDef::new(OauthClients::SecretHash).string().not_null())
                    .col(ColumnDef::new(OauthClients::Scopes).string().not_null())
                    .col(ColumnDef::new(OauthClients::OwnerId).uuid().not_null())
                    .col(
                        ColumnDef::new(OauthClients::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthClients::Table, OauthClients::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountTokens::Table)
                    .col(
                        ColumnDef::new(AccountTokens::TokenHash)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccountTokens::UserId).uuid().not_null())
                    .col(ColumnDef::new(AccountTokens::Purpose).string().not_null())
                    .col(
                        ColumnDef::new(AccountTokens::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccountTokens::UsedAt).big_integer().null())
                    .col(
                        ColumnDef::new(AccountTokens::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountTokens::Table, AccountTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_tokens_user_id")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AccountTokens::Table.into_iden(),
            OauthClients::Table.into_iden(),
            RevokedTokens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for name in ["refresh_tokens_family_id", "refresh_tokens_access_id"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(RefreshTokens::Table)
                        .to_owned(),
                )
                .await?;
        }
        let columns = [
            (Users::Table.into_iden(), Users::EmailVerifiedAt.into_iden()),
            (Users::Table.into_iden(), Users::Disabled.into_iden()),
            (
                RefreshTokens::Table.into_iden(),
                RefreshTokens::FamilyId.into_iden(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                RefreshTokens::UsedAt.into_iden(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                RefreshTokens::AccessId.into_iden(),
            ),
            (
                RefreshTokens::Table.into_iden(),
                RefreshTokens::AccessExpiresAt.into_iden(),
            ),
        ];
        for (table, column) in columns {
            super::drop_column(manager, table, column).await?;
        }
        Ok(())
    }
}
