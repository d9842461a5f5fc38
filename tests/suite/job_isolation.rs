//! Each job's media work runs in a child process of the worker
//! (`goflix transcode-child`): a child killed by a signal, a child that
//! stops making progress and a child over its memory limit cost that job an
//! attempt, never the worker, which goes on serving the next job. A
//! cancelled job is killed and never retried, even after the next job ran.

use crate::common::{clip, ffprobe, spawn_app_with, TestApp};
use sea_orm::{ConnectionTrait, Statement};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a job of these small clips may take, retries included.
const SETTLE: Duration = Duration::from_secs(180);

/// Pids of the running transcode children of video `id`.
fn children_of(id: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.contains(&&b"transcode-child"[..]) && args.contains(&id.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Waits for a transcode child of video `id` other than `except`.
async fn wait_child(id: &str, except: Option<u32>) -> u32 {
    let started = Instant::now();
    loop {
        if let Some(pid) = children_of(id).into_iter().find(|p| Some(*p) != except) {
            return pid;
        }
        assert!(
            started.elapsed() < SETTLE,
            "no transcode child (other than {except:?}) for {id}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn upload(app: &TestApp, file: &Path) -> String {
    let (status, body) = app.upload("isolated", file).await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The video is ready and its HLS plays in ffprobe: video streams of the
/// clip's length.
async fn assert_ready(app: &TestApp, id: &str) {
    let video = app.wait_settled(id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    let url = format!("{}/v/{id}/master.m3u8", app.base);
    let info = ffprobe(
        Path::new(&url),
        &["-show_entries", "stream=codec_name:format=duration"],
    );
    let streams = info["streams"].as_array().unwrap();
    assert!(streams.iter().any(|s| s["codec_name"] == "h264"), "{info}");
    let duration: f64 = info["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 6.0).abs() <= 0.5, "lasts {duration}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_killed_mid_job_is_retried_and_the_worker_survives() {
    let app = spawn_app_with(&[]).await;
    let media = tempfile::tempdir().unwrap();
    let master = clip(media.path(), "kill.mp4", "1280x720", 6, true);
    let id = upload(&app, &master).await;

    let first = wait_child(&id, None).await;
    signal(first, "KILL");
    // The worker retries the job in a new child …
    let second = wait_child(&id, Some(first)).await;
    assert_ne!(second, first);
    // … and it ends ready.
    assert_ready(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_child_is_killed_and_the_job_retried() {
    let app = spawn_app_with(&[("GOFLIX_STALL_TIMEOUT_SECONDS", "5")]).await;
    let media = tempfile::tempdir().unwrap();
    let master = clip(media.path(), "stall.mp4", "1280x720", 6, true);
    let id = upload(&app, &master).await;

    let first = wait_child(&id, None).await;
    // A stopped process makes no progress and ignores SIGTERM.
    signal(first, "STOP");
    let second = wait_child(&id, Some(first)).await;
    assert!(
        !Path::new(&format!("/proc/{first}")).exists(),
        "the stalled child {first} was killed and reaped"
    );
    assert_ne!(second, first);
    assert_ready(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_over_its_memory_limit_fails_and_the_next_job_completes() {
    // A 1080p ladder needs far more than this; a 240p one fits.
    let app = spawn_app_with(&[("GOFLIX_JOB_MEMORY_MB", "800")]).await;
    let media = tempfile::tempdir().unwrap();
    let big = clip(media.path(), "big.mp4", "1920x1080", 2, true);
    let small = clip(media.path(), "small.mp4", "320x240", 6, true);

    let id = upload(&app, &big).await;
    let video = app.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "failed", "{video}");
    assert_eq!(video["error"]["code"], "resource_limit", "{video}");

    let id = upload(&app, &small).await;
    assert_ready(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_has_its_child_killed_and_the_next_job_completes() {
    let app = spawn_app_with(&[]).await;
    let media = tempfile::tempdir().unwrap();
    let master = clip(media.path(), "cancel.mp4", "1280x720", 6, true);
    let id = upload(&app, &master).await;

    let child = wait_child(&id, None).await;
    let response = app
        .client
        .post(format!("{}/api/v1/videos/{id}/cancel", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    // The worker kills and reaps the child …
    let started = Instant::now();
    while Path::new(&format!("/proc/{child}")).exists() {
        assert!(started.elapsed() < SETTLE, "child {child} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_cancelled_and_idle(&app, &id).await;

    // … and goes on serving; the cancelled job was not retried meanwhile.
    let next = clip(media.path(), "next.mp4", "320x240", 6, true);
    let next = upload(&app, &next).await;
    assert_ready(&app, &next).await;
    assert_cancelled_and_idle(&app, &id).await;
}

/// Video `id` is failed as cancelled and no transcode child works on it.
async fn assert_cancelled_and_idle(app: &TestApp, id: &str) {
    let video = app.video(id).await;
    assert_eq!(video["state"], "failed", "{video}");
    assert_eq!(video["error"]["code"], "cancelled", "{video}");
    assert!(
        children_of(id).is_empty(),
        "the cancelled job is not retried"
    );
    // The queue holds it as cancelled after its one delivery.
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}?mode=ro",
        app.data_dir.path().join("goflix.db").display()
    ))
    .await
    .unwrap();
    let row = db
        .query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT state, attempts FROM jobs WHERE video_id = ?",
            [uuid::Uuid::parse_str(id).unwrap().into()],
        ))
        .await
        .unwrap()
        .expect("the video's job");
    let job: (String, i32) = (
        row.try_get("", "state").unwrap(),
        row.try_get("", "attempts").unwrap(),
    );
    assert_eq!(job, ("cancelled".to_owned(), 1), "the video's job");
    db.close().await.unwrap();
}
