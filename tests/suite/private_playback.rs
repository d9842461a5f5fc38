//! Real players through the origin's modifiers and token rewriting: a
//! private video plays in hls.js and dash.js from token-carrying manifests
//! (and is refused without a token), and a `?max_height=360` master makes
//! hls.js see only the 360p and lower rungs. A private video's storyboard
//! cues carry the token to the sprite they point into.

use crate::common::{clip, play_in_browser, spawn_app, TestApp};
use std::time::Duration;

/// Uploads a 6 s 1280x720 clip with `visibility` and waits until it is ready.
async fn ready_video(app: &TestApp, visibility: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let source = clip(dir.path(), "source.mp4", "1280x720", 6, true);
    let (status, body) = app
        .upload_with(&format!("{visibility} clip"), &source, visibility)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["visibility"], visibility);
    id
}

/// Percent-encodes a token for a query string.
fn encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn private_videos_play_through_token_carrying_manifests() {
    let app = spawn_app().await;
    let id = ready_video(&app, "private").await;

    for path in [
        format!("/v/{id}/master.m3u8"),
        format!("/v/{id}/manifest.mpd"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 403, "{path} without a token");
    }

    let token = encode(&app.playback_token(&id).await);

    let master = app.get(&format!("/v/{id}/master.m3u8?token={token}")).await;
    assert_eq!(master.status(), 200);
    assert_eq!(
        master.headers()["cache-control"].to_str().unwrap(),
        "private, no-store"
    );

    let base = app.base.clone();
    let report = tokio::task::spawn_blocking(move || {
        let hls = play_in_browser(
            "hls",
            &format!("{base}/v/{id}/master.m3u8?token={token}"),
            3,
        );
        let dash = play_in_browser(
            "dash",
            &format!("{base}/v/{id}/manifest.mpd?token={token}"),
            3,
        );
        (hls, dash)
    })
    .await
    .unwrap();
    eprintln!("hls: {}\ndash: {}", report.0, report.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_max_height_360_master_gives_hls_js_only_low_rungs() {
    let app = spawn_app().await;
    let id = ready_video(&app, "public").await;

    let full = app.get_text(&format!("/v/{id}/master.m3u8")).await;
    assert!(full.contains("x720"), "the ladder has a 720p rung: {full}");

    let url = format!("{}/v/{id}/master.m3u8?max_height=360", app.base);
    let report = tokio::task::spawn_blocking(move || play_in_browser("hls", &url, 3))
        .await
        .unwrap();
    eprintln!("hls: {report}");
    let levels: Vec<u64> = report["levels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|h| h.as_u64().expect("a height"))
        .collect();
    assert!(!levels.is_empty(), "{report}");
    assert!(levels.iter().all(|&h| h <= 360), "levels {levels:?}");
    assert!(levels.contains(&360), "levels {levels:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_storyboard_carries_the_token_into_its_cues() {
    let app = spawn_app().await;
    let id = ready_video(&app, "private").await;
    let video = app.video(&id).await;
    let cues_path = video["playback"]["storyboard"]
        .as_str()
        .expect("a storyboard URL")
        .to_owned();
    let (folder, _) = cues_path.rsplit_once('/').unwrap();

    let refused = app.get(&cues_path).await;
    assert_eq!(refused.status(), 403, "{cues_path} without a token");

    let token = encode(&app.playback_token(&id).await);
    let response = app.get(&format!("{cues_path}?token={token}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "private, no-store"
    );
    let cues = response.text().await.unwrap();
    assert!(cues.starts_with("WEBVTT"), "{cues}");
    let payloads: Vec<&str> = cues.lines().filter(|l| l.contains("#xywh=")).collect();
    assert!(!payloads.is_empty(), "{cues}");
    for cue in &payloads {
        assert!(
            cue.starts_with(&format!("storyboard.jpg?token={token}#xywh=")),
            "{cue}"
        );
    }
    // The cue URL is relative to the cues: fetch it as a player would.
    let (sprite, _) = payloads[0].split_once('#').unwrap();
    let response = app.get(&format!("{folder}/{sprite}")).await;
    assert_eq!(response.status(), 200, "{sprite}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let (bare, _) = sprite.split_once('?').unwrap();
    let refused = app.get(&format!("{folder}/{bare}")).await;
    assert_eq!(refused.status(), 403, "{bare} without a token");
}
