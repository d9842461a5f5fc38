//! End-to-end tests of `transcode` on media generated with the ffmpeg CLI
//! (lavfi sources, and SRT files for subtitles), checked with ffprobe and
//! m3u8-rs: the ladder and its alignment, the per-source corrections (frame
//! rate, rotation, odd sizes, interlacing, HDR, surround audio, bitrate
//! cap), every audio stream as its own rendition, text streams as WebVTT,
//! and the player assets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use goflix_shared::domain::{CaptionKind, EmbeddedCaption, LadderMode, RenditionKind, VideoCodec};
use goflix_transcoder::{transcode, MediaError, TranscodeOptions, TranscodeOutput};
use serde_json::Value;

/// Fast settings so the suite stays short; `superfast` still yields H.264 High.
fn options() -> TranscodeOptions {
    TranscodeOptions {
        x264_preset: "superfast".into(),
        uri_prefix: "v1/".into(),
        ..TranscodeOptions::default()
    }
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .status()
        .expect("ffmpeg CLI is installed");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn ffprobe(path: &Path, args: &[&str]) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe CLI is installed");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Generates a clip with `testsrc2` (and `sine` when `audio`).
fn clip(dir: &Path, name: &str, size: &str, seconds: u32, audio: bool) -> PathBuf {
    let path = dir.join(name);
    let video = format!("testsrc2=size={size}:rate=30:duration={seconds}");
    let sine = format!("sine=frequency=440:sample_rate=44100:duration={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", &video];
    if audio {
        args.extend(["-f", "lavfi", "-i", &sine, "-c:a", "aac"]);
    }
    let out = path.to_str().unwrap();
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        out,
    ]);
    ffmpeg(&args);
    path
}

fn run(
    input: &Path,
    out_dir: &Path,
    opts: &TranscodeOptions,
) -> Result<TranscodeOutput, MediaError> {
    transcode(input, out_dir, opts, &mut |_| {})
}

fn expect_code(input: &Path, code: &str) {
    let out = tempfile::tempdir().unwrap();
    let err = run(input, out.path(), &options()).expect_err("transcode must fail");
    assert_eq!(err.code().as_str(), code, "{}: {err}", input.display());
}

fn stream(path: &Path) -> Value {
    let probed = ffprobe(path, &["-show_streams", "-show_format"]);
    assert_eq!(
        probed["streams"].as_array().unwrap().len(),
        1,
        "one track per file"
    );
    probed
}

fn keyframe_times(path: &Path) -> Vec<String> {
    let probed = ffprobe(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
        ],
    );
    probed["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["flags"].as_str().unwrap().contains('K'))
        .map(|p| p["pts_time"].as_str().unwrap().to_owned())
        .collect()
}

/// Parses every media playlist and checks its byte ranges land on `moof` boxes
/// (and the map on the file start), contiguous up to the end of the file.
fn check_media_playlists(dir: &Path, output: &TranscodeOutput) {
    let mut targets = Vec::new();
    for rendition in &output.renditions {
        let text = std::fs::read(dir.join(format!("{}.m3u8", rendition.name))).unwrap();
        let playlist = m3u8_rs::parse_media_playlist_res(&text).unwrap();
        let data = std::fs::read(dir.join(format!("{}.mp4", rendition.name))).unwrap();
        assert_eq!(playlist.version, Some(7));
        assert!(playlist.end_list && playlist.independent_segments);
        let map = playlist.segments[0].map.as_ref().unwrap();
        assert_eq!(map.uri, format!("{}.mp4", rendition.name));
        let init = map.byte_range.as_ref().unwrap();
        assert_eq!(init.offset, Some(0));
        assert_eq!(&data[4..8], b"ftyp");
        let mut expected = None;
        for segment in &playlist.segments {
            assert!(f64::from(segment.duration).round() as u64 <= playlist.target_duration);
            let range = segment.byte_range.as_ref().unwrap();
            let offset = range.offset.unwrap() as usize;
            if let Some(expected) = expected {
                assert_eq!(offset, expected, "segments are contiguous");
            }
            assert_eq!(
                &data[offset + 4..offset + 8],
                b"moof",
                "{} @ {offset}",
                rendition.name
            );
            expected = Some(offset + range.length as usize);
        }
        assert_eq!(expected, Some(data.len()));
        targets.push(playlist.target_duration);
    }
    targets.dedup();
    assert_eq!(targets.len(), 1, "one target duration everywhere");
}

/// Parses every I-frame playlist named in the master and checks each range
/// starts at a `moof` and ends inside the `mdat` after it, on a keyframe.
fn check_iframe_playlists(dir: &Path, output: &TranscodeOutput) {
    let master = std::fs::read(dir.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    let iframe_uris: Vec<_> = master
        .variants
        .iter()
        .filter(|v| v.is_i_frame)
        .map(|v| v.uri.trim_start_matches("v1/").to_owned())
        .collect();
    let videos: Vec<_> = output
        .renditions
        .iter()
        .filter(|r| r.width.is_some())
        .collect();
    assert_eq!(iframe_uris.len(), videos.len());
    for rendition in videos {
        let name = format!("{}_iframes.m3u8", rendition.name);
        assert!(iframe_uris.contains(&name), "{name} not in the master");
        let text = std::fs::read(dir.join(&name)).unwrap();
        let playlist = m3u8_rs::parse_media_playlist_res(&text).unwrap();
        assert!(playlist.i_frames_only && playlist.end_list);
        let media = std::fs::read(dir.join(format!("{}.m3u8", rendition.name))).unwrap();
        let media = m3u8_rs::parse_media_playlist_res(&media).unwrap();
        assert_eq!(playlist.segments.len(), media.segments.len());
        let data = std::fs::read(dir.join(format!("{}.mp4", rendition.name))).unwrap();
        for (iframe, segment) in playlist.segments.iter().zip(&media.segments) {
            let range = iframe.byte_range.as_ref().unwrap();
            let offset = range.offset.unwrap() as usize;
            let fragment = segment.byte_range.as_ref().unwrap();
            assert_eq!(
                Some(offset as u64),
                fragment.offset,
                "{name}: starts at the fragment"
            );
            assert_eq!(&data[offset + 4..offset + 8], b"moof", "{name} @ {offset}");
            let moof_len =
                u32::from_be_bytes(data[offset..offset + 4].try_into().unwrap()) as usize;
            assert_eq!(&data[offset + moof_len + 4..offset + moof_len + 8], b"mdat");
            assert!(
                range.length as usize > moof_len + 8,
                "{name}: covers sample data"
            );
            assert!(
                range.length <= fragment.length,
                "{name}: inside its fragment"
            );
            assert_eq!(iframe.duration, segment.duration);
        }
    }
}

/// The poster is a JPEG of the top rung's size; the storyboard cues are
/// contiguous, cover the video and point inside the sprite.
fn check_poster_and_storyboard(dir: &Path, top: (u64, u64), duration_s: f64) {
    let poster = ffprobe(&dir.join("poster.jpg"), &["-show_streams"]);
    let s = &poster["streams"][0];
    assert_eq!(s["codec_name"], "mjpeg");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(top.0), Some(top.1))
    );

    let sprite = ffprobe(&dir.join("storyboard.jpg"), &["-show_streams"]);
    let (sprite_w, sprite_h) = (
        sprite["streams"][0]["width"].as_u64().unwrap(),
        sprite["streams"][0]["height"].as_u64().unwrap(),
    );
    let vtt = std::fs::read_to_string(dir.join("storyboard.vtt")).unwrap();
    let mut blocks = vtt.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"));
    let mut previous_end = 0.0;
    let mut cues = 0;
    for block in blocks.filter(|b| !b.trim().is_empty()) {
        let (timing, target) = block.trim().split_once('\n').unwrap();
        let (start, end) = timing.split_once(" --> ").unwrap();
        let (start, end) = (vtt_seconds(start), vtt_seconds(end));
        assert!(
            (start - previous_end).abs() < 1e-6 && end > start,
            "{block}"
        );
        previous_end = end;
        let xywh = target.strip_prefix("storyboard.jpg#xywh=").unwrap();
        let v: Vec<u64> = xywh.split(',').map(|n| n.parse().unwrap()).collect();
        assert!(
            v[0] + v[2] <= sprite_w && v[1] + v[3] <= sprite_h,
            "{block}"
        );
        assert!(v[2].max(v[3]) == 160, "{block}");
        cues += 1;
    }
    assert!(
        (previous_end - duration_s).abs() <= 0.5,
        "cues end at {previous_end}"
    );
    assert_eq!(cues, (duration_s / 2.0).ceil() as usize);
}

fn vtt_seconds(timestamp: &str) -> f64 {
    let parts: Vec<f64> = timestamp.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

#[test]
fn hd_clip_becomes_aligned_hls_and_dash() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "hd.mp4", "1280x720", 10, true);
    let out = dir.path().join("out");
    let mut reports = Vec::new();
    let started = Instant::now();
    let output = transcode(&input, &out, &options(), &mut |p| reports.push(p)).unwrap();
    eprintln!("10 s 720p transcode took {:.2?}", started.elapsed());

    let names: Vec<_> = output.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["720p", "480p", "360p", "240p", "audio"]);
    let sound = &output.renditions[4];
    assert_eq!(
        (sound.language.as_deref(), sound.default, sound.channels),
        (Some("und"), true, Some(2))
    );
    assert!(output.renditions[..4]
        .iter()
        .all(|r| r.language.is_none() && !r.default && r.channels.is_none()));
    assert!(output.captions.is_empty());
    assert!(
        (output.duration_s - 10.0).abs() <= 0.5,
        "{}",
        output.duration_s
    );
    assert_eq!(reports.last(), Some(&1.0));
    assert!(reports.windows(2).all(|w| w[0] <= w[1]));
    for file in &output.files {
        assert!(out.join(file).is_file(), "{file} listed but missing");
    }
    // Per rendition .mp4 + .m3u8, 4 I-frame playlists, master, MPD, poster, storyboard + cues.
    assert_eq!(output.files.len(), 5 * 2 + 4 + 2 + 3);
    for file in &output.files {
        let (stem, ext) = file.split_once('.').unwrap();
        assert!(
            (1..=32).contains(&stem.len())
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && ["m3u8", "mp4", "mpd", "jpg", "vtt"].contains(&ext),
            "{file} is not a name the origin serves"
        );
    }

    let expected = [(1280, 720), (854, 480), (640, 360), (426, 240)];
    let mut keyframes = Vec::new();
    for (rendition, (width, height)) in output.renditions.iter().zip(expected) {
        assert_eq!(
            (rendition.width, rendition.height),
            (Some(width), Some(height))
        );
        assert!(
            rendition.codecs.starts_with("avc1.64"),
            "{}",
            rendition.codecs
        );
        assert!(rendition.bandwidth >= rendition.average_bandwidth);
        let path = out.join(format!("{}.mp4", rendition.name));
        let probed = stream(&path);
        let s = &probed["streams"][0];
        assert_eq!(s["codec_name"], "h264");
        assert_eq!(s["profile"], "High");
        assert_eq!(
            (s["width"].as_u64(), s["height"].as_u64()),
            (Some(u64::from(width)), Some(u64::from(height)))
        );
        assert_eq!(s["avg_frame_rate"], "30/1");
        let duration: f64 = probed["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (duration - 10.0).abs() <= 0.5,
            "{}: {duration}",
            rendition.name
        );
        keyframes.push(keyframe_times(&path));
    }
    assert_eq!(
        keyframes[0].len(),
        5,
        "one keyframe per 2 s segment: {:?}",
        keyframes[0]
    );
    assert!(
        keyframes.iter().all(|k| k == &keyframes[0]),
        "{keyframes:?}"
    );

    let audio = stream(&out.join("audio.mp4"));
    let a = &audio["streams"][0];
    assert_eq!(a["codec_name"], "aac");
    assert_eq!(a["profile"], "LC");
    assert_eq!(a["channels"], 2);
    assert_eq!(a["sample_rate"], "48000");
    let duration: f64 = audio["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 10.0).abs() <= 0.5, "audio: {duration}");

    check_media_playlists(&out, &output);
    check_iframe_playlists(&out, &output);
    check_poster_and_storyboard(&out, (1280, 720), 10.0);
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    assert_eq!(master.variants.iter().filter(|v| !v.is_i_frame).count(), 4);
    assert_eq!(master.variants.iter().filter(|v| v.is_i_frame).count(), 4);
    assert_eq!(master.alternatives[0].uri.as_deref(), Some("v1/audio.m3u8"));
    let top = &master.variants[0];
    assert_eq!(top.uri, "v1/720p.m3u8");
    assert_eq!(top.audio.as_deref(), Some("audio"));
    assert_eq!(top.frame_rate, Some(30.0));
    assert_eq!(
        top.bandwidth,
        output.renditions[0].bandwidth + output.renditions[4].bandwidth
    );
    assert!(top.codecs.as_deref().unwrap().ends_with(",mp4a.40.2"));

    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert!(mpd.contains("<BaseURL>v1/720p.mp4</BaseURL>"));
    assert!(mpd.contains("<BaseURL>v1/audio.mp4</BaseURL>"));
    assert_eq!(mpd.matches("<Representation").count(), 5);
}

#[test]
fn tiny_source_gets_one_rung_at_its_own_height() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "tiny.mp4", "416x234", 3, true);
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    let names: Vec<_> = output.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["234p", "audio"]);
    let probed = stream(&out.join("234p.mp4"));
    assert_eq!(probed["streams"][0]["width"], 416);
    assert_eq!(probed["streams"][0]["height"], 234);
    check_media_playlists(&out, &output);
}

#[test]
fn silent_source_is_video_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "silent.mkv", "640x360", 3, false);
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    let names: Vec<_> = output.renditions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["360p", "240p"]);
    assert!(!out.join("audio.mp4").exists());
    assert!(!output.files.iter().any(|f| f.starts_with("audio")));
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(!master.contains("EXT-X-MEDIA") && !master.contains("AUDIO="));
    assert!(!master.contains("mp4a"));
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("<AdaptationSet").count(), 1);
    check_media_playlists(&out, &output);
}

#[test]
fn audio_only_source_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-c:a",
        "aac",
        path.to_str().unwrap(),
    ]);
    expect_code(&path, "audio_only");
}

#[test]
fn source_without_audio_or_video_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("subs.srt");
    std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nhello\n").unwrap();
    let mkv = dir.path().join("subs.mkv");
    ffmpeg(&["-i", srt.to_str().unwrap(), mkv.to_str().unwrap()]);
    expect_code(&mkv, "no_video_stream");
}

#[test]
fn broken_files_are_invalid_media() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    expect_code(&empty, "invalid_media");

    // Deterministic noise (xorshift), so the test cannot flake.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let random = dir.path().join("random.mp4");
    std::fs::write(&random, noise).unwrap();
    expect_code(&random, "invalid_media");

    // moov at the end (the default): a cut upload has no moov at all.
    let whole = clip(dir.path(), "whole.mp4", "320x240", 4, true);
    let bytes = std::fs::read(&whole).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_code(&truncated, "invalid_media");

    // moov first: the header promises more than the data holds.
    let faststart = dir.path().join("faststart.mp4");
    ffmpeg(&[
        "-i",
        whole.to_str().unwrap(),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        faststart.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&faststart).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    expect_code(&truncated, "invalid_media");
}

#[test]
fn playlists_and_scripts_disguised_as_mp4_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hls = dir.path().join("evil.mp4");
    std::fs::write(
        &hls,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = run(&hls, out.path(), &options()).unwrap_err();
    assert!(
        matches!(err.code().as_str(), "unsupported_format" | "invalid_media"),
        "{}: {err}",
        err.code().as_str()
    );
    assert_eq!(err.code().as_str(), "unsupported_format", "{err}");

    let concat = dir.path().join("concat.mp4");
    std::fs::write(&concat, "ffconcat version 1.0\nfile '/etc/passwd'\n").unwrap();
    let err = run(&concat, out.path(), &options()).unwrap_err();
    assert!(
        matches!(err.code().as_str(), "unsupported_format" | "invalid_media"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn codecs_off_the_decoder_allow_list_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // FFV1 (lossless archival video) in Matroska, an accepted container.
    let archival = generate(
        dir.path(),
        "archival.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-c:v",
            "ffv1",
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let err = run(&archival, out.path(), &options()).unwrap_err();
    assert_eq!(err.code().as_str(), "unsupported_format", "{err}");
    assert!(err.to_string().contains("unsupported codec"), "{err}");
    // An accepted video with audio the list does not have (WMA).
    let wma = generate(
        dir.path(),
        "wma.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:v",
            "libx264",
            "-c:a",
            "wmav2",
        ],
    );
    let err = run(&wma, out.path(), &options()).unwrap_err();
    assert_eq!(err.code().as_str(), "unsupported_format", "{err}");
    // Beside an accepted audio stream, the WMA one is left out, not fatal.
    let mixed = generate(
        dir.path(),
        "wma_and_aac.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-c:a:0",
            "wmav2",
            "-c:a:1",
            "aac",
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let output = run(&mixed, out.path(), &options()).unwrap();
    let audio: Vec<&str> = output
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Audio)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(audio, ["audio"], "{:?}", names(&output));
}

#[test]
fn long_sources_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "long.mp4", "320x240", 3, false);
    let out = tempfile::tempdir().unwrap();
    let opts = TranscodeOptions {
        max_duration_s: 1.0,
        ..options()
    };
    let err = run(&input, out.path(), &opts).unwrap_err();
    assert_eq!(err.code().as_str(), "source_too_long", "{err}");
}

/// Runs the ffmpeg CLI with `args` and the output path last.
fn generate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut all = args.to_vec();
    all.push(path.to_str().unwrap());
    ffmpeg(&all);
    path
}

fn names(output: &TranscodeOutput) -> Vec<&str> {
    output.renditions.iter().map(|r| r.name.as_str()).collect()
}

/// `(width, height, avg_frame_rate)` of a rendition file.
fn video_shape(path: &Path) -> (u64, u64, String) {
    let s = &stream(path)["streams"][0];
    (
        s["width"].as_u64().unwrap(),
        s["height"].as_u64().unwrap(),
        s["avg_frame_rate"].as_str().unwrap().to_owned(),
    )
}

/// Only the two smallest rungs, to keep tests of large sources quick.
fn small_ladder() -> TranscodeOptions {
    TranscodeOptions {
        ladder: goflix_transcoder::media::ladder::default_rungs()[3..].to_vec(),
        ..options()
    }
}

#[test]
fn full_hd_at_59_94_keeps_its_rate_and_120_is_halved() {
    let dir = tempfile::tempdir().unwrap();
    let ntsc = generate(
        dir.path(),
        "ntsc.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=60000/1001:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let out = dir.path().join("ntsc");
    let output = run(&ntsc, &out, &options()).unwrap();
    assert_eq!(names(&output), ["1080p", "720p", "480p", "360p", "240p"]);
    assert_eq!(
        video_shape(&out.join("1080p.mp4")),
        (1920, 1080, "60000/1001".into())
    );
    assert_eq!(
        video_shape(&out.join("240p.mp4")),
        (426, 240, "60000/1001".into())
    );
    check_media_playlists(&out, &output);

    let fast = generate(
        dir.path(),
        "fast.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=120:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let out = dir.path().join("fast");
    let output = run(&fast, &out, &small_ladder()).unwrap();
    assert_eq!(names(&output), ["360p", "240p"]);
    assert_eq!(
        video_shape(&out.join("360p.mp4")),
        (640, 360, "60/1".into())
    );
    assert!(
        (output.duration_s - 2.0).abs() < 0.1,
        "{}",
        output.duration_s
    );
}

#[test]
fn portrait_source_gets_a_portrait_ladder() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "portrait.mp4", "1080x1920", 2, true);
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    assert_eq!(
        names(&output),
        ["1080p", "720p", "480p", "360p", "240p", "audio"]
    );
    assert_eq!(
        video_shape(&out.join("1080p.mp4")),
        (1080, 1920, "30/1".into())
    );
    assert_eq!(
        video_shape(&out.join("240p.mp4")),
        (240, 426, "30/1".into())
    );
    check_poster_and_storyboard(&out, (1080, 1920), 2.0);
}

/// Mean luma of the left and right halves of the first frame of `path`.
fn left_right_luma(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=2:1:flags=area",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    (f64::from(out.stdout[0]), f64::from(out.stdout[1]))
}

#[test]
fn rotated_phone_video_comes_out_upright() {
    let dir = tempfile::tempdir().unwrap();
    // Coded landscape, top half white; with the display matrix the ffmpeg CLI
    // (autorotate) shows it portrait with the white half on one side.
    let coded = generate(
        dir.path(),
        "coded.mp4",
        &[
            "-f", "lavfi", "-i", "color=c=black:size=1280x720:rate=30:duration=2,drawbox=x=0:y=0:w=1280:h=360:color=white:t=fill",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        ],
    );
    let phone = generate(
        dir.path(),
        "phone.mp4",
        &[
            "-i",
            coded.to_str().unwrap(),
            "-c",
            "copy",
            "-metadata:s:v",
            "rotate=90",
        ],
    );
    let side_data = ffprobe(&phone, &["-show_streams"]);
    assert!(
        side_data.to_string().contains("Display Matrix"),
        "{side_data}"
    );
    let out = dir.path().join("out");
    let output = run(&phone, &out, &small_ladder()).unwrap();
    assert_eq!(names(&output), ["360p", "240p"]);
    assert_eq!(
        video_shape(&out.join("360p.mp4")),
        (360, 640, "30/1".into())
    );
    let upright = left_right_luma(&phone);
    assert!(
        (upright.0 - upright.1).abs() > 150.0,
        "the CLI shows one white half: {upright:?}"
    );
    let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 40.0 && (a.1 - b.1).abs() < 40.0;
    let (left, right) = left_right_luma(&out.join("360p.mp4"));
    assert!(
        close((left, right), upright),
        "left {left}, right {right}; CLI {upright:?}"
    );
    let (left, right) = left_right_luma(&out.join("poster.jpg"));
    assert!(
        close((left, right), upright),
        "poster: left {left}, right {right}; CLI {upright:?}"
    );
}

#[test]
fn odd_sized_source_gets_even_rungs() {
    let dir = tempfile::tempdir().unwrap();
    // testsrc2 and 4:2:0 round sizes down to even; crop a 4:4:4 picture instead.
    let input = generate(
        dir.path(),
        "odd.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=860x490:rate=30:duration=2,format=yuv444p,crop=853:481:0:0",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let probed = ffprobe(&input, &["-show_streams"]);
    assert_eq!(
        (
            &probed["streams"][0]["width"],
            &probed["streams"][0]["height"]
        ),
        (&Value::from(853), &Value::from(481))
    );
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    assert_eq!(names(&output), ["480p", "360p", "240p"]);
    assert_eq!(video_shape(&out.join("480p.mp4")).0, 852);
    assert_eq!(video_shape(&out.join("360p.mp4")).0, 638);
    check_media_playlists(&out, &output);
    check_iframe_playlists(&out, &output);
}

/// `idet`'s multi-frame verdict counts `(tff + bff, progressive)` over `path`.
fn interlace_counts(path: &Path) -> (u64, u64) {
    let out = Command::new("ffmpeg")
        .args(["-v", "info", "-nostdin", "-i"])
        .arg(path)
        .args(["-vf", "idet", "-an", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("Multi frame detection"))
        .unwrap_or_else(|| panic!("no idet verdict in {log}"));
    let count = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (count("TFF:") + count("BFF:"), count("Progressive:"))
}

#[test]
fn interlaced_source_is_deinterlaced() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(
        dir.path(),
        "interlaced.ts",
        // MPEG-2 states its field order in every picture header (x264's
        // MBAFF output would be flagged bottom field first).
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=720x480:rate=60:duration=3,tinterlace=interleave_top,setfield=tff",
            "-c:v",
            "mpeg2video",
            "-q:v",
            "3",
            "-flags",
            "+ilme+ildct",
            "-top",
            "1",
        ],
    );
    let (interlaced, _) = interlace_counts(&input);
    assert!(
        interlaced > 30,
        "the source must look interlaced: {interlaced}"
    );
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    assert_eq!(names(&output), ["480p", "360p", "240p"]);
    assert_eq!(video_shape(&out.join("480p.mp4")).2, "30/1");
    let (interlaced, progressive) = interlace_counts(&out.join("480p.mp4"));
    assert!(
        progressive >= 4 * interlaced,
        "{interlaced} interlaced vs {progressive}"
    );
}

#[test]
fn surround_audio_is_downmixed_to_stereo() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(
        dir.path(),
        "surround.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=2,aformat=channel_layouts=7.1",
            "-ac",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
        ],
    );
    let probed = ffprobe(&input, &["-show_streams", "-select_streams", "a"]);
    assert_eq!(probed["streams"][0]["channels"], 8);
    let out = dir.path().join("out");
    run(&input, &out, &options()).unwrap();
    let audio = stream(&out.join("audio.mp4"));
    assert_eq!(audio["streams"][0]["channels"], 2);
    assert_eq!(audio["streams"][0]["channel_layout"], "stereo");
    let volume = Command::new("ffmpeg")
        .args(["-v", "info", "-nostdin", "-i"])
        .arg(out.join("audio.mp4"))
        .args(["-af", "volumedetect", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&volume.stderr);
    let mean: f64 = log
        .lines()
        .find_map(|l| l.split("mean_volume: ").nth(1))
        .and_then(|v| v.trim_end_matches(" dB").parse().ok())
        .unwrap_or_else(|| panic!("{log}"));
    assert!(mean > -40.0, "downmix is audible: {mean} dB");
}

#[test]
fn hdr_source_is_tone_mapped_to_bt709() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(
        dir.path(),
        "hdr.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-color_primaries",
            "bt2020",
            "-color_trc",
            "smpte2084",
            "-colorspace",
            "bt2020nc",
        ],
    );
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    assert_eq!(names(&output), ["360p", "240p"]);
    let s = &stream(&out.join("360p.mp4"))["streams"][0];
    assert_eq!(s["color_transfer"], "bt709");
    assert_eq!(s["color_primaries"], "bt709");
    assert_eq!(s["color_space"], "bt709");
}

#[test]
fn rungs_are_capped_at_the_source_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    let input = generate(
        dir.path(),
        "starved.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "150k",
        ],
    );
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    let top = &output.renditions[0];
    assert_eq!(top.name, "360p");
    // Uncapped, 360p would aim at 800 kbit/s.
    assert!(top.average_bandwidth < 400_000, "{}", top.average_bandwidth);
}

/// A 6 s 854×480 master of `picture` (a lavfi graph), nearly lossless.
fn picture_master(dir: &Path, name: &str, picture: &str) -> PathBuf {
    let graph = format!("{picture},format=yuv420p");
    generate(
        dir,
        name,
        &[
            "-f",
            "lavfi",
            "-i",
            &graph,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "8",
        ],
    )
}

/// Per rendition of `dir`'s master playlist: the declared `BANDWIDTH` and
/// `AVERAGE-BANDWIDTH`, and the peak and average bits per second of its
/// segments (byte ranges over `EXTINF` durations).
fn declared_and_measured(dir: &Path) -> Vec<(String, [f64; 4])> {
    let master = std::fs::read(dir.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    master
        .variants
        .iter()
        .map(|variant| {
            let text = std::fs::read(dir.join(variant.uri.trim_start_matches("v1/"))).unwrap();
            let playlist = m3u8_rs::parse_media_playlist_res(&text).unwrap();
            let (mut peak, mut bytes, mut seconds) = (0f64, 0f64, 0f64);
            for segment in &playlist.segments {
                let length = segment.byte_range.as_ref().unwrap().length as f64;
                let duration = f64::from(segment.duration);
                peak = peak.max(length * 8.0 / duration);
                bytes += length;
                seconds += duration;
            }
            let declared = variant.bandwidth as f64;
            let average = variant.average_bandwidth.unwrap() as f64;
            (
                variant.uri.clone(),
                [declared, average, peak, bytes * 8.0 / seconds],
            )
        })
        .collect()
}

/// Every variant of `dir`'s master declares its segments' peak as
/// `BANDWIDTH` (up to 10 % over) and their mean as `AVERAGE-BANDWIDTH`
/// (within 10 %).
fn check_declared_bandwidths(dir: &Path) {
    for (uri, [declared, average, peak, mean]) in declared_and_measured(dir) {
        assert!(
            declared >= peak * 0.99 && declared <= peak * 1.1,
            "{uri}: BANDWIDTH {declared} for a peak of {peak}"
        );
        assert!(
            (average / mean - 1.0).abs() <= 0.1,
            "{uri}: AVERAGE-BANDWIDTH {average} for {mean}"
        );
    }
}

#[test]
fn per_title_gives_an_easy_picture_fewer_bits_than_a_hard_one() {
    let dir = tempfile::tempdir().unwrap();
    // One testsrc2 frame held for 6 s, and testsrc2 moving under heavy noise.
    let easy = picture_master(
        dir.path(),
        "easy.mp4",
        "testsrc2=size=854x480:rate=30:duration=1,trim=end_frame=1,loop=loop=179:size=1:start=0",
    );
    let hard = picture_master(
        dir.path(),
        "hard.mp4",
        "testsrc2=size=854x480:rate=30:duration=6,noise=alls=40:allf=t+u",
    );
    let per_title = TranscodeOptions {
        ladder_mode: LadderMode::PerTitle,
        ..options()
    };
    let transcoded = |input: &Path, name: &str, opts: &TranscodeOptions| {
        let out = dir.path().join(name);
        let output = run(input, &out, opts).unwrap();
        check_media_playlists(&out, &output);
        (out, output)
    };
    let (easy_dir, easy_out) = transcoded(&easy, "easy", &per_title);
    let (hard_dir, hard_out) = transcoded(&hard, "hard", &per_title);
    let (_, fixed_out) = transcoded(&easy, "easy-fixed", &options());
    // Every rung of the sharp still looks better than the one below it.
    assert_eq!(names(&easy_out), ["480p", "360p", "240p"]);
    assert_eq!(names(&fixed_out), names(&easy_out));
    assert!(easy_out.quality.iter().all(|rung| rung.kept));
    assert!(fixed_out.quality.is_empty(), "fixed measures nothing");
    let average = |output: &TranscodeOutput, name: &str| {
        let rendition = output.renditions.iter().find(|r| r.name == name);
        rendition.map(|r| r.average_bandwidth)
    };
    // The hard picture may lose rungs that look no better than the one
    // below (`per_title_drops_rungs_that_look_no_better`); those it keeps
    // take more than twice the easy one's bits.
    assert!(!hard_out.renditions.is_empty());
    for name in ["480p", "360p", "240p"] {
        let easy = average(&easy_out, name).unwrap();
        if let Some(hard) = average(&hard_out, name) {
            assert!(easy * 2 < hard, "{name}: easy {easy} against hard {hard}");
        }
    }
    // The cap holds: over the 6 s, at most the cap plus what the VBV
    // buffer (1 s of the cap) lets through; a 2 s segment at most 1.5×.
    let caps = [("480p", 1_400_000u64), ("360p", 800_000), ("240p", 400_000)];
    for (name, cap) in caps {
        let Some(rendition) = hard_out.renditions.iter().find(|r| r.name == name) else {
            continue;
        };
        let bound = cap as f64 * (1.0 + 1.0 / 6.0);
        assert!(
            rendition.average_bandwidth as f64 <= bound,
            "{rendition:?} over {cap}"
        );
        assert!(
            rendition.bandwidth as f64 <= cap as f64 * 1.5,
            "{rendition:?}"
        );
    }
    for out in [&easy_dir, &hard_dir] {
        check_declared_bandwidths(out);
    }
}

#[test]
fn per_title_drops_rungs_that_look_no_better_than_the_one_below() {
    let dir = tempfile::tempdir().unwrap();
    // A 180p picture blown up to 720p: the 720p rung shows nothing the
    // rungs below it do not.
    let master = picture_master(
        dir.path(),
        "upscaled.mp4",
        "testsrc2=size=320x180:rate=30:duration=4,scale=1280:720:flags=bilinear",
    );
    let per_title = TranscodeOptions {
        ladder_mode: LadderMode::PerTitle,
        ..options()
    };
    let out = dir.path().join("per-title");
    let output = run(&master, &out, &per_title).unwrap();
    check_media_playlists(&out, &output);
    let measured: Vec<(&str, bool)> = output
        .quality
        .iter()
        .map(|rung| (rung.name.as_str(), rung.kept))
        .collect();
    assert_eq!(
        measured.iter().map(|m| m.0).collect::<Vec<_>>(),
        ["720p", "480p", "360p", "240p"],
        "every rung encoded is measured"
    );
    assert_eq!(measured[0], ("720p", false), "{:?}", output.quality);
    assert_eq!(measured[3], ("240p", true), "the lowest rung always stays");
    let kept: Vec<&str> = measured.iter().filter(|m| m.1).map(|m| m.0).collect();
    assert_eq!(names(&output), kept);
    // A dropped rung leaves nothing behind: no file, no playlist, no
    // variant, no representation.
    assert!(!out.join("720p.mp4").exists());
    assert!(output.files.iter().all(|file| !file.starts_with("720p")));
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let text = std::fs::read_to_string(out.join(manifest)).unwrap();
        assert!(!text.contains("720p"), "{manifest}:\n{text}");
    }
    // `fixed` encodes and keeps the whole ladder.
    let fixed = run(&master, &dir.path().join("fixed"), &options()).unwrap();
    assert_eq!(names(&fixed), ["720p", "480p", "360p", "240p"]);
}

/// The Spanish subtitles muxed into [`multilingual`]: SRT markup, an `&`
/// and a two-line cue.
const SPANISH_SRT: &str = "1\n00:00:00,500 --> 00:00:02,000\nHola & adiós\n\n\
    2\n00:00:02,500 --> 00:00:04,250\n<i>Dos</i> líneas\nsegunda\n\n";

/// A 6 s MP4 with two audio streams (English at 440 Hz; French at 660 Hz,
/// titled and the default) and a Spanish `mov_text` stream from an SRT file.
fn multilingual(dir: &Path) -> PathBuf {
    let srt = dir.join("subs.srt");
    std::fs::write(&srt, SPANISH_SRT).unwrap();
    generate(
        dir,
        "multilingual.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:d=6",
            "-f",
            "lavfi",
            "-i",
            "sine=f=660:d=6",
            "-i",
            srt.to_str().unwrap(),
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-map",
            "3",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-c:s",
            "mov_text",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
            "-metadata:s:a:1",
            "title=Français",
            "-disposition:a:0",
            "0",
            "-disposition:a:1",
            "default",
            "-metadata:s:s:0",
            "language=spa",
        ],
    )
}

/// The frequency of a pure tone in `path`, from the zero crossings of its
/// first channel over one second from 1 s on.
fn tone_hz(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-ss", "1", "-t", "1", "-i"])
        .arg(path)
        .args(["-ac", "1", "-ar", "48000", "-f", "s16le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let samples: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}

/// The cues of a WebVTT file: `(start s, end s, text)`.
fn vtt_cues(text: &str) -> Vec<(f64, f64, String)> {
    let seconds = |t: &str| -> f64 {
        t.split(':').fold(0.0, |total, part| {
            total * 60.0 + part.parse::<f64>().unwrap()
        })
    };
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut lines = block.lines().skip_while(|l| !l.contains(" --> "));
            let timing = lines.next()?;
            let (start, rest) = timing.split_once(" --> ").unwrap();
            let end = rest.split_whitespace().next().unwrap();
            let cue: Vec<&str> = lines.collect();
            Some((seconds(start), seconds(end), cue.join("\n")))
        })
        .collect()
}

#[test]
fn every_audio_stream_is_a_rendition_and_text_streams_become_webvtt() {
    let dir = tempfile::tempdir().unwrap();
    let input = multilingual(dir.path());
    let probed = ffprobe(&input, &["-show_streams"]);
    assert_eq!(probed["streams"].as_array().unwrap().len(), 4, "{probed}");
    let out = dir.path().join("out");
    let live = dir.path().join("live");
    let opts = TranscodeOptions {
        live_dir: Some(live.clone()),
        ..options()
    };
    let output = run(&input, &out, &opts).unwrap();

    // The live copy has every audio rendition, planned and ended.
    let plan: Value =
        serde_json::from_slice(&std::fs::read(live.join("plan.json")).unwrap()).unwrap();
    let planned: Vec<_> = plan["audio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str(),
                r["language"].as_str(),
                r["default"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            (Some("audio"), Some("en"), None),
            (Some("audio_1"), Some("fr"), Some(true)),
        ]
    );
    for name in ["audio", "audio_1"] {
        let playlist = std::fs::read(live.join(format!("{name}.m3u8"))).unwrap();
        let playlist = m3u8_rs::parse_media_playlist_res(&playlist).unwrap();
        assert!(playlist.end_list && !playlist.segments.is_empty(), "{name}");
        assert!(live.join(format!("{name}_init.mp4")).is_file(), "{name}");
    }

    let audio: Vec<_> = output
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Audio)
        .collect();
    let described: Vec<_> = audio
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.language.as_deref(),
                r.label.as_deref(),
                r.default,
                r.channels,
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("audio", Some("en"), None, false, Some(2)),
            (
                "audio_1",
                Some("fr"),
                audio[1].label.as_deref(),
                true,
                Some(2)
            ),
        ]
    );
    assert!(
        matches!(audio[1].label.as_deref(), None | Some("Français")),
        "{:?}",
        audio[1].label
    );
    for file in &output.files {
        assert!(out.join(file).is_file(), "{file} listed but missing");
    }
    for (name, hz) in [("audio", 440.0), ("audio_1", 660.0)] {
        let file = format!("{name}.mp4");
        assert!(output.files.contains(&file), "{file} not listed");
        let probed = stream(&out.join(&file));
        let a = &probed["streams"][0];
        assert_eq!(
            (&a["codec_name"], &a["channels"], &a["sample_rate"]),
            (&Value::from("aac"), &Value::from(2), &Value::from("48000")),
            "{file}"
        );
        let measured = tone_hz(&out.join(&file));
        assert!((measured - hz).abs() < 15.0, "{file}: {measured} Hz");
    }
    check_media_playlists(&out, &output);

    // FFmpeg 5.1 writes an MP4 track's title but does not read it back:
    // the French rendition is named by its label if the demuxer gives it.
    let french_name = audio[1].label.as_deref().unwrap_or("fr");
    let french = format!(
        "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio_1.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"fr\",NAME=\"{french_name}\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\""
    );
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    let media: Vec<&str> = master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:"))
        .collect();
    assert_eq!(
        media,
        [
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"en\",NAME=\"en\",AUTOSELECT=YES,CHANNELS=\"2\"",
            french.as_str(),
        ],
        "{master}"
    );
    let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    let peak = audio.iter().map(|r| r.bandwidth).max().unwrap();
    let top = &parsed.variants[0];
    assert_eq!(top.bandwidth, output.renditions[0].bandwidth + peak);
    assert_eq!(top.codecs.as_deref().unwrap().matches("mp4a").count(), 1);

    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches(r#"contentType="audio""#).count(), 2, "{mpd}");
    for needle in [
        r#"<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en""#,
        r#"<AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="fr""#,
        "<BaseURL>v1/audio_1.mp4</BaseURL>",
    ] {
        assert!(mpd.contains(needle), "{needle} missing in\n{mpd}");
    }

    assert_eq!(
        output.captions,
        [EmbeddedCaption {
            file: "text_0.vtt".into(),
            language: "es".into(),
            label: None,
            kind: CaptionKind::Subtitles,
        }]
    );
    assert!(output.files.contains(&"text_0.vtt".to_owned()));
    let vtt = std::fs::read_to_string(out.join("text_0.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    let cues = vtt_cues(&vtt);
    let expected = [
        (0.5, 2.0, "Hola &amp; adiós"),
        (2.5, 4.25, "Dos líneas\nsegunda"),
    ];
    assert_eq!(cues.len(), expected.len(), "{vtt}");
    for ((start, end, text), (want_start, want_end, want_text)) in cues.iter().zip(expected) {
        assert!(
            (start - want_start).abs() < 0.02 && (end - want_end).abs() < 0.02,
            "{start}..{end} for {want_text:?} in\n{vtt}"
        );
        assert_eq!(text, want_text, "{vtt}");
    }
}

#[test]
fn matroska_text_streams_keep_their_title_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("subs.srt");
    std::fs::write(&srt, SPANISH_SRT).unwrap();
    // The same cues as SubRip (for the hearing impaired, titled) and as ASS,
    // with a titled German audio stream.
    let input = generate(
        dir.path(),
        "texts.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=5",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:d=5",
            "-i",
            srt.to_str().unwrap(),
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-map",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-c:s:0",
            "srt",
            "-c:s:1",
            "ass",
            "-metadata:s:a:0",
            "language=ger",
            "-metadata:s:a:0",
            "title=Kommentar",
            "-metadata:s:s:0",
            "language=ger",
            "-metadata:s:s:0",
            "title=SDH",
            "-disposition:s:0",
            "hearing_impaired",
        ],
    );
    let out = dir.path().join("out");
    let output = run(&input, &out, &options()).unwrap();
    let audio = output.renditions.last().unwrap();
    assert_eq!(
        (
            audio.name.as_str(),
            audio.language.as_deref(),
            audio.label.as_deref(),
            audio.default
        ),
        ("audio", Some("de"), Some("Kommentar"), true)
    );
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(
        master.contains("LANGUAGE=\"de\",NAME=\"Kommentar\",DEFAULT=YES"),
        "{master}"
    );
    assert_eq!(
        output.captions,
        [
            EmbeddedCaption {
                file: "text_0.vtt".into(),
                language: "de".into(),
                label: Some("SDH".into()),
                kind: CaptionKind::Captions,
            },
            EmbeddedCaption {
                file: "text_1.vtt".into(),
                language: "und".into(),
                label: None,
                kind: CaptionKind::Subtitles,
            },
        ]
    );
    for file in ["text_0.vtt", "text_1.vtt"] {
        assert!(output.files.contains(&file.to_owned()), "{file} not listed");
        let vtt = std::fs::read_to_string(out.join(file)).unwrap();
        let texts: Vec<String> = vtt_cues(&vtt).into_iter().map(|c| c.2).collect();
        assert_eq!(
            texts,
            ["Hola &amp; adiós", "Dos líneas\nsegunda"],
            "{file}:\n{vtt}"
        );
    }
}

#[test]
fn an_av1_ladder_joins_h264_with_the_same_keyframes_and_only_video() {
    check_joining_ladder(VideoCodec::Av1, LadderMode::Fixed, "av01.0.", "M.08", "av1");
}

#[test]
fn an_hevc_ladder_joins_h264_with_the_same_keyframes_and_only_video() {
    // Main profile, Main tier, progressive frames only (constraint byte
    // 0x90), in `hvc1` sample entries (parameter sets out of band, as
    // Apple's players require); per-title, so x265's capped CRF and the
    // rung measure's HEVC decode are exercised too.
    check_joining_ladder(
        VideoCodec::Hevc,
        LadderMode::PerTitle,
        "hvc1.1.6.L",
        ".90",
        "hevc",
    );
}

/// Transcodes a clip to H.264 and, video only, to `codec` (both in
/// `mode`): the `codec`
/// ladder has H.264's rungs (named with its suffix), its keyframes on the
/// same frames, codec strings starting with `prefix` and ending with
/// `suffix`, ffprobe's `codec_name`, a sample entry named as the codec
/// string says, files that decode without an error, its own playlists and
/// one DASH `AdaptationSet`.
fn check_joining_ladder(
    codec: VideoCodec,
    mode: LadderMode,
    prefix: &str,
    suffix: &str,
    codec_name: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), "in.mp4", "854x480", 5, true);
    let h264_dir = dir.path().join("h264");
    let h264_options = TranscodeOptions {
        ladder_mode: mode,
        ..options()
    };
    let h264 = run(&input, &h264_dir, &h264_options).unwrap();
    let codec_dir = dir.path().join(codec.as_str());
    let codec_options = TranscodeOptions {
        codec,
        video_only: true,
        ..h264_options
    };
    let ladder = run(&input, &codec_dir, &codec_options).unwrap();
    let rung_name = |h264_name: &str| format!("{h264_name}{}", codec.rendition_suffix());
    assert_eq!(
        names(&ladder),
        ["480p", "360p", "240p"].map(rung_name),
        "{codec}"
    );
    assert!(ladder.captions.is_empty() && ladder.download.is_none());
    for file in &ladder.files {
        assert!(
            file.ends_with(".mp4") || file.ends_with(".m3u8") || file == "manifest.mpd",
            "a video-only ladder writes no {file}"
        );
    }
    check_media_playlists(&codec_dir, &ladder);
    check_iframe_playlists(&codec_dir, &ladder);
    let reference = gop_starts(&h264_dir.join("480p.mp4"));
    assert!(reference.len() >= 3, "keyframes every 2 s: {reference:?}");
    for rendition in &ladder.renditions {
        assert_eq!(rendition.kind, RenditionKind::Video);
        assert!(
            rendition.codecs.starts_with(prefix) && rendition.codecs.ends_with(suffix),
            "{rendition:?}"
        );
        let file = codec_dir.join(format!("{}.mp4", rendition.name));
        let probed = stream(&file);
        assert_eq!(probed["streams"][0]["codec_name"], codec_name);
        assert_eq!(probed["streams"][0]["codec_tag_string"], &prefix[..4]);
        let decoded = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(&file)
            .args(["-f", "null", "-"])
            .output()
            .expect("ffmpeg CLI is installed");
        assert!(
            decoded.status.success() && decoded.stderr.is_empty(),
            "{} does not decode cleanly: {}",
            rendition.name,
            String::from_utf8_lossy(&decoded.stderr)
        );
        assert_eq!(
            gop_starts(&file),
            reference,
            "{} keyframes differ from H.264's",
            rendition.name
        );
        let h264_rung = h264
            .renditions
            .iter()
            .find(|r| rung_name(&r.name) == rendition.name)
            .unwrap();
        assert_eq!(
            (rendition.width, rendition.height),
            (h264_rung.width, h264_rung.height)
        );
    }
    let master = std::fs::read_to_string(codec_dir.join("master.m3u8")).unwrap();
    let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
    assert!(parsed.alternatives.is_empty(), "no audio group: {master}");
    for variant in parsed.variants.iter().filter(|v| !v.is_i_frame) {
        assert!(variant.codecs.as_deref().unwrap().starts_with(prefix));
        let playlist = format!("{}.m3u8", codec.rendition_suffix());
        assert!(variant.uri.starts_with("v1/") && variant.uri.ends_with(&playlist));
    }
    let mpd = std::fs::read_to_string(codec_dir.join("manifest.mpd")).unwrap();
    assert_eq!(mpd.matches("<AdaptationSet").count(), 1, "{mpd}");
    assert!(mpd.contains(&format!("codecs=\"{prefix}")), "{mpd}");
    check_declared_bandwidths(&codec_dir);
}

/// The keyframes' times from the file's first, in milliseconds: the same
/// frames start every GOP of every codec. (H.264's and HEVC's timestamps
/// start a few frames late, the reordering delay of their B-frames, which
/// the file's edit list takes back; AV1 reorders nothing.)
fn gop_starts(path: &Path) -> Vec<i64> {
    let times: Vec<f64> = keyframe_times(path)
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    times
        .iter()
        .map(|t| ((t - times[0]) * 1000.0).round() as i64)
        .collect()
}
