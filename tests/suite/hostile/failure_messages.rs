//! A failed video tells viewers and its uploader one stable sentence per
//! `error.code`, never what the decoder or the transcode child said about
//! the attacker's bytes; admins see that detail beside it.

use crate::common::{login, spawn_app};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The sentences the codes random bytes can fail with stand for.
const SENTENCES: [(&str, &str); 2] = [
    (
        "invalid_media",
        "The uploaded file is not a video Goflix can read.",
    ),
    (
        "unsupported_format",
        "The uploaded file is in a format Goflix does not support.",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_video_shows_a_stable_message_and_only_admins_the_detail() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(&app.token)
        .json(&json!({
            "email": "uploader@example.test",
            "password": "uploader-password",
            "role": "uploader",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let uploader = login(
        &app.client,
        &app.base,
        "uploader@example.test",
        "uploader-password",
    )
    .await;
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let part = reqwest::multipart::Part::bytes(garbage)
        .file_name("garbage.mp4")
        .mime_str("video/mp4")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("title", "not media")
        .part("file", part);
    let response = app
        .client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&uploader)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let video_as = |token: String| {
        let (client, url) = (
            app.client.clone(),
            format!("{}/api/v1/videos/{id}", app.base),
        );
        async move {
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let started = Instant::now();
    let seen = loop {
        let video = video_as(uploader.clone()).await;
        if video["state"] == "failed" {
            break video;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{video}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let code = seen["error"]["code"].as_str().unwrap();
    let (_, sentence) = SENTENCES
        .iter()
        .find(|(known, _)| *known == code)
        .unwrap_or_else(|| panic!("random bytes failed with {code}"));
    assert_eq!(seen["error"]["message"], *sentence, "{seen}");
    assert!(seen["error"].get("detail").is_none(), "{seen}");

    let admin = video_as(app.token.clone()).await;
    assert_eq!(admin["error"]["message"], *sentence, "{admin}");
    let detail = admin["error"]["detail"]
        .as_str()
        .expect("admins see the detail");
    assert!(!detail.is_empty() && detail != *sentence, "{admin}");
}
