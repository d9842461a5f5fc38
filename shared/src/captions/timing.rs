//! Cue timing lines: reading WebVTT (`[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt
//! settings`) and SRT (`hh:mm:ss,mmm --> hh:mm:ss,mmm`) timings into
//! milliseconds, and writing a time as a WebVTT timestamp.

use super::text::ARROW;

/// A cue timing line's times and, for WebVTT, its cue settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Timing {
    /// Start, in milliseconds.
    pub start_ms: u64,
    /// End, in milliseconds.
    pub end_ms: u64,
    /// The cue settings, separated by one space; empty for none.
    pub settings: String,
}

/// Reads a WebVTT cue timing line: a timestamp, `-->`, a timestamp, then
/// the cue settings after whitespace. `None` when it is malformed.
pub(super) fn webvtt(line: &str) -> Option<Timing> {
    let (start, rest) = line.split_once(ARROW)?;
    let rest = rest.trim_ascii_start();
    let (end, settings) = rest.split_at(rest.find(is_space).unwrap_or(rest.len()));
    Some(Timing {
        start_ms: clock(start.trim_ascii(), &['.'], false)?,
        end_ms: clock(end, &['.'], false)?,
        settings: settings
            .split_ascii_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// Reads an SRT timing line (`,` or `.` before the milliseconds); what
/// follows the end time, such as `X1:…` coordinates, is ignored. `None`
/// when it is malformed.
pub(super) fn srt(line: &str) -> Option<Timing> {
    let (start, rest) = line.split_once(ARROW)?;
    let end = rest.split_ascii_whitespace().next()?;
    Some(Timing {
        start_ms: clock(start.trim_ascii(), &[',', '.'], true)?,
        end_ms: clock(end, &[',', '.'], true)?,
        settings: String::new(),
    })
}

/// `ms` as a WebVTT timestamp, `hh:mm:ss.ttt` (more digits of hours past
/// 99).
pub(super) fn format(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn is_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// `[h…:]mm:ss` then one of `marks` then three digits of milliseconds, in
/// milliseconds; the hours may be left out unless `hours_required`.
fn clock(text: &str, marks: &[char], hours_required: bool) -> Option<u64> {
    let (clock, millis) = text.split_once(marks)?;
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts[..] {
        [hours, minutes, seconds] => (number(hours, 1..=9)?, sixty(minutes)?, sixty(seconds)?),
        [minutes, seconds] if !hours_required => (0, sixty(minutes)?, sixty(seconds)?),
        _ => return None,
    };
    let millis = number(millis, 3..=3)?;
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// Two digits from 00 to 59.
fn sixty(text: &str) -> Option<u64> {
    number(text, 2..=2).filter(|&value| value < 60)
}

/// A number of ASCII digits, as many as `digits` allows.
fn number(text: &str, digits: std::ops::RangeInclusive<usize>) -> Option<u64> {
    let well_formed = digits.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(timing: Option<Timing>) -> Option<(u64, u64)> {
        timing.map(|t| (t.start_ms, t.end_ms))
    }

    #[test]
    fn a_webvtt_timing_may_leave_out_the_hours() {
        assert_eq!(
            times(webvtt("00:01.000 --> 01:02:03.456")),
            Some((1000, 3_723_456))
        );
        assert_eq!(
            times(webvtt("123:00:00.001 --> 123:00:00.002")),
            Some((442_800_001, 442_800_002))
        );
    }

    #[test]
    fn a_webvtt_timing_keeps_its_settings_with_single_spaces() {
        let timing = webvtt(" 00:01.000\t-->  00:02.000  line:0 \t position:50%  ");
        assert_eq!(
            timing,
            Some(Timing {
                start_ms: 1000,
                end_ms: 2000,
                settings: "line:0 position:50%".to_owned(),
            })
        );
        assert_eq!(
            webvtt("00:01.000-->00:02.000").map(|t| t.settings),
            Some(String::new())
        );
    }

    #[test]
    fn malformed_webvtt_timings_are_none() {
        for bad in [
            "00:01.000",
            "00:01.000 --> ",
            "00:01,000 --> 00:02.000",
            "0:01.000 --> 00:02.000",
            "00:60.000 --> 00:61.000",
            "60:00.000 --> 61:00.000",
            "00:01.00 --> 00:02.000",
            "00:01.0000 --> 00:02.000",
            "00:00:01.000 --> 00:00:02.000x",
            "-00:01.000 --> 00:02.000",
            "00:01.000 -> 00:02.000",
            "1:2:3:00.000 --> 00:02.000",
            "00:０1.000 --> 00:02.000",
        ] {
            assert_eq!(webvtt(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_srt_timing_takes_a_comma_or_a_dot_and_ignores_coordinates() {
        assert_eq!(
            times(srt("00:00:01,500 --> 00:00:02.250 X1:10 X2:20")),
            Some((1500, 2250))
        );
        assert_eq!(
            times(srt("1:00:00,000-->1:00:01,000")),
            Some((3_600_000, 3_601_000))
        );
    }

    #[test]
    fn malformed_srt_timings_are_none() {
        for bad in [
            "00:01,000 --> 00:02,000",
            "00:00:01 --> 00:00:02",
            "00:00:01,000 --> ",
            "00:00:01;000 --> 00:00:02;000",
            "00:00:1,000 --> 00:00:02,000",
            "a --> b",
        ] {
            assert_eq!(srt(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_are_written_with_at_least_two_digits_of_hours() {
        assert_eq!(format(0), "00:00:00.000");
        assert_eq!(format(3_723_456), "01:02:03.456");
        assert_eq!(format(360_000_000), "100:00:00.000");
    }
}
