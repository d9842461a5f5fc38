//! CMAF packaging: every rendition is one fragmented MP4 (`ftyp`, `moov`,
//! `sidx`, then `moof`/`mdat` pairs) written by the pipeline; this module
//! indexes each file (segments, and for video each segment's keyframe) and
//! describes it as a [`Rendition`] for the manifests. Audio renditions are
//! named by their position among the source's audio streams
//! ([`audio_name`]).

use std::path::Path;

use goflix_mp4::{codecs, index};

use goflix_shared::domain::{Rendition, RenditionKind};
use goflix_shared::layout;

use crate::media::error::MediaError;
use crate::media::ladder::Rung;
use crate::media::probe::AudioStream;
use index::{ByteRange, TrackIndex};

/// The name (and file stem) of the first audio rendition; the others add
/// `_1`, `_2`, … ([`audio_name`]).
pub const AUDIO_NAME: &str = "audio";

/// Channels of every audio rendition (downmixed to stereo).
pub const AUDIO_CHANNELS: u32 = 2;

/// The name (and file stem) of the audio rendition of the source's
/// `position`-th audio stream: `audio`, `audio_1`, `audio_2`, …
pub fn audio_name(position: usize) -> String {
    match position {
        0 => AUDIO_NAME.to_owned(),
        n => format!("{AUDIO_NAME}_{n}"),
    }
}

/// The rendition of `stream` named `name`, at the given rates.
pub fn audio_rendition(
    name: &str,
    stream: &AudioStream,
    bandwidth: u64,
    average_bandwidth: u64,
) -> Rendition {
    Rendition {
        name: name.to_owned(),
        kind: RenditionKind::Audio,
        width: None,
        height: None,
        frame_rate: None,
        codecs: codecs::AAC_LC.to_owned(),
        bandwidth,
        average_bandwidth,
        language: Some(stream.language.to_string()),
        label: stream.label.clone(),
        default: stream.default,
        channels: Some(AUDIO_CHANNELS),
    }
}

/// A written rendition file, indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Packaged {
    /// What the API and manifests say about it.
    pub rendition: Rendition,
    /// File name in the output folder, e.g. `720p.mp4`.
    pub file: String,
    /// Byte ranges and durations inside the file.
    pub index: TrackIndex,
    /// Video only: per segment, its `moof` through its keyframe's data.
    pub keyframes: Vec<ByteRange>,
}

/// Indexes `{rung}.mp4`.
pub fn video(out_dir: &Path, rung: &Rung, frame_rate: (u32, u32)) -> Result<Packaged, MediaError> {
    let file = layout::rendition_file(&rung.name);
    let data = read(out_dir, &file)?;
    let index = index_of(&file, &data)?;
    let codecs = codecs::video(&data, index.init)
        .map_err(|e| MediaError::internal(&format!("reading the codec of {file}"), e))?;
    let keyframes = index::keyframes(&data, &index)
        .map_err(|e| MediaError::internal(&format!("finding the keyframes of {file}"), e))?;
    Ok(Packaged {
        rendition: Rendition {
            name: rung.name.clone(),
            kind: RenditionKind::Video,
            width: Some(rung.width),
            height: Some(rung.height),
            frame_rate: Some(f64::from(frame_rate.0) / f64::from(frame_rate.1)),
            codecs,
            bandwidth: index.peak_bandwidth(),
            average_bandwidth: index.average_bandwidth(),
            language: None,
            label: None,
            default: false,
            channels: None,
        },
        file,
        index,
        keyframes,
    })
}

/// Indexes `{name}.mp4`, the rendition of audio stream `stream`.
pub fn audio(out_dir: &Path, name: &str, stream: &AudioStream) -> Result<Packaged, MediaError> {
    let file = layout::rendition_file(name);
    let data = read(out_dir, &file)?;
    let index = index_of(&file, &data)?;
    Ok(Packaged {
        rendition: audio_rendition(
            name,
            stream,
            index.peak_bandwidth(),
            index.average_bandwidth(),
        ),
        file,
        index,
        keyframes: Vec::new(),
    })
}

fn read(out_dir: &Path, file: &str) -> Result<Vec<u8>, MediaError> {
    std::fs::read(out_dir.join(file))
        .map_err(|e| MediaError::internal(&format!("reading {file}"), e))
}

fn index_of(file: &str, data: &[u8]) -> Result<TrackIndex, MediaError> {
    index::parse(data).map_err(|e| MediaError::internal(&format!("indexing {file}"), e))
}
