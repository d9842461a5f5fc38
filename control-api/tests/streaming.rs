//! Memory use of a large upload, alone in its own test binary so that no
//! other test's allocations (argon2 uses 19 MiB per hash) blur the measure.

#[path = "api/helpers.rs"]
#[allow(dead_code)] // Each test binary uses a subset of the shared helpers.
mod helpers;

use goflix_shared::token::Role;
use helpers::spawn_app_with_limit;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Peak resident memory of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn large_uploads_stream_without_buffering() {
    const SIZE: usize = 256 << 20;
    let app = spawn_app_with_limit(SIZE as u64).await;
    let token = app.user_token(Role::Uploader).await;
    let before = peak_rss_kib();
    let chunk = bytes::Bytes::from(pattern(256 * 1024));
    let body = futures_util::stream::iter(
        (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let form = Form::new().text("title", "large").part(
        "file",
        Part::stream(reqwest::Body::wrap_stream(body)).file_name("large.mp4"),
    );
    let response = app.upload_form(Some(&token), form).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let growth_mib = (peak_rss_kib() - before) / 1024;
    assert!(
        growth_mib < 32,
        "peak memory grew by {growth_mib} MiB for a 256 MiB upload"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        std::fs::metadata(app.master_path(id)).unwrap().len(),
        SIZE as u64
    );
}
