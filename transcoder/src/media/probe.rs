//! Opening untrusted input safely and describing its streams.
//!
//! The input is opened with the protocols, demuxers and decoders of
//! [`crate::media::allow_list`] only, so a playlist or concat script disguised as
//! `.mp4` cannot make libavformat read other files or URLs, and probing
//! opens no decoder outside the list.
//! Besides geometry it reports what the ladder and the filter graph must
//! correct: rotation (display matrix or `rotate` tag), the video bitrate to
//! cap rungs at, and an HDR transfer function to tone-map. It also lists
//! every audio stream (language, title, which one is the default) and the
//! text subtitle streams whose decoder is on the allow-list; bitmap
//! subtitles and other streams are left out.

use std::path::Path;
use std::sync::OnceLock;

use ffmpeg_next::codec::packet::side_data;
use ffmpeg_next::color::{Primaries, TransferCharacteristic};
use ffmpeg_next::format::stream::Disposition;
use ffmpeg_next::{self as ffmpeg, codec, format, media, Rational};
use goflix_shared::captions::LanguageTag;
use goflix_shared::domain::CaptionKind;

use crate::media::allow_list;
use crate::media::error::MediaError;
use crate::media::ladder::SourceVideo;

/// How many bytes libavformat may read to identify streams.
const PROBE_SIZE: &str = "20000000";

/// An opened input and what the transcode needs to know about it.
pub struct Probe {
    /// The demuxer, positioned at the start.
    pub input: format::context::Input,
    /// The video stream to transcode.
    pub video: VideoStream,
    /// Every audio stream, in stream order; each becomes a rendition.
    pub audio: Vec<AudioStream>,
    /// Every text subtitle stream with an allowed decoder, in stream order.
    pub text: Vec<TextStream>,
    /// Container duration in seconds, if the container states one.
    pub duration_s: Option<f64>,
}

/// The chosen video stream.
pub struct VideoStream {
    /// Stream index in the container.
    pub index: usize,
    /// Stream time base.
    pub time_base: Rational,
    /// First timestamp in `time_base`; audio and video are shifted by it so output starts at 0.
    pub start_time: i64,
    /// Stream duration in seconds, if the container states one.
    pub duration_s: Option<f64>,
    /// Geometry, rotation, frame rate and bitrate for the ladder.
    pub source: SourceVideo,
    /// Dynamic range and gamut, for the filter graph.
    pub range: DynamicRange,
}

/// An audio stream of the source and how players should present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStream {
    /// Stream index in the container.
    pub index: usize,
    /// The stated language (`und` when none or not a language).
    pub language: LanguageTag,
    /// The stream's `title`, if it has one.
    pub label: Option<String>,
    /// The one stream players pick by default: the first with the default
    /// disposition, else the first audio stream.
    pub default: bool,
}

/// A text subtitle stream of the source, to extract as WebVTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextStream {
    /// Stream index in the container.
    pub index: usize,
    /// The stated language (`und` when none or not a language).
    pub language: LanguageTag,
    /// The stream's `title`, if it has one.
    pub label: Option<String>,
    /// `Captions` when the stream is marked for the hearing impaired.
    pub kind: CaptionKind,
}

/// What the source's colour metadata says about its dynamic range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamicRange {
    /// Standard dynamic range, BT.709 or BT.601 primaries (or untagged).
    Sdr,
    /// SDR transfer but BT.2020 primaries: needs a gamut conversion.
    WideGamut,
    /// HDR10 / Dolby Vision base layer: SMPTE ST 2084 (PQ) transfer.
    Pq,
    /// Hybrid log-gamma (ARIB STD-B67) transfer.
    Hlg,
}

/// Opens `path` within the allow-list, picks the best video stream and
/// lists the audio and text streams.
pub fn open(path: &Path, max_duration_s: f64) -> Result<Probe, MediaError> {
    init()?;
    let path = path
        .to_str()
        .ok_or_else(|| MediaError::Internal("input path is not UTF-8".into()))?;
    let mut options = crate::media::allow_list::format_options();
    options.set("probesize", PROBE_SIZE);
    // `file:` keeps a colon in the path from being read as a protocol name.
    let input =
        format::input_with_dictionary(&format!("file:{path}"), options).map_err(open_error)?;

    let audio = describe_audio(&input);
    let audio_bit_rate: i64 = input
        .streams()
        .filter(|stream| stream.parameters().medium() == media::Type::Audio)
        .map(|stream| stream.parameters().bit_rate().max(0))
        .sum();
    let container_bit_rate = (input.bit_rate() - audio_bit_rate).max(0);
    let video = match input.streams().best(media::Type::Video) {
        Some(stream) => describe_video(&stream, container_bit_rate)?,
        None if !audio.is_empty() => return Err(MediaError::AudioOnly),
        None => return Err(MediaError::NoVideoStream),
    };
    let duration_s = (input.duration() > 0)
        .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    if let Some(actual_s) = duration_s.filter(|&d| d > max_duration_s) {
        return Err(MediaError::SourceTooLong {
            actual_s,
            limit_s: max_duration_s,
        });
    }
    let text = describe_text(&input);
    Ok(Probe {
        input,
        video,
        audio,
        text,
        duration_s,
    })
}

/// Every audio stream in stream order, exactly one of them the default.
/// Streams whose codec is off the allow-list are left out (with a warning)
/// when another one is decodable: a master with AAC beside DTS still plays
/// in AAC. When none is, they are all kept, and the pipeline refuses the
/// master as `unsupported_format`.
fn describe_audio(input: &format::context::Input) -> Vec<AudioStream> {
    let audio: Vec<format::stream::Stream> = input
        .streams()
        .filter(|stream| stream.parameters().medium() == media::Type::Audio)
        .collect();
    let decodable = audio.iter().any(|s| is_allowed(s.parameters().id()));
    let streams: Vec<format::stream::Stream> = audio
        .into_iter()
        .filter(|stream| {
            let keep = !decodable || is_allowed(stream.parameters().id());
            if !keep {
                tracing::warn!(
                    index = stream.index(),
                    codec = ?stream.parameters().id(),
                    "leaving out an audio stream whose codec is not accepted"
                );
            }
            keep
        })
        .collect();
    let default = streams
        .iter()
        .position(|stream| stream.disposition().contains(Disposition::DEFAULT))
        .unwrap_or(0);
    streams
        .iter()
        .enumerate()
        .map(|(position, stream)| AudioStream {
            index: stream.index(),
            language: language(stream),
            label: label(stream),
            default: position == default,
        })
        .collect()
}

/// Every subtitle stream whose codec the allow-list decodes (the text
/// ones), in stream order.
fn describe_text(input: &format::context::Input) -> Vec<TextStream> {
    input
        .streams()
        .filter(|stream| stream.parameters().medium() == media::Type::Subtitle)
        .filter(|stream| is_allowed(stream.parameters().id()))
        .map(|stream| TextStream {
            index: stream.index(),
            language: language(&stream),
            label: label(&stream),
            kind: if stream.disposition().contains(Disposition::HEARING_IMPAIRED) {
                CaptionKind::Captions
            } else {
                CaptionKind::Subtitles
            },
        })
        .collect()
}

fn is_allowed(id: codec::Id) -> bool {
    allow_list::check_decoder(id).is_ok()
}

/// The stream's `language` tag as BCP 47 (`und` when absent).
fn language(stream: &format::stream::Stream) -> LanguageTag {
    LanguageTag::from_container(stream.metadata().get("language").unwrap_or_default())
}

/// The stream's `title`, if it has a non-blank one.
fn label(stream: &format::stream::Stream) -> Option<String> {
    let metadata = stream.metadata();
    let title = metadata.get("title")?.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Initialises libav* once per process and keeps its log to warnings and
/// errors (x264's per-encoder statistics are not worth a log line per job).
fn init() -> Result<(), MediaError> {
    static INIT: OnceLock<Result<(), ffmpeg::Error>> = OnceLock::new();
    INIT.get_or_init(|| {
        ffmpeg::init()?;
        ffmpeg::log::set_level(ffmpeg::log::Level::Warning);
        Ok(())
    })
    .map_err(|e| MediaError::internal("initialising ffmpeg", e))
}

/// Maps an open failure: a format refused by the whitelist is `unsupported_format`,
/// anything else (empty, random, truncated) is `invalid_media`.
fn open_error(err: ffmpeg::Error) -> MediaError {
    match err {
        ffmpeg::Error::Other {
            errno: ffmpeg::error::EINVAL,
        } => MediaError::UnsupportedFormat("the container is not an accepted video format".into()),
        ffmpeg::Error::ProtocolNotFound => {
            MediaError::UnsupportedFormat("the input references a forbidden protocol".into())
        }
        other => MediaError::InvalidMedia(other.to_string()),
    }
}

/// Describes the video stream; `container_bit_rate` (container rate minus
/// audio) stands in when the stream states no bitrate of its own.
fn describe_video(
    stream: &format::stream::Stream,
    container_bit_rate: i64,
) -> Result<VideoStream, MediaError> {
    let params = stream.parameters();
    // SAFETY: `params` borrows the stream's AVCodecParameters, valid while `stream` lives.
    let (width, height, sar, transfer, primaries) = unsafe {
        let raw = &*params.as_ptr();
        (
            raw.width,
            raw.height,
            raw.sample_aspect_ratio,
            TransferCharacteristic::from(raw.color_trc),
            Primaries::from(raw.color_primaries),
        )
    };
    if width <= 0 || height <= 0 {
        return Err(MediaError::InvalidMedia(
            "the video stream has no dimensions".into(),
        ));
    }
    let mut rate = stream.avg_frame_rate();
    if rate.numerator() <= 0 || rate.denominator() <= 0 {
        rate = stream.rate();
    }
    let time_base = stream.time_base();
    let start_time = match stream.start_time() {
        ffmpeg::ffi::AV_NOPTS_VALUE => 0,
        start => start,
    };
    let duration_s =
        (stream.duration() > 0).then(|| stream.duration() as f64 * f64::from(time_base));
    let bit_rate = match params.bit_rate() {
        rate if rate > 0 => rate,
        _ => container_bit_rate,
    };
    let range = match (transfer, primaries) {
        (TransferCharacteristic::SMPTE2084, _) => DynamicRange::Pq,
        (TransferCharacteristic::ARIB_STD_B67, _) => DynamicRange::Hlg,
        (_, Primaries::BT2020) => DynamicRange::WideGamut,
        _ => DynamicRange::Sdr,
    };
    Ok(VideoStream {
        index: stream.index(),
        time_base,
        start_time,
        duration_s,
        source: SourceVideo {
            width: width as u32,
            height: height as u32,
            sample_aspect: (non_negative(sar.num), non_negative(sar.den)),
            frame_rate: (
                non_negative(rate.numerator()),
                non_negative(rate.denominator()),
            ),
            rotation: rotation(stream),
            bit_rate: u64::try_from(bit_rate).unwrap_or(0),
        },
        range,
    })
}

/// The clockwise rotation a player applies, from the display matrix (or the
/// legacy `rotate` tag), rounded to a multiple of 90 degrees.
fn rotation(stream: &format::stream::Stream) -> u32 {
    let matrix = stream
        .side_data()
        .find(|data| data.kind() == side_data::Type::DisplayMatrix)
        .and_then(|data| {
            let bytes = data.data();
            (bytes.len() >= 36).then(|| {
                let mut matrix = [0i32; 9];
                for (value, chunk) in matrix.iter_mut().zip(bytes.chunks_exact(4)) {
                    *value = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                }
                matrix
            })
        });
    let degrees = match matrix {
        // av_display_rotation_get is counter-clockwise; the player turns the other way.
        // SAFETY: `matrix` is the nine 32-bit values the function reads.
        Some(matrix) => -unsafe { ffmpeg::ffi::av_display_rotation_get(matrix.as_ptr()) },
        None => stream
            .metadata()
            .get("rotate")
            .and_then(|tag| tag.trim().parse::<f64>().ok())
            .unwrap_or(0.0),
    };
    if !degrees.is_finite() {
        return 0;
    }
    ((degrees / 90.0).round() as i64).rem_euclid(4) as u32 * 90
}

fn non_negative(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}
