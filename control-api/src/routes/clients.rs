//! Service clients (admins only): `POST /api/v1/clients` registers one and
//! returns `{client_id, client_secret}` — the secret only this once —
//! `GET /api/v1/clients` lists them, `DELETE /api/v1/clients/{client_id}`
//! removes one, ending its tokens.

use crate::auth::clients;
use crate::auth::{Caller, ManageClients};
use crate::db::{oauth_client, time_of};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The body of `POST /api/v1/clients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewClient)]
pub(crate) struct CreateBody {
    /// 1 to 100 characters.
    name: String,
    /// Space-separated, e.g. `videos:read videos:write`.
    scope: String,
}

/// A service client as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientView {
    client_id: String,
    name: String,
    /// Space-separated scopes.
    scope: String,
    /// The admin it acts for.
    owner_id: Uuid,
    created_at: DateTime<Utc>,
}

impl From<&oauth_client::Model> for ClientView {
    fn from(client: &oauth_client::Model) -> Self {
        Self {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            scope: client.scopes.clone(),
            owner_id: client.owner_id,
            created_at: time_of(client.created_at),
        }
    }
}

/// A newly registered client, with the secret shown only this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisteredClient {
    #[serde(flatten)]
    client: ClientView,
    /// Use with `client_id` for HTTP Basic on the token endpoint.
    client_secret: String,
}

/// The registered clients.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientList {
    items: Vec<ClientView>,
}

/// Registers a service client acting for the calling admin within its
/// scopes (admin); the secret is shown only in this response.
#[utoipa::path(
    post,
    path = "/clients",
    tag = "clients",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Registered", body = RegisteredClient),
        (status = 400, description = "`invalid_name`, `invalid_scope` or malformed body", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageClients>()?;
    let registered = clients::register(&state.db, &right, &body.name, &body.scope).await?;
    tracing::info!(client_id = %registered.client.client_id, "service client registered");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RegisteredClient {
            client: ClientView::from(&registered.client),
            client_secret: registered.secret,
        }))
}

/// The registered service clients (admin).
#[utoipa::path(
    get,
    path = "/clients",
    tag = "clients",
    responses(
        (status = 200, description = "The clients", body = ClientList),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageClients>()?;
    let items = clients::list(&state.db, &right)
        .await?
        .iter()
        .map(ClientView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ClientList { items }))
}

/// Deletes a service client; its tokens stop working at once (admin).
#[utoipa::path(
    delete,
    path = "/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client_id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such client (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(client_id = %id))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageClients>()?;
    if !clients::delete(&state.db, &right, &id).await? {
        return Err(ApiError::not_found("no such client"));
    }
    Ok(HttpResponse::NoContent().finish())
}
