//! The HTTP surface under `/api/v1`: route table, extractor configuration
//! (so body, query and path errors use the API's error format) and the
//! JSON fallbacks for unknown routes and methods.

mod auth;
mod clients;
mod jobs;
mod openapi;
mod preferences;
mod templates;
mod upload;
mod users;
mod videos;
mod webhooks;

use crate::error::{self, ApiError};
use crate::state::AppState;
use actix_web::web::{self, FormConfig, JsonConfig, PathConfig, QueryConfig, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, Resource};

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
            .service(resource("/auth/introspect").route(web::post().to(auth::introspect)))
            .service(resource("/auth/verify-email").route(web::post().to(auth::verify_email)))
            .service(
                resource("/auth/password-reset/request")
                    .route(web::post().to(auth::password_reset_request)),
            )
            .service(resource("/auth/password-reset").route(web::post().to(auth::password_reset)))
            .service(resource("/uploads/token").route(web::post().to(auth::upload_token)))
            .service(
                resource("/users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create)),
            )
            .service(resource("/users/me").route(web::get().to(users::me)))
            .service(
                resource("/users/me/verify-email/request")
                    .route(web::post().to(users::request_verification)),
            )
            .service(
                resource("/users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete)),
            )
            .service(
                resource("/clients")
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::create)),
            )
            .service(resource("/clients/{id}").route(web::delete().to(clients::delete)))
            .service(
                resource("/videos")
                    .route(web::get().to(videos::list))
                    .route(web::post().to(upload::upload)),
            )
            .service(
                resource("/videos/{id}")
                    .route(web::get().to(videos::get))
                    .route(web::patch().to(videos::patch))
                    .route(web::delete().to(videos::delete)),
            )
            .service(resource("/videos/{id}/cancel").route(web::post().to(jobs::cancel)))
            .service(resource("/videos/{id}/retranscode").route(web::post().to(jobs::retranscode)))
            .service(resource("/videos/{id}/events").route(web::get().to(jobs::events)))
            .service(
                resource("/videos/{id}/playback-token")
                    .route(web::post().to(videos::playback_token)),
            )
            .service(
                resource("/users/me/notification-preferences")
                    .route(web::get().to(preferences::get))
                    .route(web::put().to(preferences::put)),
            )
            .service(
                resource("/webhooks")
                    .route(web::get().to(webhooks::list))
                    .route(web::post().to(webhooks::create)),
            )
            .service(resource("/webhooks/{id}").route(web::delete().to(webhooks::delete)))
            .service(
                resource("/webhooks/{id}/deliveries").route(web::get().to(webhooks::deliveries)),
            )
            .service(resource("/notification-templates").route(web::get().to(templates::list)))
            .service(
                resource("/notification-templates/{name}")
                    .route(web::get().to(templates::get))
                    .route(web::put().to(templates::put)),
            )
            .service(resource("/openapi.json").route(web::get().to(openapi::document)))
            .default_service(web::to(not_found)),
    );
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
