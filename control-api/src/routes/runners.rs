//! Remote transcoding runners (admins only): `POST
//! /api/v1/runners/registration-tokens` creates a registration token —
//! shown only in that response — `GET` lists them, `DELETE
//! /api/v1/runners/registration-tokens/{id}` revokes one (runners it
//! registered keep working); `GET /api/v1/runners` lists runners with
//! their version, last contact and current jobs, `DELETE
//! /api/v1/runners/{id}` revokes one: its session is closed at once and
//! its jobs return to the queue.

use crate::auth::{Caller, ManageRunners};
use crate::db::{runner, runner_registration_token as token, time_of};
use crate::error::{ApiError, ErrorBody};
use crate::runners::credentials::{self, CurrentJob, DEFAULT_TOKEN_TTL};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use goflix_shared::command::Command;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// The body of `POST /api/v1/runners/registration-tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewRunnerRegistrationToken)]
pub(crate) struct CreateBody {
    /// What the token is for, 1 to 100 characters.
    description: String,
    /// How long it registers runners: 1 s to 90 days; 7 days when absent.
    #[schema(minimum = 1, maximum = 7_776_000)]
    expires_in_seconds: Option<u64>,
}

/// A registration token as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: Uuid,
    description: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// Set once an admin revoked it.
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&token::Model> for TokenView {
    fn from(token: &token::Model) -> Self {
        Self {
            id: token.id,
            description: token.description.clone(),
            created_at: time_of(token.created_at),
            expires_at: time_of(token.expires_at),
            revoked_at: token.revoked_at.map(time_of),
        }
    }
}

/// A new registration token, with its secret shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// Give it to runners as `GOFLIX_RUNNER_TOKEN_FILE`.
    token: String,
}

/// The registration tokens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenList {
    items: Vec<TokenView>,
}

/// A registered runner.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunnerView {
    id: Uuid,
    name: String,
    /// Its software version, as last announced.
    version: String,
    /// The registration token it registered with.
    registration_token_id: Uuid,
    registered_at: DateTime<Utc>,
    /// When a session of it was last heard from.
    last_seen_at: DateTime<Utc>,
    /// Set once an admin revoked it.
    revoked_at: Option<DateTime<Utc>>,
    /// The jobs it runs now.
    current_jobs: Vec<CurrentJob>,
}

impl From<&runner::Model> for RunnerView {
    fn from(runner: &runner::Model) -> Self {
        Self {
            id: runner.id,
            name: runner.name.clone(),
            version: runner.version.clone(),
            registration_token_id: runner.registration_token_id,
            registered_at: time_of(runner.created_at),
            last_seen_at: time_of(runner.last_seen_at),
            revoked_at: runner.revoked_at.map(time_of),
            current_jobs: serde_json::from_str(&runner.current_jobs).unwrap_or_default(),
        }
    }
}

/// The registered runners.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunnerList {
    items: Vec<RunnerView>,
}

/// Creates a registration token (admin); the secret is shown only in this response.
#[utoipa::path(
    post,
    path = "/runners/registration-tokens",
    tag = "runners",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "`invalid_description`, `invalid_expiry` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageRunners>()?;
    let ttl = body
        .expires_in_seconds
        .map_or(DEFAULT_TOKEN_TTL, Duration::from_secs);
    let created = credentials::create_token(&state.db, &right, &body.description, ttl).await?;
    tracing::info!(token_id = %created.token.id, "runner registration token created");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedToken {
            view: TokenView::from(&created.token),
            token: created.secret,
        }))
}

/// The registration tokens, newest first (admin).
#[utoipa::path(
    get,
    path = "/runners/registration-tokens",
    tag = "runners",
    responses(
        (status = 200, description = "The tokens", body = TokenList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn list_tokens(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageRunners>()?;
    let rows = credentials::tokens(&state.db, &right).await?;
    let items = rows.iter().map(TokenView::from).collect();
    Ok(HttpResponse::Ok().json(TokenList { items }))
}

/// Revokes a registration token: it registers no more runners; those it
/// registered keep working (admin).
#[utoipa::path(
    delete,
    path = "/runners/registration-tokens/{id}",
    tag = "runners",
    params(("id" = String, Path, format = Uuid, description = "The token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such token (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(token_id = %id))]
pub(crate) async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageRunners>()?;
    let id = parse_id(&id, "no such registration token")?;
    if !credentials::revoke_token(&state.db, &right, id).await? {
        return Err(ApiError::not_found("no such registration token"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The registered runners, newest first (admin).
#[utoipa::path(
    get,
    path = "/runners",
    tag = "runners",
    responses(
        (status = 200, description = "The runners", body = RunnerList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageRunners>()?;
    let rows = credentials::runners(&state.db, &right).await?;
    let items = rows.iter().map(RunnerView::from).collect();
    Ok(HttpResponse::Ok().json(RunnerList { items }))
}

/// Revokes a runner: its credential stops working, its session is closed
/// at once and its jobs return to the queue (admin).
#[utoipa::path(
    delete,
    path = "/runners/{id}",
    tag = "runners",
    params(("id" = String, Path, format = Uuid, description = "The runner id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such runner (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(runner_id = %id))]
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageRunners>()?;
    let id = parse_id(&id, "no such runner")?;
    if !credentials::revoke_runner(&state.db, &right, id).await? {
        return Err(ApiError::not_found("no such runner"));
    }
    tracing::info!(runner_id = %id, "runner revoked");
    // Reaches the replica holding its session; the session also re-reads
    // the row every few seconds, so a lost command delays it only briefly.
    if let Err(e) = state
        .commands
        .send(Command::RevokeRunner { runner_id: id })
        .await
    {
        tracing::warn!(error = %e, "could not announce the revocation; sessions notice it on their next check");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A path id, where a malformed one is simply not found.
fn parse_id(id: &str, missing: &str) -> Result<Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(missing.to_owned()))
}
