//! `POST /api/v1/videos`: a `multipart/form-data` upload with `title`,
//! optional `visibility` and `downloads` (`true` or `false`), and `file`,
//! read by the bounded [`MultipartReader`] (at most four parts, each header section at most
//! 8 KiB, text fields at most 4 KiB). The file part is piped chunk by chunk
//! into the object store through a small bounded channel, so memory use
//! stays at a few chunks whatever the upload's size; the store enforces the
//! size limit, also on a chunked body that declares no length, and keeps
//! nothing from a failed or oversized upload. A request whose
//! `Content-Length` already exceeds the limit is refused before any byte is
//! read. A zero-byte file is accepted like any other master: the
//! transcoder fails it with `invalid_media`, so every bad master reports
//! through the same `state: failed` path. Besides an access token with the
//! upload right, the request may carry a single-use upload token from
//! `POST /api/v1/uploads/token` (see [`UploadCaller`]).
//!
//! A JSON body on the same route is an import from a URL, handled by
//! [`super::import`].

use crate::auth::UploadCaller;
use crate::error::{ApiError, ErrorBody};
use crate::multipart::{self, Limits, MultipartReader};
use crate::state::AppState;
use crate::videos;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use goflix_shared::domain::{VideoId, VideoState, Visibility};
use goflix_shared::layout;
use goflix_shared::store::{ObjectKey, ObjectStore, StoreError};
use goflix_shared::trace_context::{self, TRACEPARENT};
use serde::Serialize;
use std::io;
use tracing::Instrument;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// Allowance for the multipart framing and the text fields on top of the
/// file size limit when judging `Content-Length` up front.
const FORM_OVERHEAD: u64 = 64 * 1024;
/// Largest accepted text field (`title`, `visibility`), in bytes.
const MAX_TEXT_FIELD: usize = 4 * 1024;
/// The form's bounds: its three fields, and header sections far above what
/// a browser sends for a file part (name, file name, content type).
const FORM_LIMITS: Limits = Limits {
    max_parts: 4,
    max_header_section: 8 * 1024,
};

/// The fields read so far.
#[derive(Default)]
struct Form {
    title: Option<String>,
    visibility: Option<Visibility>,
    downloads: Option<bool>,
    /// Size of the master, once stored.
    stored: Option<u64>,
}

/// The parts of the form, as the OpenAPI document describes them: `title`
/// (1 to 200 characters), optional `visibility` (default `public`) and
/// `file` (at most `GOFLIX_MAX_UPLOAD_BYTES`). The handler streams the parts
/// rather than deserializing them, so the schema is written out here.
pub(crate) struct UploadForm;

impl PartialSchema for UploadForm {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "title",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(videos::MAX_TITLE_CHARS)),
            )
            .required("title")
            .property("visibility", Visibility::schema())
            .property(
                "downloads",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["true", "false"]))
                    .description(Some(
                        "Whether the video offers a downloadable MP4 (default: `GOFLIX_DOWNLOADS`)",
                    )),
            )
            .property(
                "file",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/octet-stream"),
            )
            .required("file")
            .into()
    }
}

impl ToSchema for UploadForm {}

/// A stored and queued upload, or an import under way.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// The new video; also in `Location`.
    #[schema(value_type = String, format = Uuid)]
    id: VideoId,
    /// `queued` for an upload, `importing` for an import from a URL.
    state: VideoState,
}

impl Accepted {
    /// The answer for video `id`, now in `state`.
    pub(super) fn new(id: VideoId, state: VideoState) -> Self {
        Self { id, state }
    }
}

/// Uploads a master (admin or uploader, or a single-use upload token); it is
/// queued for transcoding. With a JSON body instead, imports the master
/// from a URL: the answer comes at once with the video `importing`, and
/// the control plane fetches it in the background (`progress` follows the
/// bytes received; a failed import ends `failed` with an `import_*` code),
/// then queues it like an upload. Handled in a span that continues the
/// client's trace (its `traceparent` header) and travels on with the job;
/// see the module docs.
#[utoipa::path(
    post,
    path = "/videos",
    tag = "videos",
    request_body(content(
        (UploadForm = "multipart/form-data"),
        (super::import::ImportRequest = "application/json"),
    )),
    responses(
        (status = 202, description = "Stored and queued (multipart), or importing (JSON)", body = Accepted,
         headers(("Location" = String, description = "The video's URL"))),
        (status = 400, description = "`missing_title`, `invalid_title`, `missing_file`, `invalid_visibility`, `duplicate_field`, `unknown_field`, `field_too_large`, `invalid_field`, `too_many_parts`, `part_headers_too_large`, `invalid_multipart`; for an import `invalid_json` and `invalid_import_url` (not http or https, credentials, an internal IP literal or `localhost`)", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired, revoked or spent token", body = ErrorBody),
        (status = 403, description = "Not an uploader or admin (`forbidden`)", body = ErrorBody),
        (status = 413, description = "Larger than GOFLIX_MAX_UPLOAD_BYTES, or a JSON body over 64 KiB (`payload_too_large`); nothing is stored", body = ErrorBody),
        (status = 415, description = "Neither multipart/form-data nor application/json (`unsupported_media_type`)", body = ErrorBody),
    )
)]
pub(crate) async fn upload(
    state: web::Data<AppState>,
    caller: UploadCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let span = tracing::info_span!("upload", video_id = tracing::field::Empty);
    let traceparent = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
    trace_context::set_parent(&span, traceparent);
    if super::import::is_json(&req) {
        return super::import::create(state, caller, req, payload)
            .instrument(span)
            .await;
    }
    Ok(receive(state, caller, req, payload)
        .instrument(span)
        .await?)
}

async fn receive(
    state: web::Data<AppState>,
    caller: UploadCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let uploader = caller.uploader();
    let mut reader = form_reader(&req, payload, FORM_LIMITS, state.max_upload_bytes)?;
    let id = VideoId::new();
    tracing::Span::current().record("video_id", tracing::field::display(id));
    let master = layout::master(id);
    let mut form = Form::default();
    let outcome = match read_form(&state, &mut reader, &master, &mut form).await {
        Ok(()) => validate(&form),
        Err(e) => Err(e),
    };
    let registered = match outcome {
        Ok((title, visibility)) => {
            videos::register(&state, uploader, id, title, visibility, form.downloads).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = registered {
        if form.stored.is_some() {
            discard(&state, &master).await;
        }
        return Err(e);
    }
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/videos/{id}")))
        .json(Accepted {
            id,
            state: VideoState::Queued,
        }))
}

/// The reader of a `multipart/form-data` request within `limits` whose
/// file part may hold `limit` bytes: a `Content-Length` already past that
/// (with the form's overhead) is refused before any byte is read.
pub(super) fn form_reader(
    req: &HttpRequest,
    payload: web::Payload,
    limits: Limits,
    limit: u64,
) -> Result<MultipartReader<Body>, ApiError> {
    if super::body_pipe::declared_length(req)
        .is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD))
    {
        return Err(ApiError::too_large(limit));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let boundary = multipart::form_boundary(content_type)?;
    Ok(MultipartReader::new(&boundary, payload, limits))
}

/// The request body as the reader takes it.
pub(super) type Body = web::Payload;

async fn read_form(
    state: &AppState,
    reader: &mut MultipartReader<Body>,
    master: &ObjectKey,
    form: &mut Form,
) -> Result<(), ApiError> {
    while let Some(part) = reader.next_part().await? {
        let name = part.name;
        match name.as_str() {
            "title" if form.title.is_none() => {
                form.title = Some(read_text(reader, "title").await?);
            }
            "visibility" if form.visibility.is_none() => {
                let value = read_text(reader, "visibility").await?;
                form.visibility = Some(videos::parse_visibility(&value)?);
            }
            "downloads" if form.downloads.is_none() => {
                let value = read_text(reader, "downloads").await?;
                form.downloads = Some(parse_downloads(&value)?);
            }
            "file" if form.stored.is_none() => {
                form.stored = Some(store_file(state, reader, master).await?);
            }
            "title" | "visibility" | "downloads" | "file" => {
                return Err(ApiError::bad_request(
                    "duplicate_field",
                    format!("the field {name:?} appears more than once"),
                ))
            }
            other => {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    format!(
                    "unexpected field {other:?}; expected title, visibility, downloads and file"
                ),
                ))
            }
        }
    }
    Ok(())
}

/// `true` or `false`.
fn parse_downloads(value: &str) -> Result<bool, ApiError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ApiError::bad_request(
            "invalid_field",
            format!("downloads must be true or false, not {other:?}"),
        )),
    }
}

fn validate(form: &Form) -> Result<(String, Visibility), ApiError> {
    let title = form
        .title
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("missing_title", "the form needs a title field"))?;
    let title = videos::validate_title(title)?;
    match form.stored {
        None => Err(ApiError::bad_request(
            "missing_file",
            "the form needs a file field",
        )),
        Some(_) => Ok((title, form.visibility.unwrap_or_default())),
    }
}

/// The text field `name` being read, as UTF-8 of at most 4 KiB.
pub(super) async fn read_text(
    reader: &mut MultipartReader<Body>,
    name: &str,
) -> Result<String, ApiError> {
    let mut buffer = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        if buffer.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(
                "field_too_large",
                format!("the field {name:?} is longer than {MAX_TEXT_FIELD} bytes"),
            ));
        }
        buffer.extend_from_slice(&chunk);
    }
    String::from_utf8(buffer).map_err(|_| {
        ApiError::bad_request("invalid_field", format!("the field {name:?} is not UTF-8"))
    })
}

/// Pipes the file part into the store; returns the stored size.
async fn store_file(
    state: &AppState,
    reader: &mut MultipartReader<Body>,
    master: &ObjectKey,
) -> Result<u64, ApiError> {
    let (sender, body) = super::body_pipe::pipe();
    let store = state
        .store
        .put_stream(master, body, Some(state.max_upload_bytes));
    let pump = async move {
        loop {
            match reader.next_chunk().await {
                Ok(None) => return Ok(()),
                Ok(Some(bytes)) => {
                    if sender.send(Ok(bytes)).await.is_err() {
                        // The store stopped reading (limit reached or failure).
                        return Ok(());
                    }
                }
                Err(e) => {
                    let _ = sender
                        .send(Err(io::Error::other("upload interrupted")))
                        .await;
                    return Err(e);
                }
            }
        }
    };
    match futures_util::future::join(store, pump).await {
        (Err(StoreError::TooLarge { limit }), _) => Err(ApiError::too_large(limit)),
        (_, Err(e)) => Err(e.into()),
        (stored, Ok(())) => Ok(stored?),
    }
}

/// Removes a master stored for an upload that was then refused.
async fn discard(state: &AppState, master: &ObjectKey) {
    if let Err(e) = state.store.delete_prefix(master.as_str()).await {
        tracing::error!(key = %master, error = %e, "could not delete the master of a refused upload");
    }
}
