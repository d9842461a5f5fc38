//! Manifest modifiers: `?min_height=N` and `?max_height=N` on the
//! multivariant entry points keep only the video variants whose height is
//! in range (both bounds inclusive) — HLS `EXT-X-STREAM-INF` entries (and
//! `EXT-X-I-FRAME-STREAM-INF` tags) by the height of their `RESOLUTION`,
//! DASH `Representation`s by their own or their `AdaptationSet`'s
//! `height`. Everything else stays byte for byte; a DASH `AdaptationSet`
//! left without Representations is removed, and its `maxHeight`-style
//! bounds are corrected when some remain.
//!
//! A [`Plan`] is computed from the stored manifest before any bytes are
//! produced. It names the heights kept, and the filtered manifest is cached
//! under the stored manifest's (versioned) key plus that set, so requests
//! asking for the same variants of the same version share one entry and one
//! `ETag`, whatever numbers they used and whatever token they carry.
//!
//! Variants without a height (audio-only) are always kept, and a manifest
//! without video variants is served unchanged. A filter that removes every
//! video variant of a manifest (or of one DASH Period) is
//! [`OriginError::NoMatchingVariant`], a `404`: the request is well-formed,
//! this video just has no such rendition.

use crate::error::OriginError;
use crate::paths::FileKind;
use actix_web::web;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::ops::Range;

/// Largest height a modifier may name (16K video).
pub const MAX_HEIGHT: u32 = 8640;

/// The inclusive range of video heights a request keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeightFilter {
    min: u32,
    max: u32,
}

#[derive(Deserialize)]
struct Query {
    min_height: Option<String>,
    max_height: Option<String>,
}

impl HeightFilter {
    /// The filter a query string asks for; `None` when it names no modifier.
    /// Other parameters (`token`, cache busters) are ignored.
    pub fn from_query(query: &str) -> Result<Option<Self>, OriginError> {
        let query = web::Query::<Query>::from_query(query)
            .map_err(|_| OriginError::BadQuery)?
            .into_inner();
        if query.min_height.is_none() && query.max_height.is_none() {
            return Ok(None);
        }
        let min = bound("min_height", query.min_height.as_deref())?.unwrap_or(0);
        let max = bound("max_height", query.max_height.as_deref())?.unwrap_or(u32::MAX);
        if min > max {
            return Err(OriginError::BadModifier(
                "min_height must not exceed max_height".into(),
            ));
        }
        Ok(Some(Self { min, max }))
    }

    fn keeps(self, height: u32) -> bool {
        (self.min..=self.max).contains(&height)
    }
}

/// A height parameter: plain decimal digits, 1 to [`MAX_HEIGHT`].
fn bound(name: &str, value: Option<&str>) -> Result<Option<u32>, OriginError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let height = (value.len() <= 4 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|h| (1..=MAX_HEIGHT).contains(h));
    height.map(Some).ok_or_else(|| {
        OriginError::BadModifier(format!(
            "{name} must be a whole number from 1 to {MAX_HEIGHT}"
        ))
    })
}

/// How to turn a stored manifest into its filtered variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every video height the filter keeps.
    kept: BTreeSet<u32>,
    /// Non-overlapping replacements, in document order.
    edits: Vec<(Range<usize>, String)>,
}

impl Plan {
    /// Whether the filter keeps the manifest as it is.
    pub fn is_identity(&self) -> bool {
        self.edits.is_empty()
    }

    /// What distinguishes the filtered manifest's cache key from the
    /// stored one's: the kept heights, e.g. `#heights=240,360`.
    pub fn key_suffix(&self) -> String {
        let mut suffix = String::from("#heights=");
        for (i, height) in self.kept.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(suffix, "{comma}{height}");
        }
        suffix
    }

    /// Keeps edits in order and apart even for malformed documents: an
    /// edit starting inside an earlier one is dropped.
    fn drop_overlaps(&mut self) {
        self.edits.sort_by_key(|(span, _)| span.start);
        let mut end = 0;
        self.edits.retain(|(span, _)| {
            let apart = span.start >= end;
            if apart {
                end = span.end;
            }
            apart
        });
    }

    /// The filtered manifest.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (span, replacement) in &self.edits {
            out.push_str(&text[at..span.start]);
            out.push_str(replacement);
            at = span.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// Plans filtering `text`, a multivariant manifest of `kind`.
pub fn plan(text: &str, kind: FileKind, filter: HeightFilter) -> Result<Plan, OriginError> {
    match kind {
        FileKind::Dash => plan_dash(text, filter),
        _ => plan_hls(text, filter),
    }
}

fn plan_hls(text: &str, filter: HeightFilter) -> Result<Plan, OriginError> {
    let mut plan = Plan {
        kept: BTreeSet::new(),
        edits: Vec::new(),
    };
    let (mut videos, mut kept_videos) = (0, 0);
    let mut drop_uri = false;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let span = at..at + line.len();
        at = span.end;
        let content = line.trim();
        if content.is_empty() {
            continue;
        }
        if !content.starts_with('#') {
            if std::mem::take(&mut drop_uri) {
                plan.edits.push((span, String::new()));
            }
            continue;
        }
        let (attributes, is_variant) = if let Some(a) = content.strip_prefix("#EXT-X-STREAM-INF:") {
            (a, true)
        } else if let Some(a) = content.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:") {
            (a, false)
        } else {
            continue;
        };
        let Some(height) = resolution_height(attributes) else {
            continue;
        };
        videos += usize::from(is_variant);
        if filter.keeps(height) {
            plan.kept.insert(height);
            kept_videos += usize::from(is_variant);
        } else {
            plan.edits.push((span, String::new()));
            drop_uri = is_variant;
        }
    }
    if videos > 0 && kept_videos == 0 {
        return Err(OriginError::NoMatchingVariant);
    }
    Ok(plan)
}

/// The height of a `RESOLUTION=<w>x<h>` attribute in an HLS attribute list.
fn resolution_height(attributes: &str) -> Option<u32> {
    let mut rest = attributes;
    while !rest.is_empty() {
        // An attribute ends at the first comma outside a quoted string.
        let mut quoted = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                quoted ^= c == '"';
                c == ',' && !quoted
            })
            .map_or(rest.len(), |(i, _)| i);
        if let Some(value) = rest[..end].trim().strip_prefix("RESOLUTION=") {
            return value.split_once('x')?.1.parse().ok();
        }
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    None
}

/// Counts of one DASH Period's video Representations.
#[derive(Default)]
struct PeriodCount {
    videos: usize,
    kept: usize,
}

impl PeriodCount {
    fn check(&mut self) -> Result<(), OriginError> {
        let count = std::mem::take(self);
        if count.videos > 0 && count.kept == 0 {
            return Err(OriginError::NoMatchingVariant);
        }
        Ok(())
    }
}

/// An open `<AdaptationSet>` while its Representations are read.
struct OpenSet {
    /// Its start tag.
    tag: Range<usize>,
    /// Number of edits planned before it started.
    first_edit: usize,
    /// `height`/`width` every Representation inherits, if set here.
    height: Option<u32>,
    width: Option<u32>,
    representations: usize,
    removed: usize,
    /// Heights and widths of the kept video Representations.
    kept_heights: Vec<u32>,
    kept_widths: Vec<u32>,
}

fn plan_dash(text: &str, filter: HeightFilter) -> Result<Plan, OriginError> {
    let mut plan = Plan {
        kept: BTreeSet::new(),
        edits: Vec::new(),
    };
    let mut period = PeriodCount::default();
    let mut set: Option<OpenSet> = None;
    // The start tag of the Representation being read, until its end tag.
    let mut representation: Option<Range<usize>> = None;
    for tag in Tags::new(text) {
        match (tag.name, tag.kind) {
            ("AdaptationSet", TagKind::Start) => {
                // A Representation never contains an AdaptationSet.
                representation = None;
                set = Some(OpenSet {
                    tag: tag.span.clone(),
                    first_edit: plan.edits.len(),
                    height: number(text, &tag, "height"),
                    width: number(text, &tag, "width"),
                    representations: 0,
                    removed: 0,
                    kept_heights: Vec::new(),
                    kept_widths: Vec::new(),
                });
            }
            ("AdaptationSet", TagKind::End) => {
                representation = None;
                if let Some(open) = set.take() {
                    close_set(text, &mut plan, open, tag.span.end);
                }
            }
            ("Representation", TagKind::Start) => representation = Some(tag.span.clone()),
            ("Representation", TagKind::Empty | TagKind::End) => {
                let start_tag = match tag.kind {
                    TagKind::End => representation.take(),
                    _ => Some(tag.span.clone()),
                };
                let Some(start_tag) = start_tag else {
                    continue;
                };
                let element = start_tag.start..tag.span.end;
                let start_tag = Tag {
                    span: start_tag,
                    ..tag
                };
                let inherited = set.as_ref().map_or((None, None), |s| (s.height, s.width));
                let height = number(text, &start_tag, "height").or(inherited.0);
                let width = number(text, &start_tag, "width").or(inherited.1);
                if let Some(open) = set.as_mut() {
                    open.representations += 1;
                }
                let Some(height) = height else {
                    continue;
                };
                period.videos += 1;
                if filter.keeps(height) {
                    plan.kept.insert(height);
                    period.kept += 1;
                    if let Some(open) = set.as_mut() {
                        open.kept_heights.push(height);
                        open.kept_widths.extend(width);
                    }
                } else {
                    plan.edits.push((whole_lines(text, element), String::new()));
                    if let Some(open) = set.as_mut() {
                        open.removed += 1;
                    }
                }
            }
            ("Period", TagKind::End) => period.check()?,
            _ => {}
        }
    }
    period.check()?;
    plan.drop_overlaps();
    Ok(plan)
}

/// Finishes an AdaptationSet ending at `end`: removed whole when none of
/// its Representations is kept, else with its height and width bounds
/// narrowed to the kept ones.
fn close_set(text: &str, plan: &mut Plan, open: OpenSet, end: usize) {
    if open.removed == 0 {
        return;
    }
    if open.removed == open.representations {
        plan.edits.truncate(open.first_edit);
        plan.edits
            .push((whole_lines(text, open.tag.start..end), String::new()));
        return;
    }
    let tag = Tag {
        span: open.tag,
        name: "AdaptationSet",
        kind: TagKind::Start,
    };
    let bounds = [
        ("minHeight", open.kept_heights.iter().min()),
        ("maxHeight", open.kept_heights.iter().max()),
        ("minWidth", open.kept_widths.iter().min()),
        ("maxWidth", open.kept_widths.iter().max()),
    ];
    let mut edits: Vec<_> = bounds
        .into_iter()
        .filter_map(|(name, value)| Some((attribute(text, &tag, name)?.0, value?.to_string())))
        .collect();
    edits.sort_by_key(|(span, _)| span.start);
    plan.edits.splice(open.first_edit..open.first_edit, edits);
}

/// `span` widened to whole lines when the element is alone on its lines,
/// so removing it leaves no blank line behind.
fn whole_lines(text: &str, span: Range<usize>) -> Range<usize> {
    let before = &text[..span.start];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let after = &text[span.end..];
    let line_end = after.find('\n').map(|i| span.end + i + 1);
    match line_end {
        Some(line_end)
            if before[line_start..].trim().is_empty()
                && text[span.end..line_end].trim().is_empty() =>
        {
            line_start..line_end
        }
        _ => span,
    }
}

/// A numeric attribute of a tag.
fn number(text: &str, tag: &Tag<'_>, name: &str) -> Option<u32> {
    attribute(text, tag, name)?.1.trim().parse().ok()
}

/// The value (and its span in `text`) of attribute `name` of `tag`.
fn attribute<'a>(text: &'a str, tag: &Tag<'_>, name: &str) -> Option<(Range<usize>, &'a str)> {
    let bytes = text.as_bytes();
    // Skip `<` and the element name.
    let mut at = tag.span.start + 1;
    while at < tag.span.end && !bytes[at].is_ascii_whitespace() && bytes[at] != b'>' {
        at += 1;
    }
    loop {
        while at < tag.span.end && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let name_start = at;
        while at < tag.span.end && !matches!(bytes[at], b'=' | b'>' | b'/') {
            at += 1;
        }
        let attr_name = text[name_start..at].trim();
        if at >= tag.span.end || bytes[at] != b'=' {
            return None;
        }
        at += 1;
        while at < tag.span.end && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let quote = *bytes.get(at).filter(|q| matches!(q, b'"' | b'\''))?;
        let value_start = at + 1;
        let value_end = value_start + text[value_start..tag.span.end].find(char::from(quote))?;
        if attr_name == name {
            return Some((value_start..value_end, &text[value_start..value_end]));
        }
        at = value_end + 1;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    /// `<name …>`
    Start,
    /// `</name>`
    End,
    /// `<name …/>`
    Empty,
}

/// One XML tag: its span in the text and its local name (any namespace
/// prefix dropped).
#[derive(Debug, Clone)]
struct Tag<'a> {
    span: Range<usize>,
    name: &'a str,
    kind: TagKind,
}

/// The tags of an XML document in order, skipping comments, processing
/// instructions, CDATA and declarations. Quoted attribute values may hold
/// `>`. Stops at the first unterminated construct.
struct Tags<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Tags<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        let bytes = self.text.as_bytes();
        loop {
            let start = self.at + self.text[self.at..].find('<')?;
            let rest = &self.text[start..];
            let skip_to = [
                ("<!--", "-->"),
                ("<![CDATA[", "]]>"),
                ("<?", "?>"),
                ("<!", ">"),
            ]
            .iter()
            .find(|(open, _)| rest.starts_with(open));
            if let Some((_, close)) = skip_to {
                self.at = start + rest.find(close)? + close.len();
                continue;
            }
            let mut at = start + 1;
            let mut quote = None;
            while at < bytes.len() {
                match (quote, bytes[at]) {
                    (None, b'"' | b'\'') => quote = Some(bytes[at]),
                    (Some(q), b) if b == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
                at += 1;
            }
            if at >= bytes.len() {
                self.at = bytes.len();
                return None;
            }
            let end = at + 1;
            self.at = end;
            let inner = &self.text[start + 1..at];
            let (kind, inner) = if let Some(name) = inner.strip_prefix('/') {
                (TagKind::End, name)
            } else if inner.ends_with('/') {
                (TagKind::Empty, inner)
            } else {
                (TagKind::Start, inner)
            };
            let qualified = inner
                .split(|c: char| c.is_ascii_whitespace() || c == '/')
                .next()
                .unwrap_or_default();
            let name = qualified.rsplit(':').next().unwrap_or_default();
            return Some(Tag {
                span: start..end,
                name,
                kind,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn filter(query: &str) -> HeightFilter {
        HeightFilter::from_query(query).unwrap().unwrap()
    }

    fn filtered(text: &str, kind: FileKind, query: &str) -> Result<String, OriginError> {
        plan(text, kind, filter(query)).map(|p| p.apply(text))
    }

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,URI=\"v/audio.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,AUDIO=\"aud\"\n\
        v/1080p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2800000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"aud\"\n\
        v/720p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud\"\n\
        v/360p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"\n\
        v/audio.m3u8\n";

    const MPD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">
  <!-- <Representation height="1"> in a comment is not an element -->
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" maxWidth="1920" maxHeight="1080" frameRate="30/1">
      <Representation id="1080p" bandwidth="5000000" width="1920" height="1080" codecs="avc1.640028">
        <BaseURL>v/1080p.mp4</BaseURL>
      </Representation>
      <Representation id="720p" bandwidth="2800000" width="1280" height="720" codecs="avc1.64001f">
        <BaseURL>v/720p.mp4</BaseURL>
      </Representation>
      <Representation id="360p" bandwidth="800000" width="640" height="360" codecs="avc1.64001e"><BaseURL>v/360p.mp4</BaseURL></Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="video" height="240" width="426" minHeight="240">
      <Representation id="240p" bandwidth="400000" codecs="hev1.1.6.L63.90"/>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4">
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2">
        <BaseURL>v/audio.mp4</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"#;

    #[test]
    fn queries_are_validated() {
        assert_eq!(HeightFilter::from_query("").unwrap(), None);
        assert_eq!(HeightFilter::from_query("token=abc&x=1").unwrap(), None);
        assert_eq!(filter("max_height=720"), HeightFilter { min: 0, max: 720 });
        assert_eq!(
            filter("token=t&min_height=360&max_height=360"),
            HeightFilter { min: 360, max: 360 }
        );
        for bad in [
            "max_height=",
            "max_height=abc",
            "max_height=-1",
            "max_height=%2B720",
            "max_height=720p",
            "max_height=0",
            "max_height=8641",
            "max_height=18446744073709551616",
            "max_height=00000720",
            "min_height=720&max_height=360",
            "max_height=720&max_height=360",
            "max_height=7%2020",
        ] {
            let error = HeightFilter::from_query(bad).unwrap_err();
            assert_eq!(error.code(), "bad_query", "{bad}");
        }
    }

    #[test]
    fn hls_variants_are_filtered_by_resolution_height() {
        let out = filtered(MASTER, FileKind::Hls, "max_height=720").unwrap();
        assert_eq!(out, MASTER.replace(
            "#EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS=\"avc1.640028,mp4a.40.2\",RESOLUTION=1920x1080,AUDIO=\"aud\"\nv/1080p.m3u8\n",
            "",
        ));
        let out = filtered(MASTER, FileKind::Hls, "min_height=400&max_height=800").unwrap();
        assert!(out.contains("v/720p.m3u8\n"));
        assert!(!out.contains("1080p") && !out.contains("360p"));
        assert!(
            out.contains("URI=\"v/audio.m3u8\"\n"),
            "audio rendition group kept"
        );
        assert!(out.ends_with("v/audio.m3u8\n"), "audio-only variant kept");
        assert_eq!(
            plan(MASTER, FileKind::Hls, filter("max_height=4000")).unwrap(),
            Plan {
                kept: [360, 720, 1080].into(),
                edits: vec![]
            }
        );
    }

    #[test]
    fn the_cache_key_names_the_kept_variants_not_the_numbers() {
        let a = plan(MASTER, FileKind::Hls, filter("max_height=720")).unwrap();
        let b = plan(
            MASTER,
            FileKind::Hls,
            filter("max_height=1000&min_height=300"),
        )
        .unwrap();
        assert_eq!(a.key_suffix(), "#heights=360,720");
        assert_eq!(a, b);
        assert!(!a.is_identity());
        assert!(plan(MASTER, FileKind::Hls, filter("min_height=1"))
            .unwrap()
            .is_identity());
    }

    #[test]
    fn filters_leaving_no_video_variant_are_refused() {
        for query in [
            "max_height=300",
            "min_height=1081",
            "min_height=400&max_height=700",
        ] {
            let error = filtered(MASTER, FileKind::Hls, query).unwrap_err();
            assert_eq!(error.code(), "no_matching_variant", "{query}");
        }
        let error = filtered(MPD, FileKind::Dash, "min_height=1081").unwrap_err();
        assert_eq!(error.code(), "no_matching_variant");
        // Without video variants there is nothing to filter.
        let audio_only = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"mp4a.40.2\"\na.m3u8\n";
        assert_eq!(
            filtered(audio_only, FileKind::Hls, "max_height=360").unwrap(),
            audio_only
        );
    }

    #[test]
    fn hls_i_frame_streams_follow_the_filter() {
        let master = "#EXTM3U\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720\r\n720p.m3u8\r\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360\n\n# a comment\n360p.m3u8\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720,URI=\"720p_i.m3u8\"\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360,URI=\"360p_i.m3u8\"\n";
        assert_eq!(
            filtered(master, FileKind::Hls, "min_height=720").unwrap(),
            "#EXTM3U\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720\r\n720p.m3u8\r\n\
            \n# a comment\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720,URI=\"720p_i.m3u8\"\n"
        );
    }

    #[test]
    fn dash_representations_are_filtered_and_bounds_narrowed() {
        let out = filtered(MPD, FileKind::Dash, "max_height=720").unwrap();
        assert!(!out.contains("1080p"));
        assert!(out.contains("maxWidth=\"1280\" maxHeight=\"720\""));
        assert!(out.contains("<Representation id=\"720p\""));
        assert!(out.contains("<Representation id=\"360p\""));
        assert!(
            out.contains("<Representation id=\"240p\""),
            "inherited height"
        );
        assert!(out.contains("<Representation id=\"audio\""));
        assert!(out.contains("<!-- <Representation height=\"1\">"));
        assert!(
            out.contains("frameRate=\"30/1\">\n      <Representation id=\"720p\""),
            "no blank line left behind: {out}"
        );

        let out = filtered(MPD, FileKind::Dash, "min_height=300").unwrap();
        assert!(
            !out.contains("240p") && !out.contains("id=\"1\""),
            "empty set removed"
        );
        assert!(out.contains("</AdaptationSet>\n    <AdaptationSet id=\"2\""));
        assert!(out.contains("maxWidth=\"1920\" maxHeight=\"1080\""));

        let out = filtered(MPD, FileKind::Dash, "min_height=360&max_height=360").unwrap();
        assert!(out.contains("maxWidth=\"640\" maxHeight=\"360\""));
        assert_eq!(out.matches("<Representation id=").count(), 2, "{out}");
        assert_eq!(out.matches("<AdaptationSet ").count(), 2);
    }

    #[test]
    fn attributes_are_found_by_exact_name() {
        let text = r#"<Representation maxHeight="9" data-x='a>b' height = "480" width="854"/>"#;
        let tag = Tags::new(text).next().unwrap();
        assert_eq!(tag.kind, TagKind::Empty);
        assert_eq!(tag.name, "Representation");
        assert_eq!(number(text, &tag, "height"), Some(480));
        assert_eq!(number(text, &tag, "width"), Some(854));
        assert_eq!(attribute(text, &tag, "data-x").unwrap().1, "a>b");
        assert_eq!(number(text, &tag, "bandwidth"), None);
    }

    proptest! {
        #[test]
        fn planning_never_panics_and_edits_stay_in_bounds(
            fragments in proptest::collection::vec(prop_oneof![
                Just("<Period>"), Just("</Period>"), Just("<AdaptationSet maxHeight=\"9\" height=\"360\">"),
                Just("<AdaptationSet minWidth='1'>"), Just("</AdaptationSet>"), Just("<Representation height=\"720\">"),
                Just("<Representation width=\"4\" height=\"240\"/>"), Just("</Representation>"), Just("<!--"),
                Just("-->"), Just("#EXT-X-STREAM-INF:RESOLUTION=1x480,CODECS=\"a,b\"\n"), Just("u.m3u8\n"),
                Just("\n"), Just("  "), Just("\""), Just("<"), Just(">"), Just("x:"), Just("é"),
            ], 0..40),
            min in 1u32..800,
        ) {
            let text = fragments.concat();
            let filter = HeightFilter { min, max: min + 300 };
            for kind in [FileKind::Hls, FileKind::Dash] {
                if let Ok(plan) = plan(&text, kind, filter) {
                    let mut at = 0;
                    for (span, _) in &plan.edits {
                        prop_assert!(at <= span.start && span.start <= span.end && span.end <= text.len());
                        at = span.end;
                    }
                    plan.apply(&text);
                }
            }
        }

        #[test]
        fn kept_hls_variants_are_exactly_those_in_range(
            heights in proptest::collection::vec(1u32..2200, 1..12),
            min in 1u32..2200,
            span in 0u32..1000,
        ) {
            let master = heights
                .iter()
                .enumerate()
                .map(|(i, h)| format!("#EXT-X-STREAM-INF:BANDWIDTH={i},RESOLUTION=100x{h}\nv{i}.m3u8\n"))
                .collect::<String>();
            let filter = HeightFilter { min, max: min + span };
            let expected: Vec<_> = (0..heights.len()).filter(|&i| filter.keeps(heights[i])).collect();
            match plan(&master, FileKind::Hls, filter) {
                Err(_) => prop_assert!(expected.is_empty()),
                Ok(plan) => {
                    let out = plan.apply(&master);
                    let uris: Vec<_> = out.lines().filter(|l| !l.starts_with('#')).collect();
                    let wanted: Vec<_> = expected.iter().map(|i| format!("v{i}.m3u8")).collect();
                    prop_assert_eq!(uris, wanted);
                }
            }
        }
    }
}
