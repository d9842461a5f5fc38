//! What an upload may make FFmpeg run: the one list of protocols, demuxers
//! and decoders. Everything else in the linked libraries stays unreachable
//! from a master, so a bug in a rarely used demuxer or decoder is not
//! attack surface.
//!
//! - Protocols: `file` only.
//! - Demuxers: self-contained containers; none follows references to
//!   other files. Deliberately absent: `hls`, `dash`, `concat`, `image2`,
//!   `*_pipe`, `mpjpeg`, `tee`…
//! - Decoders: the video codecs of cameras, phones, editing and delivery,
//!   the audio codecs those containers carry, and the text subtitle codecs
//!   they carry (MP4 timed text, SubRip, WebVTT, ASS/SSA), whose streams
//!   are extracted as WebVTT. Deliberately absent: image and screen
//!   codecs, bitmap subtitles (`dvdsub`, `pgssub`, `dvbsub`), lossless
//!   archival video (`ffv1`, `huffyuv`), and everything obscure. Enforced twice: libavformat opens only these
//!   while probing streams ([`format_options`]), and the pipeline refuses
//!   to open any other ([`check_decoder`]).

use crate::media::error::MediaError;
use ffmpeg_next::{self as ffmpeg, codec};
use std::sync::OnceLock;

/// Protocols an upload may be read through.
const PROTOCOLS: &str = "file";

/// Demuxers an upload may use.
const DEMUXERS: &str = "mov,mp4,matroska,webm,avi,flv,mpegts,mpeg,ogg,ivf,h264,hevc";

/// Codecs an upload's streams may be decoded from.
const DECODERS: &[codec::Id] = &[
    // Video.
    codec::Id::H264,
    codec::Id::HEVC,
    codec::Id::AV1,
    codec::Id::VP8,
    codec::Id::VP9,
    codec::Id::MPEG4,
    codec::Id::MPEG2VIDEO,
    codec::Id::MPEG1VIDEO,
    codec::Id::PRORES,
    codec::Id::DNXHD,
    // Audio.
    codec::Id::AAC,
    codec::Id::MP3,
    codec::Id::MP2,
    codec::Id::OPUS,
    codec::Id::VORBIS,
    codec::Id::AC3,
    codec::Id::EAC3,
    codec::Id::FLAC,
    codec::Id::ALAC,
    codec::Id::PCM_S16LE,
    codec::Id::PCM_S16BE,
    codec::Id::PCM_S24LE,
    codec::Id::PCM_S24BE,
    // Text subtitles. FFmpeg 5.1 decodes SubRip (decoders `subrip`, `srt`)
    // and ASS/SSA (decoders `ass`, `ssa`) under the ids `SUBRIP` and
    // `ASS`; it has no decoder for the ids `SRT` and `SSA`.
    codec::Id::MOV_TEXT,
    codec::Id::SUBRIP,
    codec::Id::WEBVTT,
    codec::Id::ASS,
];

/// The options that confine libavformat when it opens an upload.
pub fn format_options() -> ffmpeg::Dictionary<'static> {
    let mut options = ffmpeg::Dictionary::new();
    options.set("protocol_whitelist", PROTOCOLS);
    options.set("format_whitelist", DEMUXERS);
    options.set("codec_whitelist", decoder_names());
    options
}

/// Refuses a stream whose codec is not on the list, before any decoder
/// for it is opened.
pub fn check_decoder(id: codec::Id) -> Result<(), MediaError> {
    if DECODERS.contains(&id) {
        Ok(())
    } else {
        Err(MediaError::UnsupportedCodec(format!(
            "{id:?} is not an accepted codec"
        )))
    }
}

/// The names of every decoder FFmpeg has for the listed codecs (a codec
/// may have several, e.g. `libdav1d` and `av1`), comma-separated.
fn decoder_names() -> &'static str {
    static NAMES: OnceLock<String> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = Vec::new();
        let mut opaque = std::ptr::null_mut();
        // SAFETY: av_codec_iterate walks FFmpeg's static codec table with
        // `opaque` as its cursor; the codecs and their names live as long
        // as the process.
        unsafe {
            loop {
                let codec = ffmpeg::ffi::av_codec_iterate(&mut opaque);
                if codec.is_null() {
                    break;
                }
                if ffmpeg::ffi::av_codec_is_decoder(codec) != 0
                    && DECODERS.contains(&codec::Id::from((*codec).id))
                {
                    let name = std::ffi::CStr::from_ptr((*codec).name);
                    names.push(name.to_string_lossy().into_owned());
                }
            }
        }
        names.join(",")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decoder_of_a_listed_codec_is_named_and_no_other() {
        let names: Vec<&str> = decoder_names().split(',').collect();
        for name in [
            "h264", "hevc", "aac", "opus", "ac3", "eac3", "mov_text", "subrip", "srt", "webvtt",
            "ass", "ssa",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        for name in [
            "ffv1", "mjpeg", "png", "dvdsub", "pgssub", "dvbsub", "microdvd",
        ] {
            assert!(!names.contains(&name), "{name} in {names:?}");
        }
    }

    #[test]
    fn a_codec_off_the_list_is_refused_as_unsupported() {
        assert!(check_decoder(codec::Id::H264).is_ok());
        assert!(check_decoder(codec::Id::MOV_TEXT).is_ok());
        assert!(check_decoder(codec::Id::HDMV_PGS_SUBTITLE).is_err());
        let refused = check_decoder(codec::Id::FFV1).unwrap_err();
        assert_eq!(refused.code().as_str(), "unsupported_format", "{refused}");
    }
}
