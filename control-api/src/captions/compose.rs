//! The manifests of a manifest-only version: the media version's own
//! `master.m3u8` and `manifest.mpd` (as the transcoder wrote them, URIs
//! naming the media version's files) with the ladder of another codec and
//! the text tracks added. The other codec's variants come from its own
//! video-only manifests ([`hls_add_ladder`], [`dash_add_ladder`]): each
//! HLS variant takes the media's audio group, codecs and rate, the DASH
//! video `AdaptationSet` is added beside the media's. HLS gets
//! one `EXT-X-MEDIA:TYPE=SUBTITLES` per track in one group that every
//! variant names, each a VOD playlist of byte-ranged WebVTT segments as
//! long as the media's; DASH gets one text `AdaptationSet` per track over
//! a WebVTT sidecar. Pure text in, text out: nothing here reads storage.

use goflix_shared::captions::{Segmented, TextSegment};
use goflix_shared::domain::CaptionKind;
use goflix_shared::escape::{hls_quoted, xml};
use std::fmt::Write as _;

/// The subtitle group every variant refers to.
const GROUP: &str = "subs";

/// What HLS says a `captions` track is for (Apple's accessibility characteristics).
const CAPTION_CHARACTERISTICS: &str =
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound";

/// One text track as the manifests name it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTrack {
    /// File stem in the manifest version: `{stem}.m3u8` (HLS playlist),
    /// `{stem}_hls.vtt` (its segments) and `{stem}.vtt` (the DASH sidecar).
    pub stem: String,
    /// BCP 47 tag.
    pub language: String,
    /// What players show in their menu.
    pub label: String,
    /// Subtitles or captions.
    pub kind: CaptionKind,
    /// Bits per second of the sidecar over the video (DASH `bandwidth`).
    pub bandwidth: u64,
}

impl TextTrack {
    /// The HLS subtitle playlist's name.
    pub fn playlist(&self) -> String {
        format!("{}.m3u8", self.stem)
    }

    /// The name of the file the HLS segments are byte ranges of.
    pub fn segments(&self) -> String {
        format!("{}_hls.vtt", self.stem)
    }

    /// The WebVTT sidecar's name.
    pub fn sidecar(&self) -> String {
        format!("{}.vtt", self.stem)
    }
}

/// Why a media version's manifest cannot take text tracks.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The HLS master has no variant to add the group to.
    #[error("the multivariant playlist has no variant")]
    NoVariant,
    /// The MPD has no `</Period>` to add the adaptation sets before.
    #[error("the MPD has no period")]
    NoPeriod,
    /// A multivariant playlist that does not parse.
    #[error("a multivariant playlist does not parse: {0}")]
    Unparsable(String),
}

/// The audio every variant of a media version carries beside its video.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantAudio {
    /// The highest peak rate of the audio renditions, bits per second.
    pub bandwidth: u64,
    /// The highest average rate of the audio renditions.
    pub average_bandwidth: u64,
}

/// `media_master` with the video and I-frame variants of `added_master` (a
/// video-only multivariant playlist of another codec, URIs naming its own
/// version's files) after its own. Each added video variant names the audio
/// group and audio codecs of the media's first variant, and its rates
/// include `audio`'s, as the media's do.
pub fn hls_add_ladder(
    media_master: &str,
    added_master: &str,
    audio: &VariantAudio,
) -> Result<String, ComposeError> {
    let parse = |text: &str| {
        m3u8_rs::parse_master_playlist_res(text.as_bytes())
            .map_err(|e| ComposeError::Unparsable(e.to_string()))
    };
    let media = parse(media_master)?;
    let added = parse(added_master)?;
    let first = media
        .variants
        .iter()
        .find(|variant| !variant.is_i_frame)
        .ok_or(ComposeError::NoVariant)?;
    let audio_codecs: Vec<&str> = first
        .codecs
        .as_deref()
        .map(|codecs| codecs.split(',').skip(1).collect())
        .unwrap_or_default();
    let variants = added
        .variants
        .into_iter()
        .map(|mut variant| {
            if !variant.is_i_frame && first.audio.is_some() {
                variant.audio.clone_from(&first.audio);
                variant.codecs = variant.codecs.map(|video| {
                    std::iter::once(video.as_str())
                        .chain(audio_codecs.iter().copied())
                        .collect::<Vec<_>>()
                        .join(",")
                });
                variant.bandwidth += audio.bandwidth;
                variant.average_bandwidth = variant
                    .average_bandwidth
                    .map(|average| average + audio.average_bandwidth);
            }
            variant
        })
        .collect();
    let mut written = Vec::new();
    m3u8_rs::MasterPlaylist {
        variants,
        ..m3u8_rs::MasterPlaylist::default()
    }
    .write_to(&mut written)
    .map_err(|e| ComposeError::Unparsable(e.to_string()))?;
    let written = String::from_utf8_lossy(&written);
    // Everything after the header lines is the variants (tags and URIs).
    let body: String = written
        .lines()
        .skip_while(|line| {
            !line.starts_with("#EXT-X-STREAM-INF:")
                && !line.starts_with("#EXT-X-I-FRAME-STREAM-INF:")
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    let mut out = String::with_capacity(media_master.len() + body.len() + 1);
    out.push_str(media_master);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&body);
    Ok(out)
}

/// The `id` of the video `AdaptationSet` a codec's ladder adds: after the
/// media's (0 and its audio sets from 1), before the text sets (100 on).
const ADDED_VIDEO_SET_ID: u32 = 50;

/// `media_mpd` with the video `AdaptationSet`s of `added_mpd` (a video-only
/// MPD of another codec, `BaseURL`s naming its own version's files) added
/// before the end of its period, renumbered so ids stay unique.
pub fn dash_add_ladder(media_mpd: &str, added_mpd: &str) -> Result<String, ComposeError> {
    let end = media_mpd
        .rfind("  </Period>")
        .ok_or(ComposeError::NoPeriod)?;
    let mut sets = String::new();
    let mut rest = added_mpd;
    let mut next_id = ADDED_VIDEO_SET_ID;
    while let Some(start) = rest.find("    <AdaptationSet ") {
        let close = "</AdaptationSet>\n";
        let stop = rest[start..]
            .find(close)
            .map(|at| start + at + close.len())
            .ok_or(ComposeError::NoPeriod)?;
        let set = &rest[start..stop];
        if set.contains("contentType=\"video\"") {
            sets.push_str(&renumber(set, next_id));
            next_id += 1;
        }
        rest = &rest[stop..];
    }
    if sets.is_empty() {
        return Err(ComposeError::NoVariant);
    }
    let mut out = String::with_capacity(media_mpd.len() + sets.len());
    out.push_str(&media_mpd[..end]);
    out.push_str(&sets);
    out.push_str(&media_mpd[end..]);
    Ok(out)
}

/// `set` (an `AdaptationSet` element) with its `id` attribute set to `id`.
fn renumber(set: &str, id: u32) -> String {
    let head_end = set.find('>').unwrap_or(set.len());
    let head = &set[..head_end];
    match head.find(" id=\"") {
        Some(at) => {
            let value_start = at + 5;
            let value_end = head[value_start..]
                .find('"')
                .map_or(head.len(), |n| value_start + n);
            format!("{}{id}{}", &set[..value_start], &set[value_end..])
        }
        None => set.replacen(
            "<AdaptationSet ",
            &format!("<AdaptationSet id=\"{id}\" "),
            1,
        ),
    }
}

/// The multivariant playlist `media_master` with `tracks` added; their
/// playlists are named with `uri_prefix` (the manifest version's folder).
pub fn hls_master(
    media_master: &str,
    tracks: &[TextTrack],
    uri_prefix: &str,
) -> Result<String, ComposeError> {
    let lines: Vec<&str> = media_master.lines().collect();
    let first_variant = lines
        .iter()
        .position(|line| line.starts_with("#EXT-X-STREAM-INF:"))
        .ok_or(ComposeError::NoVariant)?;
    let names = unique_names(tracks);
    let mut out = String::with_capacity(media_master.len() + tracks.len() * 200);
    for (i, line) in lines.iter().enumerate() {
        if i == first_variant {
            for (track, name) in tracks.iter().zip(&names) {
                media_line(&mut out, track, name, uri_prefix);
            }
        }
        out.push_str(line);
        if line.starts_with("#EXT-X-STREAM-INF:") {
            let _ = write!(out, ",SUBTITLES=\"{GROUP}\"");
        }
        out.push('\n');
    }
    Ok(out)
}

/// One `EXT-X-MEDIA:TYPE=SUBTITLES` line.
fn media_line(out: &mut String, track: &TextTrack, name: &str, uri_prefix: &str) {
    let _ = write!(
        out,
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{GROUP}\",NAME=\"{}\",LANGUAGE=\"{}\",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO",
        hls_quoted(name),
        hls_quoted(&track.language),
    );
    if track.kind == CaptionKind::Captions {
        let _ = write!(out, ",CHARACTERISTICS=\"{CAPTION_CHARACTERISTICS}\"");
    }
    let _ = writeln!(
        out,
        ",URI=\"{}{}\"",
        hls_quoted(uri_prefix),
        track.playlist()
    );
}

/// Every track's `NAME`, unique in the group as RFC 8216 §4.4.6.1 requires:
/// its label, with its language added where labels repeat.
fn unique_names(tracks: &[TextTrack]) -> Vec<String> {
    tracks
        .iter()
        .map(|track| {
            let repeated = tracks.iter().filter(|t| t.label == track.label).count() > 1;
            if repeated {
                format!("{} ({})", track.label, track.language)
            } else {
                track.label.clone()
            }
        })
        .collect()
}

/// A VOD playlist of `segmented`'s WebVTT segments, byte ranges of
/// `file`, under the media's `target_duration`.
pub fn hls_subtitles(file: &str, segmented: &Segmented, target_duration: u64) -> String {
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target_duration}\n\
         #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    );
    for TextSegment {
        offset,
        length,
        duration_s,
    } in &segmented.segments
    {
        let _ = write!(
            out,
            "#EXTINF:{duration_s:.3},\n#EXT-X-BYTERANGE:{length}@{offset}\n{file}\n"
        );
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// `media_mpd` with one text `AdaptationSet` per track before the end of
/// its period; the sidecars are named with `uri_prefix`.
pub fn dash(
    media_mpd: &str,
    tracks: &[TextTrack],
    uri_prefix: &str,
) -> Result<String, ComposeError> {
    let end = media_mpd
        .rfind("  </Period>")
        .ok_or(ComposeError::NoPeriod)?;
    let mut sets = String::new();
    for (i, track) in tracks.iter().enumerate() {
        let role = match track.kind {
            CaptionKind::Subtitles => "subtitle",
            CaptionKind::Captions => "caption",
        };
        let _ = write!(
            sets,
            "    <AdaptationSet id=\"{}\" contentType=\"text\" mimeType=\"text/vtt\" lang=\"{}\">\n\
             \x20     <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"{role}\"/>\n\
             \x20     <Label>{}</Label>\n\
             \x20     <Representation id=\"{}\" bandwidth=\"{}\">\n\
             \x20       <BaseURL>{}</BaseURL>\n\
             \x20     </Representation>\n\
             \x20   </AdaptationSet>\n",
            100 + i,
            xml(&track.language),
            xml(&track.label),
            xml(&track.stem),
            track.bandwidth.max(1),
            xml(&format!("{uri_prefix}{}", track.sidecar())),
        );
    }
    let mut out = String::with_capacity(media_mpd.len() + sets.len());
    out.push_str(&media_mpd[..end]);
    out.push_str(&sets);
    out.push_str(&media_mpd[end..]);
    Ok(out)
}

/// The `EXT-X-TARGETDURATION` of a media playlist.
pub fn target_duration(media_playlist: &str) -> Option<u64> {
    media_playlist
        .lines()
        .find_map(|line| line.strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The first variant's URI in a multivariant playlist.
pub fn first_variant_uri(master: &str) -> Option<&str> {
    let mut lines = master.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            return lines.next().map(str::trim).filter(|uri| !uri.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"en\",NAME=\"en\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"audio\"\nv1/720p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=500,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"audio\"\nv1/360p.m3u8\n\
        #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=32,URI=\"v1/720p_iframes.m3u8\"\n";

    fn track(stem: &str, language: &str, label: &str, kind: CaptionKind) -> TextTrack {
        TextTrack {
            stem: stem.into(),
            language: language.into(),
            label: label.into(),
            kind,
            bandwidth: 120,
        }
    }

    #[test]
    fn every_variant_names_the_subtitle_group_and_the_media_stays_as_it_was() {
        let tracks = [
            track("sub_0", "de", "Deutsch", CaptionKind::Subtitles),
            track("sub_1", "es", "Deutsch", CaptionKind::Captions),
        ];
        let text = hls_master(MASTER, &tracks, "m2/").unwrap();
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        let subtitles: Vec<_> = parsed
            .alternatives
            .iter()
            .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Subtitles)
            .collect();
        assert_eq!(subtitles.len(), 2, "{text}");
        assert_eq!(subtitles[0].uri.as_deref(), Some("m2/sub_0.m3u8"));
        assert_eq!(subtitles[0].language.as_deref(), Some("de"));
        // Labels repeat: the language keeps the names apart.
        assert_eq!(subtitles[0].name, "Deutsch (de)");
        assert_eq!(subtitles[1].name, "Deutsch (es)");
        assert!(
            text.contains("CHARACTERISTICS=\"public.accessibility"),
            "{text}"
        );
        let variants: Vec<_> = parsed.variants.iter().filter(|v| !v.is_i_frame).collect();
        assert_eq!(variants.len(), 2);
        for variant in variants {
            assert_eq!(variant.subtitles.as_deref(), Some("subs"));
            assert_eq!(variant.audio.as_deref(), Some("audio"));
            assert!(variant.uri.starts_with("v1/"));
        }
        let iframe = parsed.variants.iter().find(|v| v.is_i_frame).unwrap();
        assert_eq!(iframe.subtitles, None);
        assert!(hls_master("#EXTM3U\n", &tracks, "").is_err());
    }

    #[test]
    fn labels_cannot_break_out_of_their_attribute() {
        let tracks = [track("sub_0", "en", "a\"b\nc", CaptionKind::Subtitles)];
        let text = hls_master(MASTER, &tracks, "").unwrap();
        assert!(text.contains("NAME=\"a'b c\""), "{text}");
        let mpd = dash(
            "<MPD>\n  <Period>\n  </Period>\n</MPD>\n",
            &[track("sub_0", "en", "<x>&", CaptionKind::Subtitles)],
            "",
        )
        .unwrap();
        assert!(mpd.contains("<Label>&lt;x&gt;&amp;</Label>"), "{mpd}");
    }

    #[test]
    fn the_subtitle_playlist_lists_every_segment_under_the_target() {
        let segmented = Segmented {
            body: vec![0; 90],
            segments: vec![
                TextSegment {
                    offset: 0,
                    length: 50,
                    duration_s: 2.0,
                },
                TextSegment {
                    offset: 50,
                    length: 40,
                    duration_s: 0.5,
                },
            ],
        };
        let text = hls_subtitles("sub_0_hls.vtt", &segmented, 2);
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(parsed.target_duration, 2);
        assert!(parsed.end_list && parsed.independent_segments);
        assert_eq!(parsed.playlist_type, Some(m3u8_rs::MediaPlaylistType::Vod));
        assert_eq!(parsed.segments.len(), 2);
        let second = parsed.segments[1].byte_range.as_ref().unwrap();
        assert_eq!((second.length, second.offset), (40, Some(50)));
        assert_eq!(parsed.segments[1].duration, 0.5);
    }

    #[test]
    fn the_mpd_gets_a_text_adaptation_set_per_track() {
        let mpd =
            "<MPD>\n  <Period id=\"0\">\n    <AdaptationSet id=\"0\"/>\n  </Period>\n</MPD>\n";
        let tracks = [
            track("sub_0", "de", "Deutsch", CaptionKind::Subtitles),
            track("sub_1", "es", "Español", CaptionKind::Captions),
        ];
        let text = dash(mpd, &tracks, "m2/").unwrap();
        assert_eq!(text.matches("contentType=\"text\"").count(), 2, "{text}");
        assert!(text.contains("lang=\"de\""));
        assert!(text.contains("value=\"caption\""));
        assert!(text.contains("<BaseURL>m2/sub_1.vtt</BaseURL>"));
        assert!(text.find("sub_1").unwrap() < text.find("</Period>").unwrap());
        assert!(text.starts_with("<MPD>\n  <Period id=\"0\">\n    <AdaptationSet id=\"0\"/>\n"));
        assert!(dash("<MPD/>", &tracks, "").is_err());
    }

    const AV1_MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-STREAM-INF:BANDWIDTH=600,AVERAGE-BANDWIDTH=400,CODECS=\"av01.0.05M.08\",RESOLUTION=1280x720,FRAME-RATE=30.000\nv2/720p_av1.m3u8\n\
        #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=20,CODECS=\"av01.0.05M.08\",URI=\"v2/720p_av1_iframes.m3u8\"\n";

    #[test]
    fn another_codecs_variants_join_with_the_media_audio() {
        let audio = VariantAudio {
            bandwidth: 130,
            average_bandwidth: 128,
        };
        let text = hls_add_ladder(MASTER, AV1_MASTER, &audio).unwrap();
        assert!(
            text.starts_with(MASTER),
            "the media's own lines stay: {text}"
        );
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        let av1: Vec<_> = parsed
            .variants
            .iter()
            .filter(|v| v.uri.contains("_av1"))
            .collect();
        assert_eq!(av1.len(), 2, "{text}");
        let video = av1.iter().find(|v| !v.is_i_frame).unwrap();
        assert_eq!(video.uri, "v2/720p_av1.m3u8");
        assert_eq!(video.codecs.as_deref(), Some("av01.0.05M.08,mp4a.40.2"));
        assert_eq!(video.audio.as_deref(), Some("audio"));
        assert_eq!((video.bandwidth, video.average_bandwidth), (730, Some(528)));
        let iframe = av1.iter().find(|v| v.is_i_frame).unwrap();
        assert_eq!((iframe.bandwidth, iframe.audio.as_deref()), (20, None));
        assert_eq!(iframe.codecs.as_deref(), Some("av01.0.05M.08"));
        // Captions still reach every variant of both codecs.
        let tracks = [track("sub_0", "de", "Deutsch", CaptionKind::Subtitles)];
        let with_text = hls_master(&text, &tracks, "m3/").unwrap();
        let parsed = m3u8_rs::parse_master_playlist_res(with_text.as_bytes()).unwrap();
        for variant in parsed.variants.iter().filter(|v| !v.is_i_frame) {
            assert_eq!(
                variant.subtitles.as_deref(),
                Some("subs"),
                "{}",
                variant.uri
            );
        }
        assert!(hls_add_ladder("#EXTM3U\n", AV1_MASTER, &audio).is_err());
        assert!(hls_add_ladder(MASTER, "not a playlist", &audio).is_err());
    }

    #[test]
    fn another_codecs_video_set_joins_the_period_with_an_id_of_its_own() {
        let media = "<MPD>\n  <Period id=\"0\">\n    <AdaptationSet id=\"0\" contentType=\"video\">\n    </AdaptationSet>\n    <AdaptationSet id=\"1\" contentType=\"audio\">\n    </AdaptationSet>\n  </Period>\n</MPD>\n";
        let added = "<MPD>\n  <Period id=\"0\">\n    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\">\n      <Representation id=\"720p_av1\" codecs=\"av01.0.05M.08\">\n        <BaseURL>v2/720p_av1.mp4</BaseURL>\n      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n";
        let text = dash_add_ladder(media, added).unwrap();
        assert_eq!(text.matches("contentType=\"video\"").count(), 2, "{text}");
        assert!(text.contains("<AdaptationSet id=\"50\" contentType=\"video\" mimeType"));
        assert!(text.contains("<BaseURL>v2/720p_av1.mp4</BaseURL>"));
        assert!(text.find("720p_av1").unwrap() < text.find("</Period>").unwrap());
        assert!(text.starts_with(&media[..media.find("  </Period>").unwrap()]));
        assert!(dash_add_ladder(media, "<MPD/>").is_err());
        assert!(dash_add_ladder("<MPD/>", added).is_err());
        assert_eq!(
            renumber("<AdaptationSet contentType=\"video\">", 7),
            "<AdaptationSet id=\"7\" contentType=\"video\">"
        );
    }

    #[test]
    fn reads_the_target_duration_and_the_first_variant() {
        assert_eq!(first_variant_uri(MASTER), Some("v1/720p.m3u8"));
        assert_eq!(first_variant_uri("#EXTM3U\n"), None);
        assert_eq!(
            target_duration("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n"),
            Some(2)
        );
        assert_eq!(target_duration("#EXTM3U\n"), None);
    }
}
