//! tus uploads as the control plane keeps them: creating one (its video id,
//! staging area and row), appending a PATCH body, completing it (the
//! master appears whole, the video is registered and its job queued, once),
//! terminating it, and the sweeper that finishes stored uploads whose
//! process died and removes expired ones. Every change holds the upload's
//! lock ([`super::locks`]); the offset and the staging record change only
//! together, after the bytes they describe are durable, so `Upload-Offset`
//! never counts a byte that a crash could lose.

use super::locks::{lock, Locked};
use super::protocol::{ExpectedChecksum, Hasher};
use crate::auth::upload_access::{self, UploadAccess};
use crate::db::now_ms;
use crate::db::upload::{self, UploadState};
use crate::error::ApiError;
use crate::state::AppState;
use crate::videos;
use actix_web::http::StatusCode;
use futures_util::StreamExt;
use goflix_shared::domain::{VideoId, Visibility};
use goflix_shared::layout;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ByteStream, Staged, StoreError};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// How often the sweeper runs.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// Uploads the sweeper handles per kind and run.
const SWEEP_BATCH: u64 = 100;

/// What a new upload is for.
pub struct NewUpload {
    /// The video's owner (checked to hold the upload right).
    pub owner_id: Uuid,
    /// The video's title (validated).
    pub title: String,
    /// The video's visibility.
    pub visibility: Visibility,
    /// The client's file name.
    pub filename: Option<String>,
    /// `Upload-Length`, at most the upload limit.
    pub length: u64,
    /// Whether to issue a direct-upload token for it.
    pub direct: bool,
}

/// A created upload.
pub struct Created {
    /// Its row.
    pub upload: upload::Model,
    /// Its direct-upload token, when one was asked for.
    pub token: Option<String>,
}

/// One PATCH.
pub struct Patch {
    /// `Upload-Offset`.
    pub offset: u64,
    /// The body's length, when declared.
    pub declared: Option<u64>,
    /// `Upload-Checksum`.
    pub checksum: Option<ExpectedChecksum>,
    /// The body.
    pub body: ByteStream,
}

fn staged_of(row: &upload::Model) -> Result<Staged, ApiError> {
    serde_json::from_value(row.staged.clone()).map_err(|e| {
        ApiError::Internal(format!(
            "upload {} has a malformed staging record: {e}",
            row.id
        ))
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("no such upload")
}

fn too_long(remaining: u64) -> ApiError {
    ApiError::with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "exceeds_upload_length",
        format!("the body would pass Upload-Length: {remaining} bytes remain"),
    )
}

/// Whether `row` is unfinished and past its expiry.
fn expired(row: &upload::Model) -> bool {
    row.state == UploadState::Receiving && row.expires_at <= now_ms()
}

fn gone() -> ApiError {
    ApiError::with_status(
        StatusCode::GONE,
        "upload_expired",
        "the upload expired and its bytes are removed",
    )
}

/// Creates an upload: allocates the video id, starts its staging area and
/// records it. A zero-length upload completes at once.
pub async fn create(state: &AppState, new: NewUpload) -> Result<Created, ApiError> {
    let id = VideoId::new();
    let object = layout::upload(id);
    let staged = state.store.begin_resumable(&object).await?;
    let (token, token_hash) = match new.direct {
        true => {
            let (token, hash) = upload_access::new_token();
            (Some(token), Some(hash))
        }
        false => (None, None),
    };
    let now = now_ms();
    let expiry = i64::try_from(state.upload_expiry.as_millis()).unwrap_or(i64::MAX);
    let length =
        i64::try_from(new.length).map_err(|_| ApiError::too_large(state.max_upload_bytes))?;
    let row = upload::ActiveModel {
        id: Set(id.0),
        owner_id: Set(new.owner_id),
        title: Set(new.title),
        visibility: Set(new.visibility),
        filename: Set(new.filename),
        length: Set(length),
        offset: Set(0),
        staged: Set(serde_json::to_value(&staged).map_err(|e| ApiError::Internal(e.to_string()))?),
        state: Set(if length == 0 {
            UploadState::Stored
        } else {
            UploadState::Receiving
        }),
        token_hash: Set(token_hash),
        expires_at: Set(now.saturating_add(expiry)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let upload = match row.insert(&state.db).await {
        Ok(upload) => upload,
        Err(e) => {
            if let Err(abort) = state.store.abort_resumable(&object, &staged).await {
                tracing::warn!(video_id = %id, error = %abort, "could not remove the staging area of an upload that was not recorded");
            }
            return Err(e.into());
        }
    };
    tracing::info!(video_id = %id, length, direct = new.direct, "tus upload created");
    if upload.state == UploadState::Stored {
        complete(state, id.0).await?;
    }
    Ok(Created { upload, token })
}

/// The upload `id` as `access` may see it: 404 when it does not exist or
/// belongs to someone else, 410 once it expired unfinished.
pub async fn find(
    state: &AppState,
    access: &UploadAccess,
    id: Uuid,
) -> Result<upload::Model, ApiError> {
    let row = upload::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|row| access.may_use(row))
        .ok_or_else(not_found)?;
    if expired(&row) {
        return Err(gone());
    }
    if row.state == UploadState::Stored {
        // Its completion was interrupted (the process that stored the last
        // byte died); finish it now rather than at the next sweep.
        complete(state, id).await?;
    }
    Ok(row)
}

/// Locks upload `id` for `access`, with the same answers as [`find`].
async fn lock_for(state: &AppState, access: &UploadAccess, id: Uuid) -> Result<Locked, ApiError> {
    let locked = lock(&state.upload_locks, &state.db, id)
        .await?
        .filter(|locked| access.may_use(&locked.row))
        .ok_or_else(not_found)?;
    if expired(&locked.row) {
        return Err(gone());
    }
    Ok(locked)
}

/// A body stream that feeds a digest as it is read.
fn digesting(body: ByteStream, hasher: Arc<Mutex<Hasher>>) -> ByteStream {
    Box::pin(body.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            hasher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .update(bytes);
        }
    }))
}

/// Appends a PATCH body at `patch.offset` (409 when the upload is
/// elsewhere, 413 past `Upload-Length`, 460 on a checksum mismatch, in
/// which case nothing of the body counts). Without a checksum, a body
/// that breaks off keeps what arrived. Completes the upload when its last
/// byte lands. Returns the upload as it now is.
pub async fn append(
    state: &AppState,
    access: &UploadAccess,
    id: Uuid,
    patch: Patch,
) -> Result<upload::Model, ApiError> {
    let mut locked = lock_for(state, access, id).await?;
    let row = locked.row.clone();
    let (offset, length) = (row.offset as u64, row.length as u64);
    if patch.offset != offset {
        return Err(ApiError::conflict(
            "offset_mismatch",
            format!("the upload is at offset {offset}, not {}", patch.offset),
        ));
    }
    let remaining = length - offset;
    if patch.declared.is_some_and(|declared| declared > remaining) {
        return Err(too_long(remaining));
    }
    if row.state != UploadState::Receiving {
        // Every byte is here: only an empty body fits.
        drop(locked);
        if patch.declared.unwrap_or(0) > 0 {
            return Err(too_long(0));
        }
        complete(state, id).await?;
        return Ok(row);
    }
    let object = layout::upload(VideoId(id));
    let hasher = patch
        .checksum
        .as_ref()
        .map(|expected| Arc::new(Mutex::new(Hasher::new(expected.algorithm))));
    let body = match &hasher {
        Some(hasher) => digesting(patch.body, hasher.clone()),
        None => patch.body,
    };
    let appended = match state
        .store
        .append_resumable(&object, &staged_of(&row)?, offset, body, remaining)
        .await
    {
        Err(StoreError::TooLarge { .. }) => return Err(too_long(remaining)),
        other => other?,
    };
    if let (Some(expected), Some(hasher)) = (&patch.checksum, hasher) {
        if appended.body_error.is_some() {
            return Err(ApiError::bad_request(
                "incomplete_body",
                "the body broke off; a body with Upload-Checksum counts only whole",
            ));
        }
        let hasher = Arc::try_unwrap(hasher)
            .map_err(|_| ApiError::Internal("the body digest is still shared".into()))?;
        let actual = hasher
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .finish();
        if actual != expected.digest {
            return Err(ApiError::with_status(
                StatusCode::from_u16(460).expect("460 is a valid status"),
                "checksum_mismatch",
                "the body does not match Upload-Checksum; nothing of it was kept",
            ));
        }
    }
    let new_offset = offset + appended.written;
    let new_state = match new_offset == length {
        true => UploadState::Stored,
        false => UploadState::Receiving,
    };
    let staged =
        serde_json::to_value(&appended.staged).map_err(|e| ApiError::Internal(e.to_string()))?;
    let txn = locked.transaction(&state.db).await?;
    let changed = upload::Entity::update_many()
        .col_expr(upload::Column::Offset, Expr::value(new_offset as i64))
        .col_expr(upload::Column::Staged, Expr::value(staged.clone()))
        .col_expr(upload::Column::State, Expr::value(new_state))
        .col_expr(upload::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(upload::Column::Id.eq(id))
        .filter(upload::Column::Offset.eq(offset as i64))
        .filter(upload::Column::State.eq(UploadState::Receiving))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Err(ApiError::conflict(
            "offset_mismatch",
            "the upload changed meanwhile",
        ));
    }
    txn.commit().await?;
    drop(locked);
    if let Some(old_tail) = &appended.superseded {
        state.store.delete_superseded(old_tail).await;
    }
    if let Some(e) = appended.body_error {
        tracing::info!(video_id = %id, kept = appended.written, error = %e, "a PATCH body broke off; what arrived is kept");
        return Err(ApiError::bad_request(
            "incomplete_body",
            format!("the body broke off after {} bytes, which are stored; resume from Upload-Offset {new_offset}", appended.written),
        ));
    }
    if new_state == UploadState::Stored {
        complete(state, id).await?;
    }
    Ok(upload::Model {
        offset: new_offset as i64,
        staged,
        state: new_state,
        ..row
    })
}

/// Completes a stored upload: the master appears whole, then, in one
/// transaction, the upload is marked done (its token cleared) and its
/// video registered with its job queued. Does nothing for an upload that
/// is not stored (still receiving, or completed already), so a retried
/// final PATCH, a HEAD and the sweeper may all call it.
pub async fn complete(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    let Some(mut locked) = lock(&state.upload_locks, &state.db, id).await? else {
        return Ok(());
    };
    let row = locked.row.clone();
    if row.state != UploadState::Stored {
        return Ok(());
    }
    let video = VideoId(id);
    state
        .store
        .finish_resumable(&layout::upload(video), &staged_of(&row)?, row.length as u64)
        .await?;
    let txn = locked.transaction(&state.db).await?;
    let changed = upload::Entity::update_many()
        .col_expr(upload::Column::State, Expr::value(UploadState::Done))
        .col_expr(
            upload::Column::TokenHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(upload::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(upload::Column::Id.eq(id))
        .filter(upload::Column::State.eq(UploadState::Stored))
        .exec(&txn)
        .await?
        .rows_affected;
    if changed != 1 {
        return Ok(());
    }
    let profile = videos::job_profile(state, state.downloads.by_default);
    let job = videos::insert_queued(
        &txn,
        row.owner_id,
        video,
        row.title,
        row.visibility,
        profile,
    )
    .await?;
    txn.commit().await?;
    tracing::info!(video_id = %video, length = row.length, "tus upload complete");
    videos::queued(state, &job);
    Ok(())
}

/// Terminates an unfinished upload: its staged bytes go (an S3 multipart
/// upload is aborted), then its row. A complete upload is the video's
/// master now: 409.
pub async fn terminate(state: &AppState, access: &UploadAccess, id: Uuid) -> Result<(), ApiError> {
    let mut locked = lock_for(state, access, id).await?;
    if locked.row.state != UploadState::Receiving {
        return Err(ApiError::conflict(
            "upload_complete",
            "the upload is complete; delete the video instead",
        ));
    }
    remove(state, &mut locked).await
}

/// Removes a locked unfinished upload's bytes, then its row.
async fn remove(state: &AppState, locked: &mut Locked) -> Result<(), ApiError> {
    let id = locked.row.id;
    state
        .store
        .abort_resumable(&layout::upload(VideoId(id)), &staged_of(&locked.row)?)
        .await?;
    let txn = locked.transaction(&state.db).await?;
    upload::Entity::delete_many()
        .filter(upload::Column::Id.eq(id))
        .filter(upload::Column::State.eq(UploadState::Receiving))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// One sweep: completes stored uploads (their process died after the last
/// byte), removes expired unfinished ones with their bytes, and forgets
/// completed ones past their expiry.
async fn sweep(state: &AppState) -> Result<(), ApiError> {
    let ids = |filter: sea_orm::Condition| {
        upload::Entity::find()
            .select_only()
            .column(upload::Column::Id)
            .filter(filter)
            .limit(SWEEP_BATCH)
            .into_tuple::<Uuid>()
            .all(&state.db)
    };
    let now = now_ms();
    let stored =
        ids(sea_orm::Condition::all().add(upload::Column::State.eq(UploadState::Stored))).await?;
    for id in stored {
        complete(state, id).await?;
    }
    let expired_ids = ids(sea_orm::Condition::all()
        .add(upload::Column::State.eq(UploadState::Receiving))
        .add(upload::Column::ExpiresAt.lte(now)))
    .await?;
    for id in expired_ids {
        let Some(mut locked) = lock(&state.upload_locks, &state.db, id).await? else {
            continue;
        };
        if expired(&locked.row) {
            remove(state, &mut locked).await?;
            tracing::info!(video_id = %id, offset = locked.row.offset, "expired tus upload removed");
        }
    }
    upload::Entity::delete_many()
        .filter(upload::Column::State.eq(UploadState::Done))
        .filter(upload::Column::ExpiresAt.lte(now))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Sweeps every [`SWEEP_EVERY`] until `shutdown`; safe in every replica.
pub async fn run(state: &AppState, shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(state).await {
            tracing::warn!(error = %e, "tus upload sweep failed; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
