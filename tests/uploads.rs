//! Uploads stream to storage: a large master does not grow the process, and
//! one over `GOFLIX_MAX_UPLOAD_BYTES` is refused with 413 and leaves nothing.

mod common;

use bytes::Bytes;
use common::{spawn_app_with, TestApp};
use futures_util::stream;

/// `len` bytes produced 1 MiB at a time, never held whole.
fn generated(len: u64) -> reqwest::multipart::Part {
    let chunk = Bytes::from(vec![0x5au8; 1 << 20]);
    let chunks = len / chunk.len() as u64;
    let body = stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
        .file_name("big.mp4")
}

async fn post_video(app: &TestApp, form: reqwest::multipart::Form) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&app.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_through_bounded_memory() {
    let app = spawn_app_with(&[("GOFLIX_MAX_UPLOAD_BYTES", "4294967296")]).await;
    let size: u64 = 1 << 30;
    let before = peak_rss_kib();
    let form = reqwest::multipart::Form::new()
        .text("title", "one GiB")
        .part("file", generated(size));
    let response = post_video(&app, form).await;
    assert_eq!(response.status(), 202);
    let growth_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("peak RSS grew by {growth_mib} MiB over a 1 GiB upload");
    assert!(
        growth_mib < 64,
        "upload grew the process by {growth_mib} MiB"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let master = app
        .data_dir
        .path()
        .join("objects/masters")
        .join(body["id"].as_str().unwrap());
    assert_eq!(std::fs::metadata(master).unwrap().len(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused_and_keep_nothing() {
    let app = spawn_app_with(&[("GOFLIX_MAX_UPLOAD_BYTES", "3000000")]).await;
    let form = reqwest::multipart::Form::new()
        .text("title", "too big")
        .part("file", generated(8 << 20));
    let response = post_video(&app, form).await;
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");

    let list: serde_json::Value = app
        .client
        .get(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list.get("items").unwrap_or(&list);
    assert_eq!(items.as_array().map(Vec::len), Some(0), "{list}");
    let masters = app.data_dir.path().join("objects/masters");
    let stored = std::fs::read_dir(&masters).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "nothing kept in {masters:?}");
}
