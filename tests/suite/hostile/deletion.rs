//! Deleted means gone, on every queue backend: a video deleted while it
//! encodes (its live copy already playing) is cancelled wherever its job
//! runs, and once the worker is idle again (it has transcoded the next
//! video: one job at a time) and has had time for any late write, the
//! origin serves nothing of it and nothing of it is left under
//! `media/{id}/` or `masters/{id}` — on the database queue of `goflix
//! serve` and with a separate transcoder on RabbitMQ.

use crate::common::cluster::Cluster;
use crate::common::{clip, spawn_app};
use crate::hostile::visibility::{origin_client, playback_paths};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest wait for anything the worker does.
const PATIENCE: Duration = Duration::from_secs(300);
/// Seconds between a database-queue worker's lease heartbeats.
const HEARTBEAT_S: f64 = 10.0;
/// Seconds left of the encode when the database-queue test deletes.
const NEAR_THE_END_S: f64 = 3.0;
/// Time given to a worker's late writes once it is idle again.
const LATE_WRITES: Duration = Duration::from_secs(3);

/// Files left of video `id` in the objects folder.
fn leftovers(objects: &Path, id: &str) -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.map(|e| e.unwrap()) {
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), found);
            } else {
                found.push(entry.path().display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(&objects.join("media").join(id), &mut found);
    let master = objects.join("masters").join(id);
    if master.exists() {
        found.push(master.display().to_string());
    }
    found
}

/// Asserts that the origin serves none of `paths`.
async fn assert_not_served(origin: &str, paths: &[String]) {
    let client = origin_client();
    for path in paths {
        let response = client.get(format!("{origin}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path} of a deleted video");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_deleted_while_encoding_on_the_database_queue_is_gone() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "encoding.mp4", "640x360", 16, true);
    let next = clip(media.path(), "next.mp4", "320x240", 2, false);
    let (status, body) = app.upload("deleted while encoding", &source).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    // A worker that only noticed the delete when its lease heartbeat failed
    // (every 10 s) would finish an encode that ends before its next beat,
    // and publish it: the delete comes near the end of the encode, after
    // the last beat the job has.
    let started = Instant::now();
    let mut processing_since = None;
    loop {
        let video = app.video(&id).await;
        assert_ne!(
            video["state"], "ready",
            "finished before the delete: {video}"
        );
        if video["state"] == "processing" {
            processing_since.get_or_insert_with(Instant::now);
        }
        let playable = video["playable"] == true;
        if let (Some(since), true, Some(eta)) =
            (processing_since, playable, video["eta_s"].as_f64())
        {
            let elapsed = since.elapsed().as_secs_f64();
            let last_beat = ((elapsed + eta) / HEARTBEAT_S).floor() * HEARTBEAT_S;
            if eta <= NEAR_THE_END_S && elapsed > last_beat + 0.5 {
                break;
            }
        }
        assert!(started.elapsed() < PATIENCE, "{video}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paths = playback_paths(&origin_client(), &app.base, &id).await;
    let response = app
        .client
        .delete(format!("{}/api/v1/videos/{id}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // `goflix serve` runs one job at a time: the next video is ready once
    // the worker has left the deleted one.
    let (status, body) = app.upload("next", &next).await;
    assert_eq!(status, 202, "{body}");
    let video = app
        .wait_settled(body["id"].as_str().unwrap(), PATIENCE)
        .await;
    assert_eq!(video["state"], "ready", "{video}");
    tokio::time::sleep(LATE_WRITES).await;

    assert_not_served(&app.base, &paths).await;
    let objects = app.data_dir.path().join("objects");
    assert_eq!(leftovers(&objects, &id), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_deleted_while_encoding_on_rabbitmq_is_gone() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "encoding.mp4", "640x360", 30, true);
    let next = clip(cluster.dir.path(), "next.mp4", "320x240", 2, false);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    cluster.start_worker().await;
    let origin = cluster.start_origin().await;
    let id = cluster.upload("deleted while encoding", &source).await;
    let started = Instant::now();
    loop {
        let video: Value = cluster.video(&id).await;
        assert_ne!(
            video["state"], "ready",
            "finished before the delete: {video}"
        );
        if video["playable"] == true {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paths = playback_paths(&origin_client(), &origin, &id).await;
    let response = cluster
        .client
        .delete(format!("{}/api/v1/videos/{id}", cluster.base))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // One job at a time: the next video is ready once the worker has left
    // the deleted one, and its log says how it left.
    let next = cluster.upload("next", &next).await;
    let video = cluster.wait_settled(&next, PATIENCE).await;
    assert_eq!(video["state"], "ready", "{video}");
    tokio::time::sleep(LATE_WRITES).await;

    assert_not_served(&origin, &paths).await;
    assert_eq!(leftovers(&cluster.objects(), &id), Vec::<String>::new());
    let worker_log = cluster.workers[0].log_text();
    assert!(
        worker_log
            .lines()
            .any(|l| l.contains(&id) && l.contains("job cancelled by an operator")),
        "{worker_log}"
    );
}
