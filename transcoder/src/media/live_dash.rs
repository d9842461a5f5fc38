//! The DASH manifest of a video still encoding: a `type="dynamic"` MPD over
//! the live copy's segments (`SegmentTemplate` with `$Number$` and a
//! `SegmentTimeline` taken from the growing HLS playlists), which becomes
//! `type="static"` with a `mediaPresentationDuration` once every playlist
//! has ended (DASH-IF IOP 4.6.4, transition from live to on-demand). Its
//! adaptation sets are the on-demand MPD's ([`crate::media::dash`]): one
//! for the video, one per audio rendition. Its URIs are relative to the
//! live version's folder: the origin redirects the unversioned
//! `manifest.mpd` there while the video is live, so players refresh this
//! MPD, not the one the finished version brings.

use std::fmt::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use goflix_shared::domain::Rendition;

use crate::media::dash::{duration, open_audio_set, open_video_set, video_representation};
use goflix_shared::escape::xml;

const PROFILE: &str = "urn:mpeg:dash:profile:isoff-live:2011";
const UTC_DIRECT: &str = "urn:mpeg:dash:utc:direct:2014";
/// Adaptation set attributes: segments (not subsegments) aligned.
const LIVE_FLAGS: &str = r#"segmentAlignment="true" startWithSAP="1""#;
/// Timeline units per second: milliseconds, as precise as the playlists' durations need.
const TIMESCALE: u64 = 1000;
/// Segments a player stays behind the newest one, as HLS players do.
const DELAY_SEGMENTS: f64 = 3.0;

/// One rendition's segments in the order its live playlist lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The number in the first segment's name (`{name}_NNNNN.mp4`); the
    /// others follow it one by one.
    pub first_number: u64,
    /// Every segment's duration in seconds.
    pub durations: Vec<f64>,
}

impl Timeline {
    /// Seconds from the first segment's start to the last one's end.
    pub fn end(&self) -> f64 {
        self.durations.iter().sum()
    }
}

/// Whether segments are still being added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Encoding: a dynamic MPD. Segment time `0` is at `available_from`,
    /// and the MPD is written at `now`.
    Growing {
        available_from: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Every playlist has ended: a static MPD of the whole video.
    Ended,
}

/// One track of the live MPD.
pub struct Track<'a> {
    /// What the track is (its name is the stem of its live files).
    pub rendition: &'a Rendition,
    /// Its segments so far.
    pub timeline: &'a Timeline,
}

/// Renders the live `manifest.mpd`. `frame_rate` is the ladder's
/// `(num, den)`; `segment_seconds` the target segment length.
pub fn manifest(
    video: &[Track<'_>],
    audio: &[Track<'_>],
    frame_rate: (u32, u32),
    segment_seconds: f64,
    phase: Phase,
) -> String {
    let mut out = String::new();
    render(&mut out, video, audio, frame_rate, segment_seconds, phase)
        .expect("writing to a String cannot fail");
    out
}

fn render(
    out: &mut String,
    video: &[Track<'_>],
    audio: &[Track<'_>],
    frame_rate: (u32, u32),
    segment_seconds: f64,
    phase: Phase,
) -> fmt::Result {
    let segment_seconds = segment_seconds.max(1.0);
    let longest = video
        .iter()
        .chain(audio)
        .map(|t| t.timeline.end())
        .fold(0.0, f64::max);
    let max_segment = video
        .iter()
        .chain(audio)
        .flat_map(|t| t.timeline.durations.iter().copied())
        .fold(segment_seconds, f64::max);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    let timing = match phase {
        Phase::Growing {
            available_from,
            now,
        } => format!(
            r#"type="dynamic" availabilityStartTime="{}" publishTime="{}" minimumUpdatePeriod="{}" suggestedPresentationDelay="{}""#,
            instant(available_from),
            instant(now),
            duration(segment_seconds),
            duration(segment_seconds * DELAY_SEGMENTS),
        ),
        Phase::Ended => format!(
            r#"type="static" mediaPresentationDuration="{}""#,
            duration(longest)
        ),
    };
    writeln!(
        out,
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="{PROFILE}" {timing} maxSegmentDuration="{}" minBufferTime="{}">"#,
        duration(max_segment),
        duration(segment_seconds),
    )?;
    writeln!(out, r#"  <Period id="0" start="PT0S">"#)?;
    let renditions: Vec<&Rendition> = video.iter().map(|t| t.rendition).collect();
    open_video_set(out, &renditions, frame_rate, LIVE_FLAGS)?;
    for track in video {
        video_representation(out, track.rendition, frame_rate)?;
        segment_template(out, track)?;
        writeln!(out, "      </Representation>")?;
    }
    writeln!(out, "    </AdaptationSet>")?;
    for (position, track) in audio.iter().enumerate() {
        open_audio_set(out, track.rendition, position, LIVE_FLAGS)?;
        segment_template(out, track)?;
        writeln!(out, "      </Representation>")?;
        writeln!(out, "    </AdaptationSet>")?;
    }
    writeln!(out, "  </Period>")?;
    if let Phase::Growing { now, .. } = phase {
        // The clock players measure availability by: the time this MPD was
        // written, so what it lists is what they may fetch.
        writeln!(
            out,
            r#"  <UTCTiming schemeIdUri="{UTC_DIRECT}" value="{}"/>"#,
            instant(now)
        )?;
    }
    writeln!(out, "</MPD>")
}

fn segment_template(out: &mut String, track: &Track<'_>) -> fmt::Result {
    let name = xml(&track.rendition.name);
    writeln!(
        out,
        r#"        <SegmentTemplate timescale="{TIMESCALE}" initialization="{name}_init.mp4" media="{name}_$Number%05d$.mp4" startNumber="{}">"#,
        track.timeline.first_number,
    )?;
    writeln!(out, "          <SegmentTimeline>")?;
    for run in runs(&track.timeline.durations) {
        let repeat = if run.repeat > 0 {
            format!(r#" r="{}""#, run.repeat)
        } else {
            String::new()
        };
        match run.start {
            Some(t) => writeln!(
                out,
                r#"            <S t="{t}" d="{}"{repeat}/>"#,
                run.duration
            )?,
            None => writeln!(out, r#"            <S d="{}"{repeat}/>"#, run.duration)?,
        }
    }
    writeln!(out, "          </SegmentTimeline>")?;
    writeln!(out, "        </SegmentTemplate>")
}

/// A run of equal segment durations in timeline units: one `<S>` element.
#[derive(Debug, PartialEq)]
struct Run {
    /// Set on the first run only; the others follow on.
    start: Option<u64>,
    duration: u64,
    /// Segments after the first with the same duration.
    repeat: u64,
}

/// Segment durations as `<S>` runs. Each boundary is rounded from the
/// running sum in seconds, so rounding never accumulates.
fn runs(durations: &[f64]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut elapsed = 0.0;
    let mut start = 0;
    for seconds in durations {
        elapsed += seconds;
        let end = (elapsed * TIMESCALE as f64).round() as u64;
        let duration = end.saturating_sub(start);
        match runs.last_mut() {
            Some(run) if run.duration == duration => run.repeat += 1,
            _ => runs.push(Run {
                start: runs.is_empty().then_some(start),
                duration,
                repeat: 0,
            }),
        }
        start = end;
    }
    runs
}

/// An `xs:dateTime` in UTC with milliseconds.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dash::tests::{audio_rendition, rendition};
    use goflix_shared::domain::RenditionKind;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn ended_video_only(video: &Rendition, timeline: &Timeline) -> String {
        let track = Track {
            rendition: video,
            timeline,
        };
        manifest(&[track], &[], (30, 1), 2.0, Phase::Ended)
    }

    #[test]
    fn runs_compress_equal_durations_without_drift() {
        assert_eq!(
            runs(&[2.0, 2.0, 2.0, 1.5]),
            vec![
                Run {
                    start: Some(0),
                    duration: 2000,
                    repeat: 2
                },
                Run {
                    start: None,
                    duration: 1500,
                    repeat: 0
                },
            ]
        );
        // Thirds of a millisecond: boundaries from the running sum, so
        // three segments end exactly at 6016 ms, not 6015.
        let total: u64 = runs(&[2.005333; 3])
            .iter()
            .map(|r| r.duration * (r.repeat + 1))
            .sum();
        assert_eq!(total, 6016);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn growing_mpd_is_dynamic_with_a_timeline_per_representation() {
        let video = rendition("360p", RenditionKind::Video);
        let audio = audio_rendition("audio", "en", None, true);
        let dubbed = audio_rendition("audio_1", "fr", Some("VF"), false);
        let video_timeline = Timeline {
            first_number: 0,
            durations: vec![2.0, 2.0],
        };
        let audio_timeline = Timeline {
            first_number: 0,
            durations: vec![2.005333, 1.994667],
        };
        let mpd = manifest(
            &[Track {
                rendition: &video,
                timeline: &video_timeline,
            }],
            &[
                Track {
                    rendition: &audio,
                    timeline: &audio_timeline,
                },
                Track {
                    rendition: &dubbed,
                    timeline: &audio_timeline,
                },
            ],
            (30000, 1001),
            2.0,
            Phase::Growing {
                available_from: at(0),
                now: at(5),
            },
        );
        for needle in [
            r#"profiles="urn:mpeg:dash:profile:isoff-live:2011""#,
            r#"type="dynamic""#,
            r#"availabilityStartTime="2027-01-15T08:00:00.000Z""#,
            r#"publishTime="2027-01-15T08:00:05.000Z""#,
            r#"minimumUpdatePeriod="PT2.000S""#,
            r#"suggestedPresentationDelay="PT6.000S""#,
            r#"maxSegmentDuration="PT2.005S""#,
            r#"frameRate="30000/1001""#,
            r#"<SegmentTemplate timescale="1000" initialization="360p_init.mp4" media="360p_$Number%05d$.mp4" startNumber="0">"#,
            r#"<S t="0" d="2000" r="1"/>"#,
            r#"<S t="0" d="2005"/>"#,
            r#"<S d="1995"/>"#,
            r#"<UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2027-01-15T08:00:05.000Z"/>"#,
            r#"<AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="en" segmentAlignment="true" startWithSAP="1">"#,
            r#"<AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="fr" segmentAlignment="true" startWithSAP="1">"#,
            "<Label>VF</Label>",
            r#"<Role schemeIdUri="urn:mpeg:dash:role:2011" value="alternate"/>"#,
            r#"initialization="audio_1_init.mp4" media="audio_1_$Number%05d$.mp4""#,
        ] {
            assert!(mpd.contains(needle), "{needle} missing in\n{mpd}");
        }
        assert!(!mpd.contains("mediaPresentationDuration"), "{mpd}");
    }

    #[test]
    fn ended_mpd_is_static_with_the_whole_duration() {
        let video = rendition("360p", RenditionKind::Video);
        let timeline = Timeline {
            first_number: 3,
            durations: vec![2.0, 2.0, 0.5],
        };
        let mpd = ended_video_only(&video, &timeline);
        for needle in [
            r#"type="static" mediaPresentationDuration="PT4.500S""#,
            r#"startNumber="3""#,
        ] {
            assert!(mpd.contains(needle), "{needle} missing in\n{mpd}");
        }
        for absent in [
            "availabilityStartTime",
            "minimumUpdatePeriod",
            "UTCTiming",
            "audio",
        ] {
            assert!(!mpd.contains(absent), "{absent} in\n{mpd}");
        }
    }

    #[test]
    fn names_are_escaped() {
        let video = rendition("a&b", RenditionKind::Video);
        let timeline = Timeline::default();
        let mpd = ended_video_only(&video, &timeline);
        assert!(mpd.contains(r#"media="a&amp;b_$Number%05d$.mp4""#), "{mpd}");
    }
}
