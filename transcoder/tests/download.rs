//! The download file: a transcode's CMAF renditions remuxed by
//! `goflix_mp4::progressive::write` into one faststart MP4, checked with
//! ffprobe (streams, duration), the ffmpeg CLI (it decodes cleanly, to the
//! same frames as the rendition) and its top-level boxes (moov before mdat).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use goflix_mp4::progressive;
use goflix_transcoder::media::ladder::default_rungs;
use goflix_transcoder::{transcode, TranscodeOptions};
use serde_json::Value;
use tempfile::TempDir;

const SECONDS: f64 = 6.0;

/// `ffmpeg -v error -nostdin -i path args…`, which must succeed.
fn ffmpeg(path: &Path, args: &[&str]) -> Output {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(args)
        .output()
        .expect("the ffmpeg CLI is installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} on {}",
        path.display()
    );
    out
}

fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("the ffprobe CLI is installed");
    assert!(out.status.success(), "ffprobe {}", path.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn duration(probed: &Value) -> f64 {
    probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn codecs(probed: &Value) -> Vec<&str> {
    let streams = probed["streams"].as_array().unwrap();
    streams
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect()
}

/// A 6 s master, transcoded once (360p, 240p and audio) for every test.
fn transcoded() -> &'static (TempDir, f64) {
    static DIR: OnceLock<(TempDir, f64)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("master.mp4");
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y"])
            .args([
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=30:duration=6",
            ])
            .args(["-f", "lavfi", "-i", "sine=f=440:d=6"])
            .args(["-c:v", "libx264", "-c:a", "aac", "-shortest"])
            .arg(&master)
            .status()
            .unwrap();
        assert!(status.success(), "generating the master");
        let opts = TranscodeOptions {
            x264_preset: "superfast".into(),
            ladder: default_rungs()[3..].to_vec(),
            ..TranscodeOptions::default()
        };
        transcode(&master, &dir.path().join("out"), &opts, &mut |_| {}).unwrap();
        let master_duration = duration(&probe(&master));
        (dir, master_duration)
    })
}

fn out(name: &str) -> PathBuf {
    transcoded().0.path().join("out").join(name)
}

/// The types of the file's top-level boxes, in order.
fn top_level_boxes(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    let mut kinds = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let mut size = u64::from(u32::from_be_bytes(data[at..at + 4].try_into().unwrap()));
        if size == 1 {
            size = u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap());
        }
        kinds.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
        at += usize::try_from(size).unwrap();
    }
    kinds
}

/// Decodes `path` to nothing: no error output allowed.
fn assert_decodes(path: &Path) {
    let out = ffmpeg(path, &["-f", "null", "-"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The MD5 of every decoded video frame, without timestamps.
fn frame_hashes(path: &Path) -> Vec<String> {
    let out = ffmpeg(path, &["-map", "0:v", "-f", "framemd5", "-"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

#[test]
fn video_and_audio_become_one_faststart_mp4() {
    let master_duration = transcoded().1;
    let dest = out("download.mp4");
    let written = progressive::write(&out("360p.mp4"), Some(&out("audio.mp4")), &dest).unwrap();

    let probed = probe(&dest);
    assert_eq!(codecs(&probed), ["h264", "aac"]);
    let format_duration = duration(&probed);
    assert!(
        (format_duration - master_duration).abs() < 0.1,
        "{format_duration} vs master {master_duration}"
    );
    assert!((written.duration_s - SECONDS).abs() < 0.1, "{written:?}");
    assert_eq!(written.bytes, std::fs::metadata(&dest).unwrap().len());
    assert_eq!(top_level_boxes(&dest), ["ftyp", "moov", "mdat"]);
    assert!(!out("download.mp4.tmp").exists());
    assert_decodes(&dest);
    let frames = frame_hashes(&dest);
    assert_eq!(frames.len(), 180);
    assert_eq!(frames, frame_hashes(&out("360p.mp4")));
}

#[test]
fn video_alone_becomes_a_silent_mp4() {
    let dest = out("download_240p.mp4");
    let written = progressive::write(&out("240p.mp4"), None, &dest).unwrap();
    let probed = probe(&dest);
    assert_eq!(codecs(&probed), ["h264"]);
    assert!((duration(&probed) - SECONDS).abs() < 0.1, "{probed}");
    assert!((written.duration_s - SECONDS).abs() < 0.1, "{written:?}");
    assert_eq!(top_level_boxes(&dest), ["ftyp", "moov", "mdat"]);
    assert_decodes(&dest);
}

#[test]
fn audio_in_the_video_slot_is_refused() {
    let dest = out("wrong.mp4");
    let err = progressive::write(&out("audio.mp4"), None, &dest).unwrap_err();
    assert!(err.to_string().contains("not a Video track"), "{err}");
    assert!(!dest.exists());
}
