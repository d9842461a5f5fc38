//! libavfilter graphs: one video graph that fans the decoded picture out to
//! every rung, and one audio graph that resamples to 48 kHz stereo `fltp` in
//! 1024-sample frames for the AAC encoder.

use ffmpeg_next::{self as ffmpeg, filter, format, ChannelLayout, Rational};

use crate::error::MediaError;
use crate::ladder::Ladder;

/// AAC-LC consumes exactly this many samples per frame.
pub const AAC_FRAME_SAMPLES: u32 = 1024;

/// The output sample rate of every audio rendition.
pub const AUDIO_RATE: u32 = 48_000;

/// A configured graph with its source and one sink per output.
pub struct Graph {
    /// Owns every filter context below; kept alive as long as they are used.
    _graph: filter::Graph,
    /// Where decoded frames go in.
    pub source: filter::Context,
    /// Where filtered frames come out, one per rung (video) or one (audio).
    pub sinks: Vec<filter::Context>,
}

/// What the video buffer source is fed.
pub struct VideoInput {
    /// Decoded width.
    pub width: u32,
    /// Decoded height.
    pub height: u32,
    /// Decoded pixel format.
    pub format: format::Pixel,
    /// Time base of the frames' timestamps.
    pub time_base: Rational,
    /// Sample aspect ratio (0/1 when unknown).
    pub sample_aspect: Rational,
}

/// What the audio buffer source is fed.
pub struct AudioInput {
    /// Decoded sample rate.
    pub rate: u32,
    /// Decoded sample format.
    pub format: format::Sample,
    /// Decoded channel layout (may be unspecified).
    pub layout: ChannelLayout,
    /// Time base of the frames' timestamps.
    pub time_base: Rational,
}

/// `buffer → yadif (interlaced frames only) → fps → split → [scale → format → setsar → buffersink] × rungs`.
pub fn video(input: &VideoInput, ladder: &Ladder) -> Result<Graph, MediaError> {
    let mut graph = filter::Graph::new();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        input.width,
        input.height,
        ffmpeg::ffi::AVPixelFormat::from(input.format) as i32,
        input.time_base.numerator(),
        input.time_base.denominator(),
        input.sample_aspect.numerator().max(0),
        input.sample_aspect.denominator().max(1),
    );
    let mut source = add(&mut graph, "buffer", "in", &args)?;
    let (num, den) = ladder.frame_rate;
    let mut split = chain(
        &mut graph,
        &mut source,
        "in",
        &[
            ("yadif", "deint=interlaced"),
            ("fps", &format!("fps={num}/{den}")),
            ("split", &ladder.rungs.len().to_string()),
        ],
    )?;
    let mut sinks = Vec::with_capacity(ladder.rungs.len());
    for (pad, rung) in ladder.rungs.iter().enumerate() {
        let mut scale = add(
            &mut graph,
            "scale",
            &format!("scale{pad}"),
            &format!("w={}:h={}:flags=bicubic", rung.width, rung.height),
        )?;
        split.link(pad as u32, &mut scale, 0);
        let last = chain(
            &mut graph,
            &mut scale,
            &format!("out{pad}"),
            &[("format", "pix_fmts=yuv420p"), ("setsar", "sar=1")],
        )?;
        let sink = attach_sink(&mut graph, last, "buffersink", &format!("out{pad}"))?;
        sinks.push(sink);
    }
    configure(graph, source, sinks)
}

/// `abuffer → aresample=48000 → aformat=fltp:stereo → abuffersink` (1024-sample frames).
pub fn audio(input: &AudioInput) -> Result<Graph, MediaError> {
    let mut graph = filter::Graph::new();
    let layout = if input.layout.bits() != 0 {
        input.layout.bits()
    } else {
        ChannelLayout::default(input.layout.channels().max(1)).bits()
    };
    let args = format!(
        "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{layout:x}",
        input.time_base.numerator(),
        input.time_base.denominator(),
        input.rate,
        input.format.name(),
    );
    let mut source = add(&mut graph, "abuffer", "in", &args)?;
    let last = chain(
        &mut graph,
        &mut source,
        "in",
        &[
            // `first_pts=0` pads or trims so audio starts with the video at 0.
            ("aresample", &format!("{AUDIO_RATE}:first_pts=0")),
            (
                "aformat",
                &format!("sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"),
            ),
        ],
    )?;
    let sink = attach_sink(&mut graph, last, "abuffersink", "out")?;
    let mut graph = configure(graph, source, vec![sink])?;
    graph.sinks[0].sink().set_frame_size(AAC_FRAME_SAMPLES);
    Ok(graph)
}

fn configure(
    mut graph: filter::Graph,
    source: filter::Context,
    sinks: Vec<filter::Context>,
) -> Result<Graph, MediaError> {
    graph
        .validate()
        .map_err(|e| MediaError::internal("configuring the filter graph", e))?;
    Ok(Graph {
        _graph: graph,
        source,
        sinks,
    })
}

fn add(
    graph: &mut filter::Graph,
    name: &str,
    instance: &str,
    args: &str,
) -> Result<filter::Context, MediaError> {
    let filter = filter::find(name)
        .ok_or_else(|| MediaError::Internal(format!("libavfilter lacks the {name} filter")))?;
    graph.add(&filter, instance, args).map_err(|e| {
        MediaError::internal(&format!("creating filter {instance} ({name}={args})"), e)
    })
}

/// Appends `filters` after `from`, each linked pad 0 to pad 0, naming them
/// `{prefix}_{filter}`; returns the last one.
fn chain(
    graph: &mut filter::Graph,
    from: &mut filter::Context,
    prefix: &str,
    filters: &[(&str, &str)],
) -> Result<filter::Context, MediaError> {
    let mut last: Option<filter::Context> = None;
    for (name, args) in filters {
        let mut next = add(graph, name, &format!("{prefix}_{name}"), args)?;
        last.as_mut().unwrap_or(&mut *from).link(0, &mut next, 0);
        last = Some(next);
    }
    last.ok_or_else(|| MediaError::Internal("empty filter chain".into()))
}

fn attach_sink(
    graph: &mut filter::Graph,
    mut from: filter::Context,
    kind: &str,
    instance: &str,
) -> Result<filter::Context, MediaError> {
    let mut sink = add(graph, kind, instance, "")?;
    from.link(0, &mut sink, 0);
    Ok(sink)
}
