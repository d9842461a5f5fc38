//! Every audio track and captions, end to end on embedded defaults: a
//! master with two audio languages (`eng`, `fra`, different tones) and a
//! Spanish `mov_text` stream, plus a German SRT uploaded through the API.
//! The renditions and captions are listed with their languages; bad
//! caption uploads are refused; the HLS walk (every playlist parsed,
//! `EXTINF` within the target, one target everywhere) holds with the
//! subtitle playlists; hls.js, dash.js and Shaka Player each list both
//! audio and both text languages, switch the audio language while playing
//! and show a cue's text at its time; adding and removing a caption
//! changes no media byte (the same ETags). A video uploaded with
//! `downloads=true` offers a progressive MP4 (moov before mdat, the
//! source's duration, byte ranges, `?download=1` as an attachment); one
//! that turns downloads on once ready gets the same file remuxed from its
//! stored rendition, with no job and no media byte changed.

use crate::common::{clip, ffmpeg, ffprobe, play_tracks, spawn_app, TestApp};
use m3u8_rs::{AlternativeMediaType, Playlist};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The master's Spanish subtitle stream, muxed as `mov_text`.
const SPANISH_SRT: &str = "1\n00:00:01,000 --> 00:00:04,500\nHola desde el máster\n\n\
    2\n00:00:05,000 --> 00:00:07,500\nAdiós\n";
/// The German caption uploaded through the API.
const GERMAN_SRT: &str = "1\n00:00:02,000 --> 00:00:06,000\nGuten Tag aus der Datei\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audio_language_and_caption_plays_in_every_player() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let master = multilingual_master(media.path());
    let (status, created) = app.upload("Languages", &master).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["playback"]["download"], Value::Null, "off by default");

    let audio: Vec<(&str, &str, bool)> = video["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "audio")
        .map(|r| {
            let default = r["default"].as_bool().unwrap_or(false);
            (
                r["name"].as_str().unwrap(),
                r["language"].as_str().unwrap(),
                default,
            )
        })
        .collect();
    assert_eq!(audio, [("audio", "en", true), ("audio_1", "fr", false)]);
    let captions = list_captions(&app, &id).await;
    assert_eq!(languages(&captions), ["es"], "{captions}");
    assert_eq!(captions["items"][0]["source"], "embedded");

    refuses_bad_captions(&app, &id).await;
    assert_eq!(languages(&list_captions(&app, &id).await), ["es"]);

    let before = media_etags(&app, &id).await;
    let added = post_caption(&app, &id, "de", "Deutsch", GERMAN_SRT.as_bytes()).await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    let sidecar = added["url"].as_str().expect("a published WebVTT URL");
    let text = app.get_text(sidecar).await;
    assert!(
        text.starts_with("WEBVTT") && text.contains("Guten Tag"),
        "{text}"
    );

    wait_for_subtitles(&app, &id, &["de", "es"]).await;
    assert_eq!(walk_hls(&app, &id).await, ["de", "es"]);
    check_dash_text(&app, &id).await;
    assert_eq!(media_etags(&app, &id).await, before, "adding changed media");

    let manifest = |name: &str| format!("{}/v/{id}/{name}", app.base);
    for (player, url, text_language, cue_time, cue) in [
        (
            "hls",
            manifest("master.m3u8"),
            "es",
            2.0,
            "Hola desde el máster",
        ),
        (
            "dash",
            manifest("manifest.mpd"),
            "de",
            3.0,
            "Guten Tag aus der Datei",
        ),
        (
            "shaka",
            manifest("manifest.mpd"),
            "es",
            2.0,
            "Hola desde el máster",
        ),
        (
            "shaka",
            manifest("master.m3u8"),
            "de",
            3.0,
            "Guten Tag aus der Datei",
        ),
    ] {
        let report = tokio::task::spawn_blocking(move || {
            play_tracks(player, &url, "fr", text_language, cue_time)
        })
        .await
        .unwrap();
        let listed = |kind: &str| -> BTreeSet<String> {
            let names = report[kind].as_array().unwrap().iter();
            names.map(|l| l.as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(listed("audio"), set(&["en", "fr"]), "{player}: {report}");
        assert_eq!(listed("text"), set(&["de", "es"]), "{player}: {report}");
        assert_eq!(report["audioAfterSwitch"], "fr", "{player}: {report}");
        let fetched_french = report["requestsAfterSwitch"]
            .as_array()
            .unwrap()
            .iter()
            .any(|path| path.as_str().unwrap().ends_with("/audio_1.mp4"));
        assert!(fetched_french, "{player} did not fetch French: {report}");
        assert_eq!(report["cue"], cue, "{player}: {report}");
    }

    let deleted = app
        .client
        .delete(format!("{}/api/v1/videos/{id}/captions/de", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    wait_for_subtitles(&app, &id, &["es"]).await;
    assert_eq!(walk_hls(&app, &id).await, ["es"]);
    assert_eq!(
        media_etags(&app, &id).await,
        before,
        "removing changed media"
    );
    assert_eq!(languages(&list_captions(&app, &id).await), ["es"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_is_a_progressive_mp4_with_ranges() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "source.mp4", "640x360", 6, true);
    let form = Form::new()
        .text("title", "Downloadable")
        .text("downloads", "true")
        .part(
            "file",
            Part::bytes(std::fs::read(&source).unwrap()).file_name("source.mp4"),
        );
    let response = app
        .client
        .post(format!("{}/api/v1/videos", app.base))
        .bearer_auth(&app.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(video["state"], "ready", "{video}");
    let url = video["playback"]["download"]
        .as_str()
        .expect("a download URL");
    check_download(&app, url, &source, media.path()).await;

    let saved = app.get(&format!("{url}?download=1")).await;
    assert_eq!(saved.status(), 200);
    assert_eq!(
        saved.headers()["content-disposition"],
        format!("attachment; filename=\"{id}.mp4\"").as_str()
    );
    let patched = patch_downloads(&app, &id, false).await;
    assert_eq!(patched["playback"]["download"], Value::Null, "{patched}");
}

/// Turning downloads on for a ready video remuxes the rendition it already
/// has: no job runs (the version and every media file's ETag stay), and
/// the file is the one an upload with downloads on gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_downloads_on_for_a_ready_video_remuxes_its_rendition() {
    let app = spawn_app().await;
    let media = tempfile::tempdir().unwrap();
    let source = clip(media.path(), "source.mp4", "640x360", 6, true);
    let (status, body) = app.upload("Downloadable later", &source).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let video = app.wait_settled(&id, Duration::from_secs(300)).await;
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["playback"]["download"], Value::Null, "off by default");
    let poster = video["playback"]["poster"].as_str().unwrap().to_owned();
    let version = poster.rsplit('/').nth(1).unwrap().to_owned();
    let rendition = format!("/v/{id}/{version}/360p.mp4");
    let etag = |response: reqwest::Response| response.headers()["etag"].clone();
    let before = etag(app.get(&rendition).await);

    patch_downloads(&app, &id, true).await;
    let video = app
        .wait_for(&id, ("a download", Duration::from_secs(60)), |v| {
            v["playback"]["download"].is_string()
        })
        .await;
    let url = video["playback"]["download"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/v/{id}/{version}/download.mp4"),
        "the same version"
    );
    assert_eq!(video["state"], "ready", "{video}");
    assert_eq!(video["playback"]["poster"], poster.as_str());
    check_download(&app, url, &source, media.path()).await;
    assert_eq!(etag(app.get(&rendition).await), before, "media unchanged");
}

async fn patch_downloads(app: &TestApp, id: &str, downloads: bool) -> Value {
    let patched = app
        .client
        .patch(format!("{}/api/v1/videos/{id}", app.base))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({ "downloads": downloads }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    patched.json().await.unwrap()
}

/// Checks the download at `url`: faststart, H.264 and AAC, the duration of
/// `source` within 0.1 s, served whole and in byte ranges (inline unless
/// asked for as an attachment).
async fn check_download(app: &TestApp, url: &str, source: &Path, dir: &Path) {
    assert!(url.ends_with("/download.mp4"), "{url}");
    let response = app.get(url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "video/mp4");
    assert!(!response.headers().contains_key("content-disposition"));
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        top_level_boxes(&bytes),
        ["ftyp", "moov", "mdat"],
        "faststart"
    );
    let file = dir.join("download.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let probed = ffprobe(&file, &["-show_format", "-show_streams"]);
    let codecs: Vec<&str> = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["h264", "aac"], "{probed}");
    let duration = |probe: &Value| -> f64 {
        probe["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let expected = duration(&ffprobe(source, &["-show_format"]));
    assert!(
        (duration(&probed) - expected).abs() <= 0.1,
        "{} s against the source's {expected} s",
        duration(&probed)
    );

    let range = app
        .client
        .get(format!("{}{url}", app.base))
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap(), bytes[1000..2000]);
}

/// The types of the top-level ISO-BMFF boxes of `file`, in order.
fn top_level_boxes(file: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= file.len() {
        let size = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as u64;
        let kind = String::from_utf8_lossy(&file[at + 4..at + 8]).into_owned();
        let size = match size {
            1 => u64::from_be_bytes(file[at + 8..at + 16].try_into().unwrap()),
            0 => (file.len() - at) as u64,
            size => size,
        };
        boxes.push(kind);
        at += size as usize;
    }
    boxes
}

/// An 8 s 640×360 master: English (default, 440 Hz) and French (660 Hz)
/// audio, and a Spanish `mov_text` stream muxed from an SRT file (lavfi
/// cannot generate subtitles).
fn multilingual_master(dir: &Path) -> PathBuf {
    let srt = dir.join("es.srt");
    std::fs::write(&srt, SPANISH_SRT).unwrap();
    let out = dir.join("languages.mp4");
    let tone = |hz: u32| format!("sine=frequency={hz}:sample_rate=48000:duration=8");
    let (english, french) = (tone(440), tone(660));
    #[rustfmt::skip]
    let args = [
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=8",
        "-f", "lavfi", "-i", &english,
        "-f", "lavfi", "-i", &french,
        "-i", srt.to_str().unwrap(),
        "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-c:s", "mov_text",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        "-metadata:s:s:0", "language=spa",
        "-disposition:a:0", "default", "-disposition:a:1", "0",
        out.to_str().unwrap(),
    ];
    ffmpeg(&args);
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn list_captions(app: &TestApp, id: &str) -> Value {
    let response = app
        .client
        .get(format!("{}/api/v1/videos/{id}/captions", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn languages(captions: &Value) -> Vec<&str> {
    let items = captions["items"].as_array().unwrap();
    items
        .iter()
        .map(|c| c["language"].as_str().unwrap())
        .collect()
}

async fn post_caption(
    app: &TestApp,
    id: &str,
    language: &str,
    label: &str,
    file: &[u8],
) -> reqwest::Response {
    let form = Form::new()
        .text("language", language.to_owned())
        .text("label", label.to_owned())
        .part("file", Part::bytes(file.to_vec()).file_name("caption.srt"));
    app.client
        .post(format!("{}/api/v1/videos/{id}/captions", app.base))
        .bearer_auth(&app.token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Not WebVTT or SRT, cues out of order, 10 MB of text and a language tag
/// that is not BCP 47: each refused with its status, code and message.
async fn refuses_bad_captions(app: &TestApp, id: &str) {
    let out_of_order =
        "1\n00:00:05,000 --> 00:00:06,000\nB\n\n2\n00:00:01,000 --> 00:00:02,000\nA\n";
    let huge = "1\n00:00:01,000 --> 00:00:02,000\n".to_owned() + &"a".repeat(10_000_000);
    let cases: [(&str, &[u8], u16, &str, &str); 4] = [
        (
            "fr",
            b"this is not a caption file\n",
            422,
            "invalid_caption",
            "line 1",
        ),
        (
            "fr",
            out_of_order.as_bytes(),
            422,
            "invalid_caption",
            "line 6",
        ),
        ("fr", huge.as_bytes(), 413, "payload_too_large", ""),
        (
            "english_US",
            GERMAN_SRT.as_bytes(),
            400,
            "invalid_language",
            "english_US",
        ),
    ];
    for (language, file, status, code, message) in cases {
        let response = post_caption(app, id, language, "Bad", file).await;
        assert_eq!(response.status().as_u16(), status, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
        let text = body["message"].as_str().unwrap();
        assert!(text.contains(message), "{code}: {text}");
    }
}

/// The ETag of every media file the video's playlists name.
async fn media_etags(app: &TestApp, id: &str) -> BTreeMap<String, String> {
    let master = hls_master(app, id).await;
    let mut uris: Vec<String> = master.variants.iter().map(|v| v.uri.clone()).collect();
    let audio = master
        .alternatives
        .iter()
        .filter(|a| a.media_type == AlternativeMediaType::Audio);
    uris.extend(audio.filter_map(|a| a.uri.clone()));
    let mut etags = BTreeMap::new();
    for uri in uris {
        let playlist = media_playlist(app, &format!("/v/{id}/{uri}")).await;
        let dir = uri.rsplit_once('/').unwrap().0;
        for segment in &playlist.segments {
            let path = format!("/v/{id}/{dir}/{}", segment.uri);
            if etags.contains_key(&path) {
                continue;
            }
            let head = app
                .client
                .head(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(head.status(), 200, "{path}");
            let etag = head.headers()["etag"].to_str().unwrap().to_owned();
            etags.insert(path, etag);
        }
    }
    assert!(
        etags.keys().any(|p| p.ends_with("/audio_1.mp4")),
        "{etags:?}"
    );
    etags
}

/// Waits until the multivariant playlist lists subtitles in `languages`
/// (the origin reads playback records again every few seconds).
async fn wait_for_subtitles(app: &TestApp, id: &str, languages: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let master = hls_master(app, id).await;
        let mut listed: Vec<String> = master
            .alternatives
            .iter()
            .filter(|a| a.media_type == AlternativeMediaType::Subtitles)
            .filter_map(|a| a.language.clone())
            .collect();
        listed.sort();
        if listed == languages {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the master still lists {listed:?}, not {languages:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn hls_master(app: &TestApp, id: &str) -> m3u8_rs::MasterPlaylist {
    let body = app
        .get(&format!("/v/{id}/master.m3u8"))
        .await
        .bytes()
        .await
        .unwrap();
    match m3u8_rs::parse_playlist_res(&body) {
        Ok(Playlist::MasterPlaylist(master)) => master,
        _ => panic!(
            "not a multivariant playlist: {}",
            String::from_utf8_lossy(&body)
        ),
    }
}

async fn media_playlist(app: &TestApp, path: &str) -> m3u8_rs::MediaPlaylist {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let body = response.bytes().await.unwrap();
    match m3u8_rs::parse_playlist_res(&body) {
        Ok(Playlist::MediaPlaylist(playlist)) => playlist,
        _ => panic!("not a media playlist: {path}"),
    }
}

/// Walks every playlist of the multivariant playlist: each parses as VOD,
/// every `EXTINF` is within its target and the target is the same
/// everywhere; every subtitle segment is WebVTT mapped onto the media
/// timeline. Returns the subtitle languages, sorted.
async fn walk_hls(app: &TestApp, id: &str) -> Vec<String> {
    let master = hls_master(app, id).await;
    let variants: Vec<_> = master.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert!(!variants.is_empty());
    let mut uris: Vec<String> = variants.iter().map(|v| v.uri.clone()).collect();
    let mut languages = Vec::new();
    let mut subtitle_uris = BTreeSet::new();
    for alternative in &master.alternatives {
        let uri = alternative.uri.clone().expect("a URI");
        match alternative.media_type {
            AlternativeMediaType::Subtitles => {
                assert_eq!(alternative.group_id, "subs");
                languages.push(alternative.language.clone().unwrap());
                subtitle_uris.insert(uri.clone());
            }
            AlternativeMediaType::Audio => assert!(alternative.language.is_some()),
            _ => {}
        }
        uris.push(uri);
    }
    for variant in &variants {
        let expected = (!languages.is_empty()).then(|| "subs".to_owned());
        assert_eq!(variant.subtitles, expected, "{}", variant.uri);
    }
    let mut targets = BTreeSet::new();
    for uri in uris {
        let path = format!("/v/{id}/{uri}");
        let playlist = media_playlist(app, &path).await;
        assert!(playlist.end_list, "{path}");
        assert_eq!(
            playlist.playlist_type,
            Some(m3u8_rs::MediaPlaylistType::Vod)
        );
        targets.insert(playlist.target_duration);
        let mut total = 0.0;
        for segment in &playlist.segments {
            assert!(
                (segment.duration.round() as u64) <= playlist.target_duration,
                "{path}: EXTINF {} over {}",
                segment.duration,
                playlist.target_duration
            );
            total += f64::from(segment.duration);
        }
        assert!((total - 8.0).abs() <= 0.5, "{path} lasts {total}");
        if subtitle_uris.contains(&uri) {
            check_webvtt_segments(app, &path, &playlist).await;
        }
    }
    assert_eq!(
        targets.len(),
        1,
        "one target duration everywhere: {targets:?}"
    );
    languages.sort();
    languages
}

/// Every segment of a subtitle playlist is a WebVTT document with an
/// `X-TIMESTAMP-MAP`.
async fn check_webvtt_segments(app: &TestApp, path: &str, playlist: &m3u8_rs::MediaPlaylist) {
    let dir = path.rsplit_once('/').unwrap().0;
    for segment in &playlist.segments {
        let range = segment.byte_range.as_ref().expect("a byte range");
        let offset = range.offset.expect("an offset");
        let response = app
            .client
            .get(format!("{}{dir}/{}", app.base, segment.uri))
            .header(
                "Range",
                format!("bytes={offset}-{}", offset + range.length - 1),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206);
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"),
            "{text:?}"
        );
    }
}

/// The MPD has one text adaptation set per caption, each sidecar WebVTT.
async fn check_dash_text(app: &TestApp, id: &str) {
    let mpd = app.get_text(&format!("/v/{id}/manifest.mpd")).await;
    assert_eq!(mpd.matches("contentType=\"text\"").count(), 2, "{mpd}");
    assert_eq!(mpd.matches("contentType=\"audio\"").count(), 2, "{mpd}");
    for lang in ["lang=\"de\"", "lang=\"es\"", "lang=\"en\"", "lang=\"fr\""] {
        assert!(mpd.contains(lang), "{lang} in {mpd}");
    }
    let sidecars = mpd
        .split("<BaseURL>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</BaseURL>").map(|(url, _)| url))
        .filter(|url| url.ends_with(".vtt"));
    for url in sidecars {
        let response = app.get(&format!("/v/{id}/{url}")).await;
        assert_eq!(response.status(), 200, "{url}");
        assert!(response.text().await.unwrap().starts_with("WEBVTT"));
    }
}
