//! `GET /api/v1/users/me`: the authenticated user's account.

use crate::auth::Caller;
use crate::db::{time_of, user};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use sea_orm::EntityTrait;
use serde_json::json;

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = user::Entity::find_by_id(caller.user_id())
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::unauthenticated("invalid_token", "the token's user no longer exists")
        })?;
    Ok(HttpResponse::Ok().json(json!({
        "id": account.id,
        "email": account.email,
        "role": account.role,
        "created_at": time_of(account.created_at),
    })))
}
