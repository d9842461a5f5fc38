//! `GET|PUT /api/v1/users/me/notification-preferences`: the caller's
//! channels per event (e-mail and SMS) and SMS phone number. `PUT`
//! replaces them; events or channels left out take their defaults.
//! Verification and password-reset e-mails are always sent.

use crate::auth::{Caller, OwnAccount};
use crate::error::{ApiError, ErrorBody};
use crate::notify::preferences::{self, Preferences};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// The caller's notification channels per event and SMS phone number.
#[utoipa::path(
    get,
    path = "/users/me/notification-preferences",
    tag = "notifications",
    responses(
        (status = 200, description = "The preferences, defaults filled in", body = Preferences),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "A service client's token (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    let current = preferences::load(&state.db, account.user_id()).await?;
    Ok(HttpResponse::Ok().json(current))
}

/// Replaces the caller's preferences; events or channels left out take
/// their defaults (e-mail on, SMS off).
#[utoipa::path(
    put,
    path = "/users/me/notification-preferences",
    tag = "notifications",
    request_body = Preferences,
    responses(
        (status = 200, description = "Saved", body = Preferences),
        (status = 400, description = "`invalid_phone`, `phone_required`, `invalid_preferences` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "A service client's token (`forbidden`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Preferences>,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    let wanted = body.into_inner().validated()?;
    preferences::save(&state.db, account.user_id(), &wanted).await?;
    Ok(HttpResponse::Ok().json(wanted))
}
