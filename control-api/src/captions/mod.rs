//! A video's captions: one track per language, uploaded (WebVTT, or SRT
//! converted to WebVTT) or extracted from the master by its transcode,
//! each kept as a WebVTT source object
//! ([`goflix_shared::layout::caption_source`]) and a `captions` row.
//!
//! Players see them through a manifest-only version ([`republish`]): a
//! fresh version folder holding the published media version's
//! `master.m3u8` and `manifest.mpd` with the text tracks (and the ladder
//! of the row's codec version, [`crate::codecs`]) added
//! ([`compose`]) and each track's subtitle files, while the media stays
//! where it is, byte for byte. The row names it (`manifest_version`), the
//! playback record tells the origin to serve the entry-point manifests from
//! it, and the one it replaces is retired like any superseded version (the
//! sweeper never deletes the versions a row names). Adding or removing a
//! caption, and every `video.ready`, builds a new one; a video with no
//! captions and no other codec serves its media version's manifests. Captions added before
//! the first version exists (while the video is queued or processing) wait
//! for its `video.ready`; captions outlive retranscodes.

pub mod compose;

use crate::auth::{ManagedVideo, ReadableVideo};
use crate::db::caption::{self, CaptionSource};
use crate::db::{now_ms, time_of, video};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{versions, videos};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use compose::TextTrack;
use goflix_shared::captions::{self as text, Cue, LanguageTag};
use goflix_shared::domain::{CaptionKind, EmbeddedCaption, Rendition, RenditionKind, VideoId};
use goflix_shared::layout;
use goflix_shared::store::{ObjectKey, ObjectStore, StoreError};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::Serialize;

/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// A caption as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Caption)]
pub struct CaptionView {
    /// BCP 47 language tag, canonical case; one caption per language.
    language: String,
    /// What players show in their menu.
    label: String,
    kind: CaptionKind,
    source: CaptionSource,
    /// Size of its WebVTT text in bytes.
    bytes: i64,
    /// Its WebVTT file at the origin (token needed for private videos);
    /// null until the video has a published version.
    url: Option<String>,
    created_at: DateTime<Utc>,
}

impl CaptionView {
    /// Its language tag.
    pub fn language(&self) -> &str {
        &self.language
    }
}

/// A caption to add, checked.
#[derive(Debug)]
pub struct NewCaption {
    /// Its language.
    pub language: LanguageTag,
    /// Its menu label.
    pub label: String,
    /// Subtitles or captions.
    pub kind: CaptionKind,
    /// Its cues.
    pub cues: Vec<Cue>,
}

/// A trimmed, non-empty label of at most [`MAX_LABEL_CHARS`] without control characters.
pub fn validate_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return Err(ApiError::bad_request(
            "invalid_label",
            format!("the label must be 1 to {MAX_LABEL_CHARS} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_label",
            "the label must not contain control characters",
        ));
    }
    Ok(label.to_owned())
}

/// Whether [`put`] added a language or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The video had no caption in this language.
    Added,
    /// An earlier caption in this language was replaced.
    Replaced,
}

/// Adds `caption` to the managed video, replacing one in the same
/// language, and republishes its manifests when it has a version.
pub async fn put(
    state: &AppState,
    managed: &ManagedVideo,
    caption: NewCaption,
) -> Result<(Put, CaptionView), ApiError> {
    let id = VideoId(managed.video().id);
    let webvtt = text::to_webvtt(&caption.cues);
    let bytes = webvtt.len() as i64;
    let key = layout::caption_source(id, &caption.language);
    let txn = state.db.begin().await?;
    lock_row(&txn, id).await?;
    let existed = caption::Entity::find_by_id((id.0, caption.language.to_string()))
        .one(&txn)
        .await?
        .is_some();
    state.store.put_bytes(&key, Bytes::from(webvtt)).await?;
    let row = caption::ActiveModel {
        video_id: Set(id.0),
        language: Set(caption.language.to_string()),
        label: Set(caption.label),
        kind: Set(caption.kind),
        source: Set(CaptionSource::Upload),
        bytes: Set(bytes),
        created_at: Set(now_ms()),
    };
    upsert(&txn, row).await?;
    let video = republish_locked(state, &txn, id).await?;
    let view = views(&txn, &video)
        .await?
        .into_iter()
        .find(|view| view.language == caption.language.as_str())
        .ok_or_else(|| ApiError::Internal("the caption vanished".into()))?;
    txn.commit().await?;
    tracing::info!(video_id = %id, language = %caption.language, "caption stored");
    let put = if existed { Put::Replaced } else { Put::Added };
    Ok((put, view))
}

/// The readable video's captions, by language.
pub async fn list(
    state: &AppState,
    readable: &ReadableVideo,
) -> Result<Vec<CaptionView>, ApiError> {
    views(&state.db, readable.video()).await
}

/// Removes the managed video's caption in `language` (as given in the
/// URL) and republishes its manifests; `404` when it has none.
pub async fn remove(
    state: &AppState,
    managed: &ManagedVideo,
    language: &str,
) -> Result<(), ApiError> {
    let not_found = || ApiError::not_found(format!("the video has no caption in {language:?}"));
    let language = LanguageTag::parse(language).map_err(|_| not_found())?;
    let id = VideoId(managed.video().id);
    let txn = state.db.begin().await?;
    lock_row(&txn, id).await?;
    let deleted = caption::Entity::delete_by_id((id.0, language.to_string()))
        .exec(&txn)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(not_found());
    }
    republish_locked(state, &txn, id).await?;
    txn.commit().await?;
    let key = layout::caption_source(id, &language);
    if let Err(e) = state.store.delete_prefix(key.as_str()).await {
        // The row is gone: nothing names the object any more.
        tracing::warn!(video_id = %id, error = %e, "could not delete a removed caption's source");
    }
    tracing::info!(video_id = %id, %language, "caption removed");
    Ok(())
}

/// Takes the video's row lock in `txn` (written before it is read, as in
/// [`crate::events`]); `404` when it is gone.
async fn lock_row(txn: &DatabaseTransaction, id: VideoId) -> Result<(), ApiError> {
    let locked = video::Entity::update_many()
        .col_expr(video::Column::UpdatedAt, Expr::value(now_ms()))
        .filter(video::Column::Id.eq(id.0))
        .exec(txn)
        .await?
        .rows_affected;
    if locked == 1 {
        Ok(())
    } else {
        Err(ApiError::not_found("no such video"))
    }
}

/// Rebuilds the manifests of the locked video and rewrites its playback record.
async fn republish_locked(
    state: &AppState,
    txn: &DatabaseTransaction,
    id: VideoId,
) -> Result<video::Model, ApiError> {
    let row = video::Entity::find_by_id(id.0)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::not_found("no such video"))?;
    let row = republish(state, txn, row).await?;
    videos::sync_playback_record(state, &row).await?;
    Ok(row)
}

/// Inserts a caption row, or replaces the one in its language.
async fn upsert(db: &impl ConnectionTrait, row: caption::ActiveModel) -> Result<(), ApiError> {
    caption::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([caption::Column::VideoId, caption::Column::Language])
                .update_columns([
                    caption::Column::Label,
                    caption::Column::Kind,
                    caption::Column::Source,
                    caption::Column::Bytes,
                    caption::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Adopts the text streams a finished transcode extracted into `version`
/// (its `video.ready`): each becomes the video's caption in its language,
/// unless one was uploaded in that language. The row is locked by the
/// caller; a stream that cannot be read or parsed is skipped with a warning.
pub(crate) async fn adopt_embedded(
    state: &AppState,
    txn: &DatabaseTransaction,
    id: VideoId,
    version: &str,
    embedded: &[EmbeddedCaption],
) -> Result<(), ApiError> {
    let mut adopted: Vec<String> = Vec::new();
    for stream in embedded {
        let language =
            LanguageTag::parse(&stream.language).unwrap_or_else(|_| LanguageTag::undetermined());
        if adopted.contains(&language.to_string()) {
            continue;
        }
        let current = caption::Entity::find_by_id((id.0, language.to_string()))
            .one(txn)
            .await?;
        if current.is_some_and(|c| c.source == CaptionSource::Upload) {
            continue;
        }
        let Some(cues) = read_embedded(state, id, version, &stream.file).await? else {
            continue;
        };
        let webvtt = text::to_webvtt(&cues);
        let bytes = webvtt.len() as i64;
        state
            .store
            .put_bytes(&layout::caption_source(id, &language), Bytes::from(webvtt))
            .await?;
        let label = stream
            .label
            .as_deref()
            .and_then(|label| validate_label(label).ok())
            .unwrap_or_else(|| language.to_string());
        let row = caption::ActiveModel {
            video_id: Set(id.0),
            language: Set(language.to_string()),
            label: Set(label),
            kind: Set(stream.kind),
            source: Set(CaptionSource::Embedded),
            bytes: Set(bytes),
            created_at: Set(now_ms()),
        };
        upsert(txn, row).await?;
        adopted.push(language.to_string());
    }
    Ok(())
}

/// The cues of an extracted stream's file in `version`, or none (logged)
/// when it is missing, too large or not WebVTT.
async fn read_embedded(
    state: &AppState,
    id: VideoId,
    version: &str,
    file: &str,
) -> Result<Option<Vec<Cue>>, ApiError> {
    let Some(key) = layout::media_file(id, version, file) else {
        tracing::warn!(video_id = %id, file, "an extracted caption has an invalid name");
        return Ok(None);
    };
    let bytes = match state.store.get_bytes(&key).await {
        Ok(bytes) => bytes,
        Err(StoreError::NotFound(_)) => {
            tracing::warn!(video_id = %id, file, "an extracted caption is missing");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    match text::parse(&bytes) {
        Ok(cues) => Ok(Some(cues)),
        Err(e) => {
            tracing::warn!(video_id = %id, file, error = %e, "an extracted caption is unusable");
            Ok(None)
        }
    }
}

/// Makes `row`'s manifest-only version match its captions, in `txn` with
/// the row locked: a new one over its published version when it has
/// captions, none otherwise; the one it had is retired. Returns the row
/// as changed (the caller rewrites the playback record).
pub(crate) async fn republish(
    state: &AppState,
    txn: &DatabaseTransaction,
    row: video::Model,
) -> Result<video::Model, ApiError> {
    let captions = captions_of(txn, row.id).await?;
    let manifests = match &row.version {
        Some(version) if !captions.is_empty() || row.codec_version.is_some() => {
            Some(build(state, &row, version, &captions).await?)
        }
        _ => None,
    };
    if manifests == row.manifest_version {
        return Ok(row);
    }
    video::Entity::update_many()
        .col_expr(
            video::Column::ManifestVersion,
            Expr::value(manifests.clone()),
        )
        .filter(video::Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    if let Some(old) = row.manifest_version.clone() {
        versions::retire(txn, row.id, [old], now_ms()).await?;
    }
    Ok(video::Model {
        manifest_version: manifests,
        ..row
    })
}

/// Every caption row of a video, by language: the order of their stems.
async fn captions_of(
    db: &impl ConnectionTrait,
    video: uuid::Uuid,
) -> Result<Vec<caption::Model>, ApiError> {
    Ok(caption::Entity::find()
        .filter(caption::Column::VideoId.eq(video))
        .order_by_asc(caption::Column::Language)
        .all(db)
        .await?)
}

/// The stem of the `index`th caption's files in a manifest version.
fn stem(index: usize) -> String {
    format!("sub_{index}")
}

/// Writes a new manifest-only version over media `version` with the
/// ladder of the row's codec version and `captions`, and returns its name:
/// every track's files first, the manifests last.
async fn build(
    state: &AppState,
    row: &video::Model,
    version: &str,
    captions: &[caption::Model],
) -> Result<String, ApiError> {
    let id = VideoId(row.id);
    let mut media = MediaManifests::read(state, id, version).await?;
    if let Some(codec_version) = &row.codec_version {
        media.add_ladder(state, id, row, codec_version).await?;
    }
    let duration_s = row.duration_s.unwrap_or(0.0);
    let manifests = layout::new_version();
    let put = |name: String, body: Bytes| {
        let key = media_key(id, &manifests, &name);
        async move {
            state
                .store
                .put_bytes(&key?, body)
                .await
                .map_err(ApiError::from)
        }
    };
    let mut tracks = Vec::with_capacity(captions.len());
    for (index, caption) in captions.iter().enumerate() {
        let language = LanguageTag::parse(&caption.language).map_err(ApiError::Internal)?;
        let source = state
            .store
            .get_bytes(&layout::caption_source(id, &language))
            .await?;
        let cues = text::parse(&source)
            .map_err(|e| ApiError::Internal(format!("stored caption {language}: {e}")))?;
        let sidecar = text::to_webvtt(&cues);
        let track = TextTrack {
            stem: stem(index),
            language: caption.language.clone(),
            label: caption.label.clone(),
            kind: caption.kind,
            bandwidth: (sidecar.len() as f64 * 8.0 / duration_s.max(1.0)).ceil() as u64,
        };
        let segmented = text::segment(&cues, duration_s, media.target_duration as f64);
        let playlist = compose::hls_subtitles(&track.segments(), &segmented, media.target_duration);
        put(track.segments(), Bytes::from(segmented.body)).await?;
        put(track.playlist(), Bytes::from(playlist)).await?;
        put(track.sidecar(), Bytes::from(sidecar)).await?;
        tracks.push(track);
    }
    let prefix = format!("{manifests}/");
    let (master, mpd) = if tracks.is_empty() {
        (media.master, media.mpd)
    } else {
        (
            compose::hls_master(&media.master, &tracks, &prefix).map_err(bad_media(version))?,
            compose::dash(&media.mpd, &tracks, &prefix).map_err(bad_media(version))?,
        )
    };
    put(layout::MASTER_PLAYLIST.to_owned(), Bytes::from(master)).await?;
    put(layout::DASH_MANIFEST.to_owned(), Bytes::from(mpd)).await?;
    tracing::info!(video_id = %id, media = version, manifests, tracks = tracks.len(), "manifests with captions published");
    Ok(manifests)
}

/// The key of `name` in version `version` of video `id`.
fn media_key(id: VideoId, version: &str, name: &str) -> Result<ObjectKey, ApiError> {
    layout::media_file(id, version, name)
        .ok_or_else(|| ApiError::Internal(format!("{version:?}/{name:?} is not a media key")))
}

fn bad_media(version: &str) -> impl Fn(compose::ComposeError) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("the manifests of version {version}: {e}"))
}

/// What a manifest-only version is made from: its media version's manifests.
struct MediaManifests {
    master: String,
    mpd: String,
    /// The media playlists' `EXT-X-TARGETDURATION`, which the subtitle
    /// playlists share.
    target_duration: u64,
}

impl MediaManifests {
    async fn read(state: &AppState, id: VideoId, version: &str) -> Result<Self, ApiError> {
        let master = read_text(state, id, version, layout::MASTER_PLAYLIST).await?;
        let mpd = read_text(state, id, version, layout::DASH_MANIFEST).await?;
        let prefix = format!("{version}/");
        let playlist = compose::first_variant_uri(&master)
            .and_then(|uri| uri.strip_prefix(&prefix))
            .ok_or_else(|| {
                ApiError::Internal(format!("the master of {version} names no variant of it"))
            })?;
        let media = read_text(state, id, version, playlist).await?;
        let target_duration = compose::target_duration(&media).ok_or_else(|| {
            ApiError::Internal(format!("{playlist} of {version} has no target duration"))
        })?;
        Ok(Self {
            master,
            mpd,
            target_duration,
        })
    }

    /// Adds the video ladder of `codec_version` (another codec's, video
    /// only) to these manifests, its variants carrying `row`'s audio.
    async fn add_ladder(
        &mut self,
        state: &AppState,
        id: VideoId,
        row: &video::Model,
        codec_version: &str,
    ) -> Result<(), ApiError> {
        let master = read_text(state, id, codec_version, layout::MASTER_PLAYLIST).await?;
        let mpd = read_text(state, id, codec_version, layout::DASH_MANIFEST).await?;
        let renditions: Vec<Rendition> =
            serde_json::from_value(row.renditions.clone()).unwrap_or_default();
        let audio = renditions.iter().filter(|r| r.kind == RenditionKind::Audio);
        let audio = compose::VariantAudio {
            bandwidth: audio.clone().map(|r| r.bandwidth).max().unwrap_or(0),
            average_bandwidth: audio.map(|r| r.average_bandwidth).max().unwrap_or(0),
        };
        self.master = compose::hls_add_ladder(&self.master, &master, &audio)
            .map_err(bad_media(codec_version))?;
        self.mpd = compose::dash_add_ladder(&self.mpd, &mpd).map_err(bad_media(codec_version))?;
        Ok(())
    }
}

/// The UTF-8 text of `name` in version `version` of video `id`.
async fn read_text(
    state: &AppState,
    id: VideoId,
    version: &str,
    name: &str,
) -> Result<String, ApiError> {
    let bytes = state
        .store
        .get_bytes(&media_key(id, version, name)?)
        .await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::Internal(format!("{name} of {version} is not UTF-8")))
}

/// The API views of `row`'s captions, with their URLs when published.
async fn views(
    db: &impl ConnectionTrait,
    row: &video::Model,
) -> Result<Vec<CaptionView>, ApiError> {
    let id = VideoId(row.id);
    Ok(captions_of(db, row.id)
        .await?
        .into_iter()
        .enumerate()
        .map(|(index, caption)| CaptionView {
            url: row
                .manifest_version
                .as_ref()
                .map(|version| format!("/v/{id}/{version}/{}.vtt", stem(index))),
            language: caption.language,
            label: caption.label,
            kind: caption.kind,
            source: caption.source,
            bytes: caption.bytes,
            created_at: time_of(caption.created_at),
        })
        .collect())
}
