//! Private means private at every moment: a video switched to private
//! while its first transcode runs (its live copy playing) or while a
//! retranscode runs (its published version playing) is refused at the
//! origin without a token within 2 s — master and media playlists, MPDs
//! and media segments alike — and none of those responses may be kept by
//! a shared cache. The retranscode case runs the roles as processes and
//! stops the control plane before the worker finishes: a worker must not
//! put the visibility its job started with back into the playback record.

use crate::common::cluster::Cluster;
use crate::common::{clip, spawn_app};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Longest wait for anything the worker does.
const PATIENCE: Duration = Duration::from_secs(300);
/// How soon after the change the origin must refuse the video.
const TAKES_EFFECT_WITHIN: Duration = Duration::from_secs(2);

/// A client that shows redirects (the MPD entry point's) instead of following them.
pub fn origin_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The body of the origin's answer to `path`, which must be a 200.
async fn text(client: &reqwest::Client, origin: &str, path: &str) -> String {
    let response = client.get(format!("{origin}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// What a player fetches of video `id` now, as origin paths: the HLS
/// master, the first media playlist it names, that playlist's init
/// segment (or single file) and first segment, the MPD entry point and the
/// version's MPD.
pub async fn playback_paths(client: &reqwest::Client, origin: &str, id: &str) -> Vec<String> {
    let master = format!("/v/{id}/master.m3u8");
    let body = text(client, origin, &master).await;
    let media = body
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim().is_empty())
        .expect("the master names a media playlist")
        .trim()
        .to_owned();
    let (version, _) = media.split_once('/').expect("a versioned media playlist");
    let playlist = text(client, origin, &format!("/v/{id}/{media}")).await;
    let init = playlist
        .lines()
        .find_map(|line| line.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|rest| rest.split('"').next())
        .expect("the media playlist names its init segment");
    let segment = playlist
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim().is_empty())
        .expect("the media playlist lists a segment")
        .trim();
    vec![
        master,
        format!("/v/{id}/{media}"),
        format!("/v/{id}/{version}/{init}"),
        format!("/v/{id}/{version}/{segment}"),
        format!("/v/{id}/manifest.mpd"),
        format!("/v/{id}/{version}/manifest.mpd"),
    ]
}

/// Asserts that every path answers `403` without a token, and that no
/// answer lets a shared cache keep it.
pub async fn assert_refused(client: &reqwest::Client, origin: &str, paths: &[String]) {
    for path in paths {
        let response = client.get(format!("{origin}{path}")).send().await.unwrap();
        let caching = response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(response.status(), 403, "{path} without a token ({caching})");
        assert!(
            !caching.contains("public"),
            "{path}: Cache-Control {caching}"
        );
    }
}

/// Changes the video's visibility through the API as `token`.
async fn set_visibility(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
    visibility: &str,
) {
    let response = client
        .patch(format!("{base}/api/v1/videos/{id}"))
        .bearer_auth(token)
        .json(&json!({ "visibility": visibility }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let video: Value = response.json().await.unwrap();
    assert_eq!(video["visibility"], visibility, "{video}");
}

/// Percent-encodes a token for a query string.
fn encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_made_private_while_encoding_is_refused_within_two_seconds() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "long.mp4", "640x360", 60, true);
    let (status, body) = app.upload_with("going private", &source, "public").await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, ("playable while encoding", PATIENCE), |v| {
        assert_ne!(v["state"], "ready", "finished before it went private: {v}");
        v["playable"] == true
    })
    .await;
    let client = origin_client();
    let paths = playback_paths(&client, &app.base, &id).await;
    assert!(paths[1].ends_with(".m3u8") && !paths[1].contains("/master"));

    set_visibility(&app.client, &app.base, &app.token, &id, "private").await;
    let changed = Instant::now();
    tokio::time::sleep(TAKES_EFFECT_WITHIN.saturating_sub(changed.elapsed())).await;
    assert_refused(&client, &app.base, &paths).await;

    // With a playback token the live media plays, and no shared cache keeps it.
    let token = encode(&app.playback_token(&id).await);
    let segment = &paths[3];
    let response = client
        .get(format!("{}{segment}?token={token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{segment} with a token");
    let caching = response.headers()["cache-control"].to_str().unwrap();
    assert!(!caching.contains("public"), "{segment}: {caching}");

    let video = app.video(&id).await;
    assert_eq!(
        video["state"], "processing",
        "checked while encoding: {video}"
    );
    // Stop the encode: nothing more to learn from it.
    let response = app
        .client
        .delete(format!("{}/api/v1/videos/{id}", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_made_private_while_retranscoding_stays_private_when_the_worker_finishes() {
    let mut cluster = Cluster::new().await;
    let source = clip(cluster.dir.path(), "source.mp4", "640x360", 30, true);
    cluster.start_control(&cluster.amqp_url.clone()).await;
    cluster.start_worker().await;
    let origin = cluster.start_origin().await;
    let id = cluster.upload("retranscoded", &source).await;
    let video = cluster.wait_settled(&id, PATIENCE).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["visibility"], "public");
    let client = origin_client();
    let published = playback_paths(&client, &origin, &id).await;
    let old_version = cluster.versions(&id);
    assert_eq!(old_version.len(), 1, "{old_version:?}");

    let response = cluster
        .client
        .post(format!("{}/api/v1/videos/{id}/retranscode", cluster.base))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let started = Instant::now();
    loop {
        let video = cluster.video(&id).await;
        if video["state"] == "processing" && video["progress"].as_f64().unwrap_or(0.0) > 0.0 {
            break;
        }
        assert_ne!(video["state"], "ready", "retranscoded before the change");
        assert!(started.elapsed() < PATIENCE, "{video}\n{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_visibility(
        &cluster.client,
        &cluster.base,
        cluster.token(),
        &id,
        "private",
    )
    .await;
    let changed = Instant::now();
    tokio::time::sleep(TAKES_EFFECT_WITHIN.saturating_sub(changed.elapsed())).await;
    assert_refused(&client, &origin, &published).await;
    assert_eq!(cluster.video(&id).await["state"], "processing");

    // The worker finishes with the control plane away: only the control
    // plane may decide who watches, so the video stays private.
    cluster.control.as_mut().unwrap().kill();
    let started = Instant::now();
    while cluster.completions(&id) < 2 {
        assert!(started.elapsed() < PATIENCE, "{}", cluster.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(TAKES_EFFECT_WITHIN).await;
    let new_version = cluster
        .versions(&id)
        .into_iter()
        .find(|v| !old_version.contains(v))
        .expect("the retranscode stored a new version");
    let mut paths = published;
    paths.push(format!("/v/{id}/{new_version}/master.m3u8"));
    paths.push(format!("/v/{id}/{new_version}/manifest.mpd"));
    assert_refused(&client, &origin, &paths).await;
}
