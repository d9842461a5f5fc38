//! Accounts: `POST /api/v1/users` (admins; anyone when sign-up is open),
//! `GET /api/v1/users` (admins; keyset pagination with `?limit=&cursor=`,
//! where `cursor` is the previous page's `next_cursor`),
//! `GET|PATCH|DELETE /api/v1/users/{id}` (admins), `GET /api/v1/users/me`
//! and `POST /api/v1/users/me/verify-email/request`.

use super::auth::Message;
use crate::auth::{Caller, ManageUsers, OwnAccount};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::users::{self, UserChanges, UserView};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use goflix_shared::token::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUser)]
pub(crate) struct CreateBody {
    /// The login e-mail address.
    #[schema(format = Email)]
    email: String,
    /// At least 8 characters, not a common password.
    #[schema(format = Password)]
    password: String,
    /// Default `viewer`.
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
}

/// An admin creates any account; without a bearer token and with sign-up
/// open, anyone signs up as a `viewer`, answered 202 alike whether or not
/// the address already has an account.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    security(("bearer" = []), ()),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created by an admin (any role, default viewer)", body = UserView),
        (status = 202, description = "Open sign-up accepted, whether or not the address has an account: a new viewer is mailed a verification token", body = Message),
        (status = 400, description = "`invalid_email`, `weak_password`, `invalid_password`, `invalid_role` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin, or a sign-up asking for another role (`forbidden`)", body = ErrorBody),
        (status = 409, description = "The e-mail is taken (`email_taken`; admins only)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 429, description = "Too many sign-ups (`rate_limited`); see `Retry-After`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let anonymous = !req.headers().contains_key(header::AUTHORIZATION);
    if anonymous && state.signup_open {
        state.rate_limits.reset_request(&req)?;
        if body.role.as_deref().is_some_and(|r| r != "viewer") {
            return Err(ApiError::forbidden("self sign-up creates viewers only"));
        }
        users::sign_up(&state.db, &body.email, &body.password).await?;
        // The same answer whether or not the address has an account.
        return Ok(Message::accepted(
            "unless the address already has an account, a verification token is on its way to it",
        ));
    }
    let caller = Caller::extract(&req).await?;
    let right = caller.require::<ManageUsers>()?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let created = users::admin_create(
        &state.db,
        &right,
        &body.email,
        &body.password,
        role.unwrap_or(Role::Viewer),
    )
    .await?;
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
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, nullable = false)]
    limit: Option<u64>,
    /// The previous page's `next_cursor`.
    #[param(format = Uuid, nullable = false)]
    cursor: Option<String>,
}

/// One page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserPage {
    /// Accounts in creation order.
    items: Vec<UserView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<Uuid>,
}

/// Lists accounts in creation order (admin), with keyset pagination.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = UserPage),
        (status = 400, description = "Bad `limit` or `cursor` (`invalid_query`)", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
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
    Ok(HttpResponse::Ok().json(UserPage {
        items,
        next_cursor: next,
    }))
}

/// One account (admin).
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such user (`not_found`)", body = ErrorBody),
    )
)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserPatch)]
pub(crate) struct PatchBody {
    /// A new role.
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    /// A new login e-mail address.
    #[schema(format = Email)]
    email: Option<String>,
    /// A new password.
    #[schema(format = Password)]
    password: Option<String>,
    /// Disable or re-enable the account.
    disabled: Option<bool>,
}

/// Changes role, e-mail, password or disabled (admin); a new role, password
/// or disabling ends the account's sessions.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The changed account", body = UserView),
        (status = 400, description = "`invalid_email`, `weak_password`, `invalid_password`, `invalid_role` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "`email_taken`, or `last_admin` (the change would leave no enabled admin)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
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

/// Deletes an account that owns no videos (admin).
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "`user_has_videos` or `last_admin`", body = ErrorBody),
    )
)]
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

/// The authenticated user (not for service clients).
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "A service client's token (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn me(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    Ok(HttpResponse::Ok().json(users::me(&state.db, &account).await?))
}

/// Mails the caller a new e-mail verification token.
#[utoipa::path(
    post,
    path = "/users/me/verify-email/request",
    tag = "users",
    responses(
        (status = 202, description = "Accepted", body = Message),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "A service client's token (`forbidden`)", body = ErrorBody),
        (status = 409, description = "Already verified (`already_verified`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn request_verification(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let account = caller.require::<OwnAccount>()?;
    users::request_verification(&state.db, &account).await?;
    Ok(Message::accepted("a verification token is on its way"))
}
