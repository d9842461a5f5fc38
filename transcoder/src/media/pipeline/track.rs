//! One rendition: its encoder (libx264, SVT-AV1, x265 or FFmpeg's native AAC) and the CMAF
//! muxer writing its single fragmented MP4, plus optionally a live copy of
//! the same packets cut by libavformat's `hls` muxer into an init segment,
//! one fMP4 file per segment and an `EVENT` playlist that grows as they are
//! completed (see `docs/design/progressive-publishing.md`).

use std::path::Path;

use ffmpeg_next::{
    self as ffmpeg, codec, color, encoder, format, Dictionary, Frame, Packet, Rational,
};

use goflix_shared::domain::VideoCodec;

use super::graph::AUDIO_RATE;
use crate::media::error::MediaError;
use crate::media::ladder::{RateControl, Rung};

/// `ftyp, moov, sidx, (moof, mdat)*`: fragments start at keyframes, one
/// global `sidx` indexes them, no `mfra` trailer.
const MOVFLAGS: &str = "+cmaf+frag_keyframe+global_sidx+skip_trailer";

/// The `hvc1` four-character code as FFmpeg's little-endian tag.
const HVC1_TAG: u32 = u32::from_le_bytes(*b"hvc1");

/// AAC-LC stereo bitrate.
const AUDIO_BITRATE: usize = 128_000;

/// An encoder feeding one MP4 file (and its live copy).
pub struct Track {
    encoder: encoder::Encoder,
    output: format::context::Output,
    encoder_time_base: Rational,
    stream_time_base: Rational,
    packet: Packet,
    /// Duration of a packet in the encoder time base, for packets the
    /// encoder leaves without one (a frame; AAC: a frame of samples).
    packet_duration: i64,
    live: Option<Live>,
}

/// The `hls` muxer writing `{name}.m3u8`, `{name}_init.mp4` and
/// `{name}_NNNNN.mp4` into the live folder.
struct Live {
    output: format::context::Output,
    stream_time_base: Rational,
}

/// Where a track's live copy goes.
pub struct LiveTarget<'a> {
    /// The live folder.
    pub dir: &'a Path,
    /// The rendition's name, the stem of every live file.
    pub name: &'a str,
    /// Segment length in seconds (cuts fall on the fixed keyframes).
    pub segment_seconds: u32,
}

/// How a video rung is encoded.
pub struct VideoSettings<'a> {
    /// The rung's size and rates.
    pub rung: &'a Rung,
    /// Output frame rate `(num, den)`; the encoder time base is its inverse.
    pub frame_rate: (u32, u32),
    /// Frames per GOP (= per segment).
    pub gop: u32,
    /// Encoder threads (x264 frame threads, SVT-AV1 logical processors);
    /// 0 lets the encoder choose.
    pub threads: usize,
    /// Tag the stream BT.709 (the graph converted HDR or BT.2020 to it).
    pub bt709: bool,
}

impl Track {
    /// The rung's codec (H.264 High, AV1 Main or HEVC Main) with a fixed, closed GOP
    /// of `gop` frames and no scene-cut keyframes, so every GOP starts with
    /// a keyframe at the same frame in every rung of every codec.
    pub fn video(
        path: &Path,
        settings: &VideoSettings,
        live: Option<&LiveTarget>,
    ) -> Result<Self, MediaError> {
        let rung = settings.rung;
        let name = rung.codec.encoder();
        let codec = encoder::find_by_name(name)
            .ok_or_else(|| MediaError::Internal(format!("FFmpeg was built without {name}")))?;
        let mut output = create_output(path)?;
        let (num, den) = settings.frame_rate;
        let time_base = Rational::new(den as i32, num as i32);

        let mut ctx = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| MediaError::encode(&format!("allocating {name}"), e))?;
        ctx.set_width(rung.width);
        ctx.set_height(rung.height);
        ctx.set_format(format::Pixel::YUV420P);
        ctx.set_aspect_ratio(Rational::new(1, 1));
        ctx.set_time_base(time_base);
        ctx.set_frame_rate(Some(Rational::new(num as i32, den as i32)));
        ctx.set_gop(settings.gop);
        ctx.set_bit_rate(match rung.rate {
            RateControl::Average => rung.bitrate as usize,
            RateControl::Quality { .. } => 0,
        });
        ctx.set_max_bit_rate(rung.maxrate as usize);
        ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: settings.threads,
            ..Default::default()
        });
        if settings.bt709 {
            ctx.set_color_primaries(color::Primaries::BT709);
            ctx.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
            ctx.set_colorspace(color::Space::BT709);
            ctx.set_color_range(color::Range::MPEG);
        }

        let opened = ctx
            .open_with(encoder_options(rung, settings.gop))
            .map_err(|e| MediaError::encode(&format!("opening {name} for {}", rung.name), e))?;

        let mut stream = output
            .add_stream(codec)
            .map_err(|e| MediaError::encode("adding the video stream", e))?;
        stream.set_parameters(&opened);
        if rung.codec == VideoCodec::Hevc {
            // `hvc1`, not the muxer's default `hev1`: the parameter sets sit
            // in the sample entry, as Apple's players require.
            // SAFETY: the stream was just added to `output`, which owns its
            // codec parameters; only the tag field is written.
            unsafe { (*(*stream.as_mut_ptr()).codecpar).codec_tag = HVC1_TAG };
        }
        stream.set_time_base(time_base);
        stream.set_avg_frame_rate(Rational::new(num as i32, den as i32));
        let live = live
            .map(|target| Live::start(target, codec, &opened, time_base))
            .transpose()?;
        Self::start(opened.0 .0, output, time_base, None, live, 1)
    }

    /// AAC-LC, 48 kHz stereo, fragments of `segment_seconds`.
    pub fn audio(
        path: &Path,
        segment_seconds: u32,
        live: Option<&LiveTarget>,
    ) -> Result<Self, MediaError> {
        let codec = encoder::find_by_name("aac").ok_or_else(|| {
            MediaError::Internal("FFmpeg was built without its AAC encoder".into())
        })?;
        let mut output = create_output(path)?;
        let time_base = Rational::new(1, AUDIO_RATE as i32);

        let mut ctx = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(|e| MediaError::encode("allocating the AAC encoder", e))?;
        ctx.set_rate(AUDIO_RATE as i32);
        ctx.set_format(format::Sample::F32(format::sample::Type::Planar));
        ctx.set_channel_layout(ffmpeg::ChannelLayout::STEREO);
        ctx.set_bit_rate(AUDIO_BITRATE);
        ctx.set_time_base(time_base);
        ctx.set_flags(codec::Flags::GLOBAL_HEADER);
        let opened = ctx
            .open_as(codec)
            .map_err(|e| MediaError::encode("opening the AAC encoder", e))?;

        let mut stream = output
            .add_stream(codec)
            .map_err(|e| MediaError::encode("adding the audio stream", e))?;
        stream.set_parameters(&opened);
        stream.set_time_base(time_base);
        // `frag_keyframe` only cuts video tracks; audio fragments are cut by duration.
        let frag_duration_us = u64::from(segment_seconds) * 1_000_000;
        let live = live
            .map(|target| Live::start(target, codec, &opened, time_base))
            .transpose()?;
        let frame_samples = i64::from(opened.frame_size());
        Self::start(
            opened.0 .0,
            output,
            time_base,
            Some(frag_duration_us),
            live,
            frame_samples,
        )
    }

    fn start(
        encoder: encoder::Encoder,
        mut output: format::context::Output,
        encoder_time_base: Rational,
        frag_duration_us: Option<u64>,
        live: Option<Live>,
        packet_duration: i64,
    ) -> Result<Self, MediaError> {
        let mut options = Dictionary::new();
        options.set("movflags", MOVFLAGS);
        if let Some(duration) = frag_duration_us {
            options.set("frag_duration", &duration.to_string());
            // AAC's priming makes the first audio DTS negative (-1024);
            // `delay_moov` lets the muxer absorb that instead of warning.
            options.set("movflags", &format!("{MOVFLAGS}+delay_moov"));
        }
        output
            .write_header_with(options)
            .map_err(|e| MediaError::encode("writing the MP4 header", e))?;
        let stream_time_base = output
            .stream(0)
            .map(|stream| stream.time_base())
            .ok_or_else(|| MediaError::Internal("the MP4 muxer lost its stream".into()))?;
        Ok(Self {
            encoder,
            output,
            encoder_time_base,
            stream_time_base,
            packet: Packet::empty(),
            packet_duration,
            live,
        })
    }

    /// Encodes one frame and writes whatever packets the encoder returns.
    pub fn encode(&mut self, frame: &Frame) -> Result<(), MediaError> {
        self.encoder
            .send_frame(frame)
            .map_err(|e| MediaError::encode("sending a frame to the encoder", e))?;
        self.write_packets()
    }

    /// Flushes the encoder and finalises the file (writes the `sidx`); the
    /// live playlist gets its last segment and `EXT-X-ENDLIST`.
    pub fn finish(mut self) -> Result<(), MediaError> {
        self.encoder
            .send_eof()
            .map_err(|e| MediaError::encode("flushing the encoder", e))?;
        self.write_packets()?;
        if let Some(live) = &mut self.live {
            live.output
                .write_trailer()
                .map_err(|e| MediaError::encode("finalising the live playlist", e))?;
        }
        self.output
            .write_trailer()
            .map_err(|e| MediaError::encode("finalising the MP4 file", e))
    }

    fn write_packets(&mut self) -> Result<(), MediaError> {
        loop {
            match self.encoder.receive_packet(&mut self.packet) {
                Ok(()) => {
                    self.packet.set_stream(0);
                    if self.packet.duration() == 0 {
                        self.packet.set_duration(self.packet_duration);
                    }
                    if let Some(live) = &mut self.live {
                        // A new reference to the same data: no copy of the payload.
                        let mut copy = self.packet.clone();
                        copy.rescale_ts(self.encoder_time_base, live.stream_time_base);
                        copy.write_interleaved(&mut live.output)
                            .map_err(|e| MediaError::encode("writing a live packet", e))?;
                    }
                    self.packet
                        .rescale_ts(self.encoder_time_base, self.stream_time_base);
                    self.packet
                        .write_interleaved(&mut self.output)
                        .map_err(|e| MediaError::encode("writing a packet", e))?;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(e) => return Err(MediaError::encode("receiving a packet", e)),
            }
        }
    }
}

/// The encoder's private options for `rung`: preset, VBV buffer, constant
/// quality when asked for, and keyframes exactly every `gop` frames.
fn encoder_options(rung: &Rung, gop: u32) -> Dictionary<'static> {
    let mut options = Dictionary::new();
    options.set("preset", &rung.preset);
    options.set("bufsize", &rung.bufsize.to_string());
    if let RateControl::Quality { crf } = rung.rate {
        options.set("crf", &crf.to_string());
    }
    match rung.codec {
        VideoCodec::H264 => {
            options.set("profile", "high");
            options.set("keyint_min", &gop.to_string());
            options.set("sc_threshold", "0");
            options.set(
                "x264-params",
                &format!("keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0"),
            );
        }
        // The GOP size sets SVT-AV1's intra period; key frames (not
        // forward ones) close every GOP, and scene changes add none. One
        // logical processor per rung: SVT-AV1 starts about 20 threads for
        // one and over 100 for two (each reserving its stack), which a
        // whole ladder's encoders would multiply past the job's address
        // space; the rungs' encoders run in parallel anyway.
        VideoCodec::Av1 => options.set("svtav1-params", "irefresh-type=2:scd=0:lp=1"),
        // x265 takes its GOP and VBV from its own parameters. One worker
        // thread and one frame thread per rung, as for SVT-AV1: x265's
        // default pool is a thread per core for every encoder of the ladder.
        VideoCodec::Hevc => options.set(
            "x265-params",
            &format!(
                "keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:vbv-maxrate={}:vbv-bufsize={}:pools=1:frame-threads=1:log-level=error",
                rung.maxrate / 1000,
                rung.bufsize / 1000,
            ),
        ),
    }
    options
}

impl Live {
    /// Opens the `hls` muxer for `target` with the stream of `opened`.
    fn start(
        target: &LiveTarget,
        codec: ffmpeg::Codec,
        opened: &impl AsRef<codec::context::Context>,
        time_base: Rational,
    ) -> Result<Self, MediaError> {
        let LiveTarget {
            dir,
            name,
            segment_seconds,
        } = target;
        let playlist = dir.join(format!("{name}.m3u8"));
        let mut output = format::output_as(&playlist, "hls")
            .map_err(|e| MediaError::internal(&format!("creating {}", playlist.display()), e))?;
        let mut stream = output
            .add_stream(codec)
            .map_err(|e| MediaError::encode("adding the live stream", e))?;
        stream.set_parameters(opened);
        stream.set_time_base(time_base);
        let mut options = Dictionary::new();
        options.set("hls_segment_type", "fmp4");
        options.set("hls_time", &segment_seconds.to_string());
        options.set("hls_playlist_type", "event");
        // Segments and the playlist are written to `.tmp` files and renamed
        // when complete, so a reader never sees half a segment.
        options.set("hls_flags", "independent_segments+temp_file");
        options.set("hls_fmp4_init_filename", &format!("{name}_init.mp4"));
        options.set(
            "hls_segment_filename",
            &dir.join(format!("{name}_%05d.mp4")).to_string_lossy(),
        );
        output
            .write_header_with(options)
            .map_err(|e| MediaError::encode("writing the live header", e))?;
        let stream_time_base = output
            .stream(0)
            .map(|stream| stream.time_base())
            .ok_or_else(|| MediaError::Internal("the live muxer lost its stream".into()))?;
        Ok(Self {
            output,
            stream_time_base,
        })
    }
}

fn create_output(path: &Path) -> Result<format::context::Output, MediaError> {
    format::output_as(path, "mp4")
        .map_err(|e| MediaError::internal(&format!("creating {}", path.display()), e))
}
