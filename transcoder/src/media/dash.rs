//! The DASH manifest: a static on-demand MPD over the same CMAF files HLS
//! uses, each Representation addressed with `SegmentBase` (init range plus
//! the `sidx` range): one video AdaptationSet, and one audio AdaptationSet
//! per audio rendition with its language, label and role (`main` for the
//! default one, `alternate` for the others). Written by hand; every
//! interpolated value is escaped.

use std::fmt::{self, Write};

use goflix_shared::domain::Rendition;
use goflix_shared::escape::xml;

use crate::media::package::Packaged;

const PROFILE: &str = "urn:mpeg:dash:profile:isoff-on-demand:2011";
const CHANNEL_SCHEME: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
const ROLE_SCHEME: &str = "urn:mpeg:dash:role:2011";
/// `lang` of an audio rendition whose language is not known.
const UNDETERMINED: &str = "und";
/// Channels of an audio rendition that does not state them.
const STEREO: u32 = 2;
/// Adaptation set attributes of an on-demand MPD: segments and subsegments aligned.
const ON_DEMAND_FLAGS: &str = r#"segmentAlignment="true" subsegmentAlignment="true" startWithSAP="1" subsegmentStartsWithSAP="1""#;

/// Renders `manifest.mpd`. `frame_rate` is the ladder's `(num, den)`;
/// `segment_seconds` sets `minBufferTime`.
pub fn manifest(
    video: &[Packaged],
    audio: &[Packaged],
    frame_rate: (u32, u32),
    duration_s: f64,
    segment_seconds: u32,
    uri_prefix: &str,
) -> String {
    let mut out = String::new();
    render(
        &mut out,
        video,
        audio,
        frame_rate,
        duration_s,
        segment_seconds,
        uri_prefix,
    )
    .expect("writing to a String cannot fail");
    out
}

fn render(
    out: &mut String,
    video: &[Packaged],
    audio: &[Packaged],
    frame_rate: (u32, u32),
    duration_s: f64,
    segment_seconds: u32,
    uri_prefix: &str,
) -> fmt::Result {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="{PROFILE}" type="static" mediaPresentationDuration="{}" minBufferTime="{}">"#,
        duration(duration_s),
        duration(f64::from(segment_seconds.max(1))),
    )?;
    writeln!(out, r#"  <Period id="0" start="PT0S">"#)?;
    let renditions: Vec<&Rendition> = video.iter().map(|t| &t.rendition).collect();
    open_video_set(out, &renditions, frame_rate, ON_DEMAND_FLAGS)?;
    for track in video {
        video_representation(out, &track.rendition, frame_rate)?;
        segment_base(out, track, uri_prefix)?;
        writeln!(out, "      </Representation>")?;
    }
    writeln!(out, "    </AdaptationSet>")?;
    for (position, track) in audio.iter().enumerate() {
        open_audio_set(out, &track.rendition, position, ON_DEMAND_FLAGS)?;
        segment_base(out, track, uri_prefix)?;
        writeln!(out, "      </Representation>")?;
        writeln!(out, "    </AdaptationSet>")?;
    }
    writeln!(out, "  </Period>")?;
    writeln!(out, "</MPD>")
}

/// Opens the video `AdaptationSet` of `renditions` with `flags` (its
/// alignment and SAP attributes).
pub(crate) fn open_video_set(
    out: &mut String,
    renditions: &[&Rendition],
    frame_rate: (u32, u32),
    flags: &str,
) -> fmt::Result {
    let (max_width, max_height) = renditions.iter().fold((0, 0), |(w, h), r| {
        (w.max(r.width.unwrap_or(0)), h.max(r.height.unwrap_or(0)))
    });
    let (num, den) = frame_rate;
    writeln!(
        out,
        r#"    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" {flags} maxWidth="{max_width}" maxHeight="{max_height}" frameRate="{num}/{den}">"#,
    )
}

/// Opens the `Representation` of video rendition `r`.
pub(crate) fn video_representation(
    out: &mut String,
    r: &Rendition,
    (num, den): (u32, u32),
) -> fmt::Result {
    writeln!(
        out,
        r#"      <Representation id="{}" bandwidth="{}" width="{}" height="{}" frameRate="{num}/{den}" sar="1:1" codecs="{}">"#,
        xml(&r.name),
        r.bandwidth,
        r.width.unwrap_or(0),
        r.height.unwrap_or(0),
        xml(&r.codecs),
    )
}

/// Opens the `position`-th audio `AdaptationSet` (id `position + 1`, after
/// the video's 0; with `flags`), with its language, label and role, and the
/// `Representation` of audio rendition `r` in it.
pub(crate) fn open_audio_set(
    out: &mut String,
    r: &Rendition,
    position: usize,
    flags: &str,
) -> fmt::Result {
    writeln!(
        out,
        r#"    <AdaptationSet id="{}" contentType="audio" mimeType="audio/mp4" lang="{}" {flags}>"#,
        position + 1,
        xml(r.language.as_deref().unwrap_or(UNDETERMINED)),
    )?;
    if let Some(label) = &r.label {
        writeln!(out, "      <Label>{}</Label>", xml(label))?;
    }
    let role = if r.default { "main" } else { "alternate" };
    writeln!(
        out,
        r#"      <Role schemeIdUri="{ROLE_SCHEME}" value="{role}"/>"#
    )?;
    writeln!(
        out,
        r#"      <Representation id="{}" bandwidth="{}" codecs="{}" audioSamplingRate="48000">"#,
        xml(&r.name),
        r.bandwidth,
        xml(&r.codecs),
    )?;
    writeln!(
        out,
        r#"        <AudioChannelConfiguration schemeIdUri="{CHANNEL_SCHEME}" value="{}"/>"#,
        r.channels.unwrap_or(STEREO),
    )
}

fn segment_base(out: &mut String, track: &Packaged, uri_prefix: &str) -> fmt::Result {
    let index = &track.index;
    writeln!(
        out,
        "        <BaseURL>{}</BaseURL>",
        xml(&format!("{uri_prefix}{}", track.file))
    )?;
    writeln!(
        out,
        r#"        <SegmentBase indexRange="{}-{}" indexRangeExact="true">"#,
        index.index.offset,
        index.index.end() - 1,
    )?;
    writeln!(
        out,
        r#"          <Initialization range="{}-{}"/>"#,
        index.init.offset,
        index.init.end() - 1,
    )?;
    writeln!(out, "        </SegmentBase>")
}

/// `PT12.345S`.
pub(crate) fn duration(seconds: f64) -> String {
    format!("PT{:.3}S", seconds.max(0.0))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use goflix_mp4::index::{ByteRange, Segment, TrackIndex};
    use goflix_shared::domain::RenditionKind;

    /// A 640x360 video or stereo audio rendition named `name`.
    pub(crate) fn rendition(name: &str, kind: RenditionKind) -> Rendition {
        let video = kind == RenditionKind::Video;
        Rendition {
            name: name.to_owned(),
            kind,
            width: video.then_some(640),
            height: video.then_some(360),
            frame_rate: video.then_some(30.0),
            codecs: if video { "avc1.64001e" } else { "mp4a.40.2" }.to_owned(),
            bandwidth: 900_000,
            average_bandwidth: 800_000,
            language: (!video).then(|| "und".to_owned()),
            label: None,
            default: !video,
            channels: (!video).then_some(2),
        }
    }

    /// An audio rendition `name` in `language`, labelled `label`.
    pub(crate) fn audio_rendition(
        name: &str,
        language: &str,
        label: Option<&str>,
        default: bool,
    ) -> Rendition {
        Rendition {
            language: Some(language.to_owned()),
            label: label.map(str::to_owned),
            default,
            ..rendition(name, RenditionKind::Audio)
        }
    }

    fn track(name: &str, kind: RenditionKind) -> Packaged {
        packaged(rendition(name, kind))
    }

    fn packaged(rendition: Rendition) -> Packaged {
        let name = rendition.name.clone();
        Packaged {
            rendition,
            file: format!("{name}.mp4"),
            index: TrackIndex {
                init: ByteRange {
                    offset: 0,
                    length: 700,
                },
                index: ByteRange {
                    offset: 700,
                    length: 68,
                },
                segments: vec![Segment {
                    range: ByteRange {
                        offset: 768,
                        length: 1000,
                    },
                    duration: 2.0,
                }],
            },
            keyframes: Vec::new(),
        }
    }

    #[test]
    fn mpd_describes_every_representation() {
        let video = [track("360p", RenditionKind::Video)];
        let audio = [track("audio", RenditionKind::Audio)];
        let mpd = manifest(&video, &audio, (30, 1), 10.0, 2, "v&1/");
        for needle in [
            r#"profiles="urn:mpeg:dash:profile:isoff-on-demand:2011""#,
            r#"type="static""#,
            r#"mediaPresentationDuration="PT10.000S""#,
            r#"minBufferTime="PT2.000S""#,
            r#"subsegmentStartsWithSAP="1""#,
            r#"<Representation id="360p" bandwidth="900000" width="640" height="360" frameRate="30/1" sar="1:1" codecs="avc1.64001e">"#,
            "<BaseURL>v&amp;1/360p.mp4</BaseURL>",
            r#"<SegmentBase indexRange="700-767" indexRangeExact="true">"#,
            r#"<Initialization range="0-699"/>"#,
            r#"<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="und""#,
            r#"<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>"#,
            r#"<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>"#,
        ] {
            assert!(mpd.contains(needle), "{needle} missing in\n{mpd}");
        }
    }

    #[test]
    fn every_audio_rendition_has_its_own_adaptation_set() {
        let video = [track("360p", RenditionKind::Video)];
        let audio = [
            packaged(audio_rendition("audio", "en", None, false)),
            packaged(audio_rendition(
                "audio_1",
                "fr",
                Some("Français & co"),
                true,
            )),
        ];
        let mpd = manifest(&video, &audio, (30, 1), 10.0, 2, "");
        let english = r#"    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en" segmentAlignment="true" subsegmentAlignment="true" startWithSAP="1" subsegmentStartsWithSAP="1">
      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="alternate"/>
      <Representation id="audio" "#;
        let french = r#"    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="fr" segmentAlignment="true" subsegmentAlignment="true" startWithSAP="1" subsegmentStartsWithSAP="1">
      <Label>Français &amp; co</Label>
      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
      <Representation id="audio_1" "#;
        for needle in [english, french, "<BaseURL>audio_1.mp4</BaseURL>"] {
            assert!(mpd.contains(needle), "{needle} missing in\n{mpd}");
        }
        assert_eq!(mpd.matches("<AdaptationSet").count(), 3);
        assert_eq!(mpd.matches(r#"value="main""#).count(), 1);
    }

    #[test]
    fn silent_mpd_has_one_adaptation_set() {
        let video = [track("360p", RenditionKind::Video)];
        let mpd = manifest(&video, &[], (30, 1), 4.0, 2, "");
        assert_eq!(mpd.matches("<AdaptationSet").count(), 1);
    }
}
