//! Job control on `goflix serve`: cancelling a queued job (it never runs)
//! and a running one (it stops, publishes nothing, and the worker goes on
//! with the next job), retranscoding a ready video (a new version, the old
//! one playing meanwhile), `eta_s` and `queue_position`, the video's
//! Server-Sent Events stream, and who may do what; and a cancel reaching a
//! separate transcoder process over RabbitMQ (with PostgreSQL;
//! `GOFLIX_TEST_AMQP_URL` and `GOFLIX_TEST_POSTGRES_URL`).

use crate::common::{clip, spawn_app, TestApp};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest wait for anything the worker does.
const PATIENCE: Duration = Duration::from_secs(300);
const PASSWORD: &str = "job-control-password";

/// `POST /api/v1/videos/{id}/{action}` as `token`: status and body.
async fn post(app: &TestApp, token: &str, id: &str, action: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/videos/{id}/{action}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A new user with `role`; returns a token.
async fn user(app: &TestApp, email: &str, role: &str) -> String {
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&json!({ "email": email, "password": PASSWORD, "role": role }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "creating {email}");
    crate::common::login(&app.client, &app.base, email, PASSWORD).await
}

async fn upload(app: &TestApp, file: &Path) -> String {
    let (status, body) = app.upload("job control", file).await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Uploads `file` as `token` with `visibility`: status and body.
async fn upload_as(app: &TestApp, token: &str, file: &Path, visibility: &str) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(std::fs::read(file).unwrap())
        .file_name("clip.mp4")
        .mime_str("video/mp4")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("title", "mine")
        .text("visibility", visibility.to_owned())
        .part("file", part);
    let response = app
        .client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_cancelled(video: &Value) {
    assert_eq!(video["state"], "failed", "{video}");
    assert_eq!(video["error"]["code"], "cancelled", "{video}");
    assert_eq!(video["eta_s"], Value::Null);
    assert_eq!(video["queue_position"], Value::Null);
}

/// The published version, from the poster URL `/v/{id}/{version}/poster.jpg`.
fn version(video: &Value) -> String {
    let poster = video["playback"]["poster"]
        .as_str()
        .expect("a published version");
    poster.split('/').nth(3).unwrap().to_owned()
}

fn playback_record(app: &TestApp, id: &str) -> Option<Value> {
    let path = app
        .data_dir
        .path()
        .join(format!("objects/media/{id}/playback.json"));
    std::fs::read(path)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_queued_job_never_runs_and_queued_jobs_know_their_place() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let long = clip(media.path(), "long.mp4", "1280x720", 30, true);
    let short = clip(media.path(), "short.mp4", "320x240", 2, false);
    let running = upload(&app, &long).await;
    // `goflix serve` runs one job at a time: the rest wait in order.
    app.wait_for(&running, ("processing", PATIENCE), |v| {
        v["state"] == "processing"
    })
    .await;
    let second = upload(&app, &short).await;
    let third = upload(&app, &short).await;
    let (second_view, third_view) = (app.video(&second).await, app.video(&third).await);
    assert_eq!(second_view["queue_position"], 1, "{second_view}");
    assert_eq!(third_view["queue_position"], 2, "{third_view}");
    assert_eq!(second_view["eta_s"], Value::Null);

    let (status, cancelled) = post(&app, &app.token, &third, "cancel").await;
    assert_eq!(status, 202, "{cancelled}");
    assert_cancelled(&cancelled);
    let (status, body) = post(&app, &app.token, &third, "cancel").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_cancellable"))
    );

    // The worker takes jobs oldest first: one enqueued after the cancelled
    // job is done only after the cancelled one would have run.
    let after = upload(&app, &short).await;
    for id in [&running, &second, &after] {
        assert_eq!(app.wait_settled(id, PATIENCE).await["state"], "ready");
    }
    let third_view = app.video(&third).await;
    assert_cancelled(&third_view);
    assert_eq!(third_view["progress"], 0.0);
    assert!(
        !app.data_dir
            .path()
            .join(format!("objects/media/{third}"))
            .exists(),
        "the cancelled job published nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_running_job_stops_and_the_worker_goes_on() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let long = clip(media.path(), "long.mp4", "1280x720", 60, true);
    let short = clip(media.path(), "short.mp4", "320x240", 2, false);
    let id = upload(&app, &long).await;
    let video = app
        .wait_for(&id, ("progressing", PATIENCE), |v| {
            v["state"] == "processing" && v["progress"].as_f64().unwrap() > 0.0
        })
        .await;
    assert!(video["eta_s"].as_f64().expect("an ETA") >= 0.0, "{video}");
    assert_eq!(video["queue_position"], Value::Null);

    let (status, cancelled) = post(&app, &app.token, &id, "cancel").await;
    assert_eq!(status, 202, "{cancelled}");
    assert_cancelled(&cancelled);

    let next = upload(&app, &short).await;
    assert_eq!(app.wait_settled(&next, PATIENCE).await["state"], "ready");
    let video = app.video(&id).await;
    assert_cancelled(&video);
    assert_eq!(video["playback"], Value::Null, "{video}");
    assert_eq!(playback_record(&app, &id), None, "nothing was published");
}

/// The video (seen encoding a retranscode) plays its published version
/// `first`: the API, the playback record and the master playlist say so.
/// The job may finish between reading the video and reading the record:
/// then the record names the retranscode's final version, which is
/// returned (the caller checks it is the one that became ready).
async fn assert_old_version_plays(
    app: &TestApp,
    id: &str,
    first: &str,
    video: &Value,
) -> Option<String> {
    assert_eq!(video["playable"], true, "{video}");
    assert_eq!(version(video), first, "{video}");
    let record = playback_record(app, id).expect("a playback record");
    assert!(
        !record["live"].as_bool().unwrap_or(false),
        "a retranscode does not go live: {record}"
    );
    let playing = record["version"].as_str().unwrap().to_owned();
    if playing != first {
        return Some(playing);
    }
    let master = app.get(&format!("/v/{id}/master.m3u8")).await;
    assert_eq!(master.status(), 200);
    let master = master.text().await.unwrap();
    if !master.contains(&format!("{first}/")) {
        let record = playback_record(app, id).expect("a playback record");
        assert_ne!(record["version"], first, "{master}");
        return record["version"].as_str().map(str::to_owned);
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retranscoding_publishes_a_new_version_while_the_old_one_plays() {
    let app = spawn_app().await;
    let uploader = user(&app, "uploader@jobs.test", "uploader").await;
    let media = tempfile::tempdir().unwrap();
    // Long enough that the retranscode is seen while it encodes.
    let file = clip(media.path(), "clip.mp4", "640x360", 12, true);
    let id = upload(&app, &file).await;
    let ready = app.wait_settled(&id, PATIENCE).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    let first = version(&ready);
    let (status, _) = post(&app, &app.token, &id, "cancel").await;
    assert_eq!(status, 409, "a ready video has no job to cancel");
    let (status, _) = post(&app, &uploader, &id, "retranscode").await;
    assert_eq!(status, 403, "retranscoding is for admins");

    let (status, queued) = post(&app, &app.token, &id, "retranscode").await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["playable"], true, "the old version still plays");
    assert_eq!(version(&queued), first);
    assert_eq!(playback_record(&app, &id).unwrap()["version"], first);
    let (status, body) = post(&app, &app.token, &id, "retranscode").await;
    assert_eq!((status, body["code"].as_str()), (409, Some("job_running")));

    // All the while the new version encodes (and would be live), the
    // published one is what plays.
    let started = Instant::now();
    let mut encoding_polls = 0;
    let mut moved_on = Vec::new();
    let again = loop {
        let video = app.video(&id).await;
        if video["state"] == "ready" {
            break video;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "not ready after {PATIENCE:?}: {video}"
        );
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            match assert_old_version_plays(&app, &id, &first, &video).await {
                None => encoding_polls += 1,
                Some(finished) => moved_on.push(finished),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(encoding_polls > 0, "never seen encoding: {again}");
    assert_eq!(again["state"], "ready", "{again}");
    let second = version(&again);
    assert_ne!(second, first, "a new version");
    assert_eq!(playback_record(&app, &id).unwrap()["version"], second);
    assert!(
        moved_on.iter().all(|finished| *finished == second),
        "playback only ever left {first} for the finished {second}: {moved_on:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_event_stream_delivers_progress_then_ready() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let file = clip(media.path(), "clip.mp4", "640x360", 6, true);
    let id = upload(&app, &file).await;
    let response = app
        .client
        .get(format!("{}/api/v1/videos/{id}/events", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = String::new();
    let mut chunks = response.bytes_stream();
    // The stream ends after the terminal event.
    while let Some(chunk) = tokio::time::timeout(PATIENCE, chunks.next())
        .await
        .expect("the stream goes on")
    {
        body.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let kinds: Vec<&str> = body
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert!(kinds.contains(&"video.progress"), "{body}");
    assert_eq!(kinds.last(), Some(&"video.ready"), "{body}");
    let last_data = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .next_back()
        .unwrap();
    let last: Value = serde_json::from_str(last_data).unwrap();
    assert_eq!(last["video_id"], id.as_str());
    // A settled video's stream ends at once.
    let response = app
        .client
        .get(format!("{}/api/v1/videos/{id}/events", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_owner_or_an_admin_cancels() {
    let app = spawn_app().await;
    let owner = user(&app, "owner@jobs.test", "uploader").await;
    let other = user(&app, "other@jobs.test", "uploader").await;
    let viewer = user(&app, "viewer@jobs.test", "viewer").await;
    let media = tempfile::tempdir().unwrap();
    let file = clip(media.path(), "clip.mp4", "320x240", 2, false);
    let mut ids = Vec::new();
    for visibility in ["public", "private"] {
        let (status, body) = upload_as(&app, &owner, &file, visibility).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let (public, private) = (&ids[0], &ids[1]);
    assert_eq!(post(&app, &viewer, public, "cancel").await.0, 403);
    assert_eq!(post(&app, &other, public, "cancel").await.0, 403);
    assert_eq!(post(&app, &viewer, private, "cancel").await.0, 404);
    assert_eq!(post(&app, &other, private, "cancel").await.0, 404);
    assert_eq!(post(&app, &owner, private, "retranscode").await.0, 403);
    let (status, video) = post(&app, &owner, private, "cancel").await;
    assert_eq!(status, 202, "{video}");
    assert_cancelled(&video);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_reaches_a_separate_worker_over_rabbitmq() {
    let mut cluster = crate::common::cluster::Cluster::new().await;
    let long = clip(cluster.dir.path(), "long.mp4", "1280x720", 60, true);
    let short = clip(cluster.dir.path(), "short.mp4", "320x240", 2, false);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    cluster.start_worker().await;
    let id = cluster.upload("cancelled", &long).await;
    let started = Instant::now();
    loop {
        let video = cluster.video(&id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break;
        }
        assert_ne!(video["state"], "ready", "finished before the cancel");
        assert!(started.elapsed() < PATIENCE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = cluster
        .client
        .post(format!("{}/api/v1/videos/{id}/cancel", cluster.base))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_cancelled(&response.json().await.unwrap());

    let next = cluster.upload("next", &short).await;
    let video = cluster.wait_settled(&next, PATIENCE).await;
    assert_eq!(video["state"], "ready", "the worker goes on: {video}");
    assert_cancelled(&cluster.video(&id).await);
    assert_eq!(cluster.completions(&id), 0, "{}", cluster.logs());
    assert!(
        !cluster
            .objects()
            .join(format!("media/{id}/playback.json"))
            .exists(),
        "nothing was published"
    );
}
