//! `videos.playable`: the video plays from its live version (growing HLS
//! playlists) while it still encodes.

use sea_orm_migration::prelude::*;

/// Adds the `playable` column.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Playable,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut playable = ColumnDef::new(Videos::Playable);
        playable.boolean().not_null().default(false);
        super::add_column(manager, Videos::Table, &mut playable).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_column(manager, Videos::Table, Videos::Playable).await
    }
}
