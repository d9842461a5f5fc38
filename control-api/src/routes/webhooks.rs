//! `POST|GET /api/v1/webhooks`, `DELETE /api/v1/webhooks/{id}` and
//! `GET /api/v1/webhooks/{id}/deliveries` (admins only). A registration
//! without a secret gets a generated one, shown once in the `201` answer;
//! listings never show secrets. Deliveries are signed as described in
//! `crate::notify` (headers `Goflix-Timestamp`, `Goflix-Signature`). The
//! handlers only translate: the registry (`crate::notify::webhook_registry`)
//! does the work and takes the [`Admin`] capability.

use crate::auth::{Admin, Caller};
use crate::db::{time_of, webhook};
use crate::error::{ApiError, ErrorBody};
use crate::notify::webhook_registry::{self, Delivery, NewWebhook};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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

impl From<Delivery> for DeliveryView {
    fn from(Delivery { job, attempts }: Delivery) -> Self {
        Self {
            id: job.id,
            next_attempt_at: (job.state == crate::notify::PENDING)
                .then(|| time_of(job.next_attempt_at)),
            event: job.event,
            state: job.state,
            created_at: time_of(job.created_at),
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    status_code: a.status_code,
                    error: a.error,
                    started_at: time_of(a.started_at),
                    finished_at: time_of(a.finished_at),
                })
                .collect(),
        }
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
    let admin = caller.require::<Admin>()?;
    let body = body.into_inner();
    let new = NewWebhook {
        url: &body.url,
        secret: body.secret,
        events: &body.events,
    };
    let allow_private = state.notifier.webhooks.allow_private();
    let row = webhook_registry::register(&state.db, &admin, new, allow_private).await?;
    let secret = row.secret.clone();
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
    let rows = webhook_registry::list(&state.db, &caller.require::<Admin>()?).await?;
    let items = rows.into_iter().map(WebhookView::from).collect();
    Ok(HttpResponse::Ok().json(WebhookList { items }))
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
    webhook_registry::delete(&state.db, &caller.require::<Admin>()?, &id).await?;
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
    let deliveries =
        webhook_registry::deliveries(&state.db, &caller.require::<Admin>()?, &id).await?;
    let items = deliveries.into_iter().map(DeliveryView::from).collect();
    Ok(HttpResponse::Ok().json(DeliveryList { items }))
}
