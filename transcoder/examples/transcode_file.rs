//! Transcodes one local file into a folder with Goflix's pipeline, for
//! benchmarks (`benches/transcoder.sh`) and for trying the ladder by hand:
//! `cargo run --release -p goflix-transcoder --example transcode_file -- IN OUT_DIR [PRESET [X264_THREADS [LIVE_DIR]]]`
//! (with `LIVE_DIR`, the live copy the worker publishes while encoding is written there too;
//! with `GOFLIX_DOWNLOADS=on`, `download.mp4` from the tallest rung at most
//! `GOFLIX_DOWNLOAD_HEIGHT`, default 720, high; `GOFLIX_LADDER=per-title`
//! for the per-title ladder, which also prints each rung's measured PSNR
//! and whether it was kept; `GOFLIX_CODEC=av1` or `hevc` for the
//! video-only AV1 or HEVC ladder a job joining a published version encodes).

use goflix_transcoder::{transcode, TranscodeOptions};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: transcode_file INPUT OUT_DIR [X264_PRESET [X264_THREADS [LIVE_DIR]]]");
        std::process::exit(2);
    }
    let mut options = TranscodeOptions::default();
    if let Some(preset) = args.get(3) {
        options.x264_preset = preset.clone();
    }
    if let Some(threads) = args.get(4) {
        options.x264_threads = threads.parse().unwrap_or_else(|_| {
            eprintln!("X264_THREADS must be a number (0: automatic)");
            std::process::exit(2);
        });
    }
    options.live_dir = args.get(5).map(Into::into);
    if let Ok(mode) = std::env::var("GOFLIX_LADDER") {
        options.ladder_mode = mode.parse().unwrap_or_else(|e| {
            eprintln!("GOFLIX_LADDER: {e}");
            std::process::exit(2);
        });
    }
    if let Ok(codec) = std::env::var("GOFLIX_CODEC") {
        options.codec = codec.parse().unwrap_or_else(|e| {
            eprintln!("GOFLIX_CODEC: {e}");
            std::process::exit(2);
        });
        options.video_only = options.codec != goflix_shared::domain::VideoCodec::H264;
    }
    if std::env::var("GOFLIX_DOWNLOADS").as_deref() == Ok("on") {
        let height = std::env::var("GOFLIX_DOWNLOAD_HEIGHT").unwrap_or_else(|_| "720".into());
        options.download_max_height = Some(height.parse().unwrap_or_else(|_| {
            eprintln!("GOFLIX_DOWNLOAD_HEIGHT must be a number of lines");
            std::process::exit(2);
        }));
    }
    let out = Path::new(&args[2]);
    std::fs::create_dir_all(out).expect("output folder");
    match transcode(Path::new(&args[1]), out, &options, &mut |_| {}) {
        Ok(output) => {
            for r in &output.renditions {
                println!(
                    "{} {}x{} peak {} avg {} {}",
                    r.name,
                    r.width.unwrap_or(0),
                    r.height.unwrap_or(0),
                    r.bandwidth,
                    r.average_bandwidth,
                    r.codecs
                );
            }
            for rung in &output.quality {
                let verdict = if rung.kept { "kept" } else { "dropped" };
                println!("quality {} psnr {:.2} {verdict}", rung.name, rung.psnr_db);
            }
        }
        Err(e) => {
            eprintln!("{}: {e}", e.code());
            std::process::exit(1);
        }
    }
}
