//! Progressive publishing against a real encode: the live copy of every
//! rendition reaches the object store while the ladder is still encoding
//! (the pipeline is held half-way until the publisher says the video is
//! playable), as growing `EVENT` playlists that end with `EXT-X-ENDLIST`
//! once the encode does, a live master whose codecs come from the init
//! segments, and a dynamic MPD that turns static with every segment listed.
//! A live folder naming files outside its own is refused.

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use goflix_shared::domain::VideoId;
use goflix_shared::store::Store;
use goflix_transcoder::media::live::{LiveError, LivePublisher};
use goflix_transcoder::{transcode, TranscodeOptions};
use m3u8_rs::MediaPlaylist;

/// How long the held encode waits for the publisher before giving up.
const HOLD_LIMIT: Duration = Duration::from_secs(120);

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .status()
        .expect("ffmpeg CLI is installed");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn media_playlist(path: &Path) -> MediaPlaylist {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    m3u8_rs::parse_media_playlist_res(&text).expect("a media playlist")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_are_published_while_encoding_and_end_as_event_playlists() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30:duration=12",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=12",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        source.to_str().unwrap(),
    ]);
    let objects = dir.path().join("objects");
    let store = Store::open(&goflix_shared::config::Storage::Folder(objects.clone()))
        .await
        .unwrap();
    let video = VideoId::new();
    let live_dir = dir.path().join("live");
    let mut publisher = LivePublisher::new(store, video, "live1".into(), live_dir.clone());
    let options = TranscodeOptions {
        x264_preset: "superfast".into(),
        ladder: goflix_transcoder::media::ladder::default_rungs()[3..].to_vec(),
        live_dir: Some(live_dir),
        ..TranscodeOptions::default()
    };

    // The encode stops half-way until the publisher has made the video playable.
    let (playable_tx, playable_rx) = mpsc::channel::<()>();
    let out = dir.path().join("out");
    let encode = tokio::task::spawn_blocking(move || {
        let mut held = false;
        transcode(&source, &out, &options, &mut |progress| {
            if (0.5..1.0).contains(&progress) && !held {
                held = true;
                playable_rx
                    .recv_timeout(HOLD_LIMIT)
                    .expect("the publisher made the video playable half-way");
            }
        })
    });
    let stored = objects.join(format!("media/{video}/live1"));
    loop {
        if publisher.sync().await.unwrap() {
            break;
        }
        if encode.is_finished() {
            panic!(
                "the encode ended before anything was playable: {:?}",
                encode.await.unwrap().map(|output| output.files)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(publisher.is_playable());
    for name in ["360p", "240p", "audio"] {
        let playlist = media_playlist(&stored.join(format!("{name}.m3u8")));
        assert!(!playlist.end_list, "{name} ended while encoding");
        assert_eq!(
            playlist.playlist_type,
            Some(m3u8_rs::MediaPlaylistType::Event)
        );
        assert!(!playlist.segments.is_empty(), "{name} has no segment yet");
        assert_eq!(playlist.start.map(|s| s.time_offset), Some(0.0), "{name}");
    }
    let mpd = std::fs::read_to_string(stored.join("manifest.mpd")).unwrap();
    assert!(mpd.contains(r#"type="dynamic""#), "{mpd}");
    assert!(mpd.contains("availabilityStartTime="), "{mpd}");
    playable_tx.send(()).unwrap();
    let output = encode.await.unwrap().expect("the encode succeeds");
    assert!(!publisher.sync().await.unwrap(), "playable only once");

    // Finished: every playlist ends, every file it names is stored.
    let master = std::fs::read_to_string(stored.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    assert_eq!(master.variants.len(), 2);
    for variant in &master.variants {
        let codecs = variant.codecs.as_deref().unwrap();
        assert!(
            codecs.starts_with("avc1.64") && codecs.ends_with(",mp4a.40.2"),
            "{codecs}"
        );
        assert!(variant.uri.starts_with("live1/"), "{}", variant.uri);
    }
    // The MPD is static now and lists every segment the playlists do.
    let mpd = std::fs::read_to_string(stored.join("manifest.mpd")).unwrap();
    assert!(mpd.contains(r#"type="static""#), "{mpd}");
    assert!(!mpd.contains("minimumUpdatePeriod"), "{mpd}");
    for name in ["360p", "240p", "audio"] {
        let playlist = media_playlist(&stored.join(format!("{name}.m3u8")));
        assert!(playlist.end_list, "{name} did not end");
        let template = format!(r#"media="{name}_$Number%05d$.mp4" startNumber="0""#);
        assert!(mpd.contains(&template), "{template} missing in\n{mpd}");
        let listed = segments_in_mpd(&mpd, name);
        assert_eq!(listed, playlist.segments.len() as u64, "{name}\n{mpd}");
        let total: f64 = playlist
            .segments
            .iter()
            .map(|s| f64::from(s.duration))
            .sum();
        assert!(
            (total - output.duration_s).abs() < 0.5,
            "{name}: {total} s of {} s",
            output.duration_s
        );
        for segment in &playlist.segments {
            assert!(
                stored.join(&segment.uri).is_file(),
                "{name}: {}",
                segment.uri
            );
        }
        let init = stored.join(format!("{name}_init.mp4"));
        // The init segment plus the last segment decode on their own.
        let mut joined = std::fs::read(&init).unwrap();
        let last = &playlist.segments.last().unwrap().uri;
        joined.extend(std::fs::read(stored.join(last)).unwrap());
        let probe_input = dir.path().join(format!("{name}_probe.mp4"));
        std::fs::write(&probe_input, joined).unwrap();
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ])
            .arg(&probe_input)
            .output()
            .unwrap();
        let codec = String::from_utf8_lossy(&probe.stdout);
        let expected = if name == "audio" { "aac" } else { "h264" };
        assert_eq!(codec.trim(), expected, "{name}");
    }
}

#[tokio::test]
async fn a_live_playlist_naming_other_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let store = Store::open(&goflix_shared::config::Storage::Folder(objects.clone()))
        .await
        .unwrap();
    let live_dir = dir.path().join("live");
    std::fs::create_dir_all(&live_dir).unwrap();
    std::fs::write(
        live_dir.join("plan.json"),
        r#"{"video":[{"name":"240p","kind":"video","width":426,"height":240,"frame_rate":30.0,"codecs":"","bandwidth":1,"average_bandwidth":1}],"audio":null,"frame_rate":[30,1]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("secret"), "not media").unwrap();
    for hostile in [
        "../secret",
        "360p_00001.mp4",
        "240p_init.mp4.m3u8",
        "240p_1.mp4/..",
    ] {
        std::fs::write(
            live_dir.join("240p.m3u8"),
            format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{hostile}\n"),
        )
        .unwrap();
        let mut publisher = LivePublisher::new(
            store.clone(),
            VideoId::new(),
            "live1".into(),
            live_dir.clone(),
        );
        let err = publisher.sync().await.expect_err(hostile);
        assert!(matches!(err, LiveError::Invalid(_)), "{hostile}: {err}");
    }
    assert!(!objects.join("media").exists() || walk_is_empty(&objects.join("media")));
}

/// Whether a folder tree holds no file.
/// How many segments the `SegmentTimeline` of Representation `name` lists.
fn segments_in_mpd(mpd: &str, name: &str) -> u64 {
    let start = mpd
        .find(&format!(r#"<Representation id="{name}""#))
        .unwrap();
    let end = start + mpd[start..].find("</Representation>").unwrap();
    mpd[start..end]
        .split("<S ")
        .skip(1)
        .map(|s| {
            s.split_once(r#"r=""#)
                .and_then(|(_, rest)| rest.split('"').next())
                .map_or(1, |r| r.parse::<u64>().unwrap() + 1)
        })
        .sum()
}

fn walk_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().all(|entry| {
        let path = entry.unwrap().path();
        path.is_dir() && walk_is_empty(&path)
    })
}
