//! Cutting cues into the WebVTT segments of an HLS subtitle rendition:
//! one complete WebVTT document per segment, one after another in one
//! body, each holding the cues that overlap its time span.

use super::{write_cue, Cue, Segmented, TextSegment};

/// What starts every segment: cue times are the CMAF media's presentation
/// times, which start at 0.
const HEADER: &str = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n";

/// The shortest segment duration stated, in seconds.
const SHORTEST_S: f64 = 0.001;

/// See [`super::segment`].
pub(super) fn segment(cues: &[Cue], duration_s: f64, segment_s: f64) -> Segmented {
    let count = segment_count(duration_s, segment_s);
    let mut body = String::new();
    let mut segments = Vec::with_capacity(count);
    for index in 0..count {
        let offset = body.len();
        write_segment(&mut body, cues, span_ms(index, segment_s));
        segments.push(TextSegment {
            offset: offset as u64,
            length: (body.len() - offset) as u64,
            duration_s: if index + 1 < count {
                segment_s
            } else {
                (duration_s - (count - 1) as f64 * segment_s).max(SHORTEST_S)
            },
        });
    }
    Segmented {
        body: body.into_bytes(),
        segments,
    }
}

/// `ceil(duration_s / segment_s)`, a billionth of slack keeping a
/// duration that is a multiple of `segment_s` from gaining an empty
/// segment; at least 1, and 1 when `segment_s` is not a positive length
/// or `duration_s` is not finite.
fn segment_count(duration_s: f64, segment_s: f64) -> usize {
    let count = (duration_s / segment_s - 1e-9).ceil();
    if segment_s > 0.0 && count.is_finite() && count >= 1.0 {
        count as usize
    } else {
        1
    }
}

/// Segment `index`'s span `[start, end)` in milliseconds.
fn span_ms(index: usize, segment_s: f64) -> (u64, u64) {
    let at = |i: usize| (i as f64 * segment_s * 1000.0).round() as u64;
    (at(index), at(index + 1))
}

/// One segment: the header, then every cue overlapping `[start, end)`.
fn write_segment(body: &mut String, cues: &[Cue], (start, end): (u64, u64)) {
    body.push_str(HEADER);
    for cue in cues
        .iter()
        .filter(|cue| cue.start_ms < end && cue.end_ms > start)
    {
        write_cue(body, cue);
    }
}

#[cfg(test)]
mod tests {
    use super::super::read;
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue {
            start_ms,
            end_ms,
            settings: String::new(),
            text: text.to_owned(),
        }
    }

    fn slices(segmented: &Segmented) -> Vec<&[u8]> {
        segmented
            .segments
            .iter()
            .map(|s| &segmented.body[s.offset as usize..(s.offset + s.length) as usize])
            .collect()
    }

    /// The cues of every segment, read back from the body.
    fn cues_per_segment(segmented: &Segmented) -> Vec<Vec<Cue>> {
        slices(segmented)
            .into_iter()
            .map(|slice| read(slice).expect("a segment is WebVTT"))
            .collect()
    }

    #[test]
    fn the_count_rounds_up_but_not_for_an_exact_multiple() {
        assert_eq!(segment_count(12.0, 6.0), 2);
        assert_eq!(segment_count(12.000_000_000_1, 6.0), 2);
        assert_eq!(segment_count(12.01, 6.0), 3);
        assert_eq!(segment_count(0.3, 6.0), 1);
        assert_eq!(segment_count(0.0, 6.0), 1);
        assert_eq!(segment_count(10.0, 0.0), 1);
        assert_eq!(segment_count(10.0, -6.0), 1);
        assert_eq!(segment_count(f64::INFINITY, 6.0), 1);
        assert_eq!(segment_count(f64::NAN, 6.0), 1);
    }

    #[test]
    fn every_segment_lasts_segment_s_but_the_last() {
        let durations: Vec<f64> = segment(&[], 14.5, 6.0)
            .segments
            .iter()
            .map(|s| s.duration_s)
            .collect();
        assert_eq!(durations, [6.0, 6.0, 2.5]);
        let durations: Vec<f64> = segment(&[], 12.0, 6.0)
            .segments
            .iter()
            .map(|s| s.duration_s)
            .collect();
        assert_eq!(durations, [6.0, 6.0]);
    }

    #[test]
    fn a_zero_duration_still_has_one_segment_of_a_millisecond() {
        let segmented = segment(&[], 0.0, 6.0);
        assert_eq!(segmented.segments.len(), 1);
        assert_eq!(segmented.segments[0].duration_s, 0.001);
        assert_eq!(segmented.body, HEADER.as_bytes());
    }

    #[test]
    fn segments_follow_one_another_in_the_body() {
        let segmented = segment(&[cue(1000, 2000, "a"), cue(7000, 8000, "b")], 18.0, 6.0);
        let mut next = 0;
        for segment in &segmented.segments {
            assert_eq!(segment.offset, next);
            next += segment.length;
        }
        assert_eq!(next, segmented.body.len() as u64);
    }

    #[test]
    fn each_segment_is_the_header_and_its_cues() {
        let segmented = segment(
            &[cue(1000, 2000, "Hi"), cue(13_000, 14_000, "Bye")],
            18.0,
            6.0,
        );
        let slices = slices(&segmented);
        assert_eq!(
            slices[0],
            b"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.000\nHi\n\n"
        );
        assert_eq!(slices[1], HEADER.as_bytes());
        assert_eq!(
            cues_per_segment(&segmented),
            [
                vec![cue(1000, 2000, "Hi")],
                vec![],
                vec![cue(13_000, 14_000, "Bye")]
            ]
        );
    }

    #[test]
    fn a_cue_crossing_a_boundary_is_in_both_segments() {
        let crossing = cue(5000, 7000, "across");
        let segmented = segment(std::slice::from_ref(&crossing), 12.0, 6.0);
        assert_eq!(
            cues_per_segment(&segmented),
            [vec![crossing.clone()], vec![crossing]]
        );
    }

    #[test]
    fn a_cue_touching_a_boundary_is_only_in_the_segment_it_overlaps() {
        let ends_at_boundary = cue(5000, 6000, "before");
        let starts_at_boundary = cue(6000, 7000, "after");
        let segmented = segment(
            &[ends_at_boundary.clone(), starts_at_boundary.clone()],
            12.0,
            6.0,
        );
        assert_eq!(
            cues_per_segment(&segmented),
            [vec![ends_at_boundary], vec![starts_at_boundary]]
        );
    }

    #[test]
    fn cues_after_the_last_segment_are_left_out_and_overruns_kept() {
        let overrun = cue(11_000, 15_000, "overrun");
        let segmented = segment(&[overrun.clone(), cue(13_000, 14_000, "late")], 10.0, 6.0);
        assert_eq!(cues_per_segment(&segmented), [vec![], vec![overrun]]);
    }

    #[test]
    fn settings_are_written_after_the_timing() {
        let mut positioned = cue(0, 1000, "top");
        positioned.settings = "line:0 align:start".to_owned();
        let segmented = segment(&[positioned.clone()], 1.0, 6.0);
        assert!(std::str::from_utf8(&segmented.body)
            .expect("UTF-8")
            .contains("00:00:00.000 --> 00:00:01.000 line:0 align:start\ntop\n\n"));
        assert_eq!(cues_per_segment(&segmented), [vec![positioned]]);
    }
}
