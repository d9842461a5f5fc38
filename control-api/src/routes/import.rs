//! `POST /api/v1/videos` with a JSON body `{"title", "url", "visibility"}`:
//! an import from a URL (the upload handler, [`super::upload`], hands JSON
//! bodies here; the OpenAPI operation is its). The body goes through the
//! API's JSON extractor (64 KiB, the API's error format); the title, the
//! visibility and the URL are checked before anything is recorded — the
//! URL with the SSRF guard's rules, so other schemes, credentials,
//! internal IP literals and `localhost` are refused with 400
//! `invalid_import_url` (unless `GOFLIX_IMPORT_ALLOW_PRIVATE`). The answer
//! is 202 at once, with the video `importing`; the fetch runs in the
//! background ([`crate::imports`]), where host names are checked again at
//! connect time and on every redirect.

use super::upload::Accepted;
use crate::auth::UploadCaller;
use crate::egress::{self, Refusal};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{imports, videos};
use actix_web::http::header;
use actix_web::mime;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use goflix_shared::domain::{VideoState, Visibility};
use serde::Deserialize;
use utoipa::ToSchema;

/// An import from a URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Where to fetch the master: `http` or `https`, at most 2048 bytes,
    /// no credentials, a public host (loopback, private and link-local
    /// addresses are refused, also after DNS and redirects).
    #[schema(max_length = 2048)]
    url: String,
    /// Who may play it; `public` when absent.
    #[schema(value_type = Option<Visibility>)]
    visibility: Option<String>,
}

/// Whether the request's body is JSON (`application/json`, or a `+json` type).
pub(super) fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        }
        _ => false,
    }
}

/// Starts an import; see the module docs.
pub(super) async fn create(
    state: web::Data<AppState>,
    caller: UploadCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let mut payload = payload.into_inner();
    let body = web::Json::<ImportRequest>::from_request(&req, &mut payload)
        .await?
        .into_inner();
    let title = videos::validate_title(&body.title)?;
    let visibility = match body.visibility.as_deref() {
        Some(value) => videos::parse_visibility(value)?,
        None => Visibility::default(),
    };
    let url = egress::check_url(&body.url, state.import_allow_private).map_err(invalid_url)?;
    let id = imports::begin(&state, caller.uploader(), title, visibility, &url).await?;
    tracing::Span::current().record("video_id", tracing::field::display(id));
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/videos/{id}")))
        .json(Accepted::new(id, VideoState::Importing)))
}

/// The 400 of a URL the guard refused.
fn invalid_url(refusal: Refusal) -> ApiError {
    let hint = match refusal {
        Refusal::Credentials => "; use a URL whose query carries a signature instead",
        Refusal::Internal => ": loopback, private and link-local addresses are not fetched",
        _ => "",
    };
    ApiError::bad_request("invalid_import_url", format!("{refusal}{hint}"))
}
