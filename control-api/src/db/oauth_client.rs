//! The `oauth_clients` table: service clients registered by an admin for
//! the `client_credentials` grant. The secret is stored as its SHA-256 (it
//! is 256 random bits, so no stretching is needed).

use sea_orm::entity::prelude::*;

/// One service client.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_clients")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The public client id (`gfx_…`).
    #[sea_orm(unique)]
    pub client_id: String,
    /// A label for humans.
    pub name: String,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Granted scopes, space-separated (RFC 6749 §3.3).
    pub scopes: String,
    /// The admin who registered it; the client acts for them within its scopes.
    pub owner_id: Uuid,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// Relations are declared as foreign keys in the migration only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
