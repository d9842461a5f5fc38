//! `POST /api/v1/auth/token`: the OAuth 2.0 token endpoint (RFC 6749),
//! form-encoded, with the `password` and `refresh_token` grants. Responses
//! are never cached.

use crate::auth::session;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

/// The form fields of both grants (others, such as `scope`, are ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenRequest {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

fn missing(field: &str) -> ApiError {
    ApiError::oauth(
        "invalid_request",
        format!("the {field} parameter is required"),
    )
}

#[tracing::instrument(skip_all, fields(grant_type = form.grant_type.as_deref().unwrap_or("")))]
pub(crate) async fn token(
    state: web::Data<AppState>,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let response = match form.grant_type.as_deref() {
        Some("password") => {
            let username = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            session::password_grant(&state, &username, &password).await?
        }
        Some("refresh_token") => {
            let token = form.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            session::refresh_grant(&state, &token).await?
        }
        Some(other) => {
            return Err(ApiError::oauth(
                "unsupported_grant_type",
                format!("grant type {other:?} is not supported; use password or refresh_token"),
            ))
        }
        None => return Err(missing("grant_type")),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
