//! HLS playlists, written with m3u8-rs from the real segment index: one
//! byte-range media playlist per rendition, one I-frame playlist per video
//! rendition (each segment's keyframe, for trick play and scrubbing) and the
//! multivariant `master.m3u8` that lists both, with one `EXT-X-MEDIA` per
//! audio rendition in a single audio group (language, a unique name, the
//! default one marked).
//!
//! Two m3u8-rs limits are worked around here: EXTINF precision is a
//! process-wide setting ([`m3u8_rs::WRITE_OPT_FLOAT_PRECISION`], set to 3
//! before writing), and FRAME-RATE is written through `other_attributes`
//! because the typed field prints `30` rather than `30.000`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist,
    MediaPlaylistType, MediaSegment, QuotedOrUnquoted, Resolution, Start, VariantStream,
};

use goflix_shared::domain::Rendition;
use goflix_shared::escape::hls_quoted;

use crate::media::package::Packaged;
use goflix_mp4::index::{self, TrackIndex};

/// Byte-range `EXT-X-MAP` and fragmented MP4 need protocol version 7 at most.
const VERSION: usize = 7;

/// EXTINF decimals.
const EXTINF_DECIMALS: usize = 3;

/// Makes players start a growing playlist at its first segment rather than
/// near its live edge (RFC 8216 §4.3.5.2): a viewer opening a video that is
/// still encoding expects its beginning. hls.js and Safari read it from the
/// multivariant playlist, ExoPlayer from media playlists, so it goes in both.
const START_AT_BEGINNING: &str = "#EXT-X-START:TIME-OFFSET=0";

/// The audio group every variant refers to.
const AUDIO_GROUP: &str = "audio";

/// The language tag of a rendition whose language is not known.
const UNDETERMINED: &str = "und";

/// `NAME` of an audio rendition with neither label nor language.
const UNNAMED_AUDIO: &str = "Audio";

/// The smallest whole number of seconds every segment of every index rounds to
/// or under, as EXT-X-TARGETDURATION must be; at least 1.
pub fn target_duration<'a>(indices: impl IntoIterator<Item = &'a TrackIndex>) -> u64 {
    indices
        .into_iter()
        .flat_map(|index| &index.segments)
        .map(|segment| as_written(segment.duration).round() as u64)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The duration as a player reads it back from a 3-decimal EXTINF.
fn as_written(duration: f64) -> f64 {
    format!("{:.*}", EXTINF_DECIMALS, duration as f32)
        .parse()
        .unwrap_or(duration)
}

/// A VOD media playlist for `file`, whose segments are byte ranges of it.
pub fn media_playlist(file: &str, index: &TrackIndex, target_duration: u64) -> String {
    let segments = index.segments.iter().map(|s| (s.range, s.duration));
    render_media(file, index, segments, target_duration, false)
}

/// A VOD I-frame playlist for `file`: one entry per segment, the byte range
/// of its `moof` and keyframe (`keyframes`, from [`index::keyframes`]),
/// lasting until the next keyframe.
pub fn iframe_playlist(
    file: &str,
    index: &TrackIndex,
    keyframes: &[index::ByteRange],
    target_duration: u64,
) -> String {
    let segments = keyframes
        .iter()
        .zip(&index.segments)
        .map(|(keyframe, segment)| (*keyframe, segment.duration));
    render_media(file, index, segments, target_duration, true)
}

fn render_media(
    file: &str,
    index: &TrackIndex,
    segments: impl Iterator<Item = (index::ByteRange, f64)>,
    target_duration: u64,
    i_frames_only: bool,
) -> String {
    let segments = segments
        .enumerate()
        .map(|(i, (range, duration))| MediaSegment {
            uri: file.to_owned(),
            duration: duration as f32,
            byte_range: Some(ByteRange {
                length: range.length,
                offset: Some(range.offset),
            }),
            map: (i == 0).then(|| Map {
                uri: file.to_owned(),
                byte_range: Some(ByteRange {
                    length: index.init.length,
                    offset: Some(index.init.offset),
                }),
                other_attributes: HashMap::new(),
            }),
            ..MediaSegment::default()
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(VERSION),
        target_duration,
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        i_frames_only,
        independent_segments: true,
        ..MediaPlaylist::default()
    };
    m3u8_rs::WRITE_OPT_FLOAT_PRECISION.store(EXTINF_DECIMALS, Ordering::Relaxed);
    let mut out = Vec::new();
    playlist
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("m3u8-rs writes UTF-8")
}

/// The multivariant playlist: one variant per video rendition, each pointing
/// at the audio group when there is audio, then one I-frame variant per
/// video rendition with keyframes. Every URI gets `uri_prefix`.
pub fn master_playlist(video: &[Packaged], audio: &[Packaged], uri_prefix: &str) -> String {
    let renditions: Vec<&Rendition> = video.iter().map(|track| &track.rendition).collect();
    let audio: Vec<&Rendition> = audio.iter().map(|track| &track.rendition).collect();
    let mut variants = variant_streams(&renditions, &audio, uri_prefix);
    variants.extend(
        video
            .iter()
            .filter(|track| !track.keyframes.is_empty())
            .map(|track| {
                let (peak, average) = iframe_bandwidth(track);
                let r = &track.rendition;
                VariantStream {
                    is_i_frame: true,
                    uri: format!("{uri_prefix}{}", iframe_playlist_name(track)),
                    bandwidth: peak,
                    average_bandwidth: Some(average),
                    codecs: Some(r.codecs.clone()),
                    resolution: r.width.zip(r.height).map(|(w, h)| Resolution {
                        width: u64::from(w),
                        height: u64::from(h),
                    }),
                    ..VariantStream::default()
                }
            }),
    );
    write_master(variants, &audio, uri_prefix, None)
}

/// The multivariant playlist of a video still encoding: the same variants
/// (with nominal bandwidths) pointing at the growing `EVENT` playlists,
/// without I-frame variants, which need the finished files, and starting
/// at the beginning.
pub fn live_master_playlist(video: &[Rendition], audio: &[Rendition], uri_prefix: &str) -> String {
    let renditions: Vec<&Rendition> = video.iter().collect();
    let audio: Vec<&Rendition> = audio.iter().collect();
    let start = Start {
        time_offset: 0.0,
        precise: None,
        other_attributes: HashMap::new(),
    };
    write_master(
        variant_streams(&renditions, &audio, uri_prefix),
        &audio,
        uri_prefix,
        Some(start),
    )
}

/// A growing media playlist as the muxer wrote it, with the tag that starts
/// players at its beginning after the `#EXTM3U` line.
pub fn starting_at_beginning(media_playlist: &[u8]) -> Vec<u8> {
    let header_end = media_playlist
        .iter()
        .position(|&b| b == b'\n')
        .map_or(media_playlist.len(), |at| at + 1);
    let (header, rest) = media_playlist.split_at(header_end);
    let mut out = Vec::with_capacity(media_playlist.len() + START_AT_BEGINNING.len() + 2);
    out.extend_from_slice(header);
    if !header.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(START_AT_BEGINNING.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(rest);
    out
}

/// One variant per video rendition, with the largest audio rates and the
/// audio codecs (each once) added.
fn variant_streams(
    video: &[&Rendition],
    audio: &[&Rendition],
    uri_prefix: &str,
) -> Vec<VariantStream> {
    let audio_peak = audio.iter().map(|a| a.bandwidth).max().unwrap_or(0);
    let audio_average = audio.iter().map(|a| a.average_bandwidth).max().unwrap_or(0);
    let mut audio_codecs: Vec<&str> = Vec::new();
    for a in audio {
        if !audio_codecs.contains(&a.codecs.as_str()) {
            audio_codecs.push(&a.codecs);
        }
    }
    video
        .iter()
        .map(|r| {
            let codecs = std::iter::once(r.codecs.as_str())
                .chain(audio_codecs.iter().copied())
                .collect::<Vec<_>>()
                .join(",");
            let frame_rate = r.frame_rate.map(|fps| {
                HashMap::from([(
                    "FRAME-RATE".to_owned(),
                    QuotedOrUnquoted::Unquoted(format!("{fps:.3}")),
                )])
            });
            VariantStream {
                uri: format!("{uri_prefix}{}.m3u8", r.name),
                bandwidth: r.bandwidth + audio_peak,
                average_bandwidth: Some(r.average_bandwidth + audio_average),
                codecs: Some(codecs),
                resolution: r.width.zip(r.height).map(|(w, h)| Resolution {
                    width: u64::from(w),
                    height: u64::from(h),
                }),
                audio: (!audio.is_empty()).then(|| AUDIO_GROUP.to_owned()),
                other_attributes: frame_rate,
                ..VariantStream::default()
            }
        })
        .collect()
}

/// The master playlist text for `variants`, with the audio group when there is audio.
fn write_master(
    variants: Vec<VariantStream>,
    audio: &[&Rendition],
    uri_prefix: &str,
    start: Option<Start>,
) -> String {
    let alternatives = audio_media(audio, uri_prefix);
    let playlist = MasterPlaylist {
        version: Some(VERSION),
        independent_segments: true,
        alternatives,
        variants,
        start,
        ..MasterPlaylist::default()
    };
    let mut out = Vec::new();
    playlist
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("m3u8-rs writes UTF-8")
}

/// One `EXT-X-MEDIA` per audio rendition, all in [`AUDIO_GROUP`]: its
/// language unless undetermined, a name unique in the group, `DEFAULT=YES`
/// on the default rendition only.
fn audio_media(audio: &[&Rendition], uri_prefix: &str) -> Vec<AlternativeMedia> {
    let names = unique_names(audio.iter().map(|r| display_name(r)));
    audio
        .iter()
        .zip(names)
        .map(|(r, name)| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(format!("{uri_prefix}{}.m3u8", r.name)),
            group_id: AUDIO_GROUP.to_owned(),
            language: r
                .language
                .as_deref()
                .filter(|language| *language != UNDETERMINED)
                .map(hls_quoted),
            name,
            default: r.default,
            autoselect: true,
            channels: r.channels.map(|channels| channels.to_string()),
            ..AlternativeMedia::default()
        })
        .collect()
}

/// What a player's audio menu shows for `r`: its label, else its language
/// tag, else [`UNNAMED_AUDIO`].
fn display_name(r: &Rendition) -> String {
    let label = r.label.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let language = r.language.as_deref().filter(|l| *l != UNDETERMINED);
    hls_quoted(label.or(language).unwrap_or(UNNAMED_AUDIO))
}

/// `names` made unique by appending ` 2`, ` 3`, … to repeats.
fn unique_names(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for base in names {
        let mut name = base.clone();
        let mut count = 2;
        while unique.contains(&name) {
            name = format!("{base} {count}");
            count += 1;
        }
        unique.push(name);
    }
    unique
}

/// `720p.m3u8` for `720p.mp4`.
pub fn playlist_name(track: &Packaged) -> String {
    format!("{}.m3u8", track.rendition.name)
}

/// `720p_iframes.m3u8` for `720p.mp4`.
pub fn iframe_playlist_name(track: &Packaged) -> String {
    format!("{}_iframes.m3u8", track.rendition.name)
}

/// Peak and average bits per second of the I-frame playlist's ranges.
fn iframe_bandwidth(track: &Packaged) -> (u64, u64) {
    let rates = track
        .keyframes
        .iter()
        .zip(&track.index.segments)
        .filter(|(_, segment)| segment.duration > 0.0);
    let peak = rates
        .clone()
        .map(|(k, s)| (k.length as f64 * 8.0 / s.duration).ceil() as u64)
        .max()
        .unwrap_or(0);
    let (bytes, seconds) = rates.fold((0, 0.0), |(b, d), (k, s)| (b + k.length, d + s.duration));
    let average = if seconds > 0.0 {
        (bytes as f64 * 8.0 / seconds).ceil() as u64
    } else {
        0
    };
    (peak, average)
}

#[cfg(test)]
mod tests {
    use super::*;
    use goflix_mp4::index::{ByteRange as Range, Segment};
    use goflix_shared::domain::RenditionKind;
    use proptest::prelude::*;

    fn index(durations: &[f64], sizes: &[u64]) -> TrackIndex {
        let mut offset = 1000;
        let segments = durations
            .iter()
            .zip(sizes)
            .map(|(&duration, &length)| {
                let range = Range { offset, length };
                offset += length;
                Segment { range, duration }
            })
            .collect();
        TrackIndex {
            init: Range {
                offset: 0,
                length: 900,
            },
            index: Range {
                offset: 900,
                length: 100,
            },
            segments,
        }
    }

    fn packaged(name: &str, kind: RenditionKind) -> Packaged {
        let video = kind == RenditionKind::Video;
        Packaged {
            rendition: Rendition {
                name: name.to_owned(),
                kind,
                width: video.then_some(1280),
                height: video.then_some(720),
                frame_rate: video.then_some(30000.0 / 1001.0),
                codecs: if video { "avc1.64001f" } else { "mp4a.40.2" }.to_owned(),
                bandwidth: if video { 3_000_000 } else { 130_000 },
                average_bandwidth: if video { 2_500_000 } else { 128_000 },
                language: (!video).then(|| "und".to_owned()),
                label: None,
                default: !video,
                channels: (!video).then_some(2),
            },
            file: format!("{name}.mp4"),
            index: index(&[2.0], &[10]),
            keyframes: if video {
                vec![Range {
                    offset: 1000,
                    length: 8,
                }]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn media_playlist_has_every_required_tag() {
        let idx = index(&[2.0, 2.0, 1.5], &[100, 120, 80]);
        let text = media_playlist("720p.mp4", &idx, 2);
        for tag in [
            "#EXT-X-VERSION:7",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MAP:URI=\"720p.mp4\",BYTERANGE=\"900@0\"",
            "#EXTINF:2.000,",
            "#EXTINF:1.500,",
            "#EXT-X-BYTERANGE:120@1100",
            "#EXT-X-ENDLIST",
        ] {
            assert!(text.contains(tag), "{tag} missing in\n{text}");
        }
    }

    /// An audio rendition `name` in `language`, labelled `label`, with rates `(peak, average)`.
    fn audio(
        name: &str,
        language: &str,
        label: Option<&str>,
        default: bool,
        (peak, average): (u64, u64),
    ) -> Packaged {
        let mut track = packaged(name, RenditionKind::Audio);
        let r = &mut track.rendition;
        r.language = Some(language.to_owned());
        r.label = label.map(str::to_owned);
        r.default = default;
        (r.bandwidth, r.average_bandwidth) = (peak, average);
        track
    }

    #[test]
    fn master_playlist_references_audio_group_and_sums_bandwidth() {
        let video = [packaged("720p", RenditionKind::Video)];
        let audio = [packaged("audio", RenditionKind::Audio)];
        let text = master_playlist(&video, &audio, "v1/");
        assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
        assert!(text.contains(
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio.m3u8\",GROUP-ID=\"audio\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\""
        ), "{text}");
        assert!(
            text.contains("BANDWIDTH=3130000,AVERAGE-BANDWIDTH=2628000"),
            "{text}"
        );
        assert!(text.contains("CODECS=\"avc1.64001f,mp4a.40.2\""));
        assert!(text.contains("RESOLUTION=1280x720"));
        assert!(text.contains("FRAME-RATE=29.970"));
        assert!(text.contains("AUDIO=\"audio\""));
        assert!(text.contains("\nv1/720p.m3u8\n"));
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(parsed.variants[0].frame_rate, Some(29.97));
    }

    #[test]
    fn every_audio_rendition_is_an_alternative_of_the_one_group() {
        let video = [packaged("720p", RenditionKind::Video)];
        let audio = [
            audio("audio", "en", None, false, (130_000, 120_000)),
            audio("audio_1", "fr", Some("Français"), true, (125_000, 128_000)),
            audio("audio_2", "en", None, false, (90_000, 80_000)),
            audio("audio_3", "und", Some(" Say\n\"hi\" "), false, (1, 1)),
        ];
        let text = master_playlist(&video, &audio, "v1/");
        for line in [
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"en\",NAME=\"en\",AUTOSELECT=YES,CHANNELS=\"2\"\n",
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio_1.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"fr\",NAME=\"Français\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\"\n",
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio_2.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"en\",NAME=\"en 2\",AUTOSELECT=YES,CHANNELS=\"2\"\n",
            "#EXT-X-MEDIA:TYPE=AUDIO,URI=\"v1/audio_3.m3u8\",GROUP-ID=\"audio\",NAME=\"Say 'hi'\",AUTOSELECT=YES,CHANNELS=\"2\"\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert_eq!(text.matches("DEFAULT=YES").count(), 1, "{text}");
        // The largest peak and the largest average, the codec once.
        assert!(
            text.contains(
                "BANDWIDTH=3130000,AVERAGE-BANDWIDTH=2628000,CODECS=\"avc1.64001f,mp4a.40.2\""
            ),
            "{text}"
        );
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(parsed.alternatives.len(), 4);
        let live = live_master_playlist(
            &[video[0].rendition.clone()],
            &audio.map(|a| a.rendition),
            "live1/",
        );
        assert_eq!(live.matches("#EXT-X-MEDIA:TYPE=AUDIO").count(), 4, "{live}");
        assert!(live.contains("URI=\"live1/audio_3.m3u8\""), "{live}");
    }

    #[test]
    fn names_repeat_with_a_number_until_unique() {
        let names = ["en", "en 2", "en", "fr"].map(str::to_owned);
        assert_eq!(
            unique_names(names.into_iter()),
            ["en", "en 2", "en 3", "fr"]
        );
    }

    #[test]
    fn growing_playlists_start_players_at_the_beginning() {
        let video = [packaged("720p", RenditionKind::Video).rendition];
        let master = live_master_playlist(&video, &[], "live1/");
        assert!(
            master.contains(&format!("\n{START_AT_BEGINNING}\n")),
            "{master}"
        );
        assert!(!master.contains("I-FRAME"), "{master}");
        let parsed = m3u8_rs::parse_master_playlist_res(master.as_bytes()).unwrap();
        assert_eq!(parsed.start.map(|s| s.time_offset), Some(0.0));

        let muxed = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n\
            #EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"720p_init.mp4\"\n\
            #EXTINF:2.000000,\n720p_00000.mp4\n";
        let published = String::from_utf8(starting_at_beginning(muxed.as_bytes())).unwrap();
        assert_eq!(
            published,
            muxed.replacen("#EXTM3U\n", &format!("#EXTM3U\n{START_AT_BEGINNING}\n"), 1)
        );
        let parsed = m3u8_rs::parse_media_playlist_res(published.as_bytes()).unwrap();
        assert_eq!(parsed.start.map(|s| s.time_offset), Some(0.0));
        assert_eq!(parsed.segments.len(), 1);
        // A header without its line end still gets a line of its own.
        assert_eq!(
            starting_at_beginning(b"#EXTM3U"),
            format!("#EXTM3U\n{START_AT_BEGINNING}\n").into_bytes()
        );
    }

    #[test]
    fn iframe_playlists_are_listed_and_parse_back() {
        let video = [packaged("720p", RenditionKind::Video)];
        let text = master_playlist(&video, &[], "v1/");
        assert!(
            text.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=32,AVERAGE-BANDWIDTH=32,CODECS=\"avc1.64001f\",RESOLUTION=1280x720,URI=\"v1/720p_iframes.m3u8\""),
            "{text}"
        );
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes()).unwrap();
        assert_eq!(parsed.variants.iter().filter(|v| v.is_i_frame).count(), 1);

        let idx = index(&[2.0, 1.5], &[100, 80]);
        let keyframes = [
            Range {
                offset: 1000,
                length: 60,
            },
            Range {
                offset: 1100,
                length: 50,
            },
        ];
        let text = iframe_playlist("720p.mp4", &idx, &keyframes, 2);
        assert!(text.contains("#EXT-X-I-FRAMES-ONLY"), "{text}");
        assert!(text.contains("#EXT-X-BYTERANGE:50@1100"), "{text}");
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert!(parsed.i_frames_only && parsed.end_list);
        assert_eq!(parsed.segments.len(), 2);
        assert_eq!(parsed.segments[1].duration, 1.5);
    }

    #[test]
    fn silent_master_has_no_audio_group() {
        let video = [packaged("720p", RenditionKind::Video)];
        let text = master_playlist(&video, &[], "");
        assert!(!text.contains("EXT-X-MEDIA"));
        assert!(!text.contains("AUDIO="));
        assert!(text.contains("CODECS=\"avc1.64001f\""));
    }

    #[test]
    fn target_duration_rounds_like_players() {
        assert_eq!(target_duration([&index(&[2.0, 2.4994], &[1, 1])]), 2);
        assert_eq!(target_duration([&index(&[2.0, 2.5], &[1, 1])]), 3);
        assert_eq!(target_duration([&index(&[0.2], &[1])]), 1);
    }

    proptest! {
        #[test]
        fn rendered_playlists_parse_back_with_their_invariants(
            tracks in prop::collection::vec(
                prop::collection::vec((0.001f64..12.0, 1u64..5_000_000), 1..30),
                1..4,
            ),
        ) {
            let indices: Vec<TrackIndex> = tracks
                .iter()
                .map(|segs| {
                    let (d, s): (Vec<f64>, Vec<u64>) = segs.iter().copied().unzip();
                    index(&d, &s)
                })
                .collect();
            let target = target_duration(&indices);
            for idx in &indices {
                let text = media_playlist("x.mp4", idx, target);
                let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
                prop_assert_eq!(parsed.target_duration, target);
                prop_assert_eq!(parsed.version, Some(VERSION));
                prop_assert!(parsed.end_list);
                prop_assert_eq!(parsed.segments.len(), idx.segments.len());
                let map = parsed.segments[0].map.as_ref().unwrap();
                prop_assert_eq!(map.byte_range.as_ref().unwrap().length, idx.init.length);
                let mut expected_offset = idx.segments[0].range.offset;
                for (seg, want) in parsed.segments.iter().zip(&idx.segments) {
                    prop_assert!(f64::from(seg.duration).round() as u64 <= target);
                    prop_assert!((f64::from(seg.duration) - want.duration).abs() < 0.0006);
                    let range = seg.byte_range.as_ref().unwrap();
                    prop_assert_eq!(range.offset, Some(expected_offset));
                    prop_assert_eq!(range.length, want.range.length);
                    expected_offset += range.length;
                }
            }
        }
    }
}
