//! The real binary, killed with SIGKILL while it transcodes, picks the job
//! up again when it restarts on the same data directory (the lease runs out
//! and the job is handed out again), and the video reaches `ready`.

use crate::common::{clip, login, wait_healthy, Api, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_testkit::free_port;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    crate::common::cluster::goflix()
        .arg("serve")
        .env("GOFLIX_DATA_DIR", data_dir)
        .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
        .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("goflix binary")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_by_a_crash_completes_after_restart() {
    let data_dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "long.mp4", "1280x720", 30, true);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut first = start(data_dir.path(), port);
    wait_healthy(&client, &base, Duration::from_secs(30), String::new).await;
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let form = reqwest::multipart::Form::new().text("title", "crash").part(
        "file",
        reqwest::multipart::Part::bytes(std::fs::read(&source).unwrap()).file_name("long.mp4"),
    );
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/videos"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();

    // Kill it mid-transcode, with no chance to clean up.
    let api = Api {
        client: &client,
        base: &base,
        token: &token,
    };
    let encoding = |video: &serde_json::Value| {
        assert_ne!(
            video["state"], "ready",
            "finished before it could be interrupted"
        );
        video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0
    };
    api.wait_for(
        &id,
        ("encoding", Duration::from_secs(60)),
        encoding,
        String::new,
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = start(data_dir.path(), port);
    wait_healthy(&client, &base, Duration::from_secs(30), String::new).await;
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let restarted = Instant::now();
    let api = Api {
        client: &client,
        base: &base,
        token: &token,
    };
    let video = api
        .wait_settled(&id, Duration::from_secs(180), String::new)
        .await;
    eprintln!(
        "ready {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(video["state"], "ready", "{video}");
    let duration = video["duration_s"].as_f64().unwrap();
    assert!((duration - 30.0).abs() <= 0.5, "{duration}");
    // Exactly one published version: the interrupted attempt left no final
    // version behind, and the live copy of the video's current job at most.
    let folders: Vec<_> = std::fs::read_dir(data_dir.path().join("objects/media").join(&id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    // Only a final version has a poster (a live copy has manifests too).
    let finals = folders
        .iter()
        .filter(|path| path.join("poster.jpg").is_file())
        .count();
    assert_eq!(finals, 1, "{folders:?}");
    assert!(folders.len() <= 2, "{folders:?}");
}
