//! Accounts: `POST /api/v1/users` (admins; anyone when sign-up is open),
//! `GET /api/v1/users` (admins; keyset pagination with `?limit=&cursor=`,
//! where `cursor` is the previous page's `next_cursor`),
//! `GET|PATCH|DELETE /api/v1/users/{id}` (admins), `GET /api/v1/users/me`
//! and `POST /api/v1/users/me/verify-email/request`.

use crate::auth::{Caller, ManageUsers, OwnAccount};
use crate::error::ApiError;
use crate::state::AppState;
use crate::users::{self, UserChanges};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use goflix_shared::token::Role;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u64 = 50;
/// Largest page.
const MAX_LIMIT: u64 = 200;

fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse()
        .map_err(|message: String| ApiError::bad_request("invalid_role", message))
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    email: String,
    password: String,
    role: Option<String>,
}

/// An admin creates any account; without a bearer token and with sign-up
/// open, anyone creates a `viewer`.
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let anonymous = !req.headers().contains_key(header::AUTHORIZATION);
    let created = if anonymous && state.signup_open {
        state.rate_limits.reset_request(&req)?;
        if body.role.as_deref().is_some_and(|r| r != "viewer") {
            return Err(ApiError::forbidden("self sign-up creates viewers only"));
        }
        users::sign_up(&state.db, &body.email, &body.password).await?
    } else {
        let caller = Caller::extract(&req).await?;
        let right = caller.require::<ManageUsers>()?;
        let role = body.role.as_deref().map(parse_role).transpose()?;
        users::admin_create(
            &state.db,
            &right,
            &body.email,
            &body.password,
            role.unwrap_or(Role::Viewer),
        )
        .await?
    };
    let body = serde_json::to_value(&created)
        .map_err(|e| ApiError::Internal(format!("user view: {e}")))?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/users/{}", body["id"].as_str().unwrap_or_default()),
        ))
        .json(body))
}

/// `?limit=&cursor=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<u64>,
    cursor: Option<String>,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageUsers>()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<Uuid>().map_err(|_| {
                ApiError::bad_request("invalid_query", "cursor must be a next_cursor value")
            })
        })
        .transpose()?;
    let (items, next) = users::list(&state.db, &right, limit, cursor).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next })))
}

#[tracing::instrument(skip_all, fields(target = %id))]
pub(crate) async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageUsers>()?;
    Ok(HttpResponse::Ok().json(users::get(&state.db, &right, &id).await?))
}

/// The body of `PATCH /api/v1/users/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchBody {
    role: Option<String>,
    email: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
}

#[tracing::instrument(skip_all, fields(target = %id))]
pub(crate) async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageUsers>()?;
    let body = body.into_inner();
    let changes = UserChanges {
        role: body.role.as_deref().map(parse_role).transpose()?,
        email: body.email,
        password: body.password,
        disabled: body.disabled,
    };
    Ok(HttpResponse::Ok().json(users::update(&state, &right, &id, changes).await?))
}

#[tracing::instrument(skip_all, fields(target = %id))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageUsers>()?;
    users::delete(&state, &right, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    Ok(HttpResponse::Ok().json(users::me(&state.db, &account).await?))
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn request_verification(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    users::request_verification(&state.db, &account).await?;
    Ok(HttpResponse::Accepted().json(json!({ "message": "a verification token is on its way" })))
}
