//! The HTTP surface under `/api/v1`: route table, extractor configuration
//! (so body, query and path errors use the API's error format) and the
//! JSON fallbacks for unknown routes and methods.

mod auth;
mod body_pipe;
mod captions;
mod clients;
mod events;
mod import;
mod jobs;
mod openapi;
mod preferences;
mod runners;
mod templates;
mod tus;
mod upload;
mod users;
mod videos;
mod webhooks;

use crate::auth::authenticate_bearer;
use crate::error::{self, ApiError};
use crate::state::AppState;
use actix_web::middleware::from_fn;
use actix_web::web::{self, FormConfig, JsonConfig, PathConfig, QueryConfig, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, Resource, Route};

/// Largest accepted JSON body.
const JSON_LIMIT: usize = 64 * 1024;
/// Largest accepted form body (the token endpoint).
const FORM_LIMIT: usize = 16 * 1024;

/// Mounts `/api/v1/...` with `state`.
pub(crate) fn configure(state: web::Data<AppState>, cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(state)
            .app_data(
                JsonConfig::default()
                    .limit(JSON_LIMIT)
                    .error_handler(error::json_error),
            )
            .app_data(QueryConfig::default().error_handler(error::query_error))
            .app_data(PathConfig::default().error_handler(error::path_error))
            .app_data(
                FormConfig::default()
                    .limit(FORM_LIMIT)
                    .error_handler(error::form_error),
            )
            .service(resource("/auth/token").route(web::post().to(auth::token)))
            .service(resource("/auth/revoke").route(web::post().to(auth::revoke)))
            .service(
                resource("/auth/introspect").route(authenticated(web::post().to(auth::introspect))),
            )
            .service(resource("/auth/verify-email").route(web::post().to(auth::verify_email)))
            .service(
                resource("/auth/password-reset/request")
                    .route(web::post().to(auth::password_reset_request)),
            )
            .service(resource("/auth/password-reset").route(web::post().to(auth::password_reset)))
            .service(
                resource("/uploads/token").route(authenticated(web::post().to(auth::upload_token))),
            )
            .service(resource("/uploads").route(authenticated(web::post().to(tus::direct))))
            .service(tus::scope())
            .service(
                resource("/users")
                    .route(authenticated(web::get().to(users::list)))
                    .route(authenticated(web::post().to(users::create))),
            )
            .service(resource("/users/me").route(authenticated(web::get().to(users::me))))
            .service(
                resource("/users/me/verify-email/request")
                    .route(authenticated(web::post().to(users::request_verification))),
            )
            .service(
                resource("/users/{id}")
                    .route(authenticated(web::get().to(users::get)))
                    .route(authenticated(web::patch().to(users::patch)))
                    .route(authenticated(web::delete().to(users::delete))),
            )
            .service(
                resource("/clients")
                    .route(authenticated(web::get().to(clients::list)))
                    .route(authenticated(web::post().to(clients::create))),
            )
            .service(
                resource("/clients/{id}").route(authenticated(web::delete().to(clients::delete))),
            )
            .service(
                resource("/runners/registration-tokens")
                    .route(authenticated(web::get().to(runners::list_tokens)))
                    .route(authenticated(web::post().to(runners::create_token))),
            )
            .service(
                resource("/runners/registration-tokens/{id}")
                    .route(authenticated(web::delete().to(runners::revoke_token))),
            )
            .service(resource("/runners").route(authenticated(web::get().to(runners::list))))
            .service(
                resource("/runners/{id}").route(authenticated(web::delete().to(runners::revoke))),
            )
            .service(
                resource("/videos")
                    .route(authenticated(web::get().to(videos::list)))
                    .route(web::post().to(upload::upload)),
            )
            .service(resource("/events").route(authenticated(web::get().to(events::events))))
            .service(
                resource("/videos/{id}")
                    .route(authenticated(web::get().to(videos::get)))
                    .route(authenticated(web::patch().to(videos::patch)))
                    .route(authenticated(web::delete().to(videos::delete))),
            )
            .service(
                resource("/videos/{id}/cancel").route(authenticated(web::post().to(jobs::cancel))),
            )
            .service(
                resource("/videos/{id}/retranscode")
                    .route(authenticated(web::post().to(jobs::retranscode))),
            )
            .service(
                resource("/videos/{id}/events").route(authenticated(web::get().to(jobs::events))),
            )
            .service(
                resource("/videos/{id}/captions")
                    .route(authenticated(web::get().to(captions::list)))
                    .route(authenticated(web::post().to(captions::create))),
            )
            .service(
                resource("/videos/{id}/captions/{language}")
                    .route(authenticated(web::delete().to(captions::delete))),
            )
            .service(
                resource("/videos/{id}/playback-token")
                    .route(authenticated(web::post().to(videos::playback_token))),
            )
            .service(
                resource("/users/me/notification-preferences")
                    .route(authenticated(web::get().to(preferences::get)))
                    .route(authenticated(web::put().to(preferences::put))),
            )
            .service(
                resource("/webhooks")
                    .route(authenticated(web::get().to(webhooks::list)))
                    .route(authenticated(web::post().to(webhooks::create))),
            )
            .service(
                resource("/webhooks/{id}").route(authenticated(web::delete().to(webhooks::delete))),
            )
            .service(
                resource("/webhooks/{id}/deliveries")
                    .route(authenticated(web::get().to(webhooks::deliveries))),
            )
            .service(
                resource("/notification-templates")
                    .route(authenticated(web::get().to(templates::list))),
            )
            .service(
                resource("/notification-templates/{name}")
                    .route(authenticated(web::get().to(templates::get)))
                    .route(authenticated(web::put().to(templates::put))),
            )
            .service(resource("/openapi.json").route(web::get().to(openapi::document)))
            .default_service(web::to(not_found)),
    );
}

/// `route` behind bearer authentication: every route whose handler takes a
/// [`crate::auth::Caller`] or [`crate::auth::MaybeCaller`] (their extractors
/// refuse to work on any other).
fn authenticated(route: Route) -> Route {
    route.wrap(from_fn(authenticate_bearer))
}

/// A resource answering unknown methods with a JSON 405.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!("no route {}", req.path())))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}
