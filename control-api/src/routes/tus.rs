//! The tus 1.0.0 routes under `/api/v1/uploads/tus` ([`scope`]) and the
//! direct-upload endpoint `POST /api/v1/uploads` ([`direct`]). Every tus
//! response carries `Tus-Resumable` and CORS headers that let a page on
//! any origin upload with a bearer token (no cookies are involved) and
//! read the tus headers; every request but `OPTIONS` must send
//! `Tus-Resumable: 1.0.0` (412 otherwise). `X-HTTP-Method-Override` on a
//! `POST` to an upload is served as that method. The protocol itself is
//! [`crate::tus`].

use super::body_pipe::declared_length;
use crate::auth::upload_access::UploadAccess;
use crate::auth::{Caller, Uploader};
use crate::db::upload::{self, UploadState};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::tus::protocol::{self as tus, ExpectedChecksum, Metadata, ProtocolError};
use crate::tus::uploads::{self, NewUpload, Patch};
use crate::videos;
use actix_web::dev::HttpServiceFactory;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use goflix_shared::domain::Visibility;
use serde::{Deserialize, Serialize};
use std::io;
use std::time::{Duration, UNIX_EPOCH};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest accepted `filename` in `Upload-Metadata`, in characters.
const MAX_FILENAME_CHARS: usize = 255;
/// How long a browser may cache the answer to a CORS preflight.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// `/uploads/tus` with its two resources.
pub(crate) fn scope() -> impl HttpServiceFactory {
    web::scope("/uploads/tus")
        .wrap(
            DefaultHeaders::new()
                .add((tus::TUS_RESUMABLE, tus::VERSION))
                .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, tus::EXPOSED_HEADERS)),
        )
        .service(collection(""))
        .service(collection("/"))
        .service(
            super::resource("/{id}")
                .route(web::head().to(head))
                .route(web::patch().to(patch))
                .route(web::delete().to(terminate))
                .route(web::post().to(method_override))
                .route(web::method(actix_web::http::Method::OPTIONS).to(options_upload)),
        )
}

fn collection(path: &str) -> actix_web::Resource {
    super::resource(path)
        .route(web::post().to(create))
        .route(web::method(actix_web::http::Method::OPTIONS).to(options_collection))
}

impl From<ProtocolError> for ApiError {
    fn from(e: ProtocolError) -> Self {
        let code = match e {
            ProtocolError::NotANumber(_) => "invalid_tus_header",
            ProtocolError::Metadata(_) => "invalid_upload_metadata",
            ProtocolError::MalformedChecksum | ProtocolError::UnsupportedAlgorithm(_) => {
                "invalid_upload_checksum"
            }
        };
        ApiError::bad_request(code, e.to_string())
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::bad_request("invalid_tus_header", format!("{name} is not ASCII"))
            })
        })
        .transpose()
}

/// 412 unless the request speaks tus 1.0.0.
fn require_version(req: &HttpRequest) -> Result<(), ApiError> {
    match text(req.headers(), tus::TUS_RESUMABLE)? {
        Some(tus::VERSION) => Ok(()),
        Some(other) => Err(ApiError::with_status(
            StatusCode::PRECONDITION_FAILED,
            "unsupported_tus_version",
            format!(
                "Tus-Resumable {other:?} is not supported; this server speaks {}",
                tus::VERSION
            ),
        )),
        None => Err(ApiError::with_status(
            StatusCode::PRECONDITION_FAILED,
            "missing_tus_resumable",
            format!("send Tus-Resumable: {}", tus::VERSION),
        )),
    }
}

fn upload_id(path: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(path).map_err(|_| ApiError::not_found("no such upload"))
}

/// The public URL of upload `id` (see [`crate::public_url`]).
fn upload_url(state: &AppState, req: &HttpRequest, id: Uuid) -> Result<String, ApiError> {
    Ok(format!(
        "{}/api/v1/uploads/tus/{id}",
        crate::public_url::base(state, req)?
    ))
}

fn expires(row: &upload::Model) -> Option<String> {
    (row.state == UploadState::Receiving).then(|| {
        let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(row.expires_at).unwrap_or(0));
        httpdate::fmt_http_date(at)
    })
}

/// Adds `Upload-Offset` and, while it runs, `Upload-Expires`.
fn progress_headers<'a>(
    response: &'a mut HttpResponseBuilder,
    row: &upload::Model,
) -> &'a mut HttpResponseBuilder {
    response.insert_header((tus::UPLOAD_OFFSET, row.offset.to_string()));
    if let Some(at) = expires(row) {
        response.insert_header((tus::UPLOAD_EXPIRES, at));
    }
    response
}

/// What this server supports, and the CORS preflight answer.
fn capabilities(state: &AppState) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((tus::TUS_VERSION, tus::VERSION))
        .insert_header((tus::TUS_EXTENSION, tus::EXTENSIONS))
        .insert_header((tus::TUS_MAX_SIZE, state.max_upload_bytes.to_string()))
        .insert_header((tus::TUS_CHECKSUM_ALGORITHM, tus::CHECKSUM_ALGORITHMS))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, tus::ALLOWED_METHODS))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, tus::ALLOWED_HEADERS))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
        .finish()
}

/// `OPTIONS` on the collection: the tus capabilities (no token needed).
#[utoipa::path(
    options,
    path = "/uploads/tus",
    tag = "uploads",
    security(()),
    responses((status = 204, description = "`Tus-Version`, `Tus-Extension`, `Tus-Max-Size`, `Tus-Checksum-Algorithm` and the CORS preflight headers")),
)]
pub(crate) async fn options_collection(state: web::Data<AppState>) -> HttpResponse {
    capabilities(&state)
}

/// `OPTIONS` on an upload: the same as on the collection.
#[utoipa::path(
    options,
    path = "/uploads/tus/{id}",
    tag = "uploads",
    security(()),
    params(("id" = String, Path, description = "The upload id")),
    responses((status = 204, description = "As on `/uploads/tus`")),
)]
pub(crate) async fn options_upload(state: web::Data<AppState>) -> HttpResponse {
    capabilities(&state)
}

/// The video fields of `Upload-Metadata`: `title` (or else `filename`),
/// `visibility` and `filename`.
fn video_fields(metadata: &Metadata) -> Result<(String, Visibility, Option<String>), ApiError> {
    let filename = metadata.text("filename")?.or(metadata.text("name")?);
    check_filename(filename.as_deref())?;
    let title = metadata
        .text("title")?
        .or_else(|| filename.clone())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_title",
                "Upload-Metadata needs a title (or a filename)",
            )
        })?;
    let visibility = match metadata.text("visibility")? {
        Some(value) => videos::parse_visibility(&value)?,
        None => Visibility::default(),
    };
    Ok((videos::validate_title(&title)?, visibility, filename))
}

/// Refuses a file name longer than [`MAX_FILENAME_CHARS`].
fn check_filename(filename: Option<&str>) -> Result<(), ApiError> {
    match filename {
        Some(f) if f.chars().count() > MAX_FILENAME_CHARS => Err(ApiError::bad_request(
            "invalid_upload_metadata",
            format!("filename is longer than {MAX_FILENAME_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// Whether the request carries a body (`creation-with-upload`).
fn has_body(req: &HttpRequest) -> bool {
    declared_length(req).is_some_and(|n| n > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
}

fn require_offset_stream(req: &HttpRequest) -> Result<(), ApiError> {
    match text(req.headers(), header::CONTENT_TYPE.as_str())? {
        Some(tus::OFFSET_OCTET_STREAM) => Ok(()),
        _ => Err(ApiError::unsupported_media_type(format!(
            "upload bytes are sent as {}",
            tus::OFFSET_OCTET_STREAM
        ))),
    }
}

/// Creates an upload (`creation`), storing the body sent with it
/// (`creation-with-upload`). Requires an access token with the upload right.
#[utoipa::path(
    post,
    path = "/uploads/tus",
    tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The master's size in bytes, at most GOFLIX_MAX_UPLOAD_BYTES"),
        ("Upload-Metadata" = Option<String>, Header, description = "tus metadata: `title` (else `filename`), `visibility`, `filename`, each base64"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "Optional: the first bytes (creation-with-upload)"),
    responses(
        (status = 201, description = "Created; the URL is in `Location` (under GOFLIX_PUBLIC_URL when set)",
         headers(("Location" = String, description = "The upload's URL"), ("Upload-Expires" = String, description = "When it expires unfinished"), ("Upload-Offset" = u64, description = "Bytes stored, when a body was sent"))),
        (status = 400, description = "`missing_upload_length`, `deferred_length_unsupported`, `invalid_tus_header`, `invalid_upload_metadata`, `missing_title`, `invalid_title`, `invalid_visibility`", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an uploader or admin, or a direct-upload token (`forbidden`)", body = ErrorBody),
        (status = 412, description = "No or another `Tus-Resumable` (`missing_tus_resumable`, `unsupported_tus_version`)", body = ErrorBody),
        (status = 413, description = "`Upload-Length` above GOFLIX_MAX_UPLOAD_BYTES (`payload_too_large`)", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    state: web::Data<AppState>,
    access: UploadAccess,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_version(&req)?;
    let UploadAccess::Owner(uploader) = &access else {
        return Err(ApiError::forbidden(
            "a direct-upload token opens only its own upload",
        ));
    };
    let headers = req.headers();
    if headers.contains_key(tus::UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::bad_request(
            "deferred_length_unsupported",
            "send Upload-Length; a deferred length is not supported",
        ));
    }
    let length = text(headers, tus::UPLOAD_LENGTH)?
        .ok_or_else(|| ApiError::bad_request("missing_upload_length", "send Upload-Length"))?;
    let length = tus::parse_size("Upload-Length", length)?;
    if length > state.max_upload_bytes {
        return Err(ApiError::too_large(state.max_upload_bytes));
    }
    let metadata = Metadata::parse(text(headers, tus::UPLOAD_METADATA)?.unwrap_or_default())?;
    let (title, visibility, filename) = video_fields(&metadata)?;
    let with_body = has_body(&req);
    if with_body {
        require_offset_stream(&req)?;
    }
    let created = uploads::create(
        &state,
        NewUpload {
            owner_id: uploader.owner_id(),
            title,
            visibility,
            filename,
            length,
            direct: false,
        },
    )
    .await?;
    let location = upload_url(&state, &req, created.upload.id)?;
    let mut row = created.upload;
    if with_body {
        let patch = read_patch(&req, 0)?;
        row = receive(&state, &access, row.id, patch, payload).await?;
    }
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location));
    if with_body {
        progress_headers(&mut response, &row);
    } else if let Some(at) = expires(&row) {
        response.insert_header((tus::UPLOAD_EXPIRES, at));
    }
    Ok(response.finish())
}

/// `HEAD`: how many bytes are stored.
#[utoipa::path(
    head,
    path = "/uploads/tus/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, format = Uuid, description = "The upload id (the video id once complete)"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ),
    responses(
        (status = 200, description = "`Upload-Offset` (bytes durably stored), `Upload-Length`, `Upload-Metadata` and, unfinished, `Upload-Expires`; `Cache-Control: no-store`"),
        (status = 401, description = "Missing, invalid or spent token"),
        (status = 404, description = "No such upload, or someone else's"),
        (status = 410, description = "Expired unfinished; its bytes are removed"),
        (status = 412, description = "No or another `Tus-Resumable`"),
    )
)]
pub(crate) async fn head(
    state: web::Data<AppState>,
    access: UploadAccess,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_version(&req)?;
    let row = uploads::find(&state, &access, upload_id(&path)?).await?;
    let mut metadata = vec![
        ("title", row.title.as_str()),
        ("visibility", row.visibility.as_str()),
    ];
    if let Some(filename) = &row.filename {
        metadata.push(("filename", filename));
    }
    let mut response = HttpResponse::Ok();
    progress_headers(&mut response, &row)
        .insert_header((tus::UPLOAD_LENGTH, row.length.to_string()))
        .insert_header((tus::UPLOAD_METADATA, Metadata::encode(metadata)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.finish())
}

/// The headers of a PATCH (or of a creation with a body, at `offset`).
fn read_patch(req: &HttpRequest, offset: u64) -> Result<PatchHeaders, ApiError> {
    let checksum = text(req.headers(), tus::UPLOAD_CHECKSUM)?
        .map(ExpectedChecksum::parse)
        .transpose()?;
    Ok(PatchHeaders {
        offset,
        declared: declared_length(req),
        checksum,
    })
}

/// A PATCH's headers, before its body is bridged.
struct PatchHeaders {
    offset: u64,
    declared: Option<u64>,
    checksum: Option<ExpectedChecksum>,
}

/// Streams the request body into the upload through a
/// [`super::body_pipe::pipe`]; a body that breaks off reaches the store as
/// an error after its last bytes.
async fn receive(
    state: &AppState,
    access: &UploadAccess,
    id: Uuid,
    headers: PatchHeaders,
    mut payload: web::Payload,
) -> Result<upload::Model, ApiError> {
    let (sender, body) = super::body_pipe::pipe();
    let patch = Patch {
        offset: headers.offset,
        declared: headers.declared,
        checksum: headers.checksum,
        body,
    };
    let pump = async move {
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| io::Error::other(format!("the request body broke off: {e}")));
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
    };
    let append = uploads::append(state, access, id, patch);
    futures_util::pin_mut!(append, pump);
    // The append may finish without reading the body (a wrong offset); it
    // does not wait for the rest of the body then.
    tokio::select! {
        result = &mut append => result,
        () = &mut pump => append.await,
    }
}

/// `PATCH`: appends the body at `Upload-Offset`.
#[utoipa::path(
    patch,
    path = "/uploads/tus/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, format = Uuid, description = "The upload id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where the body goes: the current `Upload-Offset`"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of the body; then it counts only whole"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored; the new `Upload-Offset` (and `Upload-Expires`). After the last byte the video exists under the upload's id, queued", headers(("Upload-Offset" = u64, description = "Bytes durably stored"))),
        (status = 400, description = "`missing_upload_offset`, `invalid_tus_header`, `invalid_upload_checksum` (also an unsupported algorithm), `incomplete_body` (the body broke off; without a checksum what arrived is kept)", body = ErrorBody),
        (status = 401, description = "Missing, invalid or spent token", body = ErrorBody),
        (status = 404, description = "No such upload, or someone else's", body = ErrorBody),
        (status = 409, description = "`Upload-Offset` is not the upload's offset (`offset_mismatch`)", body = ErrorBody),
        (status = 410, description = "Expired unfinished (`upload_expired`)", body = ErrorBody),
        (status = 412, description = "No or another `Tus-Resumable`", body = ErrorBody),
        (status = 413, description = "The body would pass `Upload-Length` (`exceeds_upload_length`); nothing of it is kept", body = ErrorBody),
        (status = 415, description = "Not `application/offset+octet-stream`", body = ErrorBody),
        (status = 460, description = "The body does not match `Upload-Checksum` (`checksum_mismatch`); nothing of it is kept", body = ErrorBody),
    )
)]
pub(crate) async fn patch(
    state: web::Data<AppState>,
    access: UploadAccess,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_version(&req)?;
    let id = upload_id(&path)?;
    require_offset_stream(&req)?;
    let offset = text(req.headers(), tus::UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::bad_request("missing_upload_offset", "send Upload-Offset"))?;
    let headers = read_patch(&req, tus::parse_size("Upload-Offset", offset)?)?;
    let row = receive(&state, &access, id, headers, payload).await?;
    Ok(progress_headers(&mut HttpResponse::NoContent(), &row).finish())
}

/// `DELETE` (`termination`): removes an unfinished upload and its bytes.
#[utoipa::path(
    delete,
    path = "/uploads/tus/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, format = Uuid, description = "The upload id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
    ),
    responses(
        (status = 204, description = "Removed, bytes and all (an S3 multipart upload is aborted)"),
        (status = 401, description = "Missing, invalid or spent token", body = ErrorBody),
        (status = 404, description = "No such upload, or someone else's", body = ErrorBody),
        (status = 409, description = "Complete already: it is the video's master (`upload_complete`)", body = ErrorBody),
        (status = 410, description = "Expired unfinished (`upload_expired`)", body = ErrorBody),
        (status = 412, description = "No or another `Tus-Resumable`", body = ErrorBody),
    )
)]
pub(crate) async fn terminate(
    state: web::Data<AppState>,
    access: UploadAccess,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_version(&req)?;
    uploads::terminate(&state, &access, upload_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST` with `X-HTTP-Method-Override: PATCH | DELETE | HEAD`, served as
/// that method, for clients that cannot send it.
#[utoipa::path(
    post,
    path = "/uploads/tus/{id}",
    tag = "uploads",
    params(
        ("id" = String, Path, format = Uuid, description = "The upload id"),
        ("X-HTTP-Method-Override" = String, Header, description = "`PATCH`, `DELETE` or `HEAD`"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 200, description = "As `HEAD`"),
        (status = 204, description = "As `PATCH` or `DELETE`"),
        (status = 400, description = "As `PATCH`", body = ErrorBody),
        (status = 401, description = "Missing, invalid or spent token", body = ErrorBody),
        (status = 404, description = "No such upload, or someone else's", body = ErrorBody),
        (status = 405, description = "No usable override (`method_not_allowed`)", body = ErrorBody),
        (status = 409, description = "As `PATCH` or `DELETE`", body = ErrorBody),
        (status = 410, description = "Expired unfinished (`upload_expired`)", body = ErrorBody),
        (status = 412, description = "No or another `Tus-Resumable`", body = ErrorBody),
        (status = 413, description = "As `PATCH`", body = ErrorBody),
        (status = 415, description = "As `PATCH`", body = ErrorBody),
        (status = 460, description = "As `PATCH`", body = ErrorBody),
    )
)]
pub(crate) async fn method_override(
    state: web::Data<AppState>,
    access: UploadAccess,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let method = text(req.headers(), tus::METHOD_OVERRIDE)?.map(str::to_ascii_uppercase);
    match method.as_deref() {
        Some("PATCH") => patch(state, access, req, path, payload).await,
        Some("DELETE") => terminate(state, access, req, path).await,
        Some("HEAD") => head(state, access, req, path).await,
        _ => Err(ApiError::method_not_allowed(
            "POST to an upload needs X-HTTP-Method-Override: PATCH, DELETE or HEAD",
        )),
    }
}

/// A direct upload to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectUpload {
    /// The video's title (1 to 200 characters).
    title: String,
    /// Who may play it (default `public`).
    #[serde(default)]
    visibility: Visibility,
    /// The master's size in bytes, at most GOFLIX_MAX_UPLOAD_BYTES.
    length: u64,
    /// The file's name, for the record.
    #[serde(default)]
    filename: Option<String>,
}

/// A created direct upload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DirectUploadCreated {
    /// The upload id, which the video gets once the upload completes.
    #[schema(format = Uuid)]
    id: Uuid,
    /// The tus URL to `HEAD` and `PATCH` (also in `Location`).
    upload_url: String,
    /// Send as `Authorization: Bearer` on that URL only; spent when the
    /// upload completes.
    token: String,
    /// When the upload and its token expire unfinished.
    expires_at: DateTime<Utc>,
}

/// Creates a tus upload for someone without the caller's credentials (a
/// browser, a partner's app): the returned token opens that one upload,
/// for every `HEAD`, `PATCH` and `DELETE`, until it completes or expires.
#[utoipa::path(
    post,
    path = "/uploads",
    tag = "uploads",
    request_body = DirectUpload,
    responses(
        (status = 201, description = "Created", body = DirectUploadCreated,
         headers(("Location" = String, description = "The tus upload URL"))),
        (status = 400, description = "`invalid_json`, `missing_title`, `invalid_title`, `invalid_visibility`, `invalid_upload_metadata`", body = ErrorBody),
        (status = 401, description = "Missing, invalid, expired or revoked bearer token", body = ErrorBody),
        (status = 403, description = "Not an uploader or admin (`forbidden`)", body = ErrorBody),
        (status = 413, description = "`length` above GOFLIX_MAX_UPLOAD_BYTES (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "Not JSON (`unsupported_media_type`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id()))]
pub(crate) async fn direct(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<DirectUpload>,
) -> Result<HttpResponse, ApiError> {
    let uploader = caller.require::<Uploader>()?;
    let body = body.into_inner();
    if body.length > state.max_upload_bytes {
        return Err(ApiError::too_large(state.max_upload_bytes));
    }
    check_filename(body.filename.as_deref())?;
    let created = uploads::create(
        &state,
        NewUpload {
            owner_id: uploader.owner_id(),
            title: videos::validate_title(&body.title)?,
            visibility: body.visibility,
            filename: body.filename,
            length: body.length,
            direct: true,
        },
    )
    .await?;
    let upload_url = upload_url(&state, &req, created.upload.id)?;
    let token = created
        .token
        .ok_or_else(|| ApiError::Internal("a direct upload was created without a token".into()))?;
    let expires_at = DateTime::from_timestamp_millis(created.upload.expires_at).unwrap_or_default();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, upload_url.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DirectUploadCreated {
            id: created.upload.id,
            upload_url,
            token,
            expires_at,
        }))
}
