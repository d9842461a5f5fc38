//! `GET|PUT /api/v1/users/me/notification-preferences`: the caller's
//! channels per event (e-mail and SMS) and SMS phone number. `PUT`
//! replaces them; events or channels left out take their defaults.
//! Verification and password-reset e-mails are always sent.

use crate::auth::{Caller, OwnAccount};
use crate::error::ApiError;
use crate::notify::preferences::{self, Preferences};
use crate::state::AppState;
use actix_web::{web, HttpResponse};

#[tracing::instrument(skip_all)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    let current = preferences::load(&state.db, account.user_id()).await?;
    Ok(HttpResponse::Ok().json(current))
}

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
