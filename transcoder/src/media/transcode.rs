//! The transcoder's entry point: probe → ladder → pipeline → packaging →
//! HLS (media, I-frame and master playlists) and DASH manifests, plus the
//! poster, the storyboard and a WebVTT file per text stream of the source,
//! all into one flat output folder. A `per-title` ladder measures its rungs
//! after the pass and drops those that look no better than the rung below
//! ([`crate::media::quality`]) before packaging. Given a live folder, it
//! writes the live plan ([`crate::media::live::write_plan`]) once the
//! pipeline is open and before it runs. The ladder is one codec's
//! ([`TranscodeOptions::codec`]); a `video_only` transcode (the AV1 ladder
//! joining a published H.264 version) writes its video renditions and
//! their manifests alone.

use std::path::Path;

use goflix_shared::domain::{DownloadProfile, EmbeddedCaption, LadderMode, Rendition, VideoCodec};
use goflix_shared::layout::{self, DOWNLOAD};

use crate::media::error::MediaError;
use crate::media::ladder::{Ladder, RungSpec};
use crate::media::package::{self, Packaged};
use crate::media::pipeline::{self, Cancel, Settings};
use crate::media::quality::{self, References, RungQuality};
use crate::media::{dash, hls, ladder, live, probe};

/// Name of the HLS multivariant playlist in the output folder.
pub const MASTER_PLAYLIST: &str = "master.m3u8";

/// Name of the DASH manifest in the output folder.
pub const DASH_MANIFEST: &str = "manifest.mpd";

/// Tunables of one transcode.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeOptions {
    /// Keyframe interval, fragment and segment length, in seconds.
    pub segment_seconds: u32,
    /// libx264 preset (`veryfast`, `medium`, …) for rungs without their own.
    pub x264_preset: String,
    /// The rungs to encode, highest first: height, bitrate and optional
    /// preset each; those above the source are skipped.
    pub ladder: Vec<RungSpec>,
    /// x264 threads per rung; 0 shares the machine's cores by pixel count.
    pub x264_threads: usize,
    /// Seconds between storyboard thumbnails (more when the video is long).
    pub storyboard_interval_s: f64,
    /// Longest accepted source; longer ones fail with `source_too_long`.
    pub max_duration_s: f64,
    /// Put before every URI in `master.m3u8` and `manifest.mpd`, e.g. the
    /// version folder `0193abc…/`. Media playlists name their `.mp4` bare.
    pub uri_prefix: String,
    /// Set from another thread to stop the transcode between frames (it
    /// then fails with an internal error); never set by default.
    pub cancel: Cancel,
    /// Where to write a live copy of every rendition while encoding, for
    /// progressive publishing ([`crate::media::live`]); none by default.
    pub live_dir: Option<std::path::PathBuf>,
    /// Also write `download.mp4`, a progressive MP4 of the tallest rung at
    /// most this high (the smallest when all are taller) and the default
    /// audio, remuxed from their CMAF files; none by default.
    pub download_max_height: Option<u32>,
    /// How the rungs' bitrates are chosen ([`ladder::plan`]); fixed by default.
    pub ladder_mode: LadderMode,
    /// The codec of the ladder; H.264 by default.
    pub codec: VideoCodec,
    /// Encode the video ladder only, for a version that already has the
    /// rest: no audio, poster, storyboard, captions or download. Its
    /// `master.m3u8` lists video variants alone and its `manifest.mpd` a
    /// video adaptation set alone, for the control plane to merge.
    pub video_only: bool,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        Self {
            segment_seconds: 2,
            x264_preset: "veryfast".to_owned(),
            ladder: ladder::default_rungs(),
            x264_threads: 0,
            storyboard_interval_s: 2.0,
            max_duration_s: 4.0 * 3600.0,
            uri_prefix: String::new(),
            cancel: Cancel::default(),
            live_dir: None,
            download_max_height: None,
            ladder_mode: LadderMode::Fixed,
            codec: VideoCodec::H264,
            video_only: false,
        }
    }
}

/// What a transcode produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranscodeOutput {
    /// Duration of the top video rendition in seconds.
    pub duration_s: f64,
    /// Video renditions highest first, then one audio rendition per audio
    /// stream of the source (`audio`, `audio_1`, …), if it has sound.
    pub renditions: Vec<Rendition>,
    /// Every file written into the output folder: renditions, playlists,
    /// manifests, `poster.jpg`, `storyboard.jpg`, `storyboard.vtt` and the
    /// captions' `text_{n}.vtt`.
    pub files: Vec<String>,
    /// The source's text streams written as WebVTT, in stream order.
    #[serde(default)]
    pub captions: Vec<EmbeddedCaption>,
    /// The rendition `download.mp4` was made from, when one was asked for.
    #[serde(default)]
    pub download: Option<String>,
    /// What a `per-title` ladder measured of every rung it encoded, highest
    /// first, and which it kept; empty for `fixed`.
    #[serde(default)]
    pub quality: Vec<RungQuality>,
}

/// Transcodes `input` (a local file) into `out_dir`. Blocking: run it on a
/// blocking thread. `progress` receives 0.0..=1.0 a few times per second.
pub fn transcode(
    input: &Path,
    out_dir: &Path,
    opts: &TranscodeOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<TranscodeOutput, MediaError> {
    if opts.segment_seconds == 0 {
        return Err(MediaError::Internal(
            "segment_seconds must be at least 1".into(),
        ));
    }
    if opts.ladder.is_empty() {
        return Err(MediaError::Internal("the ladder has no rungs".into()));
    }
    std::fs::create_dir_all(out_dir)
        .map_err(|e| MediaError::internal(&format!("creating {}", out_dir.display()), e))?;
    let probe = probe::open(input, opts.max_duration_s)?;
    let mut ladder = ladder::plan(
        &probe.video.source,
        &opts.ladder,
        &opts.x264_preset,
        opts.ladder_mode,
        opts.codec,
    );
    let settings = Settings {
        segment_seconds: opts.segment_seconds,
        max_duration_s: opts.max_duration_s,
        x264_threads: opts.x264_threads,
        storyboard_interval_s: opts.storyboard_interval_s,
        cancel: opts.cancel.clone(),
        live_dir: opts.live_dir.clone(),
        measure_quality: opts.ladder_mode == LadderMode::PerTitle,
        video_only: opts.video_only,
    };
    let pipeline = pipeline::open(probe, &ladder, out_dir, &settings)?;
    if let Some(dir) = &opts.live_dir {
        // The publisher waits for the plan: written once every rendition's
        // live copy is open, before the first segment is.
        live::write_plan(dir, &ladder, &pipeline.audio())?;
    }
    let mut encoded = pipeline.run(progress)?;
    let quality = match encoded.references.take() {
        Some(references) => drop_invisible_rungs(&mut ladder, out_dir, &references)?,
        None => Vec::new(),
    };

    let video = ladder
        .rungs
        .iter()
        .map(|rung| package::video(out_dir, rung, ladder.frame_rate))
        .collect::<Result<Vec<_>, _>>()?;
    let audio = encoded
        .audio
        .iter()
        .enumerate()
        .map(|(position, stream)| package::audio(out_dir, &package::audio_name(position), stream))
        .collect::<Result<Vec<_>, _>>()?;
    let tracks: Vec<&Packaged> = video.iter().chain(&audio).collect();
    let duration_s = video[0].index.duration();

    let mut files = Vec::new();
    let target = hls::target_duration(tracks.iter().map(|t| &t.index));
    for track in &tracks {
        files.push(track.file.clone());
        let name = hls::playlist_name(track);
        write(
            out_dir,
            &name,
            &hls::media_playlist(&track.file, &track.index, target),
        )?;
        files.push(name);
    }
    for track in &video {
        let name = hls::iframe_playlist_name(track);
        write(
            out_dir,
            &name,
            &hls::iframe_playlist(&track.file, &track.index, &track.keyframes, target),
        )?;
        files.push(name);
    }
    write(
        out_dir,
        MASTER_PLAYLIST,
        &hls::master_playlist(&video, &audio, &opts.uri_prefix),
    )?;
    files.push(MASTER_PLAYLIST.to_owned());
    let mpd = dash::manifest(
        &video,
        &audio,
        ladder.frame_rate,
        duration_s,
        opts.segment_seconds,
        &opts.uri_prefix,
    );
    write(out_dir, DASH_MANIFEST, &mpd)?;
    files.push(DASH_MANIFEST.to_owned());
    files.extend(encoded.assets);
    files.extend(encoded.captions.iter().map(|caption| caption.file.clone()));
    let download = match opts.download_max_height.filter(|_| !opts.video_only) {
        Some(max_height) => write_download(out_dir, &video, &audio, max_height)?,
        None => None,
    };
    if download.is_some() {
        files.push(DOWNLOAD.to_owned());
    }

    progress(1.0);
    Ok(TranscodeOutput {
        duration_s,
        renditions: tracks.iter().map(|t| t.rendition.clone()).collect(),
        files,
        captions: encoded.captions,
        download,
        quality,
    })
}

/// Measures every rung against the references, removes from `ladder` (and
/// deletes the files of) those [`quality::keep`] drops, and says what it found.
fn drop_invisible_rungs(
    ladder: &mut Ladder,
    out_dir: &Path,
    references: &References,
) -> Result<Vec<RungQuality>, MediaError> {
    let measured = ladder
        .rungs
        .iter()
        .map(|rung| {
            quality::measure(
                &out_dir.join(layout::rendition_file(&rung.name)),
                references,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let kept = quality::keep(&measured);
    let report: Vec<RungQuality> = ladder
        .rungs
        .iter()
        .zip(&measured)
        .zip(&kept)
        .filter_map(|((rung, error), &kept)| {
            error.map(|error| RungQuality {
                name: rung.name.clone(),
                psnr_db: quality::psnr_of(error),
                kept,
            })
        })
        .collect();
    let mut keeps = kept.iter();
    ladder.rungs.retain(|_| keeps.next() == Some(&true));
    for dropped in report.iter().filter(|rung| !rung.kept) {
        let file = out_dir.join(layout::rendition_file(&dropped.name));
        std::fs::remove_file(&file)
            .map_err(|e| MediaError::internal(&format!("removing {}", file.display()), e))?;
    }
    Ok(report)
}

/// Writes `download.mp4` from the renditions [`DownloadProfile::sources`]
/// chooses; returns the video rendition's name, or none for a source
/// without video (nothing to download).
fn write_download(
    out_dir: &Path,
    video: &[Packaged],
    audio: &[Packaged],
    max_height: u32,
) -> Result<Option<String>, MediaError> {
    let renditions: Vec<Rendition> = video
        .iter()
        .chain(audio)
        .map(|track| track.rendition.clone())
        .collect();
    let Some(sources) = DownloadProfile { max_height }.sources(&renditions) else {
        return Ok(None);
    };
    let file = |rendition: &Rendition| out_dir.join(layout::rendition_file(&rendition.name));
    let audio_file = sources.audio.map(file);
    goflix_mp4::progressive::write(
        &file(sources.video),
        audio_file.as_deref(),
        &out_dir.join(DOWNLOAD),
    )
    .map_err(|e| MediaError::internal("writing the download", e))?;
    Ok(Some(sources.video.name.clone()))
}

fn write(out_dir: &Path, name: &str, contents: &str) -> Result<(), MediaError> {
    std::fs::write(out_dir.join(name), contents)
        .map_err(|e| MediaError::internal(&format!("writing {name}"), e))
}
