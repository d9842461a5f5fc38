//! The webhook registry: registering, listing and deleting webhooks and
//! reading their delivery history. Every operation takes the [`Admin`]
//! capability, so the registry is reached only by a caller that passed
//! `Caller::require::<Admin>`; the dispatcher makes the deliveries.

use super::catalog::EventKind;
use super::webhook::validate_url;
use crate::auth::Admin;
use crate::db::{notification_attempt, notification_job, now_ms, webhook};
use crate::error::ApiError;
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

/// Most webhooks one deployment may register.
const MAX_WEBHOOKS: u64 = 100;
/// Deliveries listed per webhook, newest first.
const DELIVERIES_LISTED: u64 = 50;

/// A webhook an admin asks to register.
pub(crate) struct NewWebhook<'a> {
    /// Where deliveries go.
    pub url: &'a str,
    /// The signing secret; generated when absent.
    pub secret: Option<String>,
    /// The event names to subscribe to.
    pub events: &'a [String],
}

/// One delivery of an event to a webhook, with every try so far.
pub(crate) struct Delivery {
    /// The delivery job.
    pub job: notification_job::Model,
    /// Its tries, in order.
    pub attempts: Vec<notification_attempt::Model>,
}

/// Registers `new`; internal addresses are refused unless `allow_private`.
/// The row holds the secret, which the caller shows this once.
pub(crate) async fn register(
    db: &DatabaseConnection,
    _: &Admin,
    new: NewWebhook<'_>,
    allow_private: bool,
) -> Result<webhook::Model, ApiError> {
    let url = validate_url(new.url, allow_private)?;
    let events = check_events(new.events)?;
    let secret = match new.secret {
        Some(secret) => {
            check_secret(&secret)?;
            secret
        }
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            format!("whsec_{}", hex::encode(bytes))
        }
    };
    if webhook::Entity::find().count(db).await? >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(
            "too_many_webhooks",
            format!("at most {MAX_WEBHOOKS} webhooks may be registered"),
        ));
    }
    let row = webhook::Model {
        id: Uuid::now_v7(),
        url: url.to_string(),
        secret,
        events: json!(events.iter().map(|kind| kind.name()).collect::<Vec<_>>()),
        created_at: now_ms(),
    };
    webhook::Entity::insert(webhook::ActiveModel {
        id: Set(row.id),
        url: Set(row.url.clone()),
        secret: Set(row.secret.clone()),
        events: Set(row.events.clone()),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(row)
}

/// Every webhook, oldest first.
pub(crate) async fn list(
    db: &DatabaseConnection,
    _: &Admin,
) -> Result<Vec<webhook::Model>, ApiError> {
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Deletes the webhook `id` with its deliveries and their history, or 404.
pub(crate) async fn delete(db: &DatabaseConnection, _: &Admin, id: &str) -> Result<(), ApiError> {
    let hook = find(db, id).await?;
    // Its deliveries and their attempts go with it (foreign keys).
    webhook::Entity::delete_by_id(hook.id).exec(db).await?;
    Ok(())
}

/// The latest deliveries of the webhook `id`, newest first, or 404.
pub(crate) async fn deliveries(
    db: &DatabaseConnection,
    _: &Admin,
    id: &str,
) -> Result<Vec<Delivery>, ApiError> {
    let hook = find(db, id).await?;
    let jobs = notification_job::Entity::find()
        .filter(notification_job::Column::WebhookId.eq(hook.id))
        .order_by_desc(notification_job::Column::CreatedAt)
        .limit(DELIVERIES_LISTED)
        .all(db)
        .await?;
    let attempts = if jobs.is_empty() {
        Vec::new()
    } else {
        notification_attempt::Entity::find()
            .filter(notification_attempt::Column::JobId.is_in(jobs.iter().map(|job| job.id)))
            .order_by_asc(notification_attempt::Column::Attempt)
            .all(db)
            .await?
    };
    Ok(jobs
        .into_iter()
        .map(|job| Delivery {
            attempts: attempts
                .iter()
                .filter(|a| a.job_id == job.id)
                .cloned()
                .collect(),
            job,
        })
        .collect())
}

/// The webhook `id`, or 404 (also for an id that is no UUID).
async fn find(db: &DatabaseConnection, id: &str) -> Result<webhook::Model, ApiError> {
    let missing = || ApiError::not_found("no such webhook");
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    webhook::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(missing)
}

/// The subscribed events: at least one, each a webhook event, no repeats,
/// in the order given.
fn check_events(events: &[String]) -> Result<Vec<EventKind>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_events", message);
    if events.is_empty() {
        return Err(invalid("events must name at least one event".into()));
    }
    let mut kinds = Vec::new();
    for name in events {
        match EventKind::parse(name) {
            Some(kind) if kind.webhook() => {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            _ => {
                return Err(invalid(format!(
                    "{name:?} is not a webhook event (video.ready, video.failed)"
                )))
            }
        }
    }
    Ok(kinds)
}

/// A given secret: 16 to 256 printable ASCII characters.
fn check_secret(secret: &str) -> Result<(), ApiError> {
    let printable = secret.bytes().all(|b| b.is_ascii_graphic());
    if (16..=256).contains(&secret.len()) && printable {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_secret",
            "the secret must be 16 to 256 printable ASCII characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_webhook_events_without_repeats() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_events(&names(&["video.failed", "video.ready", "video.failed"])).unwrap(),
            vec![EventKind::VideoFailed, EventKind::VideoReady]
        );
        for bad in [
            &[][..],
            &["account.password_reset"][..],
            &["video.ready", "video.deleted"][..],
        ] {
            assert_eq!(
                check_events(&names(bad)).unwrap_err().code(),
                "invalid_events"
            );
        }
    }

    #[test]
    fn given_secrets_are_long_printable_ascii() {
        assert!(check_secret(&"s".repeat(16)).is_ok());
        assert!(check_secret(&"s".repeat(256)).is_ok());
        for bad in [
            "s".repeat(15),
            "s".repeat(257),
            format!("{} x", "s".repeat(16)),
        ] {
            assert_eq!(check_secret(&bad).unwrap_err().code(), "invalid_secret");
        }
    }
}
