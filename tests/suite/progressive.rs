//! Progressive publishing through `goflix serve`: a 60 s upload becomes
//! playable while it still encodes (`state: processing`, `playable: true`,
//! growing `EVENT` playlists and a dynamic MPD from the origin); hls.js and
//! dash.js in headless Chromium join it then, start at its beginning and
//! play through to the end after the job finishes; the finished video is
//! the ordinary VOD.

use crate::common::{join_live, live_report, noisy_clip, spawn_app};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Segments (2 s each) the live playlists list before the players join: a
/// player joining at the live edge would start three segments from the end.
const JOIN_AFTER_SEGMENTS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_s_upload_plays_while_it_encodes_and_to_the_end_after() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // Noise keeps x264 busy long enough for a player to start mid-encode.
    let source = noisy_clip(dir.path(), "source.mp4", 60, 30);
    let (status, created) = app.upload("Growing", &source).await;
    assert_eq!(status, 202, "{created}");
    let uploaded = Instant::now();
    let id = created["id"].as_str().unwrap().to_owned();
    let master = format!("/v/{id}/master.m3u8");

    // Playable while processing: the API says so and the origin serves it.
    let video = loop {
        let video = app.video(&id).await;
        if video["playable"] == true || video["state"] == "ready" || video["state"] == "failed" {
            break video;
        }
        assert!(uploaded.elapsed() < Duration::from_secs(120), "{video}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let to_playable = uploaded.elapsed();
    eprintln!(
        "upload complete to playable: {:.2} s",
        to_playable.as_secs_f64()
    );
    assert_eq!(video["state"], "processing", "{video}");
    assert_eq!(video["playback"]["hls"], master, "{video}");
    let mpd = format!("/v/{id}/manifest.mpd");
    assert_eq!(video["playback"]["dash"], mpd, "{video}");
    assert!(video["playback"]["poster"].is_null(), "{video}");
    let response = app.get(&master).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let parsed = m3u8_rs::parse_master_playlist_res(body.as_bytes()).unwrap();
    assert_eq!(parsed.start.as_ref().map(|s| s.time_offset), Some(0.0));
    let media_uri = &parsed.variants[0].uri;
    let response = app.get(&format!("/v/{id}/{media_uri}")).await;
    assert_eq!(response.status(), 200);
    let cache_control = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!cache_control.contains("immutable"), "{cache_control}");
    let playlist = response.text().await.unwrap();
    assert!(
        playlist.contains("#EXT-X-PLAYLIST-TYPE:EVENT"),
        "{playlist}"
    );
    assert!(!playlist.contains("#EXT-X-ENDLIST"), "{playlist}");

    // The MPD entry point sends DASH players to the live version's MPD,
    // which they refresh from then on.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mpd_url = format!("{}{mpd}", app.base);
    let entry_point = || no_redirects.get(&mpd_url).send();
    let response = entry_point().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "public, max-age=1");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let live_version = media_uri.split('/').next().unwrap();
    assert_eq!(location, format!("{live_version}/manifest.mpd"));
    let live_mpd = format!("/v/{id}/{location}");
    let response = app.get(&live_mpd).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=1");
    let body = response.text().await.unwrap();
    assert!(body.contains(r#"type="dynamic""#), "{body}");
    assert!(body.contains("<SegmentTimeline>"), "{body}");

    // hls.js and dash.js join once a dozen seconds are encoded, well past
    // where a live edge would put them, start at the beginning, and play to
    // the end once the job has finished.
    let joined = Instant::now();
    loop {
        let playlist = app.get_text(&format!("/v/{id}/{media_uri}")).await;
        let listed = m3u8_rs::parse_media_playlist_res(playlist.as_bytes()).unwrap();
        assert_eq!(listed.start.as_ref().map(|s| s.time_offset), Some(0.0));
        if listed.segments.len() >= JOIN_AFTER_SEGMENTS || listed.end_list {
            assert!(
                !listed.end_list,
                "the encode ended before the players joined"
            );
            break;
        }
        assert!(joined.elapsed() < Duration::from_secs(120), "{playlist}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let players: Vec<_> = [("hls", &master), ("dash", &mpd)]
        .into_iter()
        .map(|(player, path)| join_live(player, format!("{}{path}", app.base)))
        .collect();
    let ready = app.wait_settled(&id, Duration::from_secs(300)).await;
    let ready_at_ms = unix_ms();
    assert_eq!(ready["state"], "ready", "{ready}");
    assert_eq!(ready["playable"], true);
    assert!(ready["playback"]["poster"].is_string(), "{ready}");
    for player in players {
        let report = live_report(player).await;
        eprintln!("player: {report}");
        assert_eq!(report["liveAtStart"], true, "{report}");
        let started_ms = report["startedAtMs"].as_u64().expect("playback started") as u128;
        assert!(
            started_ms < ready_at_ms,
            "playback started at {started_ms}, after the job was ready at {ready_at_ms}"
        );
        let start = report["startPosition"].as_f64().expect("a start position");
        assert!(
            start < 1.0,
            "started at {start} s, not the beginning: {report}"
        );
        let duration = report["duration"].as_f64().unwrap();
        assert!((duration - 60.0).abs() < 1.0, "{report}");
    }

    // The live MPD ended static; the entry point now serves the final one.
    let body = app.get_text(&live_mpd).await;
    assert!(body.contains(r#"type="static""#), "{body}");
    let response = entry_point().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("<SegmentBase"), "{body}");

    // The finished video is the ordinary VOD, its playlists immutable.
    let body = app.get_text(&master).await;
    let parsed = m3u8_rs::parse_master_playlist_res(body.as_bytes()).unwrap();
    let response = app
        .get(&format!("/v/{id}/{}", parsed.variants[0].uri))
        .await;
    let playlist = response.text().await.unwrap();
    assert!(playlist.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{playlist}");
}
