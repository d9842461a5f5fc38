//! `POST /api/v1/videos`: authorization, streaming into the store (on
//! SQLite and PostgreSQL), limits and form validation.

use crate::helpers::{error_code, spawn_app, spawn_app_on, spawn_app_with_limit, Backend, TestApp};
use futures_util::StreamExt;
use goflix_shared::events::{EventBus, EventKind};
use goflix_shared::token::Role;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::time::Duration;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// A file part whose body arrives as a stream of unknown length (chunked).
fn streamed(bytes: Vec<u8>) -> Part {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks,
    )))
    .file_name("master.mp4")
}

#[tokio::test]
async fn viewers_may_not_upload_but_uploaders_and_admins_may() {
    let app = spawn_app().await;
    let viewer = app.user_token(Role::Viewer).await;
    let response = app
        .upload_form(
            Some(&viewer),
            TestApp::form(Some("t"), None, Some(pattern(10))),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    assert_eq!(app.stored_masters(), 0);

    let uploader = app.user_token(Role::Uploader).await;
    app.upload(&uploader, "by uploader", "public", pattern(10))
        .await;
    let admin = app.admin_token().await;
    app.upload(&admin, "by admin", "private", pattern(10)).await;
    assert_eq!(app.video_rows().await, 2);
}

#[tokio::test]
async fn upload_stores_the_exact_bytes_and_queues_a_job_on_sqlite() {
    upload_stores_the_exact_bytes_and_queues_a_job(Backend::Sqlite).await;
}

#[tokio::test]
async fn upload_stores_the_exact_bytes_and_queues_a_job_on_postgres() {
    upload_stores_the_exact_bytes_and_queues_a_job(Backend::Postgres).await;
}

async fn upload_stores_the_exact_bytes_and_queues_a_job(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let mut events = app.bus.subscribe().await.unwrap();
    let token = app.user_token(Role::Uploader).await;
    let bytes = pattern(3 * 1024 * 1024 + 17);
    let form = Form::new()
        .text("title", "  Big Buck Bunny ")
        .text("visibility", "unlisted")
        .part("file", streamed(bytes.clone()));
    let response = app.upload_form(Some(&token), form).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/api/v1/videos/{id}"));
    assert_eq!(std::fs::read(app.master_path(id)).unwrap(), bytes);
    assert_eq!(app.job_rows().await, 1);

    let video = app.video(&token, id).await;
    assert_eq!(video["title"], "Big Buck Bunny");
    assert_eq!(video["visibility"], "unlisted");
    assert_eq!(video["state"], "queued");
    assert_eq!(video["progress"], 0.0);
    assert!(video["error"].is_null() && video["playback"].is_null());

    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((event.video_id, event.kind), (id, EventKind::Queued));
}

#[tokio::test]
async fn streamed_upload_over_the_limit_is_413_and_leaves_nothing() {
    let app = spawn_app_with_limit(64 * 1024).await;
    let token = app.user_token(Role::Uploader).await;
    let form = Form::new()
        .text("title", "too big")
        .part("file", streamed(pattern(256 * 1024)));
    let response = app.upload_form(Some(&token), form).await;
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
    assert_eq!(app.stored_masters(), 0);
    assert_eq!(app.video_rows().await, 0);
    assert_eq!(app.job_rows().await, 0);

    // Exactly at the limit is fine.
    app.upload(&token, "just fits", "public", pattern(64 * 1024))
        .await;
}

#[tokio::test]
async fn oversized_content_length_is_refused_before_the_body_is_read() {
    let app = spawn_app_with_limit(1024 * 1024).await;
    let token = app.user_token(Role::Uploader).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // Declares 10 GiB but sends none of it: only an up-front check can answer.
        write!(
            stream,
            "POST /api/v1/videos HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 10737418240\r\n\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).unwrap();
        String::from_utf8_lossy(&head).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(response, "HTTP/1.1 413");
    assert_eq!(app.stored_masters(), 0);
}

#[tokio::test]
async fn incomplete_forms_are_400_with_clear_codes() {
    let app = spawn_app().await;
    let token = app.user_token(Role::Uploader).await;
    let cases = [
        (
            TestApp::form(None, None, Some(pattern(10))),
            "missing_title",
        ),
        (
            TestApp::form(Some("   "), None, Some(pattern(10))),
            "missing_title",
        ),
        (TestApp::form(Some("t"), None, None), "missing_file"),
        (
            TestApp::form(Some("t"), Some("secret"), Some(pattern(10))),
            "invalid_visibility",
        ),
        (
            TestApp::form(Some(&"x".repeat(201)), None, Some(pattern(10))),
            "invalid_title",
        ),
        (
            TestApp::form(Some("t"), None, Some(pattern(10))).text("colour", "red"),
            "unknown_field",
        ),
        (
            TestApp::form(Some("t"), None, Some(pattern(10))).part("file", Part::bytes(pattern(5))),
            "duplicate_field",
        ),
    ];
    for (form, code) in cases {
        let response = app.upload_form(Some(&token), form).await;
        assert_eq!(error_code(response, StatusCode::BAD_REQUEST).await, code);
    }
    assert_eq!(app.stored_masters(), 0);
    assert_eq!(app.video_rows().await, 0);
}

#[tokio::test]
async fn non_multipart_and_broken_multipart_bodies_are_refused() {
    let app = spawn_app().await;
    let token = app.user_token(Role::Uploader).await;
    let response = app
        .client
        .post(app.url("/videos"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("title=t")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );
    // JSON is a URL import, which needs a url.
    let response = app
        .client
        .post(app.url("/videos"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app
        .client
        .post(app.url("/videos"))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=abc")
        .body("--abc\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\npartial data without end")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_multipart"
    );
    assert_eq!(app.stored_masters(), 0);
    assert_eq!(app.video_rows().await, 0);
}
