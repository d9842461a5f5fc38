//! End-to-end tests of `transcode` on media generated with the ffmpeg CLI
//! (lavfi sources), checked with ffprobe and m3u8-rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

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
    assert_eq!(err.code(), code, "{}: {err}", input.display());
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
    assert_eq!(output.files.len(), 5 * 2 + 2);

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
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    assert_eq!(master.variants.len(), 4);
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
        matches!(err.code(), "unsupported_format" | "invalid_media"),
        "{}: {err}",
        err.code()
    );
    assert_eq!(err.code(), "unsupported_format", "{err}");

    let concat = dir.path().join("concat.mp4");
    std::fs::write(&concat, "ffconcat version 1.0\nfile '/etc/passwd'\n").unwrap();
    let err = run(&concat, out.path(), &options()).unwrap_err();
    assert!(
        matches!(err.code(), "unsupported_format" | "invalid_media"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(out.path()).unwrap().next().is_none(),
        "nothing written"
    );
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
    assert_eq!(err.code(), "source_too_long", "{err}");
}
