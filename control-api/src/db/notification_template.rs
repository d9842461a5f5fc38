//! The `notification_templates` table: admin overrides of the templates
//! whose defaults live in code (`crate::notify::templates`).

use sea_orm::entity::prelude::*;

/// One template override.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_templates")]
pub struct Model {
    /// The template name, e.g. `video.ready.email.html`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The minijinja source.
    pub source: String,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
