//! AV1 beside H.264 (`GOFLIX_CODECS=h264,av1`), end to end on embedded
//! defaults: the video becomes ready on H.264 alone, exactly as with
//! `h264`, then a second job encodes its AV1 ladder and the manifests list
//! both (HLS variants with `av01` `CODECS` and the media's audio group,
//! a second DASH video `AdaptationSet`); the API names every rendition's
//! codec; every rendition of both codecs has its keyframes at the same
//! times; hls.js, dash.js and Shaka Player in headless Chromium play AV1
//! and fall back to H.264 when the page says AV1 cannot be decoded; a
//! retranscode's new version gets an AV1 ladder of its own. HEVC
//! (`h264,hevc`) joins the same way, its variants `hvc1`; players whose
//! page cannot decode it (headless Chromium has no HEVC decoder) play
//! H.264 and never fetch HEVC.

use crate::common::{clip, keyframe_times, play_codecs, spawn_app_with, TestApp};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn av1_joins_a_ready_h264_video_and_every_player_picks_what_it_decodes() {
    let app = spawn_app_with(&[("GOFLIX_CODECS", "h264,av1")]).await;
    let (id, master) = joined_ladders(&app, "_av1", "av01.0.").await;

    for (player, manifest) in [
        ("hls", "master.m3u8"),
        ("dash", "manifest.mpd"),
        ("shaka", "manifest.mpd"),
    ] {
        let url = format!("{}/v/{id}/{manifest}", app.base);
        let (all, fallback) = tokio::task::spawn_blocking(move || {
            (
                play_codecs(player, &url, "all"),
                play_codecs(player, &url, "no-av1"),
            )
        })
        .await
        .unwrap();
        eprintln!("{player}: {all}\n{player} without AV1: {fallback}");
        assert_eq!(all["av1Supported"], true, "Chromium decodes AV1: {all}");
        assert!(codec(&all).starts_with("av01"), "{player}: {all}");
        assert!(
            fetched(&all).iter().all(|f| f.contains("_av1")),
            "{player}: {all}"
        );
        assert_eq!(fallback["av1Supported"], false, "{fallback}");
        assert!(codec(&fallback).starts_with("avc1"), "{player}: {fallback}");
        assert!(
            !fetched(&fallback).is_empty()
                && fetched(&fallback).iter().all(|f| !f.contains("_av1")),
            "{player}: {fallback}"
        );
    }
    retranscode_gets_a_new_av1_ladder(&app, &id, &master).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hevc_joins_a_ready_h264_video_and_players_without_hevc_play_h264() {
    let app = spawn_app_with(&[("GOFLIX_CODECS", "h264,hevc")]).await;
    let (id, _) = joined_ladders(&app, "_hevc", "hvc1.1.6.L").await;

    for (player, manifest) in [
        ("hls", "master.m3u8"),
        ("dash", "manifest.mpd"),
        ("shaka", "manifest.mpd"),
    ] {
        let url = format!("{}/v/{id}/{manifest}", app.base);
        let report = tokio::task::spawn_blocking(move || play_codecs(player, &url, "all"))
            .await
            .unwrap();
        eprintln!("{player}: {report}");
        let hevc = report["hevcSupported"] == true;
        let playing = codec(&report);
        assert!(
            playing.starts_with(if hevc { "hvc1" } else { "avc1" }),
            "{player}: {report}"
        );
        let hevc_fetched = fetched(&report)
            .iter()
            .filter(|f| f.contains("_hevc"))
            .count();
        assert!(
            !fetched(&report).is_empty() && (hevc || hevc_fetched == 0),
            "{player}: {report}"
        );
    }
}

/// Uploads a clip to `app` and waits for its second codec's ladder
/// (renditions named with `suffix`, codec strings starting with `prefix`)
/// to join H.264's: the video turns ready on H.264 alone first, then the
/// API lists both ladders, the master playlist six variants (each with the
/// media's audio group and the audio codec) and six I-frame variants, the
/// MPD a second video `AdaptationSet`, and every variant's keyframes fall
/// at the same times. Returns the video's id and its master playlist.
async fn joined_ladders(app: &TestApp, suffix: &str, prefix: &str) -> (String, String) {
    let media = tempfile::tempdir().unwrap();
    let master = clip(media.path(), "in.mp4", "854x480", 6, true);
    let (status, created) = app.upload("Two codecs", &master).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let ready = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(ready["state"], "ready", "{ready}");
    // The other codec is only queued once H.264 is ready: it never delays it.
    assert_eq!(names(&ready, "avc1"), ["480p", "360p", "240p"], "{ready}");
    assert!(names(&ready, prefix).is_empty(), "{ready}");

    let video = wait_for_codec(app, &id, prefix).await;
    assert_eq!(names(&video, "avc1"), ["480p", "360p", "240p"], "{video}");
    assert_eq!(
        names(&video, prefix),
        ["480p", "360p", "240p"].map(|rung| format!("{rung}{suffix}")),
        "{video}"
    );
    assert_eq!(video["state"], "ready");

    let master = app.get_text(&format!("/v/{id}/master.m3u8")).await;
    let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    let variants: Vec<_> = parsed.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(variants.len(), 6, "{master}");
    for variant in &variants {
        let codecs = variant.codecs.as_deref().unwrap();
        let other = variant.uri.contains(suffix);
        assert!(
            codecs.starts_with(if other { prefix } else { "avc1." }),
            "{master}"
        );
        assert!(codecs.ends_with(",mp4a.40.2"), "{master}");
        assert_eq!(variant.audio.as_deref(), Some("audio"), "{master}");
    }
    let iframes = parsed.variants.iter().filter(|v| v.is_i_frame).count();
    assert_eq!(iframes, 6, "{master}");
    let mpd = app.get_text(&format!("/v/{id}/manifest.mpd")).await;
    assert_eq!(mpd.matches("contentType=\"video\"").count(), 2, "{mpd}");
    assert_eq!(
        mpd.matches(&format!("codecs=\"{prefix}")).count(),
        3,
        "{mpd}"
    );

    let playlists: Vec<String> = variants.iter().map(|v| v.uri.clone()).collect();
    check_keyframes_align(app, &id, &playlists).await;
    (id, master)
}

/// The version folders the variants of `master` name: H.264's and AV1's.
fn variant_folders(master: &str) -> (Vec<String>, Vec<String>) {
    let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    let folder = |uri: &str| uri.split('/').next().unwrap().to_owned();
    let (av1, h264): (Vec<_>, Vec<_>) = parsed
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .partition(|v| v.uri.contains("_av1"));
    let mut h264: Vec<String> = h264.iter().map(|v| folder(&v.uri)).collect();
    let mut av1: Vec<String> = av1.iter().map(|v| folder(&v.uri)).collect();
    h264.dedup();
    av1.dedup();
    (h264, av1)
}

/// A retranscode of a video with both ladders: the new H.264 version
/// plays on its own at first, then gets a new AV1 ladder of its own (the
/// old one, made for the version before, never joins it).
async fn retranscode_gets_a_new_av1_ladder(app: &TestApp, id: &str, before: &str) {
    let (old_h264, old_av1) = variant_folders(before);
    assert_eq!((old_h264.len(), old_av1.len()), (1, 1), "{before}");
    let response = app
        .client
        .post(format!("{}/api/v1/videos/{id}/retranscode", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let master = app.get_text(&format!("/v/{id}/master.m3u8")).await;
        let (h264, av1) = variant_folders(&master);
        assert_eq!(h264.len(), 1, "{master}");
        if h264 != old_h264 {
            // Each ladder is for the version it joins, never an older one.
            assert!(av1.is_empty() || av1 != old_av1, "{master}");
            if !av1.is_empty() {
                assert_eq!(names(&app.video(id).await, "av01").len(), 3);
                return;
            }
        }
        assert!(Instant::now() < deadline, "no new AV1 ladder: {master}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The video renditions whose codec string starts with `prefix`, by name.
fn names(video: &Value, prefix: &str) -> Vec<String> {
    video["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "video" && r["codecs"].as_str().unwrap().starts_with(prefix))
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls the video until renditions whose codec string starts with
/// `prefix` are listed.
async fn wait_for_codec(app: &TestApp, id: &str, prefix: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let video = app.video(id).await;
        if !names(&video, prefix).is_empty() {
            return video;
        }
        assert!(Instant::now() < deadline, "no {prefix} renditions: {video}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Downloads every variant's media file (its playlist's, in the same
/// version folder; URIs are relative to `/v/{id}/`) and checks its keyframes fall at
/// the same times as every other's, across both codecs.
async fn check_keyframes_align(app: &TestApp, id: &str, playlists: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let mut times: Vec<(String, Vec<i64>)> = Vec::new();
    for playlist in playlists {
        // `{version}/720p.m3u8` names `{version}/720p.mp4` in the same folder.
        let file = playlist.replace(".m3u8", ".mp4");
        let response = app.get(&format!("/v/{id}/{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        let bytes = response.bytes().await.unwrap();
        let local = dir.path().join(file.replace('/', "_"));
        std::fs::write(&local, &bytes).unwrap();
        times.push((file, gop_starts(&local)));
    }
    let (first, reference) = &times[0];
    assert!(reference.len() >= 3, "keyframes every 2 s: {reference:?}");
    for (file, keyframes) in &times[1..] {
        assert_eq!(keyframes, reference, "{file} against {first}");
    }
}

/// The keyframes' times from the file's first, in milliseconds: the same
/// frames start every GOP of every codec (H.264's and HEVC's timestamps
/// start a few frames late, the reordering delay of their B-frames, which
/// the file's edit list takes back; AV1 reorders nothing).
fn gop_starts(file: &Path) -> Vec<i64> {
    let times: Vec<f64> = keyframe_times(file)
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    times
        .iter()
        .map(|t| ((t - times[0]) * 1000.0).round() as i64)
        .collect()
}

/// The codec the player reported, as an RFC 6381 string (dash.js gives
/// the whole MIME type, `video/mp4;codecs="av01…"`).
fn codec(report: &Value) -> String {
    let reported = report["codec"].as_str().unwrap_or_default();
    let codecs = reported.split_once("codecs=").map_or(reported, |(_, c)| c);
    codecs.trim_matches('"').to_owned()
}

fn fetched(report: &Value) -> Vec<String> {
    report["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}
