//! `GET /api/v1/notification-templates` and
//! `GET|PUT /api/v1/notification-templates/{name}` (admins only). A `PUT`
//! whose source does not parse or render against the event's sample
//! context is refused with 422 `invalid_template`, so a broken template is
//! found when it is saved, never at send time. The handlers only
//! translate: `crate::notify::templates` lists and saves overrides and
//! takes the [`Admin`] capability.

use crate::auth::{Admin, Caller};
use crate::db::time_of;
use crate::error::{ApiError, ErrorBody};
use crate::notify::templates::{self, Template, TemplateName};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `PUT /api/v1/notification-templates/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateBody {
    /// minijinja, at most 16 KiB; HTML-escaped in `.html` parts, undefined
    /// variables are errors.
    source: String,
}

/// A template as shown: the source in force and whether it is overridden.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateView {
    /// `{event}.{channel}.{part}`, e.g. `video.ready.email.subject`.
    name: String,
    /// The event it announces.
    event: &'static str,
    /// `email` or `sms`.
    channel: &'static str,
    /// The source in force.
    source: String,
    /// The built-in source.
    default_source: &'static str,
    /// Whether `source` is an override.
    customized: bool,
    /// When the override was saved.
    updated_at: Option<DateTime<Utc>>,
}

/// Every template.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TemplateList {
    items: Vec<TemplateView>,
}

impl From<Template> for TemplateView {
    fn from(Template { slot, saved }: Template) -> Self {
        TemplateView {
            name: slot.to_string(),
            event: slot.kind.name(),
            channel: slot.channel.name(),
            customized: saved.is_some(),
            updated_at: saved.as_ref().map(|row| time_of(row.updated_at)),
            source: saved.map_or_else(|| slot.default_source().to_owned(), |row| row.source),
            default_source: slot.default_source(),
        }
    }
}

/// The slot `name`, or 404.
fn slot(name: &str) -> Result<TemplateName, ApiError> {
    TemplateName::parse(name).ok_or_else(|| ApiError::not_found("no such notification template"))
}

/// Every notification template with the source in force (admin).
#[utoipa::path(
    get,
    path = "/notification-templates",
    tag = "notifications",
    responses(
        (status = 200, description = "The templates", body = TemplateList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let templates = templates::list(&state.db, &caller.require::<Admin>()?).await?;
    let items = templates.into_iter().map(TemplateView::from).collect();
    Ok(HttpResponse::Ok().json(TemplateList { items }))
}

/// One template (admin).
#[utoipa::path(
    get,
    path = "/notification-templates/{name}",
    tag = "notifications",
    params(("name" = String, Path, description = "`{event}.email.subject`, `{event}.email.text`, `{event}.email.html` or `{event}.sms.text`")),
    responses(
        (status = 200, description = "The template", body = TemplateView),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such template (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(template = %name))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller.require::<Admin>()?;
    let template = templates::find(&state.db, &admin, slot(&name)?).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(template)))
}

/// Overrides a template (admin); a source that does not parse or render
/// against the event's sample context is refused.
#[utoipa::path(
    put,
    path = "/notification-templates/{name}",
    tag = "notifications",
    params(("name" = String, Path, description = "`{event}.email.subject`, `{event}.email.text`, `{event}.email.html` or `{event}.sms.text`")),
    request_body = TemplateBody,
    responses(
        (status = 200, description = "Saved", body = TemplateView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such template (`not_found`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "The source does not parse or render, or is over 16 KiB (`invalid_template`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(template = %name))]
pub(crate) async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    body: web::Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller.require::<Admin>()?;
    let template = templates::save(&state.db, &admin, slot(&name)?, &body.source).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(template)))
}
