//! The `webhooks` table: URLs that receive signed event deliveries.

use sea_orm::entity::prelude::*;

/// One registered webhook.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    /// The webhook id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Where deliveries are POSTed (`http` or `https`).
    pub url: String,
    /// The HMAC-SHA256 signing secret (needed in clear to sign).
    pub secret: String,
    /// The subscribed event names, a JSON array of strings.
    pub events: Json,
    /// Registration time, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
