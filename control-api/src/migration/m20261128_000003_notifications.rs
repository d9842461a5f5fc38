//! Notifications: `webhooks`, `notification_jobs` (with its
//! `(state, next_attempt_at)` index for the dispatcher), the per-attempt
//! log `notification_attempts`, template overrides `notification_templates`
//! and per-user `notification_preferences`.

use sea_orm_migration::prelude::*;

/// Creates the notification tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Url,
    Secret,
    Events,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationJobs {
    Table,
    Id,
    Event,
    Channel,
    UserId,
    WebhookId,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationAttempts {
    Table,
    Id,
    JobId,
    Attempt,
    StatusCode,
    Error,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum NotificationTemplates {
    Table,
    Name,
    Source,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationPreferences {
    Table,
    UserId,
    Phone,
    Channels,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(ColumnDef::new(Webhooks::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Webhooks::Url).text().not_null())
                    .col(ColumnDef::new(Webhooks::Secret).string().not_null())
                    .col(ColumnDef::new(Webhooks::Events).json().not_null())
                    .col(ColumnDef::new(Webhooks::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationJobs::Table)
                    .col(
                        ColumnDef::new(NotificationJobs::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(NotificationJobs::Event).string().not_null())
                    .col(
                        ColumnDef::new(NotificationJobs::Channel)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationJobs::UserId).uuid().null())
                    .col(ColumnDef::new(NotificationJobs::WebhookId).uuid().null())
                    .col(ColumnDef::new(NotificationJobs::Payload).json().not_null())
                    .col(ColumnDef::new(NotificationJobs::State).string().not_null())
                    .col(
                        ColumnDef::new(NotificationJobs::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationJobs::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationJobs::LastError).text().null())
                    .col(
                        ColumnDef::new(NotificationJobs::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationJobs::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationJobs::Table, NotificationJobs::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationJobs::Table, NotificationJobs::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notification_jobs_state_next_attempt")
                    .table(NotificationJobs::Table)
                    .col(NotificationJobs::State)
                    .col(NotificationJobs::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notification_jobs_webhook_created")
                    .table(NotificationJobs::Table)
                    .col(NotificationJobs::WebhookId)
                    .col(NotificationJobs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notification_jobs_user")
                    .table(NotificationJobs::Table)
                    .col(NotificationJobs::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationAttempts::Table)
                    .col(
                        ColumnDef::new(NotificationAttempts::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::JobId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::StatusCode)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(NotificationAttempts::Error).text().null())
                    .col(
                        ColumnDef::new(NotificationAttempts::StartedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::FinishedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NotificationAttempts::Table, NotificationAttempts::JobId)
                            .to(NotificationJobs::Table, NotificationJobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notification_attempts_job")
                    .table(NotificationAttempts::Table)
                    .col(NotificationAttempts::JobId)
                    .col(NotificationAttempts::Attempt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationTemplates::Table)
                    .col(
                        ColumnDef::new(NotificationTemplates::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationTemplates::Source)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationTemplates::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationPreferences::Table)
                    .col(
                        ColumnDef::new(NotificationPreferences::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::Phone)
                            .string()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::Channels)
                            .json()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationPreferences::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                NotificationPreferences::Table,
                                NotificationPreferences::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            NotificationPreferences::Table.into_iden(),
            NotificationTemplates::Table.into_iden(),
            NotificationAttempts::Table.into_iden(),
            NotificationJobs::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
