//! SIGTERM on the real binary: an upload in flight completes, new
//! connections are refused meanwhile, and the process exits 0 once it is
//! done; a transcoder stopped mid-job either finishes the job before it
//! exits or (with no drain time left) releases it to the queue, where
//! another worker completes it. No job is lost either way.

use crate::common::cluster::{goflix, read_log, Cluster, Process};
use crate::common::{clip, login, wait_healthy, ADMIN_EMAIL, ADMIN_PASSWORD};
use goflix_testkit::free_port;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const SETTLE: Duration = Duration::from_secs(180);

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for the process to exit, failing after `limit` (its grace period).
async fn exit_status(child: &mut Child, limit: Duration, log: &dyn Fn() -> String) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "still running {limit:?} after SIGTERM\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn start_serve(data_dir: &Path, port: u16, log: &Path) -> Child {
    goflix()
        .arg("serve")
        .env("GOFLIX_DATA_DIR", data_dir)
        .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
        .env("GOFLIX_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("GOFLIX_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GOFLIX_DRAIN_SECONDS", "60")
        .env("GOFLIX_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,goflix=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("goflix binary")
}

/// Whether a file is being written under the folder store's `.tmp`.
fn upload_in_progress(objects: &Path) -> bool {
    std::fs::read_dir(objects.join(".tmp")).is_ok_and(|dir| {
        dir.filter_map(Result::ok)
            .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_upload_in_flight_finish_and_refuses_new_connections() {
    let data_dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let source = std::fs::read(clip(media.path(), "m.mp4", "320x240", 4, true)).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = media.path().join("serve.log");
    let client = reqwest::Client::new();
    let mut server = start_serve(data_dir.path(), port, &log);
    wait_healthy(&client, &base, Duration::from_secs(30), String::new).await;
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // The master goes out in two halves; SIGTERM arrives in between.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(body),
        source.len() as u64,
    )
    .file_name("m.mp4")
    .mime_str("video/mp4")
    .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("title", "uploaded across a SIGTERM")
        .part("file", part);
    let upload = tokio::spawn(
        client
            .post(format!("{base}/api/v1/videos"))
            .bearer_auth(&token)
            .multipart(form)
            .send(),
    );
    let (first, second) = source.split_at(source.len() / 2);
    tx.send(Ok(first.to_vec())).await.unwrap();
    let objects = data_dir.path().join("objects");
    let started = Instant::now();
    while !upload_in_progress(&objects) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    sigterm(&server);
    let started = Instant::now();
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "new connections still accepted after SIGTERM: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(
        server.try_wait().unwrap().is_none(),
        "exited with an upload in flight"
    );

    tx.send(Ok(second.to_vec())).await.unwrap();
    drop(tx);
    let response = upload
        .await
        .unwrap()
        .expect("the upload in flight is answered");
    assert_eq!(response.status(), 202);
    let created: serde_json::Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let log_text = || read_log(&log);
    let status = exit_status(&mut server, Duration::from_secs(70), &log_text).await;
    assert!(status.success(), "{status}\n{}", log_text());
    // JSON logs, one object per line, with the request's video and no secrets.
    let logged = log_text();
    for line in logged.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
    assert!(logged.contains("shutdown signal received"), "{logged}");
    assert!(
        !logged.contains(ADMIN_PASSWORD) && !logged.contains(&token),
        "{logged}"
    );

    // Nothing was lost: the restarted server transcodes the upload.
    let mut restarted = start_serve(data_dir.path(), port, &media.path().join("again.log"));
    wait_healthy(&client, &base, Duration::from_secs(30), String::new).await;
    let token = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let started = Instant::now();
    let video = loop {
        let video: serde_json::Value = client
            .get(format!("{base}/api/v1/videos/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if matches!(video["state"].as_str(), Some("ready" | "failed")) {
            break video;
        }
        assert!(started.elapsed() < SETTLE, "{video}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    assert_eq!(video["state"], "ready", "{video}");
    // Requests and jobs are logged with the video they concern.
    let again = std::fs::read_to_string(media.path().join("again.log")).unwrap();
    let about = |message: &str| {
        again
            .lines()
            .any(|l| l.contains(&format!("\"message\":\"{message}\"")) && l.contains(&id))
    };
    assert!(about("request") && about("job done"), "{again}");
}

/// A transcoder of the cluster with `GOFLIX_DRAIN_SECONDS=drain`.
async fn start_worker(cluster: &Cluster, drain: u32, name: &str) -> Process {
    let port = free_port();
    let log = cluster.dir.path().join(format!("{name}.log"));
    let child = goflix()
        .args(["transcoder", "--concurrency", "1"])
        .env("GOFLIX_QUEUE", &cluster.amqp_url)
        .env("GOFLIX_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "GOFLIX_STORAGE",
            format!("file://{}", cluster.objects().display()),
        )
        .env("GOFLIX_DATA_DIR", cluster.dir.path().join(name))
        .env("GOFLIX_DRAIN_SECONDS", drain.to_string())
        .env("RUST_LOG", "warn,goflix_transcoder=info,goflix_shared=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("goflix binary");
    let process = Process { child, log };
    let started = Instant::now();
    while !cluster
        .client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "transcoder did not become ready: {}",
            process.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    process
}

/// Uploads a 12 s clip and waits until a worker is encoding it.
async fn upload_and_wait_for_encoding(cluster: &Cluster) -> String {
    let source = clip(cluster.dir.path(), "long.mp4", "640x360", 12, true);
    let id = cluster.upload("stopped mid-job", &source).await;
    let started = Instant::now();
    loop {
        let video = cluster.video(&id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            return id;
        }
        assert_ne!(video["state"], "ready", "finished before the SIGTERM");
        assert!(started.elapsed() < SETTLE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcoder_stopped_mid_job_finishes_it_within_its_drain() {
    let mut cluster = Cluster::new().await;
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let mut worker = start_worker(&cluster, 300, "draining").await;
    let id = upload_and_wait_for_encoding(&cluster).await;
    sigterm(&worker.child);
    let log_path = worker.log.clone();
    let log = || read_log(&log_path);
    let status = exit_status(&mut worker.child, Duration::from_secs(310), &log).await;
    assert!(status.success(), "{status}\n{}", worker.log_text());
    assert!(
        worker.log_text().contains("job done"),
        "{}",
        worker.log_text()
    );
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}");
    cluster.assert_outputs_valid(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcoder_out_of_drain_time_releases_its_job_to_another_worker() {
    let mut cluster = Cluster::new().await;
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let mut worker = start_worker(&cluster, 0, "released").await;
    let id = upload_and_wait_for_encoding(&cluster).await;
    sigterm(&worker.child);
    let log_path = worker.log.clone();
    let log = || read_log(&log_path);
    let status = exit_status(&mut worker.child, Duration::from_secs(30), &log).await;
    assert!(status.success(), "{status}\n{}", worker.log_text());
    let text = worker.log_text();
    assert!(text.contains("job released to the queue"), "{text}");
    assert!(!text.contains("job done"), "{text}");

    let other = cluster.start_worker().await;
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}\n{}", cluster.logs());
    // Completed once, by the other worker.
    assert!(cluster.workers[other].log_text().contains("job done"));
    assert_eq!(cluster.completions(&id), 1);
    cluster.assert_outputs_valid(&id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_ends_the_drain_at_once_and_loses_no_job() {
    let mut cluster = Cluster::new().await;
    cluster.start_control(&cluster.amqp_url.clone()).await;
    let mut worker = start_worker(&cluster, 300, "impatient").await;
    let id = upload_and_wait_for_encoding(&cluster).await;
    sigterm(&worker.child);
    let started = Instant::now();
    while !worker.log_text().contains("shutdown signal received") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&worker.child);
    let log_path = worker.log.clone();
    let log = || read_log(&log_path);
    let status = exit_status(&mut worker.child, Duration::from_secs(30), &log).await;
    assert_eq!(status.code(), Some(130), "{}", worker.log_text());

    // The delivery went back to the queue with the connection.
    cluster.start_worker().await;
    let video = cluster.wait_settled(&id, SETTLE).await;
    assert_eq!(video["state"], "ready", "{video}\n{}", cluster.logs());
    assert_eq!(cluster.completions(&id), 1);
    cluster.assert_outputs_valid(&id);
}

#[test]
fn malformed_drain_and_log_settings_are_refused_by_name() {
    let data_dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("GOFLIX_DRAIN_SECONDS", "-1"),
        ("GOFLIX_DRAIN_SECONDS", "ten"),
        ("GOFLIX_DRAIN_SECONDS", "99999999999999999999"),
        ("GOFLIX_LOG_FORMAT", "xml"),
        ("GOFLIX_LOG_FORMAT", "json\n"),
    ] {
        let output = goflix()
            .arg("serve")
            .env("GOFLIX_DATA_DIR", data_dir.path())
            .env("GOFLIX_LISTEN", "127.0.0.1:0")
            .env(name, value)
            .output()
            .expect("goflix binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value:?} accepted");
        assert!(stderr.contains(name), "{name}={value:?}: {stderr}");
    }
}
