//! `POST|GET /api/v1/videos/{id}/captions` and `DELETE
//! /api/v1/videos/{id}/captions/{language}`. The upload is a bounded
//! `multipart/form-data` form (`language`, `label`, optional `kind`,
//! `file`, at most four parts) whose file, WebVTT or SRT of at most 2 MiB,
//! is read into memory and checked before anything is stored: a malformed
//! file is a `422` naming the line at fault. See [`crate::captions`].

use super::upload::{form_reader, read_text, Body};
use crate::auth::{Caller, MaybeCaller};
use crate::captions::{self, CaptionView, NewCaption, Put};
use crate::error::{ApiError, ErrorBody};
use crate::multipart::{Limits, MultipartReader};
use crate::state::AppState;
use crate::videos;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use goflix_shared::captions::{self as text, LanguageTag, MAX_CAPTION_BYTES};
use goflix_shared::domain::CaptionKind;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The form's bounds: its four fields.
const FORM_LIMITS: Limits = Limits {
    max_parts: 4,
    max_header_section: 8 * 1024,
};

/// The parts of the caption form, as the OpenAPI document describes them.
pub(crate) struct CaptionForm;

impl PartialSchema for CaptionForm {
    fn schema() -> RefOr<Schema> {
        let text = |max: usize| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max))
        };
        ObjectBuilder::new()
            .property(
                "language",
                text(35).description(Some("BCP 47 language tag, e.g. `de` or `pt-BR`")),
            )
            .required("language")
            .property("label", text(captions::MAX_LABEL_CHARS))
            .required("label")
            .property("kind", CaptionKind::schema())
            .property(
                "file",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("text/vtt")
                    .description(Some("WebVTT or SRT, UTF-8, at most 2 MiB")),
            )
            .required("file")
            .into()
    }
}

impl ToSchema for CaptionForm {}

/// A video's captions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CaptionList {
    /// By language.
    items: Vec<CaptionView>,
}

/// Adds a caption track in a language, or replaces the one in that
/// language (owner or admin). SRT is converted to WebVTT. HLS and DASH
/// list it without re-encoding and without changing any media file; a video
/// still queued or processing lists it once ready.
#[utoipa::path(
    post,
    path = "/videos/{id}/captions",
    tag = "videos",
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    request_body(content((CaptionForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "Added", body = CaptionView,
         headers(("Location" = String, description = "The caption's URL"))),
        (status = 200, description = "Replaced the caption in that language", body = CaptionView),
        (status = 400, description = "`missing_field`, `invalid_language` (not BCP 47), `invalid_label`, `invalid_kind`, `duplicate_field`, `unknown_field`, `field_too_large`, `invalid_field`, `too_many_parts`, `part_headers_too_large`, `invalid_multipart`", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
        (status = 413, description = "The file is larger than 2 MiB (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "Not WebVTT or SRT, or malformed: the message names the line (`invalid_caption`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    let mut reader = form_reader(&req, payload, FORM_LIMITS, MAX_CAPTION_BYTES as u64)?;
    let caption = read_form(&mut reader).await?.validate()?;
    let (put, view) = captions::put(&state, &managed, caption).await?;
    Ok(match put {
        Put::Added => HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!(
                    "/api/v1/videos/{}/captions/{}",
                    managed.video().id,
                    view.language()
                ),
            ))
            .json(view),
        Put::Replaced => HttpResponse::Ok().json(view),
    })
}

/// The fields as sent.
#[derive(Default)]
struct Form {
    language: Option<String>,
    label: Option<String>,
    kind: Option<String>,
    file: Option<Vec<u8>>,
}

impl Form {
    /// The caption the form describes, every field checked.
    fn validate(self) -> Result<NewCaption, ApiError> {
        let missing = |name: &str| {
            ApiError::bad_request("missing_field", format!("the form needs a {name} field"))
        };
        let language = self.language.ok_or_else(|| missing("language"))?;
        let language = LanguageTag::parse(language.trim())
            .map_err(|message| ApiError::bad_request("invalid_language", message))?;
        let label = captions::validate_label(&self.label.ok_or_else(|| missing("label"))?)?;
        let kind = match self.kind.as_deref().map(str::trim) {
            None | Some("") => CaptionKind::Subtitles,
            Some(kind) => kind
                .parse()
                .map_err(|message: String| ApiError::bad_request("invalid_kind", message))?,
        };
        let file = self.file.ok_or_else(|| missing("file"))?;
        let cues = text::parse(&file)
            .map_err(|e| ApiError::unprocessable("invalid_caption", e.to_string()))?;
        Ok(NewCaption {
            language,
            label,
            kind,
            cues,
        })
    }
}

async fn read_form(reader: &mut MultipartReader<Body>) -> Result<Form, ApiError> {
    let mut form = Form::default();
    while let Some(part) = reader.next_part().await? {
        let name = part.name;
        let slot = match name.as_str() {
            "language" => &mut form.language,
            "label" => &mut form.label,
            "kind" => &mut form.kind,
            "file" if form.file.is_none() => {
                form.file = Some(read_file(reader).await?);
                continue;
            }
            "file" => return Err(duplicate(&name)),
            other => {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    format!("unexpected field {other:?}; expected language, label, kind and file"),
                ))
            }
        };
        if slot.is_some() {
            return Err(duplicate(&name));
        }
        *slot = Some(read_text(reader, &name).await?);
    }
    Ok(form)
}

fn duplicate(name: &str) -> ApiError {
    ApiError::bad_request(
        "duplicate_field",
        format!("the field {name:?} appears more than once"),
    )
}

/// The file part, refused as soon as it passes [`MAX_CAPTION_BYTES`].
async fn read_file(reader: &mut MultipartReader<Body>) -> Result<Vec<u8>, ApiError> {
    let mut file = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        if file.len() + chunk.len() > MAX_CAPTION_BYTES {
            return Err(ApiError::too_large(MAX_CAPTION_BYTES as u64));
        }
        file.extend_from_slice(&chunk);
    }
    Ok(file)
}

/// The video's captions (anyone who may read the video).
#[utoipa::path(
    get,
    path = "/videos/{id}/captions",
    tag = "videos",
    security((), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The video id")),
    responses(
        (status = 200, description = "Its captions", body = CaptionList),
        (status = 401, description = "Invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 404, description = "No such video, or not visible to the caller (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %id))]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: MaybeCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let readable = caller.read(videos::find(&state, &id).await?)?;
    let items = captions::list(&state, &readable).await?;
    Ok(HttpResponse::Ok().json(CaptionList { items }))
}

/// Removes the video's caption in a language (owner or admin); the
/// manifests stop listing it, the media is untouched.
#[utoipa::path(
    delete,
    path = "/videos/{id}/captions/{language}",
    tag = "videos",
    params(
        ("id" = String, Path, format = Uuid, description = "The video id"),
        ("language" = String, Path, description = "The caption's BCP 47 language tag"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not the owner or an admin (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such video, or no caption in that language (`not_found`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video_id = %path.0, language = %path.1))]
pub(crate) async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, language) = path.into_inner();
    let managed = caller.manage(videos::find(&state, &id).await?)?;
    captions::remove(&state, &managed, &language).await?;
    Ok(HttpResponse::NoContent().finish())
}
