//! Direct uploads: `POST /api/v1/uploads` hands out a tus URL and a token
//! that opens that one upload, for every HEAD and PATCH until it
//! completes; tus-js-client uploads with it as a browser would; the token
//! opens nothing else and is spent at completion.

use super::{id_of, upload_with, Target, TusClient};
use crate::common::{clip, spawn_app, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn create_direct(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/uploads", app.base))
        .bearer_auth(&app.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn head_status(app: &TestApp, url: &str, token: &str) -> u16 {
    app.client
        .head(url)
        .header("Tus-Resumable", "1.0.0")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_direct_upload_token_opens_its_one_upload_until_it_completes() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "direct.mp4", "320x240", 2, true);
    let length = std::fs::metadata(&file).unwrap().len();

    let (status, created) = create_direct(
        &app,
        json!({"title": "from a browser", "visibility": "unlisted", "length": length}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let url = created["upload_url"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(id_of(&url), created["id"].as_str().unwrap());
    assert!(url.starts_with(&app.base), "{url}");

    // The token opens nothing but its upload.
    for path in ["/api/v1/videos", "/api/v1/users/me"] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let create_with_it = app
        .client
        .post(format!("{}/api/v1/uploads/tus", app.base))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "10")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(create_with_it.status(), 403);
    let (_, other) = create_direct(&app, json!({"title": "another", "length": 10})).await;
    let other_url = other["upload_url"].as_str().unwrap();
    assert_eq!(head_status(&app, other_url, &token).await, 404);
    assert_eq!(head_status(&app, &url, "gfu_0000").await, 401);
    assert_eq!(head_status(&app, &url, &token).await, 200);

    // A tus client nobody here wrote uploads with the URL and the token.
    let (file_owned, token_owned, url_owned) = (file.clone(), token.clone(), url.clone());
    let report = tokio::task::spawn_blocking(move || {
        upload_with(
            TusClient::TusJs,
            &file_owned,
            &token_owned,
            Target::Resume(&url_owned),
            64 << 10,
            &[],
        )
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(report["chunks"].as_u64().unwrap() > 1, "{report}");
    let video = app
        .wait_settled(&id_of(&url), Duration::from_secs(120))
        .await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["title"], "from a browser");
    assert_eq!(video["visibility"], "unlisted");

    // Spent: the token opens the finished upload no more.
    assert_eq!(head_status(&app, &url, &token).await, 401);
    assert_eq!(head_status(&app, &url, &app.token).await, 200);

    // Bad requests.
    let (status, _) = create_direct(&app, json!({"title": "huge", "length": 1u64 << 40})).await;
    assert_eq!(status, 413);
    let (status, _) = create_direct(&app, json!({"title": "", "length": 10})).await;
    assert_eq!(status, 400);
    let (status, _) = create_direct(&app, json!({"title": "x", "length": 10, "owner": "me"})).await;
    assert_eq!(status, 400);
}
