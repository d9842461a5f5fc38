//! Retiring superseded media versions. When a job finishes, playback moves
//! to its final version; the live copy it played from while encoding, and
//! the final version a retranscode replaced, are retired: recorded with a
//! time after which their files are deleted. Players that started on them,
//! and CDNs that cached manifests naming them, have [`GRACE`] to finish.
//! Every control-plane process sweeps; deleting a prefix twice is harmless.

use crate::db::{now_ms, retired_version, video};
use crate::error::ApiError;
use goflix_shared::domain::VideoId;
use goflix_shared::layout;
use goflix_shared::shutdown::Shutdown;
use goflix_shared::store::{ObjectStore, Store};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::time::Duration;
use uuid::Uuid;

/// How long a retired version stays playable: a day covers a viewer who
/// started it and paused, and manifests a CDN still holds.
pub const GRACE: Duration = Duration::from_secs(24 * 3600);

/// Pause between sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Versions deleted per query.
const BATCH: u64 = 100;

/// Records `versions` of `video` as retired from `now_ms` on (in the
/// caller's transaction); retiring one twice keeps the first time.
pub(crate) async fn retire(
    db: &impl ConnectionTrait,
    video: Uuid,
    versions: impl IntoIterator<Item = String>,
    now_ms: i64,
) -> Result<(), DbErr> {
    let rows: Vec<_> = versions
        .into_iter()
        .map(|version| retired_version::ActiveModel {
            video_id: Set(video),
            version: Set(version),
            delete_after: Set(now_ms + GRACE.as_millis() as i64),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    retired_version::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                retired_version::Column::VideoId,
                retired_version::Column::Version,
            ])
            .do_nothing()
            .to_owned(),
        )
        .do_nothing()
        .exec(db)
        .await
        .map(drop)
}

/// Deletes the files of every version whose grace ended by `now_ms`, then
/// its record; returns how many went. A version the row names again (its
/// media, live, manifest-only or codec version) is only forgotten, never deleted:
/// the manifests a row names only reference its media version.
pub(crate) async fn sweep(
    db: &DatabaseConnection,
    store: &Store,
    now_ms: i64,
) -> Result<usize, ApiError> {
    let mut swept = 0;
    loop {
        let due = retired_version::Entity::find()
            .filter(retired_version::Column::DeleteAfter.lte(now_ms))
            .order_by_asc(retired_version::Column::DeleteAfter)
            .limit(BATCH)
            .all(db)
            .await?;
        for retired in &due {
            let current = video::Entity::find_by_id(retired.video_id).one(db).await?;
            let in_use = current.is_some_and(|row| {
                [
                    &row.version,
                    &row.live_version,
                    &row.manifest_version,
                    &row.codec_version,
                ]
                .into_iter()
                .any(|named| named.as_deref() == Some(retired.version.as_str()))
            });
            if !in_use && layout::is_version(&retired.version) {
                let prefix = layout::version_prefix(VideoId(retired.video_id), &retired.version);
                store.delete_prefix(&prefix).await?;
                tracing::info!(video_id = %retired.video_id, version = %retired.version, "retired version deleted");
                swept += 1;
            }
            retired_version::Entity::delete_many()
                .filter(retired_version::Column::VideoId.eq(retired.video_id))
                .filter(retired_version::Column::Version.eq(retired.version.as_str()))
                .exec(db)
                .await?;
        }
        if (due.len() as u64) < BATCH {
            return Ok(swept);
        }
    }
}

/// Sweeps every [`SWEEP_EVERY`] until `shutdown`.
pub(crate) async fn run(db: &DatabaseConnection, store: &Store, shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(db, store, now_ms()).await {
            tracing::warn!(error = %e, "could not delete retired versions; will try again");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, insert_uploader};
    use bytes::Bytes;
    use goflix_shared::store::ObjectKey;

    fn file(video: Uuid, version: &str) -> ObjectKey {
        layout::media_file(VideoId(video), version, "720p.mp4").unwrap()
    }

    #[tokio::test]
    async fn a_retired_version_goes_once_its_grace_is_over_and_only_then() {
        let (db, store, _dir) = fixture().await;
        let video = Uuid::now_v7();
        for version in ["live1", "final1", "final2"] {
            store
                .put_bytes(&file(video, version), Bytes::from_static(b"media"))
                .await
                .unwrap();
        }
        let retired_at = 1_000_000;
        retire(&db, video, ["live1".into(), "final1".into()], retired_at)
            .await
            .unwrap();
        // Retiring again (an event applied twice) keeps the first time.
        retire(&db, video, ["live1".into()], retired_at + 5_000)
            .await
            .unwrap();
        retire(&db, video, [], retired_at).await.unwrap();

        let end_of_grace = retired_at + GRACE.as_millis() as i64;
        assert_eq!(sweep(&db, &store, end_of_grace - 1).await.unwrap(), 0);
        for version in ["live1", "final1", "final2"] {
            assert!(store.head(&file(video, version)).await.is_ok(), "{version}");
        }
        assert_eq!(sweep(&db, &store, end_of_grace).await.unwrap(), 2);
        assert!(store.head(&file(video, "live1")).await.is_err());
        assert!(store.head(&file(video, "final1")).await.is_err());
        assert!(store.head(&file(video, "final2")).await.is_ok());
        // Swept records are gone: nothing is deleted twice.
        assert_eq!(sweep(&db, &store, end_of_grace).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_record_naming_no_version_deletes_nothing() {
        let (db, store, _dir) = fixture().await;
        let video = Uuid::now_v7();
        store
            .put_bytes(&file(video, "final1"), Bytes::from_static(b"media"))
            .await
            .unwrap();
        // Not a version name: sweeping must not turn it into a wider prefix.
        retire(&db, video, ["".into(), "../x".into()], 0)
            .await
            .unwrap();
        assert_eq!(sweep(&db, &store, i64::MAX).await.unwrap(), 0);
        assert!(store.head(&file(video, "final1")).await.is_ok());
        assert!(retired_version::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty());
    }

    /// Inserts a ready video playing `version` from `live_version` (`None`
    /// when not encoding) with the manifests of `manifest_version` (`None`:
    /// its own), owned by a new user; written as SQLite SQL so the test does
    /// not depend on the row types.
    async fn video_playing(
        db: &DatabaseConnection,
        version: &str,
        live_version: Option<&str>,
        manifest_version: Option<&str>,
    ) -> Uuid {
        let (owner, video) = (insert_uploader(db).await, Uuid::now_v7());
        let backend = db.get_database_backend();
        db.execute(sea_orm::Statement::from_sql_and_values(
            backend,
            "INSERT INTO videos (id, owner_id, title, visibility, state, progress, renditions, \
             version, live_version, manifest_version, created_at, updated_at) \
             VALUES (?, ?, 't', 'public', 'ready', 1.0, '[]', ?, ?, ?, 0, 0)",
            [
                video.into(),
                owner.into(),
                version.into(),
                live_version.map(str::to_owned).into(),
                manifest_version.map(str::to_owned).into(),
            ],
        ))
        .await
        .unwrap();
        video
    }

    #[tokio::test]
    async fn a_version_playback_points_at_is_never_deleted() {
        let (db, store, _dir) = fixture().await;
        // Playback went back to "final1" (or plays "live2" while encoding)
        // after both were retired.
        let video = video_playing(&db, "final1", Some("live2"), None).await;
        for version in ["final1", "live2", "final0"] {
            store
                .put_bytes(&file(video, version), Bytes::from_static(b"media"))
                .await
                .unwrap();
        }
        retire(
            &db,
            video,
            ["final1".into(), "live2".into(), "final0".into()],
            0,
        )
        .await
        .unwrap();
        assert_eq!(sweep(&db, &store, i64::MAX).await.unwrap(), 1);
        assert!(
            store.head(&file(video, "final1")).await.is_ok(),
            "the published version"
        );
        assert!(
            store.head(&file(video, "live2")).await.is_ok(),
            "the live version"
        );
        assert!(
            store.head(&file(video, "final0")).await.is_err(),
            "the retired one"
        );
        // Only forgotten: a later sweep does not come back for them.
        assert!(retired_version::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(sweep(&db, &store, i64::MAX).await.unwrap(), 0);
        assert!(store.head(&file(video, "final1")).await.is_ok());
    }

    #[tokio::test]
    async fn the_manifest_only_version_a_row_names_and_its_media_stay() {
        let (db, store, _dir) = fixture().await;
        // Captions moved the manifests from "m1" to "m2"; both name "final1".
        let video = video_playing(&db, "final1", None, Some("m2")).await;
        for version in ["final1", "m1", "m2"] {
            store
                .put_bytes(&file(video, version), Bytes::from_static(b"media"))
                .await
                .unwrap();
        }
        retire(&db, video, ["m1".into(), "m2".into(), "final1".into()], 0)
            .await
            .unwrap();
        assert_eq!(sweep(&db, &store, i64::MAX).await.unwrap(), 1);
        assert!(store.head(&file(video, "m1")).await.is_err(), "replaced");
        assert!(
            store.head(&file(video, "m2")).await.is_ok(),
            "current manifests"
        );
        assert!(
            store.head(&file(video, "final1")).await.is_ok(),
            "their media"
        );
    }
}
