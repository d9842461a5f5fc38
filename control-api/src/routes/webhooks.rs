//! `POST|GET /api/v1/webhooks`, `DELETE /api/v1/webhooks/{id}` and
//! `GET /api/v1/webhooks/{id}/deliveries` (admins only). A registration
//! without a secret gets a generated one, shown once in the `201` answer;
//! listings never show secrets. Deliveries are signed as described in
//! `crate::notify` (headers `Goflix-Timestamp`, `Goflix-Signature`).

use crate::auth::{Admin, Caller};
use crate::db::{notification_attempt, notification_job, now_ms, time_of, webhook};
use crate::error::{ApiError, ErrorBody};
use crate::notify::catalog::EventKind;
use crate::notify::webhook::validate_url;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most webhooks one deployment may register.
const MAX_WEBHOOKS: u64 = 100;
/// Deliveries listed per call, newest first.
const DELIVERIES_LISTED: u64 = 50;

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Registration {
    /// http or https, at most 2048 bytes; internal addresses are refused
    /// unless `GOFLIX_WEBHOOK_ALLOW_PRIVATE=true`.
    url: String,
    /// 16 to 256 printable ASCII characters; generated when absent.
    secret: Option<String>,
    /// At least one of `video.ready`, `video.failed`.
    #[schema(example = json!(["video.ready"]))]
    events: Vec<String>,
}

/// A webhook as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: Uuid,
    url: String,
    /// The subscribed events.
    #[schema(value_type = Vec<String>)]
    events: serde_json::Value,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// A newly registered webhook, with its secret shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisteredWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The HMAC-SHA256 key of `Goflix-Signature`.
    secret: String,
}

/// The registered webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    items: Vec<WebhookView>,
}

/// One delivery of an event to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    /// Also sent as `Goflix-Delivery`.
    id: Uuid,
    /// `video.ready` or `video.failed`.
    event: String,
    /// `pending`, `delivered` or `dead`.
    state: String,
    created_at: chrono::DateTime<chrono::Utc>,
    /// The next try, while pending.
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every try so far, in order.
    attempts: Vec<AttemptView>,
}

/// One try of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    /// 1 for the first try.
    attempt: i32,
    /// The receiver's HTTP status, when it answered.
    status_code: Option<i32>,
    /// Why the try failed, when it did.
    error: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    finished_at: chrono::DateTime<chrono::Utc>,
}

/// The latest deliveries of a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// Newest first.
    items: Vec<DeliveryView>,
}

impl From<webhook::Model> for WebhookView {
    fn from(row: webhook::Model) -> Self {
        Self {
            id: row.id,
            url: row.url,
            events: row.events,
            created_at: time_of(row.created_at),
        }
    }
}

/// The subscribed events: at least one, each a webhook event, no repeats.
fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_events", message);
    if events.is_empty() {
        return Err(invalid("events must name at least one event".into()));
    }
    let mut names: Vec<String> = Vec::new();
    for name in events {
        match EventKind::parse(name) {
            Some(kind) if kind.webhook() => {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
            _ => {
                return Err(invalid(format!(
                    "{name:?} is not a webhook event (video.ready, video.failed)"
                )))
            }
        }
    }
    Ok(names)
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

/// Registers a webhook (admin). Each delivery is a JSON POST `{id, type,
/// at, data}` with `Goflix-Event`, `Goflix-Delivery`, `Goflix-Timestamp`
/// (Unix seconds) and `Goflix-Signature: v1=<hex HMAC-SHA256(secret,
/// "{timestamp}.{body}")>`; non-2xx answers are retried with backoff.
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "notifications",
    request_body = Registration,
    responses(
        (status = 201, description = "Registered; `secret` (generated when not given) is shown only here", body = RegisteredWebhook),
        (status = 400, description = "`invalid_webhook_url`, `invalid_events`, `invalid_secret` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 409, description = "Too many webhooks (`too_many_webhooks`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Registration>,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let body = body.into_inner();
    let url = validate_url(&body.url, state.notifier.webhooks.allow_private())?;
    let events = check_events(&body.events)?;
    let secret = match body.secret {
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
    if webhook::Entity::find().count(&state.db).await? >= MAX_WEBHOOKS {
        return Err(ApiError::conflict(
            "too_many_webhooks",
            format!("at most {MAX_WEBHOOKS} webhooks may be registered"),
        ));
    }
    let row = webhook::Model {
        id: Uuid::now_v7(),
        url: url.to_string(),
        secret: secret.clone(),
        events: json!(events),
        created_at: now_ms(),
    };
    webhook::Entity::insert(webhook::ActiveModel {
        id: Set(row.id),
        url: Set(row.url.clone()),
        secret: Set(row.secret.clone()),
        events: Set(row.events.clone()),
        created_at: Set(row.created_at),
    })
    .exec_without_returning(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(RegisteredWebhook {
        webhook: WebhookView::from(row),
        secret,
    }))
}

/// Lists webhooks (admin); secrets are never shown.
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "notifications",
    responses(
        (status = 200, description = "The webhooks", body = WebhookList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let rows = webhook::Entity::find()
        .order_by_asc(webhook::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let items = rows.into_iter().map(WebhookView::from).collect();
    Ok(HttpResponse::Ok().json(WebhookList { items }))
}

/// The webhook `id`, or 404.
async fn find(state: &AppState, id: &str) -> Result<webhook::Model, ApiError> {
    let missing = || ApiError::not_found("no such webhook");
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    webhook::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(missing)
}

/// Deletes a webhook and its deliveries (admin).
#[utoipa::path(
    delete,
    path = "/webhooks/{id}",
    tag = "notifications",
    params(("id" = String, Path, format = Uuid, description = "The webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such webhook (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(webhook_id = %id))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let hook = find(&state, &id).await?;
    // Its pending deliveries and their history go with it (foreign keys).
    webhook::Entity::delete_by_id(hook.id)
        .exec(&state.db)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's 50 latest deliveries with every attempt (admin).
#[utoipa::path(
    get,
    path = "/webhooks/{id}/deliveries",
    tag = "notifications",
    params(("id" = String, Path, format = Uuid, description = "The webhook id")),
    responses(
        (status = 200, description = "Deliveries, newest first", body = DeliveryList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such webhook (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(webhook_id = %id))]
pub(crate) async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let hook = find(&state, &id).await?;
    let jobs = notification_job::Entity::find()
        .filter(notification_job::Column::WebhookId.eq(hook.id))
        .order_by_desc(notification_job::Column::CreatedAt)
        .limit(DELIVERIES_LISTED)
        .all(&state.db)
        .await?;
    let attempts = if jobs.is_empty() {
        Vec::new()
    } else {
        notification_attempt::Entity::find()
            .filter(notification_attempt::Column::JobId.is_in(jobs.iter().map(|job| job.id)))
            .order_by_asc(notification_attempt::Column::Attempt)
            .all(&state.db)
            .await?
    };
    let items = jobs
        .iter()
        .map(|job| DeliveryView {
            id: job.id,
            event: job.event.clone(),
            state: job.state.clone(),
            created_at: time_of(job.created_at),
            next_attempt_at: (job.state == crate::notify::PENDING)
                .then(|| time_of(job.next_attempt_at)),
            attempts: attempts
                .iter()
                .filter(|a| a.job_id == job.id)
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    status_code: a.status_code,
                    error: a.error.clone(),
                    started_at: time_of(a.started_at),
                    finished_at: time_of(a.finished_at),
                })
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList { items }))
}
