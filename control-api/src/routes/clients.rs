//! Service clients (admins only): `POST /api/v1/clients` registers one and
//! returns `{client_id, client_secret}` — the secret only this once —
//! `GET /api/v1/clients` lists them, `DELETE /api/v1/clients/{client_id}`
//! removes one, ending its tokens.

use crate::auth::clients;
use crate::auth::{Caller, ManageClients};
use crate::db::{oauth_client, time_of};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

/// The body of `POST /api/v1/clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: String,
    /// Space-separated, e.g. `videos:read videos:write`.
    scope: String,
}

fn view(client: &oauth_client::Model) -> Value {
    json!({
        "client_id": client.client_id,
        "name": client.name,
        "scope": client.scopes,
        "owner_id": client.owner_id,
        "created_at": time_of(client.created_at),
    })
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageClients>()?;
    let registered = clients::register(&state.db, &right, &body.name, &body.scope).await?;
    let mut body = view(&registered.client);
    body["client_secret"] = json!(registered.secret);
    tracing::info!(client_id = %registered.client.client_id, "service client registered");
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let right = caller.require::<ManageClients>()?;
    let items: Vec<Value> = clients::list(&state.db, &right)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

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
