//! libavfilter graphs: one video graph that normalises the decoded picture
//! (deinterlace, constant frame rate, upright, SDR) and fans it out to every
//! rung, and one audio graph that resamples (and downmixes) to 48 kHz stereo
//! `fltp` in 1024-sample frames for the AAC encoder.
//!
//! Rungs are scaled in cascade: each from the smallest picture already made
//! that is at least [`CASCADE_RATIO`] times its size, else from the source.
//! A 2:1 step keeps SSIM within about 0.0005 of scaling from the source
//! while a 1.5:1 step loses up to 0.002 on noisy content, so the default
//! ladder scales 360p from 720p and 240p from 480p, the rest from the source.

use ffmpeg_next::{self as ffmpeg, filter, format, ChannelLayout, Rational};

use crate::media::error::MediaError;
use crate::media::ladder::Ladder;
use crate::media::probe::DynamicRange;

/// A rung is scaled from a larger rung only if that one is at least this much bigger.
pub const CASCADE_RATIO: u32 = 2;

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
    /// Clockwise rotation to apply: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Whether the picture needs tone-mapping or a gamut conversion.
    pub range: DynamicRange,
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

/// `buffer → yadif (interlaced frames only) → fps → [transpose] → [zscale/tonemap]`,
/// then per rung `scale → format → setsar → [split] → buffersink`, cascaded.
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
    let mut filters = vec![
        ("yadif", "deint=interlaced".to_owned()),
        ("fps", format!("fps={num}/{den}")),
    ];
    filters.extend(rotation_filters(input.rotation));
    filters.extend(tone_map_filters(input.range)?);
    let filters: Vec<(&str, &str)> = filters.iter().map(|(f, a)| (*f, a.as_str())).collect();
    let normalised = chain(&mut graph, &mut source, "in", &filters)?;

    let parents = cascade(ladder);
    let children = |parent: Option<usize>| parents.iter().filter(|p| **p == parent).count();
    // Every picture that feeds others goes through a split; pad 0 of a
    // rung's split is its own sink, the next pads its children in order.
    let mut outputs: Vec<(filter::Context, u32)> = Vec::with_capacity(ladder.rungs.len() + 1);
    outputs.push((
        fan_out(&mut graph, normalised, "split_in", children(None))?,
        0,
    ));
    let mut sinks = Vec::with_capacity(ladder.rungs.len());
    for (i, rung) in ladder.rungs.iter().enumerate() {
        let mut scale = add(
            &mut graph,
            "scale",
            &format!("scale{i}"),
            &format!("w={}:h={}:flags=bicubic", rung.width, rung.height),
        )?;
        let slot = parents[i].map_or(0, |p| p + 1);
        let (from, pad) = &mut outputs[slot];
        from.link(*pad, &mut scale, 0);
        *pad += 1;
        let last = chain(
            &mut graph,
            &mut scale,
            &format!("out{i}"),
            &[("format", "pix_fmts=yuv420p"), ("setsar", "sar=1")],
        )?;
        let kids = children(Some(i));
        let mut fan = fan_out(&mut graph, last, &format!("split{i}"), kids + 1)?;
        let mut sink = add(&mut graph, "buffersink", &format!("out{i}"), "")?;
        fan.link(0, &mut sink, 0);
        outputs.push((fan, 1));
        sinks.push(sink);
    }
    configure(graph, source, sinks)
}

/// For each rung, the rung it is scaled from (`None`: the source): the
/// smallest larger rung at least [`CASCADE_RATIO`] times its short side.
pub fn cascade(ladder: &Ladder) -> Vec<Option<usize>> {
    let short = |i: usize| ladder.rungs[i].width.min(ladder.rungs[i].height);
    (0..ladder.rungs.len())
        .map(|i| {
            (0..i)
                .rev()
                .find(|&p| short(p) >= short(i).saturating_mul(CASCADE_RATIO))
        })
        .collect()
}

/// `from` itself when one consumer reads it, else a `split` of `count`
/// outputs after it: the filter whose pads 0.. the consumers link from.
fn fan_out(
    graph: &mut filter::Graph,
    mut from: filter::Context,
    name: &str,
    count: usize,
) -> Result<filter::Context, MediaError> {
    if count <= 1 {
        return Ok(from);
    }
    let mut split = add(graph, "split", name, &count.to_string())?;
    from.link(0, &mut split, 0);
    Ok(split)
}

/// Turns the picture upright: `transpose` for quarter turns, flips for a half turn.
fn rotation_filters(rotation: u32) -> Vec<(&'static str, String)> {
    match rotation {
        90 => vec![("transpose", "dir=clock".to_owned())],
        180 => vec![("hflip", String::new()), ("vflip", String::new())],
        270 => vec![("transpose", "dir=cclock".to_owned())],
        _ => Vec::new(),
    }
}

/// HDR (PQ, HLG) to BT.709 SDR through linear light with the Hable curve;
/// BT.2020 SDR to BT.709 primaries. Needs libavfilter's `zscale` (zimg) and
/// `tonemap`; without them HDR is refused with `hdr_unsupported`.
fn tone_map_filters(range: DynamicRange) -> Result<Vec<(&'static str, String)>, MediaError> {
    let input = match range {
        DynamicRange::Sdr => return Ok(Vec::new()),
        DynamicRange::Pq => "tin=smpte2084:min=bt2020nc:pin=bt2020",
        DynamicRange::Hlg => "tin=arib-std-b67:min=bt2020nc:pin=bt2020",
        DynamicRange::WideGamut => "tin=bt2020-10:min=bt2020nc:pin=bt2020",
    };
    for name in ["zscale", "tonemap"] {
        if filter::find(name).is_none() {
            return Err(MediaError::HdrUnsupported(format!(
                "this FFmpeg build lacks the {name} filter"
            )));
        }
    }
    let to_sdr = "t=bt709:m=bt709:p=bt709:r=tv".to_owned();
    Ok(if range == DynamicRange::WideGamut {
        vec![
            ("zscale", format!("{input}:{to_sdr}")),
            ("format", "pix_fmts=yuv420p".to_owned()),
        ]
    } else {
        vec![
            ("zscale", format!("{input}:t=linear:npl=100")),
            ("format", "pix_fmts=gbrpf32le".to_owned()),
            ("zscale", "p=bt709".to_owned()),
            ("tonemap", "tonemap=hable:desat=0".to_owned()),
            ("zscale", to_sdr),
            ("format", "pix_fmts=yuv420p".to_owned()),
        ]
    })
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
/// `{prefix}_{position}_{filter}`; returns the last one.
fn chain(
    graph: &mut filter::Graph,
    from: &mut filter::Context,
    prefix: &str,
    filters: &[(&str, &str)],
) -> Result<filter::Context, MediaError> {
    let mut last: Option<filter::Context> = None;
    for (position, (name, args)) in filters.iter().enumerate() {
        let mut next = add(graph, name, &format!("{prefix}_{position}_{name}"), args)?;
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
