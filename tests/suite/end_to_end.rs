//! The spine, end to end on embedded defaults: upload a 10 s 720p clip over
//! HTTP, wait for `ready`, check every rendition with ffprobe, walk every
//! playlist with m3u8-rs fetching every byte range it names, and play both
//! manifests with hls.js and dash.js in headless Chromium.

use crate::common::{clip, ffprobe, keyframe_times, play_in_browser, spawn_app, TestApp};
use m3u8_rs::Playlist;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_transcode_and_play() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "source.mp4", "1280x720", 10, true);

    let (status, created) = app.upload("Test pattern", &source).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["state"], "queued");

    let started = Instant::now();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    let transcode_s = started.elapsed().as_secs_f64();
    eprintln!("transcode of the 10 s 720p clip: {transcode_s:.1} s (upload to ready)");
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["progress"], 1.0);
    let duration = video["duration_s"].as_f64().unwrap();
    assert!((duration - 10.0).abs() <= 0.5, "duration {duration}");
    assert_eq!(video["playback"]["hls"], format!("/v/{id}/master.m3u8"));
    assert_eq!(video["playback"]["dash"], format!("/v/{id}/manifest.mpd"));
    check_player_assets(&app, &video).await;
    let names: Vec<&str> = video["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["720p", "480p", "360p", "240p", "audio"]);

    let files = check_hls(&app, &id).await;
    check_renditions_with_ffprobe(&app, &id, &files).await;
    check_dash(&app, &id).await;
    play(&app, "hls", &format!("/v/{id}/master.m3u8"));
    play(&app, "dash", &format!("/v/{id}/manifest.mpd"));
}

/// The poster and storyboard the API names: a JPEG, and WebVTT cues whose
/// every image region lies inside the sprite beside them.
async fn check_player_assets(app: &TestApp, video: &serde_json::Value) {
    let poster = video["playback"]["poster"].as_str().expect("a poster URL");
    let response = app.get(poster).await;
    assert_eq!(response.status(), 200, "{poster}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert!(response
        .bytes()
        .await
        .unwrap()
        .starts_with(&[0xff, 0xd8, 0xff]));

    let cues_url = video["playback"]["storyboard"]
        .as_str()
        .expect("a storyboard URL");
    let response = app.get(cues_url).await;
    assert_eq!(response.status(), 200, "{cues_url}");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vtt"));
    let cues = response.text().await.unwrap();
    assert!(cues.starts_with("WEBVTT"), "{cues}");
    let sprite = cues
        .lines()
        .find_map(|line| line.split_once("#xywh="))
        .map(|(image, _)| image.to_owned())
        .expect("cues pointing into a sprite");
    let (folder, _) = cues_url.rsplit_once('/').unwrap();
    let response = app.get(&format!("{folder}/{sprite}")).await;
    assert_eq!(response.status(), 200, "{sprite}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
}

/// Walks master → media playlists → every byte range; returns the media files' URL paths.
async fn check_hls(app: &TestApp, id: &str) -> BTreeSet<String> {
    let master = app.get(&format!("/v/{id}/master.m3u8")).await;
    assert_eq!(master.status(), 200);
    assert_eq!(
        master.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    let body = master.bytes().await.unwrap();
    let Ok(Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(&body) else {
        panic!(
            "not a multivariant playlist: {}",
            String::from_utf8_lossy(&body)
        );
    };
    assert!(master.independent_segments);
    let variants: Vec<_> = master.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(variants.len(), 4);
    let mut playlist_uris: Vec<String> = variants.iter().map(|v| v.uri.clone()).collect();
    for variant in &variants {
        let codecs = variant.codecs.as_deref().unwrap();
        assert!(
            codecs.starts_with("avc1.64") && codecs.ends_with(",mp4a.40.2"),
            "{codecs}"
        );
        assert!(variant.resolution.is_some() && variant.frame_rate.is_some());
        let average = variant.average_bandwidth.unwrap();
        assert!(average > 0 && average <= variant.bandwidth);
        assert_eq!(variant.audio.as_deref(), Some("audio"));
    }
    let audio: Vec<_> = master
        .alternatives
        .iter()
        .filter_map(|a| a.uri.clone())
        .collect();
    assert_eq!(audio.len(), 1);
    playlist_uris.extend(audio);

    let mut target_durations = BTreeSet::new();
    let mut files = BTreeSet::new();
    for uri in playlist_uris {
        assert!(
            !uri.contains("://") && !uri.starts_with('/'),
            "{uri} is not relative"
        );
        let path = format!("/v/{id}/{uri}");
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body = response.bytes().await.unwrap();
        let Ok(Playlist::MediaPlaylist(playlist)) = m3u8_rs::parse_playlist_res(&body) else {
            panic!("not a media playlist: {path}");
        };
        assert!(playlist.end_list);
        assert!(playlist.independent_segments);
        assert_eq!(
            playlist.playlist_type,
            Some(m3u8_rs::MediaPlaylistType::Vod)
        );
        target_durations.insert(playlist.target_duration);
        let dir = path.rsplit_once('/').unwrap().0.to_string();
        let mut total = 0.0;
        let mut expected_offset = None;
        for (i, segment) in playlist.segments.iter().enumerate() {
            assert!(
                (segment.duration.round() as u64) <= playlist.target_duration,
                "EXTINF {} over target {}",
                segment.duration,
                playlist.target_duration
            );
            total += segment.duration as f64;
            if i == 0 {
                let map = segment
                    .map
                    .as_ref()
                    .expect("EXT-X-MAP on the first segment");
                let range = map.byte_range.as_ref().expect("EXT-X-MAP BYTERANGE");
                let init = fetch_range(
                    app,
                    &format!("{dir}/{}", map.uri),
                    range.offset.unwrap(),
                    range.length,
                )
                .await;
                assert_eq!(&init[4..8], b"ftyp");
                expected_offset = None;
            }
            let range = segment.byte_range.as_ref().expect("EXT-X-BYTERANGE");
            let offset = range.offset.or(expected_offset).expect("segment offset");
            let file = format!("{dir}/{}", segment.uri);
            let bytes = fetch_range(app, &file, offset, range.length).await;
            assert_eq!(
                &bytes[4..8],
                b"moof",
                "segment {i} of {file} does not start a fragment"
            );
            expected_offset = Some(offset + range.length);
            files.insert(file);
        }
        assert!((total - 10.0).abs() <= 0.5, "{path} lasts {total}");
    }
    assert_eq!(target_durations.len(), 1, "one target duration everywhere");
    files
}

async fn fetch_range(app: &TestApp, path: &str, offset: u64, length: u64) -> bytes::Bytes {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .header("Range", format!("bytes={}-{}", offset, offset + length - 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206, "{path} {offset}+{length}");
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len() as u64, length);
    body
}

async fn check_renditions_with_ffprobe(app: &TestApp, id: &str, files: &BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut keyframes = Vec::new();
    for path in files {
        let name = path.rsplit('/').next().unwrap();
        let local = dir.path().join(name);
        let body = app.get(path).await.bytes().await.unwrap();
        std::fs::write(&local, &body).unwrap();
        let info = ffprobe(
            &local,
            &[
                "-show_entries",
                "stream=codec_name,profile,width,height,channels:format=duration",
            ],
        );
        let stream = &info["streams"][0];
        let duration: f64 = info["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((duration - 10.0).abs() <= 0.5, "{name} lasts {duration}");
        if name == "audio.mp4" {
            assert_eq!(stream["codec_name"], "aac");
            assert_eq!(stream["profile"], "LC");
            assert_eq!(stream["channels"], 2);
            continue;
        }
        let height: u64 = name.trim_end_matches("p.mp4").parse().unwrap();
        assert_eq!(stream["codec_name"], "h264", "{name}");
        assert_eq!(stream["profile"], "High", "{name}");
        assert_eq!(stream["height"], height, "{name}");
        let width = stream["width"].as_u64().unwrap();
        assert_eq!(width % 2, 0);
        assert!(
            (width as f64 / height as f64 - 16.0 / 9.0).abs() < 0.02,
            "{name} {width}x{height}"
        );
        keyframes.push((name.to_string(), keyframe_times(&local)));
    }
    assert_eq!(keyframes.len(), 4, "{id}: four video renditions");
    let (first_name, first) = &keyframes[0];
    assert!(first.len() >= 4, "keyframes every 2 s: {first:?}");
    for (name, times) in &keyframes[1..] {
        assert_eq!(times, first, "keyframes of {name} differ from {first_name}");
    }
}

async fn check_dash(app: &TestApp, id: &str) {
    let response = app.get(&format!("/v/{id}/manifest.mpd")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/dash+xml");
    let mpd = response.text().await.unwrap();
    assert!(mpd.contains("urn:mpeg:dash:profile:isoff-on-demand:2011"));
    assert_eq!(mpd.matches("<Representation ").count(), 5, "{mpd}");
    assert!(mpd.contains("indexRange="));
}

/// Plays `path` with a real player in headless Chromium past 3 s of media:
/// the player finds every rung of the ladder and needs no recovery on the way.
fn play(app: &TestApp, player: &str, path: &str) {
    let report = play_in_browser(player, &format!("{}{path}", app.base), 3);
    eprintln!("{player}: {report}");
    let mut levels: Vec<u64> = report["levels"]
        .as_array()
        .unwrap_or_else(|| panic!("no levels in {report}"))
        .iter()
        .map(|h| h.as_u64().expect("a height"))
        .collect();
    levels.sort_unstable();
    assert_eq!(levels, [240, 360, 480, 720], "{player}: {report}");
    assert_eq!(
        report["errors"],
        serde_json::json!([]),
        "{player}: {report}"
    );
    assert_eq!(
        report["warnings"],
        serde_json::json!([]),
        "{player}: {report}"
    );
}
