//! The `notification_preferences` table: one row per user who changed the
//! defaults — which channels each event uses, and the SMS phone number.

use sea_orm::entity::prelude::*;

/// One user's notification settings.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_preferences")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// E.164 phone number for SMS.
    pub phone: Option<String>,
    /// `{event: {channel: bool}}`, a JSON object.
    pub channels: Json,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
