//! Caption text: reading an uploaded WebVTT or SRT file into validated
//! [`Cue`]s (a malformed file is refused with the line at fault), writing
//! cues back as one WebVTT file (the DASH sidecar), and cutting them into
//! the byte-ranged WebVTT segments of an HLS subtitle playlist, each with
//! an `X-TIMESTAMP-MAP` that puts its cues on the CMAF media's timeline.
//! [`language`] checks and normalises BCP 47 tags.

mod hls;
pub mod language;
mod srt;
mod text;
mod timing;
mod vtt;

pub use language::LanguageTag;

/// The largest caption file accepted, in bytes.
pub const MAX_CAPTION_BYTES: usize = 2 * 1024 * 1024;

/// One cue: text shown from `start_ms` to `end_ms` of the video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// When the text appears, in milliseconds from the start of the video.
    pub start_ms: u64,
    /// When it goes, in milliseconds; after `start_ms`.
    pub end_ms: u64,
    /// WebVTT cue settings (`line:0 position:50%`, …), empty for none.
    pub settings: String,
    /// The cue text as WebVTT cue payload: lines separated by `\n`, no
    /// blank line, `&` and `<` escaped unless they are WebVTT markup.
    pub text: String,
}

/// Why a caption file was refused: the 1-based line at fault and what is
/// wrong with it (`line 12: the cue starts before the previous one`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CaptionError {
    /// 1-based line number in the uploaded file.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

/// Reads a WebVTT file (starts with `WEBVTT`) or else an SRT file into its
/// cues, in file order. Refused: text that is not UTF-8 (a BOM is
/// accepted), files over [`MAX_CAPTION_BYTES`], neither format, malformed
/// timings, a cue ending before it starts, a cue starting before the
/// previous one, and a file with no cue at all.
pub fn parse(bytes: &[u8]) -> Result<Vec<Cue>, CaptionError> {
    let cues = read(bytes)?;
    if cues.is_empty() {
        return Err(text::refusal(1, "the file has no cue"));
    }
    Ok(cues)
}

/// The cues as one WebVTT file (`WEBVTT`, then each cue).
pub fn to_webvtt(cues: &[Cue]) -> String {
    let mut file = String::from("WEBVTT\n\n");
    for cue in cues {
        write_cue(&mut file, cue);
    }
    file
}

/// An HLS subtitle rendition's media: WebVTT segments one after another in
/// one file, each a complete WebVTT document, addressed by byte range.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmented {
    /// Every segment's bytes, concatenated.
    pub body: Vec<u8>,
    /// Where each segment is in `body`, in order.
    pub segments: Vec<TextSegment>,
}

/// One WebVTT segment of [`Segmented::body`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextSegment {
    /// First byte.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
    /// Seconds of the video it covers (its `EXTINF`).
    pub duration_s: f64,
}

/// Cuts `cues` into segments of `segment_s` seconds covering `duration_s`
/// (the last one shorter): segment `i` covers `[i × segment_s, (i + 1) ×
/// segment_s)` and holds every cue overlapping it (a cue crossing a
/// boundary is in both, as RFC 8216 §3.5 expects), after the header
/// `WEBVTT` and `X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000` (cue times
/// are the media's presentation times, which start at 0). At least one
/// segment, even for a zero duration.
pub fn segment(cues: &[Cue], duration_s: f64, segment_s: f64) -> Segmented {
    hls::segment(cues, duration_s, segment_s)
}

/// [`parse`] but for a file without cues, which is no refusal here (an
/// HLS segment may have none).
fn read(bytes: &[u8]) -> Result<Vec<Cue>, CaptionError> {
    if bytes.len() > MAX_CAPTION_BYTES {
        return Err(text::refusal(
            1,
            format!(
                "the file is {} bytes, more than the {MAX_CAPTION_BYTES} accepted",
                bytes.len()
            ),
        ));
    }
    let file = std::str::from_utf8(bytes).map_err(|error| {
        let line = text::line_after(&bytes[..error.valid_up_to()]);
        text::refusal(line, "the file is not UTF-8 text")
    })?;
    let file = file.strip_prefix('\u{feff}').unwrap_or(file);
    if vtt::is_webvtt(file) {
        vtt::parse(file)
    } else {
        srt::parse(file)
    }
}

/// Writes `cue` as a WebVTT cue: its timing line, its text, a blank line.
fn write_cue(file: &mut String, cue: &Cue) {
    file.push_str(&timing::format(cue.start_ms));
    file.push_str(" --> ");
    file.push_str(&timing::format(cue.end_ms));
    if !cue.settings.is_empty() {
        file.push(' ');
        file.push_str(&cue.settings);
    }
    file.push('\n');
    file.push_str(&cue.text);
    file.push_str("\n\n");
}

/// The cues of a file as its parser reads them: each must end after it
/// starts and start no earlier than the one before; cues without text are
/// left out.
#[derive(Debug, Default)]
struct CueList {
    cues: Vec<Cue>,
    previous_start_ms: Option<u64>,
}

impl CueList {
    /// Adds `cue`, whose timing is on `line`, or refuses it.
    fn push(&mut self, line: usize, cue: Cue) -> Result<(), CaptionError> {
        if cue.end_ms <= cue.start_ms {
            return Err(text::refusal(
                line,
                format!(
                    "the cue ends at {} but starts at {}: it must end after it starts",
                    timing::format(cue.end_ms),
                    timing::format(cue.start_ms)
                ),
            ));
        }
        if let Some(previous) = self
            .previous_start_ms
            .filter(|&previous| cue.start_ms < previous)
        {
            return Err(text::refusal(
                line,
                format!(
                    "cue times out of order: the cue starts at {}, before the previous one (at {})",
                    timing::format(cue.start_ms),
                    timing::format(previous)
                ),
            ));
        }
        self.previous_start_ms = Some(cue.start_ms);
        if !cue.text.is_empty() {
            self.cues.push(cue);
        }
        Ok(())
    }

    /// The cues added.
    fn into_cues(self) -> Vec<Cue> {
        self.cues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue {
            start_ms,
            end_ms,
            settings: String::new(),
            text: text.to_owned(),
        }
    }

    fn refusal(bytes: &[u8]) -> (usize, String) {
        let error = parse(bytes).expect_err("refused");
        (error.line, error.message)
    }

    #[test]
    fn webvtt_is_told_from_srt_by_its_signature() {
        let vtt = b"WEBVTT\n\n00:01.000 --> 00:02.000\nA\n";
        let srt = b"1\n00:00:01,000 --> 00:00:02,000\nA\n";
        assert_eq!(parse(vtt), Ok(vec![cue(1000, 2000, "A")]));
        assert_eq!(parse(srt), Ok(vec![cue(1000, 2000, "A")]));
    }

    #[test]
    fn a_byte_order_mark_is_accepted_in_both_formats() {
        assert_eq!(
            parse(b"\xEF\xBB\xBFWEBVTT\n\n00:01.000 --> 00:02.000\nA").map(|c| c.len()),
            Ok(1)
        );
        assert_eq!(
            parse(b"\xEF\xBB\xBF1\n00:00:01,000 --> 00:00:02,000\nA").map(|c| c.len()),
            Ok(1)
        );
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_at_the_line_of_the_first_bad_byte() {
        let (line, message) = refusal(b"WEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nCaf\xE9\r\n");
        assert_eq!((line, message.as_str()), (4, "the file is not UTF-8 text"));
        let utf16 = b"\xFF\xFEW\0E\0B\0";
        assert_eq!(refusal(utf16).0, 1);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_at_line_one() {
        let mut big = b"WEBVTT\n\n00:01.000 --> 00:02.000\nA\n".to_vec();
        big.resize(MAX_CAPTION_BYTES + 1, b'a');
        let (line, message) = refusal(&big);
        assert_eq!(line, 1);
        assert!(
            message.contains("more than the 2097152 accepted"),
            "{message}"
        );
        big.truncate(MAX_CAPTION_BYTES);
        assert!(parse(&big).is_ok());
    }

    #[test]
    fn a_file_of_neither_format_is_refused() {
        assert_eq!(
            refusal(b"WEBVTTX\n\n00:01.000 --> 00:02.000\nA"),
            (1, "not a WebVTT or SRT file".to_owned())
        );
        assert_eq!(
            refusal(b"[Script Info]\nScriptType: v4.00+\n").1,
            "not a WebVTT or SRT file"
        );
    }

    #[test]
    fn a_file_without_any_cue_is_refused() {
        for empty in [
            &b""[..],
            b"\n\n",
            b"WEBVTT\n",
            b"WEBVTT\n\nNOTE nothing here\n",
        ] {
            assert_eq!(
                refusal(empty),
                (1, "the file has no cue".to_owned()),
                "{empty:?}"
            );
        }
        let textless = b"1\n00:00:01,000 --> 00:00:02,000\n\n";
        assert_eq!(refusal(textless).1, "the file has no cue");
    }

    #[test]
    fn a_cue_ending_before_or_when_it_starts_is_refused_naming_its_line() {
        let (line, message) = refusal(b"WEBVTT\n\n00:02.000 --> 00:02.000\nA\n");
        assert_eq!(line, 3);
        assert_eq!(
            message,
            "the cue ends at 00:00:02.000 but starts at 00:00:02.000: it must end after it starts"
        );
        assert_eq!(refusal(b"1\n00:00:03,000 --> 00:00:02,000\nA\n").0, 2);
    }

    #[test]
    fn a_cue_starting_before_the_previous_one_is_refused_naming_its_line() {
        let file = b"1\n00:00:05,000 --> 00:00:06,000\nA\n\n2\n00:00:04,000 --> 00:00:07,000\nB\n";
        let (line, message) = refusal(file);
        assert_eq!(line, 6);
        assert!(message.starts_with("cue times out of order"), "{message}");
        let same_start = b"WEBVTT\n\n00:01.000 --> 00:03.000\nA\n\n00:01.000 --> 00:02.000\nB\n";
        assert_eq!(parse(same_start).map(|c| c.len()), Ok(2));
    }

    #[test]
    fn an_error_reads_as_its_line_and_message() {
        let error = parse(b"WEBVTT\n\nnope\n").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "line 3: expected a cue timing line like `00:00:01.000 --> 00:00:04.000`, found \"nope\""
        );
    }

    #[test]
    fn cues_are_written_as_one_webvtt_file() {
        let mut first = cue(1000, 2500, "<i>One</i>\ntwo");
        first.settings = "line:0".to_owned();
        let file = to_webvtt(&[first, cue(3_600_000, 3_601_000, "Later")]);
        assert_eq!(
            file,
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500 line:0\n<i>One</i>\ntwo\n\n\
             01:00:00.000 --> 01:00:01.000\nLater\n\n"
        );
        assert_eq!(to_webvtt(&[]), "WEBVTT\n\n");
    }

    #[test]
    fn srt_becomes_webvtt_that_reads_back_the_same() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,000\r\n{\\an8}<font color=\"red\"><I>Tom & Jerry</I></font>\r\n\
                   a --> b <3\r\n\r\n";
        let cues = parse(srt.as_bytes()).expect("SRT");
        assert_eq!(
            cues,
            [cue(1000, 2000, "<i>Tom &amp; Jerry</i>\na --&gt; b &lt;3")]
        );
        assert_eq!(parse(to_webvtt(&cues).as_bytes()), Ok(cues));
    }

    /// One word of cue text; joined by spaces, words never make `-->`.
    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9éß,.!?'\"]{1,8}",
            Just("&amp;".to_owned()),
            Just("&lt;3".to_owned()),
            Just("-".to_owned()),
            Just("--".to_owned()),
            Just(">".to_owned()),
            Just("<i>".to_owned()),
            Just("</i>".to_owned()),
            Just("<c.yellow>".to_owned()),
        ]
    }

    fn text_line() -> impl Strategy<Value = String> {
        prop::collection::vec(word(), 1..6).prop_map(|words| words.join(" "))
    }

    fn settings() -> impl Strategy<Value = String> {
        let setting = prop_oneof![
            Just("line:0"),
            Just("line:-1"),
            Just("position:50%"),
            Just("align:start"),
            Just("size:80%"),
            Just("vertical:rl"),
        ];
        prop::collection::vec(setting, 0..3).prop_map(|settings| settings.join(" "))
    }

    /// Cues in order: each starts `gap` after the previous start.
    fn cues() -> impl Strategy<Value = Vec<Cue>> {
        let one = (
            0u64..20_000,
            1u64..20_000,
            settings(),
            prop::collection::vec(text_line(), 1..4),
        );
        prop::collection::vec(one, 1..20).prop_map(|specs| {
            let mut start_ms = 0;
            specs
                .into_iter()
                .map(|(gap, length, settings, lines)| {
                    start_ms += gap;
                    Cue {
                        start_ms,
                        end_ms: start_ms + length,
                        settings,
                        text: lines.join("\n"),
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn written_cues_read_back_the_same(cues in cues()) {
            prop_assert_eq!(parse(to_webvtt(&cues).as_bytes()), Ok(cues));
        }

        #[test]
        fn every_segment_reads_back_as_the_cues_it_overlaps(
            cues in cues(),
            duration_s in 0.0f64..500.0,
            segment_s in prop_oneof![Just(2.0f64), Just(6.0), 0.5f64..10.0],
        ) {
            let segmented = segment(&cues, duration_s, segment_s);
            for (index, part) in segmented.segments.iter().enumerate() {
                let slice = &segmented.body[part.offset as usize..(part.offset + part.length) as usize];
                let start = (index as f64 * segment_s * 1000.0).round() as u64;
                let end = ((index + 1) as f64 * segment_s * 1000.0).round() as u64;
                let expected: Vec<Cue> =
                    cues.iter().filter(|c| c.start_ms < end && c.end_ms > start).cloned().collect();
                prop_assert_eq!(read(slice), Ok(expected));
            }
        }

        #[test]
        fn parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parsing_text_never_panics(file in "(WEBVTT\n|1\n)?([0-9:.,\\-> \r\n]|NOTE|x|&|<|\\{\\\\){0,200}") {
            let _ = parse(file.as_bytes());
        }
    }
}
