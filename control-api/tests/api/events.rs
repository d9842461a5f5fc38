//! The event follower: lifecycle events move videos through their states,
//! on SQLite and on PostgreSQL.

use crate::helpers::{spawn_app_on, Backend, TestApp};
use goflix_control_api::db::{retired_version, video};
use goflix_shared::domain::{FailureCode, Rendition, RenditionKind, Visibility};
use goflix_shared::events::EventKind;
use goflix_shared::token::Role;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

/// One test per database for the scenario `$scenario(backend)`.
macro_rules! on_sqlite_and_postgres {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$scenario(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$scenario(super::Backend::Postgres).await;
            }
        }
    };
}

fn rendition(name: &str, height: u32) -> Rendition {
    Rendition {
        name: name.into(),
        kind: RenditionKind::Video,
        width: Some(height * 16 / 9),
        height: Some(height),
        frame_rate: Some(25.0),
        codecs: "avc1.64001f".into(),
        bandwidth: 1_000_000,
        average_bandwidth: 800_000,
        language: None,
        label: None,
        default: false,
        channels: None,
    }
}

/// Waits until every event published so far is applied: events are applied
/// in order, so once a marker video's are through, so are the earlier ones.
async fn events_applied(app: &TestApp, token: &str) {
    let marker = app.upload(token, "marker", "public", vec![1]).await;
    app.publish(marker, EventKind::Processing { attempt: 1 })
        .await;
    app.wait_for(token, marker, |v| v["state"] == "processing")
        .await;
}

on_sqlite_and_postgres!(events_move_a_video_from_queued_through_processing_to_ready);

async fn events_move_a_video_from_queued_through_processing_to_ready(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let token = app.user_token(Role::Uploader).await;
    let id = app.upload(&token, "movie", "unlisted", vec![1, 2, 3]).await;
    assert_eq!(app.video(&token, id).await["state"], "queued");

    app.publish(id, EventKind::Processing { attempt: 1 }).await;
    app.wait_for(&token, id, |v| v["state"] == "processing")
        .await;

    app.publish(id, EventKind::Progress { progress: 0.5 }).await;
    app.publish(id, EventKind::Progress { progress: 0.25 })
        .await; // stale: ignored
    app.publish(
        id,
        EventKind::RenditionReady {
            rendition: rendition("360p", 360),
        },
    )
    .await;
    app.publish(
        id,
        EventKind::RenditionReady {
            rendition: rendition("360p", 360),
        },
    )
    .await; // duplicate
    let video = app
        .wait_for(&token, id, |v| {
            v["renditions"].as_array().is_some_and(|r| !r.is_empty())
        })
        .await;
    assert_eq!(video["progress"], 0.5);
    assert_eq!(video["renditions"].as_array().unwrap().len(), 1);
    assert!(video["playback"].is_null());

    let renditions = vec![rendition("720p", 720), rendition("360p", 360)];
    app.publish(
        id,
        EventKind::Ready {
            version: "v1abc".into(),
            duration_s: 12.5,
            renditions: renditions.clone(),
            captions: Vec::new(),
            download: None,
        },
    )
    .await;
    // Late events never move a ready video back.
    app.publish(id, EventKind::Progress { progress: 0.9 }).await;
    app.publish(
        id,
        EventKind::Failed {
            code: FailureCode::DecodeFailed,
            message: "too late".into(),
        },
    )
    .await;
    app.publish(id, EventKind::Processing { attempt: 2 }).await;
    events_applied(&app, &token).await;

    let video = app.video(&token, id).await;
    assert_eq!(video["state"], "ready");
    assert_eq!(video["progress"], 1.0);
    assert_eq!(video["duration_s"], 12.5);
    assert!(video["error"].is_null());
    let listed: Vec<Rendition> = serde_json::from_value(video["renditions"].clone()).unwrap();
    assert_eq!(listed, renditions);
    assert_eq!(video["playback"]["hls"], format!("/v/{id}/master.m3u8"));
    assert_eq!(video["playback"]["dash"], format!("/v/{id}/manifest.mpd"));

    let record = app.playback_record(id);
    assert_eq!(record.version, "v1abc");
    assert_eq!(record.visibility, Visibility::Unlisted);
}

on_sqlite_and_postgres!(failed_videos_report_their_error_and_stay_failed);

async fn failed_videos_report_their_error_and_stay_failed(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let token = app.user_token(Role::Uploader).await;
    let id = app.upload(&token, "broken", "public", vec![0]).await;
    app.publish(
        id,
        EventKind::Failed {
            code: FailureCode::InvalidMedia,
            message: "no video stream".into(),
        },
    )
    .await;
    let video: Value = app.wait_for(&token, id, |v| v["state"] == "failed").await;
    assert_eq!(video["error"]["code"], "invalid_media");
    // The uploader sees the code's own sentence, not what the worker said.
    assert_eq!(
        video["error"]["message"],
        "The uploaded file is not a video Goflix can read."
    );
    assert!(video["error"].get("detail").is_none(), "{video}");
    let admin = app.admin_token().await;
    assert_eq!(
        app.video(&admin, id).await["error"]["detail"],
        "no video stream"
    );
    app.publish(
        id,
        EventKind::Ready {
            version: "v2".into(),
            duration_s: 1.0,
            renditions: Vec::new(),
            captions: Vec::new(),
            download: None,
        },
    )
    .await;
    events_applied(&app, &token).await;
    assert_eq!(app.video(&token, id).await["state"], "failed");
}

on_sqlite_and_postgres!(renditions_reported_while_the_row_is_written_elsewhere_all_land);

/// An admin editing the video (another writer of its row) while the worker
/// reports renditions must not make the follower drop any of them.
async fn renditions_reported_while_the_row_is_written_elsewhere_all_land(backend: Backend) {
    const RENDITIONS: u32 = 40;
    let app = spawn_app_on(backend).await;
    let token = app.user_token(Role::Uploader).await;
    let id = app.upload(&token, "busy", "public", vec![1]).await;
    app.publish(id, EventKind::Processing { attempt: 1 }).await;
    app.wait_for(&token, id, |v| v["state"] == "processing")
        .await;

    let db = app.db.clone();
    let writer = tokio::spawn(async move {
        for n in 0u32.. {
            video::Entity::update_many()
                .col_expr(video::Column::Title, Expr::value(format!("edit {n}")))
                .filter(video::Column::Id.eq(id.0))
                .exec(&db)
                .await
                .unwrap();
        }
    });
    for height in 1..=RENDITIONS {
        app.publish(
            id,
            EventKind::RenditionReady {
                rendition: rendition(&format!("{height}p"), height),
            },
        )
        .await;
    }
    events_applied(&app, &token).await;
    writer.abort();
    let listed = app.video(&token, id).await["renditions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, RENDITIONS as usize);
}

on_sqlite_and_postgres!(finished_jobs_retire_what_playback_left);

/// A job's live copy retires when it finishes; so does the final version a
/// retranscode replaces. The version playing never does.
async fn finished_jobs_retire_what_playback_left(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let admin = app.admin_token().await;
    let id = app.upload(&admin, "twice", "public", vec![1]).await;
    let job = |live: &str, version: &str| {
        [
            EventKind::Processing { attempt: 1 },
            EventKind::Playable {
                version: live.into(),
            },
            EventKind::Ready {
                version: version.into(),
                duration_s: 1.0,
                renditions: vec![rendition("360p", 360)],
                captions: Vec::new(),
                download: None,
            },
        ]
    };
    for kind in job("live1", "final1") {
        app.publish(id, kind).await;
    }
    app.wait_for(&admin, id, |v| v["state"] == "ready").await;
    assert_eq!(retired(&app, id).await, ["live1"]);

    let response = app
        .call(Method::POST, &admin, &format!("/videos/{id}/retranscode"))
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    for kind in job("live2", "final2") {
        app.publish(id, kind).await;
    }
    let video = app
        .wait_for(&admin, id, |v| {
            v["state"] == "ready" && v["playback"]["hls"].is_string()
        })
        .await;
    events_applied(&app, &admin).await;
    assert_eq!(video["state"], "ready");
    assert_eq!(retired(&app, id).await, ["final1", "live1", "live2"]);
    assert_eq!(app.playback_record(id).version, "final2");

    // Deleting the video forgets its retired versions with it.
    let response = app
        .call(Method::DELETE, &admin, &format!("/videos/{id}"))
        .await;
    assert_eq!(response.status(), 204);
    assert!(retired(&app, id).await.is_empty());
}

/// The retired versions of `id`, sorted.
async fn retired(app: &TestApp, id: goflix_shared::domain::VideoId) -> Vec<String> {
    let mut versions: Vec<String> = retired_version::Entity::find()
        .filter(retired_version::Column::VideoId.eq(id.0))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.version)
        .collect();
    versions.sort();
    versions
}
