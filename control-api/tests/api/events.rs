//! The event follower: lifecycle events move videos through their states,
//! on SQLite and on PostgreSQL.

use crate::helpers::{spawn_app_on, Backend, TestApp};
use goflix_control_api::db::video;
use goflix_shared::domain::{PlaybackRecord, Rendition, RenditionKind, Visibility};
use goflix_shared::events::EventKind;
use goflix_shared::token::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

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

#[tokio::test]
async fn events_move_a_video_from_queued_through_processing_to_ready_on_sqlite() {
    events_move_a_video_from_queued_through_processing_to_ready(Backend::Sqlite).await;
}

#[tokio::test]
async fn events_move_a_video_from_queued_through_processing_to_ready_on_postgres() {
    events_move_a_video_from_queued_through_processing_to_ready(Backend::Postgres).await;
}

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
        },
    )
    .await;
    // Late events never move a ready video back.
    app.publish(id, EventKind::Progress { progress: 0.9 }).await;
    app.publish(
        id,
        EventKind::Failed {
            code: "late".into(),
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

    let record_path = app
        .data
        .path()
        .join(format!("objects/media/{id}/playback.json"));
    let record: PlaybackRecord =
        serde_json::from_slice(&std::fs::read(record_path).unwrap()).unwrap();
    assert_eq!(record.version, "v1abc");
    assert_eq!(record.visibility, Visibility::Unlisted);
}

#[tokio::test]
async fn failed_videos_report_their_error_and_stay_failed_on_sqlite() {
    failed_videos_report_their_error_and_stay_failed(Backend::Sqlite).await;
}

#[tokio::test]
async fn failed_videos_report_their_error_and_stay_failed_on_postgres() {
    failed_videos_report_their_error_and_stay_failed(Backend::Postgres).await;
}

async fn failed_videos_report_their_error_and_stay_failed(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let token = app.user_token(Role::Uploader).await;
    let id = app.upload(&token, "broken", "public", vec![0]).await;
    app.publish(
        id,
        EventKind::Failed {
            code: "invalid_media".into(),
            message: "no video stream".into(),
        },
    )
    .await;
    let video: Value = app.wait_for(&token, id, |v| v["state"] == "failed").await;
    assert_eq!(video["error"]["code"], "invalid_media");
    assert_eq!(video["error"]["message"], "no video stream");
    app.publish(
        id,
        EventKind::Ready {
            version: "v2".into(),
            duration_s: 1.0,
            renditions: Vec::new(),
        },
    )
    .await;
    events_applied(&app, &token).await;
    assert_eq!(app.video(&token, id).await["state"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_reported_while_the_row_is_written_elsewhere_all_land_on_sqlite() {
    renditions_reported_while_the_row_is_written_elsewhere_all_land(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_reported_while_the_row_is_written_elsewhere_all_land_on_postgres() {
    renditions_reported_while_the_row_is_written_elsewhere_all_land(Backend::Postgres).await;
}

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
