//! The real binary, killed with SIGKILL while it transcodes, picks the job
//! up again when it restarts on the same data directory (the lease runs out
//! and the job is handed out again), and the video reaches `ready`.

mod common;

use common::{clip, login, ADMIN_EMAIL, ADMIN_PASSWORD};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    common::cluster::goflix()
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

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "goflix did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn state(client: &reqwest::Client, base: &str, token: &str, id: &str) -> serde_json::Value {
    client
        .get(format!("{base}/api/v1/videos/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
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
    wait_healthy(&client, &base).await;
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
    let started = Instant::now();
    loop {
        let video = state(&client, &base, &token, &id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break;
        }
        assert_ne!(
            video["state"], "ready",
            "finished before it could be interrupted"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{video}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = start(data_dir.path(), port);
    wait_healthy(&client, &base).await;
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let restarted = Instant::now();
    let video = loop {
        let video = state(&client, &base, &token, &id).await;
        if matches!(video["state"].as_str(), Some("ready" | "failed")) {
            break video;
        }
        assert!(restarted.elapsed() < Duration::from_secs(180), "{video}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
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
