//! Uploads stream to storage: a large master does not grow the server (a
//! `goflix serve` process of its own, whose peak resident set is read from
//! `/proc`), and one over `GOFLIX_MAX_UPLOAD_BYTES` is refused with 413 and
//! leaves nothing, not even a partial file in the store's temporary folder.

use crate::common::spawn_app_with;
use crate::hostile::serve_process::{ServeProcess, SERIAL};
use bytes::Bytes;
use futures_util::stream;
use std::path::{Path, PathBuf};

/// `len` bytes produced 1 MiB at a time, never held whole.
fn generated(len: u64) -> reqwest::multipart::Part {
    let chunk = Bytes::from(vec![0x5au8; 1 << 20]);
    let chunks = len / chunk.len() as u64;
    let body = stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
        .file_name("big.mp4")
}

/// `POST {base}/api/v1/videos` of `form` as `token`.
async fn post_video(base: &str, token: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/videos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Every file below `dir`, at any depth (none if it does not exist).
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_through_bounded_memory() {
    // A server process of its own: no other test raises its peak.
    let _serial = SERIAL.lock().await;
    let server = ServeProcess::start(&[("GOFLIX_MAX_UPLOAD_BYTES", "4294967296")]).await;
    let token = server.admin_token().await;
    let size: u64 = 1 << 30;
    server.reset_peak();
    let baseline = server.status_kib("VmHWM");
    let form = reqwest::multipart::Form::new()
        .text("title", "one GiB")
        .part("file", generated(size));
    let response = post_video(&server.base, &token, form).await;
    assert_eq!(response.status(), 202);
    let growth_mib = server.peak_growth_mib(baseline);
    eprintln!("the server's peak RSS grew by {growth_mib:.1} MiB over a 1 GiB upload");
    assert!(
        growth_mib < 64.0,
        "the upload grew the server by {growth_mib:.1} MiB"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let master = server
        .data_dir
        .path()
        .join("data/objects/masters")
        .join(body["id"].as_str().unwrap());
    assert_eq!(std::fs::metadata(master).unwrap().len(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused_and_keep_nothing() {
    let app = spawn_app_with(&[("GOFLIX_MAX_UPLOAD_BYTES", "3000000")]).await;
    let form = reqwest::multipart::Form::new()
        .text("title", "too big")
        .part("file", generated(8 << 20));
    let response = post_video(&app.base, &app.token, form).await;
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
    // Neither a master nor a partial one in the store's temporary folder.
    let objects = app.data_dir.path().join("objects");
    assert!(
        objects.join(".tmp").is_dir(),
        "the store's temporary folder"
    );
    for folder in ["masters", ".tmp"] {
        let kept = files_below(&objects.join(folder));
        assert!(kept.is_empty(), "kept {kept:?}");
    }
}
