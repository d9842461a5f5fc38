//! `GET /api/v1/notification-templates` and
//! `GET|PUT /api/v1/notification-templates/{name}` (admins only). A `PUT`
//! whose source does not parse or render against the event's sample
//! context is refused with 422 `invalid_template`, so a broken template is
//! found when it is saved, never at send time.

use crate::auth::{Admin, Caller};
use crate::db::{notification_template, time_of};
use crate::error::ApiError;
use crate::notify::templates::{self, TemplateName};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use sea_orm::EntityTrait;
use serde::Deserialize;
use serde_json::{json, Value};

/// The body of `PUT /api/v1/notification-templates/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateBody {
    source: String,
}

/// A template as shown: the source in force and whether it is overridden.
fn view(slot: TemplateName, stored: Option<&notification_template::Model>) -> Value {
    json!({
        "name": slot.to_string(),
        "event": slot.kind.name(),
        "channel": slot.channel.name(),
        "source": stored.map_or(slot.default_source(), |row| row.source.as_str()),
        "default_source": slot.default_source(),
        "customized": stored.is_some(),
        "updated_at": stored.map(|row| time_of(row.updated_at)),
    })
}

/// The slot `name`, or 404.
fn slot(name: &str) -> Result<TemplateName, ApiError> {
    TemplateName::parse(name).ok_or_else(|| ApiError::not_found("no such notification template"))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let stored = notification_template::Entity::find().all(&state.db).await?;
    let items: Vec<Value> = TemplateName::all()
        .map(|slot| {
            let name = slot.to_string();
            view(slot, stored.iter().find(|row| row.name == name))
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[tracing::instrument(skip_all, fields(template = %name))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let slot = slot(&name)?;
    let stored = notification_template::Entity::find_by_id(slot.to_string())
        .one(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(view(slot, stored.as_ref())))
}

#[tracing::instrument(skip_all, fields(template = %name))]
pub(crate) async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: web::Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require::<Admin>()?;
    let slot = slot(&name)?;
    templates::validate(slot, &body.source).map_err(|message| ApiError::Client {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_template",
        message,
    })?;
    let row = templates::save(&state.db, slot, &body.source).await?;
    Ok(HttpResponse::Ok().json(view(slot, Some(&row))))
}
