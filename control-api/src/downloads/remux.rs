//! The download of a video that turned downloads on once it was ready:
//! remuxed from the stored renditions of its published version, the ones a
//! transcode would have chosen ([`DownloadProfile::sources`]), into
//! `download.mp4` beside them. Nothing is decoded or encoded, no job runs,
//! the version and its media stay as they are.
//!
//! The work list is the `videos` table: a ready video that offers
//! downloads and whose published version has none (`download_version`
//! is not `version`) wants one. Every control-plane process looks for such
//! videos when a `PATCH` in it turned downloads on and every
//! [`POLL_EVERY`]; it takes one with a compare-and-set on
//! `download_lease_until`, renews the lease while it works, and records the
//! version in `download_version` only while that is still the published
//! version and the lease still its own. A process that dies mid-way stops
//! renewing and another takes the video over [`LEASE`] later; a remux that
//! failed is tried again [`RETRY_AFTER`] later; a version without video has
//! nothing to remux and is not tried again (its next version may be).

use crate::db::{now_ms, video};
use crate::error::ApiError;
use goflix_shared::domain::{DownloadProfile, Rendition, VideoId, VideoState};
use goflix_shared::layout::{self, DOWNLOAD};
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectKey, ObjectStore, Store};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

/// How long a lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(30);

/// How often a running remux renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// How long a video whose remux failed waits before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(300);

/// How often a process looks for videos nobody woke it for (turned on in
/// another process that then stopped, or whose remux failed or was dropped).
const POLL_EVERY: Duration = Duration::from_secs(60);

/// Candidates tried per [`take_next`] when other processes win the race.
const TAKE_TRIES: usize = 3;

/// The lease of a version with nothing to remux: never runs out (a new
/// version's `video.ready` sets it back to 0).
const NOTHING_TO_REMUX: i64 = i64::MAX;

/// A video this process remuxes the download of.
#[derive(Debug)]
struct Claim {
    video: Uuid,
    version: String,
    renditions: Vec<Rendition>,
}

/// Remuxes downloads until `shutdown`, woken by `wake`.
pub(crate) async fn run(
    db: &DatabaseConnection,
    store: &Store,
    profile: DownloadProfile,
    wake: Arc<Notify>,
    shutdown: Shutdown,
) {
    loop {
        loop {
            match remux_next(db, store, profile, &shutdown).await {
                Ok(true) if !shutdown.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for downloads to remux; will try again");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

/// Takes one video that wants a download and makes it; false when none
/// is free to take.
async fn remux_next(
    db: &DatabaseConnection,
    store: &Store,
    profile: DownloadProfile,
    shutdown: &Shutdown,
) -> Result<bool, ApiError> {
    let Some((claim, mut lease)) = take_next(db, now_ms()).await? else {
        return Ok(false);
    };
    let span =
        tracing::info_span!("download remux", video_id = %claim.video, version = %claim.version);
    async {
        let Some(sources) = profile.sources(&claim.renditions) else {
            tracing::info!("the version has no video rendition: no download");
            set_lease(db, &claim, lease, NOTHING_TO_REMUX).await?;
            return Ok(());
        };
        let remuxed = tokio::select! {
            remuxed = remux(store, &claim, sources.video, sources.audio) => Some(remuxed),
            lost = keep_lease(db, &claim, &mut lease) => {
                if let Err(e) = lost {
                    tracing::warn!(error = %e, "cannot renew the remux lease");
                }
                tracing::info!("remux lease lost: another process takes the video over");
                None
            }
            _ = shutdown.cancelled() => {
                set_lease(db, &claim, lease, 0).await?;
                None
            }
        };
        match remuxed {
            Some(Ok(())) => record(db, &claim, lease).await,
            Some(Err(e)) => {
                tracing::warn!(error = %e, retry_after_s = RETRY_AFTER.as_secs(), "remuxing the download failed");
                set_lease(db, &claim, lease, now_ms() + millis(RETRY_AFTER)).await?;
                Ok(())
            }
            None => Ok(()),
        }
    }
    .instrument(span)
    .await?;
    Ok(true)
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis() as i64
}

/// Ready videos that offer downloads, whose published version has none.
fn wants_download() -> Condition {
    Condition::all()
        .add(video::Column::State.eq(VideoState::Ready))
        .add(video::Column::Downloads.eq(true))
        .add(video::Column::Version.is_not_null())
        .add(
            Condition::any()
                .add(video::Column::DownloadVersion.is_null())
                .add(
                    Expr::col(video::Column::DownloadVersion).ne(Expr::col(video::Column::Version)),
                ),
        )
}

/// Takes the video whose lease ran out first among those that want a
/// download, with its lease's end.
async fn take_next(db: &DatabaseConnection, now: i64) -> Result<Option<(Claim, i64)>, ApiError> {
    for _ in 0..TAKE_TRIES {
        let Some(row) = video::Entity::find()
            .filter(wants_download())
            .filter(video::Column::DownloadLeaseUntil.lt(now))
            .order_by_asc(video::Column::DownloadLeaseUntil)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(version) = row.version else {
            continue;
        };
        let until = now + millis(LEASE);
        let taken = video::Entity::update_many()
            .col_expr(video::Column::DownloadLeaseUntil, Expr::value(until))
            .filter(video::Column::Id.eq(row.id))
            .filter(video::Column::DownloadLeaseUntil.eq(row.download_lease_until))
            .filter(video::Column::Version.eq(version.as_str()))
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if taken {
            let renditions = serde_json::from_value(row.renditions)
                .map_err(|e| ApiError::Internal(format!("renditions of {}: {e}", row.id)))?;
            let claim = Claim {
                video: row.id,
                version,
                renditions,
            };
            return Ok(Some((claim, until)));
        }
    }
    Ok(None)
}

/// The claim's row while `lease` is still ours.
fn ours(claim: &Claim, lease: i64) -> Condition {
    Condition::all()
        .add(video::Column::Id.eq(claim.video))
        .add(video::Column::DownloadLeaseUntil.eq(lease))
}

/// Moves the lease from `lease` to `until`; false when it was not ours.
async fn set_lease(
    db: &DatabaseConnection,
    claim: &Claim,
    lease: i64,
    until: i64,
) -> Result<bool, DbErr> {
    let changed = video::Entity::update_many()
        .col_expr(video::Column::DownloadLeaseUntil, Expr::value(until))
        .filter(ours(claim, lease))
        .exec(db)
        .await?
        .rows_affected;
    Ok(changed == 1)
}

/// Renews the lease every [`RENEW_EVERY`]; returns once it is no longer ours.
async fn keep_lease(db: &DatabaseConnection, claim: &Claim, lease: &mut i64) -> Result<(), DbErr> {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let until = now_ms() + millis(LEASE);
        if !set_lease(db, claim, *lease, until).await? {
            return Ok(());
        }
        *lease = until;
    }
}

/// Records that the claimed version has its download, if it is still the
/// published version and the lease ours; otherwise the file stays in a
/// version on its way out and nothing names it.
async fn record(db: &DatabaseConnection, claim: &Claim, lease: i64) -> Result<(), ApiError> {
    let recorded = video::Entity::update_many()
        .col_expr(
            video::Column::DownloadVersion,
            Expr::value(Some(claim.version.clone())),
        )
        .col_expr(video::Column::DownloadLeaseUntil, Expr::value(0i64))
        .filter(ours(claim, lease))
        .filter(video::Column::Version.eq(claim.version.as_str()))
        .exec(db)
        .await?
        .rows_affected;
    if recorded == 1 {
        tracing::info!("download remuxed");
    } else {
        tracing::info!(
            "download remuxed for a version no longer published (or taken over); not recorded"
        );
    }
    Ok(())
}

/// Fetches the renditions into a temporary folder, remuxes them and stores
/// `download.mp4` in the claimed version.
async fn remux(
    store: &Store,
    claim: &Claim,
    video: &Rendition,
    audio: Option<&Rendition>,
) -> Result<(), ApiError> {
    let key = |file: &str| -> Result<ObjectKey, ApiError> {
        layout::media_file(VideoId(claim.video), &claim.version, file)
            .ok_or_else(|| ApiError::Internal(format!("no key for {file} in {}", claim.version)))
    };
    let dir = tempfile::tempdir()
        .map_err(|e| ApiError::Internal(format!("temporary folder for a remux: {e}")))?;
    let fetch = |rendition: &Rendition| {
        let file = layout::rendition_file(&rendition.name);
        let path = dir.path().join(&file);
        async move {
            store.download_to(&key(&file)?, &path).await?;
            Ok::<_, ApiError>(path)
        }
    };
    let video_path = fetch(video).await?;
    let audio_path = match audio {
        Some(audio) => Some(fetch(audio).await?),
        None => None,
    };
    let dest = dir.path().join(DOWNLOAD);
    let written = {
        let dest = dest.clone();
        tokio::task::spawn_blocking(move || {
            goflix_mp4::progressive::write(&video_path, audio_path.as_deref(), &dest)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("remux task: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    store_download(store, &key(DOWNLOAD)?, &dest).await?;
    tracing::info!(
        bytes = written.bytes,
        duration_s = written.duration_s,
        "download written"
    );
    Ok(())
}

async fn store_download(store: &Store, key: &ObjectKey, path: &Path) -> Result<(), ApiError> {
    Ok(store.put_file(key, path).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, insert_uploader};
    use goflix_shared::domain::{RenditionKind, Visibility};
    use sea_orm::{ActiveModelTrait, Set};

    const PROFILE: DownloadProfile = DownloadProfile { max_height: 720 };

    fn rendition(name: &str, kind: RenditionKind) -> Rendition {
        Rendition {
            name: name.into(),
            kind,
            width: None,
            height: (kind == RenditionKind::Video).then_some(360),
            frame_rate: None,
            codecs: String::new(),
            bandwidth: 0,
            average_bandwidth: 0,
            language: None,
            label: None,
            default: kind == RenditionKind::Audio,
            channels: None,
        }
    }

    /// A ready video on `version` with `renditions` that offers downloads.
    async fn ready_video(db: &DatabaseConnection, renditions: &[Rendition]) -> Uuid {
        let owner = insert_uploader(db).await;
        let id = Uuid::now_v7();
        video::ActiveModel {
            id: Set(id),
            owner_id: Set(owner),
            title: Set("t".into()),
            visibility: Set(Visibility::Public),
            state: Set(VideoState::Ready),
            progress: Set(1.0),
            error_code: Set(None),
            error_message: Set(None),
            duration_s: Set(Some(6.0)),
            renditions: Set(serde_json::to_value(renditions).unwrap()),
            version: Set(Some(layout::new_version())),
            playable: Set(true),
            live_version: Set(None),
            manifest_version: Set(None),
            codec_job_id: Set(None),
            codec_version: Set(None),
            downloads: Set(true),
            download_version: Set(None),
            download_lease_until: Set(0),
            current_job_id: Set(None),
            processing_started_at: Set(None),
            created_at: Set(0),
            updated_at: Set(0),
        }
        .insert(db)
        .await
        .unwrap();
        id
    }

    async fn row(db: &DatabaseConnection, id: Uuid) -> video::Model {
        video::Entity::find_by_id(id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn one_process_takes_a_video_until_its_lease_runs_out() {
        let (db, _store, _dir) = fixture().await;
        let id = ready_video(&db, &[rendition("360p", RenditionKind::Video)]).await;
        let now = now_ms();
        let (claim, lease) = take_next(&db, now)
            .await
            .unwrap()
            .expect("wants a download");
        assert_eq!(claim.video, id);
        assert!(take_next(&db, now).await.unwrap().is_none(), "taken");
        let later = lease + 1;
        let (again, _) = take_next(&db, later).await.unwrap().expect("lease ran out");
        assert_eq!(again.video, id);
        assert!(
            !set_lease(&db, &claim, lease, 0).await.unwrap(),
            "the first lease is no longer ours"
        );
    }

    #[tokio::test]
    async fn a_failed_remux_records_nothing_and_waits_before_the_next_try() {
        let (db, store, _dir) = fixture().await;
        // The rendition files were never stored: fetching them fails.
        let renditions = [
            rendition("360p", RenditionKind::Video),
            rendition("audio", RenditionKind::Audio),
        ];
        let id = ready_video(&db, &renditions).await;
        let before = now_ms();
        assert!(remux_next(&db, &store, PROFILE, &Shutdown::new())
            .await
            .unwrap());
        let after = row(&db, id).await;
        assert_eq!(after.download_version, None);
        assert!(after.download_lease_until >= before + millis(RETRY_AFTER));
        assert!(
            !remux_next(&db, &store, PROFILE, &Shutdown::new())
                .await
                .unwrap(),
            "not tried again at once"
        );
    }

    #[tokio::test]
    async fn a_version_without_video_is_not_tried_again() {
        let (db, store, _dir) = fixture().await;
        let id = ready_video(&db, &[rendition("audio", RenditionKind::Audio)]).await;
        assert!(remux_next(&db, &store, PROFILE, &Shutdown::new())
            .await
            .unwrap());
        assert_eq!(row(&db, id).await.download_lease_until, NOTHING_TO_REMUX);
        assert!(take_next(&db, i64::MAX - 1).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_video_with_a_download_for_its_version_wants_none() {
        let (db, _store, _dir) = fixture().await;
        let id = ready_video(&db, &[rendition("360p", RenditionKind::Video)]).await;
        let mut changed: video::ActiveModel = row(&db, id).await.into();
        changed.download_version = Set(row(&db, id).await.version);
        changed.update(&db).await.unwrap();
        assert!(take_next(&db, now_ms()).await.unwrap().is_none());
        let mut off: video::ActiveModel = row(&db, id).await.into();
        off.download_version = Set(None);
        off.downloads = Set(false);
        off.update(&db).await.unwrap();
        assert!(
            take_next(&db, now_ms()).await.unwrap().is_none(),
            "downloads off"
        );
    }
}
