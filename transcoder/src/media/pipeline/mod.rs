//! The one-decode pipeline: demux, decode the video once, fan it out through
//! one filter graph (rungs scaled in cascade) to every rung's encoder, and
//! carry every audio stream through its own graph to its own AAC encoder.
//! Each rendition is written as its own CMAF file by `track::Track`. Text
//! subtitle streams are decoded in the same pass and written as WebVTT
//! (`text::TextLane`).
//!
//! The demuxer, decoders and filter graphs run on the calling thread; each
//! video encoder runs on its own thread, fed filtered frames (moved, never
//! copied) through a short bounded queue, so x264 instances work in parallel
//! with each other and with decoding. x264's own threads are shared out by
//! each rung's share of the pixels ([`encoder_threads`]). The poster and the
//! storyboard are taken from frames on their way to the encoders, and so
//! are, when asked for, the reference frames the rungs' quality is measured
//! against afterwards ([`crate::media::quality`]).
//!
//! [`open`] opens every decoder, graph, encoder and output without reading
//! a packet, so the caller can act on what was opened ([`Pipeline::audio`])
//! before [`Pipeline::run`] encodes the first frame. A [`Cancel`] flag set
//! from another thread stops the run between packets (the encoder threads
//! are then joined before it returns).

mod graph;
mod text;
mod track;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ffmpeg_next::{self as ffmpeg, codec, decoder, frame, picture, Packet, Rational, Rescale};
use goflix_shared::domain::EmbeddedCaption;
use goflix_shared::layout;

use crate::media::assets::{Poster, Storyboard};
use crate::media::error::MediaError;
use crate::media::ladder::Ladder;
use crate::media::package::audio_name;
use crate::media::probe::{AudioStream, DynamicRange, Probe};
use crate::media::quality::References;
use graph::Graph;
use text::TextLane;
use track::{LiveTarget, Track, VideoSettings};

/// How often the progress callback may be called.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Corrupt packets tolerated before the source is declared undecodable.
const MAX_CORRUPT_PACKETS: u32 = 1_000;

/// Frames queued for each encoder thread.
const ENCODER_QUEUE: usize = 4;

/// Asks a running transcode to stop; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks every holder of this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl PartialEq for Cancel {
    /// Two flags are equal when they are the same flag.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Encoding settings the pipeline needs from the caller.
pub struct Settings {
    /// Keyframe interval and fragment length in seconds.
    pub segment_seconds: u32,
    /// Longest accepted source, checked against decoded timestamps too.
    pub max_duration_s: f64,
    /// x264 threads per rung; 0 shares the machine's cores by pixel count.
    pub x264_threads: usize,
    /// Seconds between storyboard thumbnails.
    pub storyboard_interval_s: f64,
    /// Stops the run between packets when set.
    pub cancel: Cancel,
    /// Where to write the live copy of every rendition (init segment,
    /// segments and growing playlist), if anywhere.
    pub live_dir: Option<std::path::PathBuf>,
    /// Keep reference frames for measuring the rungs' quality afterwards.
    pub measure_quality: bool,
    /// Encode the video ladder only: no audio or text lane, no poster or
    /// storyboard (a ladder that joins a version which has them).
    pub video_only: bool,
}

/// What the pipeline produced.
pub struct Encoded {
    /// The audio streams encoded, in order: the `i`-th into
    /// `{audio_name(i)}.mp4` ([`crate::media::package::audio_name`]).
    pub audio: Vec<AudioStream>,
    /// The text streams written as `text_{n}.vtt`, in stream order.
    pub captions: Vec<EmbeddedCaption>,
    /// Poster and storyboard files written into the output folder.
    pub assets: Vec<String>,
    /// The top rung's input frames the rungs are measured against, when
    /// [`Settings::measure_quality`] asked for them.
    pub references: Option<References>,
}

/// x264 threads for each rung: the given count, or (0) the available cores
/// shared by pixel count, rounded up. The encoders run in parallel, so small
/// rungs need one thread each; rounding up gives the largest rung, which
/// alone carries more than its share of a core on a small machine, the
/// frame threads that keep it from being the one encoder everything waits for.
pub fn encoder_threads(ladder: &Ladder, configured: usize) -> Vec<usize> {
    if configured > 0 {
        return vec![configured; ladder.rungs.len()];
    }
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    shared_threads(ladder, cores)
}

/// `cores` shared out by pixel count, rounded up, at least one per rung.
fn shared_threads(ladder: &Ladder, cores: usize) -> Vec<usize> {
    let pixels = |r: &crate::media::ladder::Rung| f64::from(r.width) * f64::from(r.height);
    let total: f64 = ladder.rungs.iter().map(pixels).sum();
    ladder
        .rungs
        .iter()
        .map(|r| ((cores as f64 * pixels(r) / total - 1e-9).ceil() as usize).max(1))
        .collect()
}

/// Opens the whole transcode without reading a packet: the decoders, the
/// filter graphs, every rendition's output and live copy (rung `i` is
/// written to `{out_dir}/{name}.mp4`, the `i`-th audio stream to
/// `{out_dir}/{audio_name(i)}.mp4`), the text decoders and the encoder
/// threads. [`Pipeline::run`] then runs it.
pub fn open<'a>(
    probe: Probe,
    ladder: &Ladder,
    out_dir: &'a Path,
    settings: &'a Settings,
) -> Result<Pipeline<'a>, MediaError> {
    let Probe {
        input,
        video,
        audio,
        text,
        duration_s,
    } = probe;
    let (num, den) = ladder.frame_rate;
    let fps = f64::from(num) / f64::from(den);
    let gop = ((fps * f64::from(settings.segment_seconds)).round() as u32).max(1);

    let video_decoder = open_decoder(&input, video.index)?
        .video()
        .map_err(|e| MediaError::decode("opening the video decoder", e))?;
    if video_decoder.format() == ffmpeg::format::Pixel::None {
        return Err(MediaError::InvalidMedia("unknown pixel format".into()));
    }
    let video_graph = graph::video(
        &graph::VideoInput {
            width: video_decoder.width(),
            height: video_decoder.height(),
            format: video_decoder.format(),
            time_base: video.time_base,
            sample_aspect: video_decoder.aspect_ratio(),
            rotation: video.source.rotation,
            range: video.range,
        },
        ladder,
    )?;
    let threads = encoder_threads(ladder, settings.x264_threads);
    if let Some(dir) = &settings.live_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| MediaError::internal(&format!("creating {}", dir.display()), e))?;
    }
    let mut encoders = Vec::with_capacity(ladder.rungs.len());
    for (rung, threads) in ladder.rungs.iter().zip(threads) {
        let track = Track::video(
            &out_dir.join(layout::rendition_file(&rung.name)),
            &VideoSettings {
                rung,
                frame_rate: ladder.frame_rate,
                gop,
                threads,
                bt709: video.range != DynamicRange::Sdr,
            },
            live_target(settings, &rung.name).as_ref(),
        )?;
        encoders.push(EncoderThread::spawn(&rung.name, track)?);
    }
    let expected_frames = duration_s.or(video.duration_s).map(|d| d * fps);
    let smallest = &ladder.rungs[ladder.rungs.len() - 1];
    let video_lane = VideoLane {
        decoder: video_decoder,
        graph: video_graph,
        encoders,
        poster: Poster::new(expected_frames),
        storyboard: Storyboard::new(
            settings.storyboard_interval_s,
            ladder.frame_rate,
            smallest.width,
            smallest.height,
        ),
        references: settings
            .measure_quality
            .then(|| References::new(gop, expected_frames)),
        frames: 0,
        start_time: video.start_time,
        next_pts: 0,
        frame_duration: 1i64
            .rescale(
                source_frame_duration(video.source.frame_rate, ladder.frame_rate),
                video.time_base,
            )
            .max(1),
    };

    let video_start = (video.start_time, video.time_base);
    let (audio, text) = if settings.video_only {
        (Vec::new(), Vec::new())
    } else {
        (audio, text)
    };
    let audio = audio
        .into_iter()
        .enumerate()
        .map(|(position, stream)| {
            let name = audio_name(position);
            let live = live_target(settings, &name);
            AudioLane::open(
                &input,
                stream,
                &name,
                video_start,
                out_dir,
                settings,
                live.as_ref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let text = text
        .into_iter()
        .filter_map(|stream| TextLane::open(&input, stream, video_start))
        .collect();
    Ok(Pipeline {
        side_lanes: SideLanes { audio, text },
        video_lane,
        input,
        video_index: video.index,
        stated_duration_s: video.duration_s,
        fps,
        expected_frames,
        out_dir,
        settings,
    })
}

/// Where the live copy of rendition `name` goes, if anywhere.
fn live_target<'a>(settings: &'a Settings, name: &'a str) -> Option<LiveTarget<'a>> {
    settings.live_dir.as_deref().map(|dir| LiveTarget {
        dir,
        name,
        segment_seconds: settings.segment_seconds,
    })
}

/// A transcode opened by [`open`], every output ready for its first frame.
/// Dropped unrun, it stops its encoder threads.
pub struct Pipeline<'a> {
    // The lanes first, so an unrun pipeline stops its encoders before it
    // closes the input, as a failed run does.
    side_lanes: SideLanes,
    video_lane: VideoLane,
    input: ffmpeg::format::context::Input,
    video_index: usize,
    /// The video stream's duration as the container states it.
    stated_duration_s: Option<f64>,
    fps: f64,
    expected_frames: Option<f64>,
    out_dir: &'a Path,
    settings: &'a Settings,
}

impl Pipeline<'_> {
    /// The audio streams encoded, in order: the `i`-th into
    /// `{audio_name(i)}.mp4` ([`crate::media::package::audio_name`]).
    pub fn audio(&self) -> Vec<AudioStream> {
        self.side_lanes
            .audio
            .iter()
            .map(|lane| lane.stream.clone())
            .collect()
    }

    /// Decodes the whole source through every output and finalises them.
    pub fn run(self, progress: &mut dyn FnMut(f64)) -> Result<Encoded, MediaError> {
        let Self {
            mut input,
            video_index,
            stated_duration_s,
            fps,
            expected_frames,
            mut video_lane,
            mut side_lanes,
            out_dir,
            settings,
        } = self;
        let max_frames = (settings.max_duration_s * fps).ceil() as u64;
        let mut last_progress = Instant::now();
        let mut packet = Packet::empty();
        let mut corrupt = 0;
        loop {
            if settings.cancel.is_cancelled() {
                return Err(MediaError::Internal("the transcode was cancelled".into()));
            }
            match packet.read(&mut input) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => break,
                Err(ffmpeg::Error::InvalidData) => {
                    corrupt += 1;
                    if corrupt > MAX_CORRUPT_PACKETS {
                        return Err(MediaError::DecodeFailed("too many corrupt packets".into()));
                    }
                    continue;
                }
                Err(e) => return Err(MediaError::decode("reading the source", e)),
            }
            if packet.stream() == video_index {
                video_lane.decode(&packet)?;
            } else {
                side_lanes.decode(&packet)?;
            }
            if video_lane.frames > max_frames {
                return Err(MediaError::SourceTooLong {
                    actual_s: video_lane.frames as f64 / fps,
                    limit_s: settings.max_duration_s,
                });
            }
            if let Some(expected) = expected_frames.filter(|e| *e > 0.0) {
                if last_progress.elapsed() >= PROGRESS_INTERVAL {
                    progress((video_lane.frames as f64 / expected).clamp(0.0, 0.99));
                    last_progress = Instant::now();
                }
            }
        }

        let (frames, poster, storyboard, references) = video_lane.finish()?;
        if frames == 0 {
            return Err(MediaError::InvalidMedia("no decodable video frames".into()));
        }
        let decoded_s = frames as f64 / fps;
        if let Some(stated) = stated_duration_s.filter(|&d| decoded_s < d * 0.9 - 1.0) {
            return Err(MediaError::InvalidMedia(format!(
                "the file is truncated: {decoded_s:.1} s of {stated:.1} s decoded"
            )));
        }
        let (audio, captions) = side_lanes.finish(out_dir)?;
        let mut assets = Vec::new();
        if !settings.video_only {
            assets = storyboard.write(out_dir)?;
            if poster.write(out_dir)? {
                assets.insert(0, crate::media::assets::POSTER.to_owned());
            }
        }
        Ok(Encoded {
            audio,
            captions,
            assets,
            references,
        })
    }
}

/// One source frame as a time base (`1/fps`), falling back to the output rate.
fn source_frame_duration(source: (u32, u32), output: (u32, u32)) -> Rational {
    let (num, den) = if source.0 > 0 && source.1 > 0 {
        source
    } else {
        output
    };
    Rational::new(den as i32, num as i32)
}

/// The decoder of stream `index`, if its codec is on the allow-list.
pub(crate) fn open_decoder(
    input: &ffmpeg::format::context::Input,
    index: usize,
) -> Result<decoder::Decoder, MediaError> {
    let stream = input
        .stream(index)
        .ok_or_else(|| MediaError::Internal(format!("stream {index} vanished")))?;
    crate::media::allow_list::check_decoder(stream.parameters().id())?;
    let mut ctx = codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| MediaError::decode("reading codec parameters", e))?;
    ctx.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut decoder = ctx.decoder();
    decoder.set_packet_time_base(stream.time_base());
    Ok(decoder)
}

/// Whether a decoder or filter said "no more for now" rather than failing.
pub(crate) fn is_again(err: &ffmpeg::Error) -> bool {
    matches!(err, ffmpeg::Error::Eof)
        || matches!(err, ffmpeg::Error::Other { errno } if *errno == ffmpeg::error::EAGAIN)
}

/// One rung's encoder on its own thread, fed through a bounded queue.
struct EncoderThread {
    queue: Option<mpsc::SyncSender<frame::Video>>,
    handle: Option<thread::JoinHandle<Result<(), MediaError>>>,
}

impl EncoderThread {
    fn spawn(name: &str, mut track: Track) -> Result<Self, MediaError> {
        let (queue, frames) = mpsc::sync_channel::<frame::Video>(ENCODER_QUEUE);
        let handle = thread::Builder::new()
            .name(format!("encode-{name}"))
            .spawn(move || {
                for frame in frames {
                    track.encode(&frame)?;
                }
                track.finish()
            })
            .map_err(|e| MediaError::internal("starting an encoder thread", e))?;
        Ok(Self {
            queue: Some(queue),
            handle: Some(handle),
        })
    }

    /// Queues a frame; if the encoder has stopped, returns its error.
    fn send(&mut self, frame: frame::Video) -> Result<(), MediaError> {
        let sent = self.queue.as_ref().map(|queue| queue.send(frame).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        Err(self
            .join()
            .err()
            .unwrap_or_else(|| MediaError::Internal("an encoder stopped early".into())))
    }

    /// Closes the queue and waits for the encoder to flush and finalise its file.
    fn join(&mut self) -> Result<(), MediaError> {
        self.queue = None;
        match self.handle.take().map(thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(MediaError::Internal("an encoder thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for EncoderThread {
    /// A failed transcode still stops its encoder threads before returning.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// The video path: decoder → graph → one encoder thread per rung.
struct VideoLane {
    decoder: decoder::Video,
    graph: Graph,
    encoders: Vec<EncoderThread>,
    poster: Poster,
    storyboard: Storyboard,
    references: Option<References>,
    /// Frames encoded per rung (every rung gets the same frames).
    frames: u64,
    start_time: i64,
    /// Used for frames without a timestamp.
    next_pts: i64,
    frame_duration: i64,
}

impl VideoLane {
    fn decode(&mut self, packet: &Packet) -> Result<(), MediaError> {
        match self.decoder.send_packet(packet) {
            // A corrupt packet is skipped, as players do.
            Ok(()) | Err(ffmpeg::Error::InvalidData) => {}
            Err(e) => return Err(MediaError::decode("decoding video", e)),
        }
        self.receive()
    }

    fn receive(&mut self) -> Result<(), MediaError> {
        let mut decoded = frame::Video::empty();
        loop {
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {}
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(e) if is_again(&e) => return Ok(()),
                Err(e) => return Err(MediaError::decode("decoding video", e)),
            }
            let pts = match decoded.timestamp() {
                Some(ts) => ts - self.start_time,
                None => self.next_pts,
            };
            self.next_pts = pts + self.frame_duration;
            decoded.set_pts(Some(pts));
            self.graph
                .source
                .source()
                .add(&decoded)
                .map_err(|e| MediaError::internal("filtering video", e))?;
            self.drain()?;
        }
    }

    /// Pulls every filtered frame and hands it to its encoder. The picture
    /// type inherited from the source is cleared, so x264's fixed GOP alone
    /// places keyframes and every rung cuts at the same frames.
    fn drain(&mut self) -> Result<(), MediaError> {
        let last = self.encoders.len() - 1;
        for (rung, (sink, encoder)) in self
            .graph
            .sinks
            .iter_mut()
            .zip(&mut self.encoders)
            .enumerate()
        {
            let mut index = self.frames;
            loop {
                let mut filtered = frame::Video::empty();
                match sink.sink().frame(&mut filtered) {
                    Ok(()) => {}
                    Err(e) if is_again(&e) => break,
                    Err(e) => return Err(MediaError::internal("filtering video", e)),
                }
                filtered.set_kind(picture::Type::None);
                if rung == 0 {
                    self.poster.offer(index, &filtered)?;
                    if let Some(references) = &mut self.references {
                        references.offer(index, &filtered);
                    }
                }
                if rung == last {
                    self.storyboard.offer(index, &filtered)?;
                }
                encoder.send(filtered)?;
                index += 1;
            }
            if rung == last {
                self.frames = index;
            }
        }
        Ok(())
    }

    /// Flushes decoder, graph and encoders; returns the number of frames
    /// encoded per rung and the collected poster, storyboard and references.
    fn finish(mut self) -> Result<(u64, Poster, Storyboard, Option<References>), MediaError> {
        self.decoder
            .send_eof()
            .map_err(|e| MediaError::decode("flushing the video decoder", e))?;
        self.receive()?;
        // Closing at the end of the last frame (not at its start) keeps `fps` from dropping it.
        self.graph
            .source
            .source()
            .close(self.next_pts)
            .map_err(|e| MediaError::internal("flushing the video filters", e))?;
        self.drain()?;
        for encoder in &mut self.encoders {
            encoder.join()?;
        }
        Ok((self.frames, self.poster, self.storyboard, self.references))
    }
}

/// Every lane besides the video: one per audio stream and one per text stream.
struct SideLanes {
    audio: Vec<AudioLane>,
    text: Vec<TextLane>,
}

impl SideLanes {
    /// Hands `packet` to the lane of its stream, if it has one.
    fn decode(&mut self, packet: &Packet) -> Result<(), MediaError> {
        let stream = packet.stream();
        if let Some(lane) = self.audio.iter_mut().find(|l| l.stream.index == stream) {
            return lane.decode(packet);
        }
        if let Some(lane) = self.text.iter_mut().find(|l| l.index() == stream) {
            lane.decode(packet);
        }
        Ok(())
    }

    /// Finalises every audio file and writes the text streams with cues as
    /// `text_0.vtt`, `text_1.vtt`, …; returns what was written.
    fn finish(
        self,
        out_dir: &Path,
    ) -> Result<(Vec<AudioStream>, Vec<EmbeddedCaption>), MediaError> {
        let mut audio = Vec::with_capacity(self.audio.len());
        for lane in self.audio {
            audio.push(lane.finish()?);
        }
        let mut captions = Vec::new();
        for lane in self.text {
            if let Some(caption) = lane.finish(out_dir, captions.len())? {
                captions.push(caption);
            }
        }
        Ok((audio, captions))
    }
}

/// The audio path of one stream: decoder → resampling graph → AAC track.
struct AudioLane {
    stream: AudioStream,
    decoder: decoder::Audio,
    graph: Graph,
    track: Track,
    start_time: i64,
    /// Used for frames without a timestamp.
    next_pts: i64,
    time_base: Rational,
}

impl AudioLane {
    /// Opens the decoder, the filter graph and the output `{name}.mp4`
    /// (with its live copy) of audio stream `stream`; `video_start` is the
    /// video stream's start time in its time base, where the audio's
    /// timeline starts too.
    fn open(
        input: &ffmpeg::format::context::Input,
        stream: AudioStream,
        name: &str,
        (video_start, video_time_base): (i64, Rational),
        out_dir: &Path,
        settings: &Settings,
        live: Option<&LiveTarget>,
    ) -> Result<Self, MediaError> {
        let time_base = input
            .stream(stream.index)
            .ok_or_else(|| MediaError::Internal("the audio stream vanished".into()))?
            .time_base();
        let decoder = open_decoder(input, stream.index)?
            .audio()
            .map_err(|e| MediaError::decode("opening the audio decoder", e))?;
        let graph = graph::audio(&graph::AudioInput {
            rate: decoder.rate(),
            format: decoder.format(),
            layout: decoder.channel_layout(),
            time_base,
        })?;
        let path = out_dir.join(layout::rendition_file(name));
        let track = Track::audio(&path, settings.segment_seconds, live)?;
        Ok(Self {
            stream,
            decoder,
            graph,
            track,
            start_time: video_start.rescale(video_time_base, time_base),
            next_pts: 0,
            time_base,
        })
    }

    fn decode(&mut self, packet: &Packet) -> Result<(), MediaError> {
        match self.decoder.send_packet(packet) {
            Ok(()) | Err(ffmpeg::Error::InvalidData) => {}
            Err(e) => return Err(MediaError::decode("decoding audio", e)),
        }
        self.receive()
    }

    fn receive(&mut self) -> Result<(), MediaError> {
        let mut decoded = frame::Audio::empty();
        loop {
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {}
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(e) if is_again(&e) => return Ok(()),
                Err(e) => return Err(MediaError::decode("decoding audio", e)),
            }
            let pts = match decoded.timestamp() {
                Some(ts) => ts - self.start_time,
                None => self.next_pts,
            };
            let samples = decoded.samples() as i64;
            self.next_pts = pts
                + samples.rescale(
                    Rational::new(1, decoded.rate().max(1) as i32),
                    self.time_base,
                );
            decoded.set_pts(Some(pts));
            self.graph
                .source
                .source()
                .add(&decoded)
                .map_err(|e| MediaError::internal("filtering audio", e))?;
            self.drain()?;
        }
    }

    fn drain(&mut self) -> Result<(), MediaError> {
        let mut filtered = frame::Audio::empty();
        loop {
            match self.graph.sinks[0].sink().frame(&mut filtered) {
                Ok(()) => self.track.encode(&filtered)?,
                Err(e) if is_again(&e) => return Ok(()),
                Err(e) => return Err(MediaError::internal("filtering audio", e)),
            }
        }
    }

    /// Flushes decoder, graph and encoder and finalises the file; returns
    /// the stream it encoded.
    fn finish(mut self) -> Result<AudioStream, MediaError> {
        self.decoder
            .send_eof()
            .map_err(|e| MediaError::decode("flushing the audio decoder", e))?;
        self.receive()?;
        self.graph
            .source
            .source()
            .close(self.next_pts)
            .map_err(|e| MediaError::internal("flushing the audio filters", e))?;
        self.drain()?;
        self.track.finish()?;
        Ok(self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ladder::Rung;

    fn ladder(heights: &[u32]) -> Ladder {
        Ladder {
            rungs: heights
                .iter()
                .map(|&height| Rung {
                    name: format!("{height}p"),
                    codec: goflix_shared::domain::VideoCodec::H264,
                    width: height * 16 / 9 / 2 * 2,
                    height,
                    bitrate: 1,
                    rate: crate::media::ladder::RateControl::Average,
                    maxrate: 1,
                    bufsize: 1,
                    preset: "veryfast".into(),
                })
                .collect(),
            frame_rate: (30, 1),
        }
    }

    #[test]
    fn the_largest_rung_gets_the_frame_threads_it_needs() {
        let full = ladder(&[1080, 720, 480, 360, 240]);
        // On two cores 1080p carries 57 % of the pixels: more than one core.
        assert_eq!(shared_threads(&full, 2), vec![2, 1, 1, 1, 1]);
        assert_eq!(shared_threads(&full, 8), vec![5, 2, 1, 1, 1]);
        assert_eq!(shared_threads(&full, 1), vec![1; 5]);
        // An exact share is not rounded up past it.
        assert_eq!(shared_threads(&ladder(&[720, 720]), 4), vec![2, 2]);
        assert_eq!(encoder_threads(&full, 3), vec![3; 5]);
    }
}
