//! Reading SRT (SubRip): blocks separated by blank lines, each a counter
//! (which may be missing), a timing line and the text. SRT markup becomes
//! WebVTT cue text: `<i>`, `<b>` and `<u>` are kept, `<font …>` and ASS
//! override blocks (`{\an8}`) are dropped, and every other `&`, `<` and
//! `>` is escaped (so no `-->` is left either).

use super::text::{self, Line};
use super::{timing, CaptionError, Cue, CueList};

/// An SRT timing line, for refusals.
const EXAMPLE: &str = "00:00:01,000 --> 00:00:04,000";

/// The cues of the SRT file `text`, in file order; there may be none.
/// A file whose first block has no timing line is not SRT.
pub(super) fn parse(text: &str) -> Result<Vec<Cue>, CaptionError> {
    let lines = text::lines(text);
    let mut at = text::skip_blank(&lines, 0);
    if let Some(first) = lines.get(at).filter(|_| !starts_like_srt(&lines, at)) {
        return Err(text::refusal(first.number, "not a WebVTT or SRT file"));
    }
    let mut cues = CueList::default();
    while at < lines.len() {
        at = read_cue(&lines, at, &mut cues)?;
        at = text::skip_blank(&lines, at);
    }
    Ok(cues.into_cues())
}

/// Whether the block at `at` has a `-->` on its first or second line.
fn starts_like_srt(lines: &[Line<'_>], at: usize) -> bool {
    let end = text::block_end(lines, at);
    lines[at..end.min(at + 2)].iter().any(Line::has_arrow)
}

/// Reads the cue starting at `lines[at]` into `cues`; the index of the
/// line after it.
fn read_cue(lines: &[Line<'_>], at: usize, cues: &mut CueList) -> Result<usize, CaptionError> {
    let timing_at = text::timing_line(lines, at, EXAMPLE)?;
    let line = &lines[timing_at];
    let timing = timing::srt(line.text).ok_or_else(|| malformed(line))?;
    let end = text::block_end(lines, timing_at);
    let payload: Vec<String> = lines[timing_at + 1..end]
        .iter()
        .map(|line| to_webvtt(line.text).trim_ascii().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    cues.push(
        line.number,
        Cue {
            start_ms: timing.start_ms,
            end_ms: timing.end_ms,
            settings: timing.settings,
            text: payload.join("\n"),
        },
    )?;
    Ok(end)
}

fn malformed(line: &Line<'_>) -> CaptionError {
    text::refusal(
        line.number,
        format!(
            "malformed cue timing {}: expected `{EXAMPLE}`",
            text::quote(line.text)
        ),
    )
}

/// One line of SRT text as WebVTT cue text.
fn to_webvtt(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let (written, read) = match c {
            '{' if rest.starts_with("{\\") => override_block(rest),
            '<' => tag(rest).unwrap_or(("&lt;", 1)),
            '>' => ("&gt;", 1),
            '&' => ("&amp;", 1),
            _ => (&rest[..c.len_utf8()], c.len_utf8()),
        };
        out.push_str(written);
        rest = &rest[read..];
    }
    out
}

/// An ASS override block (`{\an8}`, `{\i1}`) at the start of `rest`:
/// nothing to write, and its length; a `{` alone when it is not closed.
fn override_block(rest: &str) -> (&'static str, usize) {
    rest.find('}').map_or(("{", 1), |close| ("", close + 1))
}

/// The markup at the start of `rest` (which starts with `<`) if it is a
/// tag SRT players know: the WebVTT to write for it and its length.
fn tag(rest: &str) -> Option<(&'static str, usize)> {
    let close = rest.find('>')?;
    let name = rest[1..close].trim_ascii().to_ascii_lowercase();
    let written = match name.as_str() {
        "i" => "<i>",
        "b" => "<b>",
        "u" => "<u>",
        "/i" => "</i>",
        "/b" => "</b>",
        "/u" => "</u>",
        "/font" => "",
        _ if is_font(&name) => "",
        _ => return None,
    };
    Some((written, close + 1))
}

/// Whether `name` is a `font` start tag with or without attributes.
fn is_font(name: &str) -> bool {
    name.strip_prefix("font")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, text: &str) -> Cue {
        Cue {
            start_ms,
            end_ms,
            settings: String::new(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn numbered_cues_are_read_in_order() {
        let file = "1\n00:00:01,000 --> 00:00:02,500\nHello\nthere\n\n\
                    2\n00:00:03,000 --> 00:00:04,000\nAgain\n";
        assert_eq!(
            parse(file),
            Ok(vec![
                cue(1000, 2500, "Hello\nthere"),
                cue(3000, 4000, "Again")
            ])
        );
    }

    #[test]
    fn a_missing_counter_is_tolerated() {
        let file = "\n\n00:00:01,000 --> 00:00:02,000\nNo number\n\n\n\n7\n00:00:03.000 --> 00:00:04.000\nDot\n";
        assert_eq!(
            parse(file),
            Ok(vec![cue(1000, 2000, "No number"), cue(3000, 4000, "Dot")])
        );
    }

    #[test]
    fn crlf_and_cr_line_ends_are_read_like_lf() {
        let lf = "1\n00:00:01,000 --> 00:00:02,000\nA\nB\n\n2\n00:00:03,000 --> 00:00:04,000\nC\n";
        let expected = parse(lf);
        assert_eq!(expected.as_ref().map(Vec::len), Ok(2));
        assert_eq!(parse(&lf.replace('\n', "\r\n")), expected);
        assert_eq!(parse(&lf.replace('\n', "\r")), expected);
    }

    #[test]
    fn italic_bold_and_underline_are_kept_in_lower_case() {
        assert_eq!(
            to_webvtt("<i>a</i> <B>b</B> < u >c</u>"),
            "<i>a</i> <b>b</b> <u>c</u>"
        );
    }

    #[test]
    fn font_tags_and_override_blocks_are_dropped() {
        assert_eq!(
            to_webvtt(r##"{\an8}<font color="#ff0000">Red</font>{\i1}!"##),
            "Red!"
        );
        assert_eq!(to_webvtt("<FONT face=x>a</FONT>"), "a");
    }

    #[test]
    fn other_markup_characters_are_escaped() {
        assert_eq!(
            to_webvtt("Tom & Jerry <3 a<b>c <fontx> {not} {\\open"),
            "Tom &amp; Jerry &lt;3 a<b>c &lt;fontx&gt; {not} {\\open"
        );
        assert_eq!(to_webvtt("a --> b"), "a --&gt; b");
        assert_eq!(
            to_webvtt("<script>x</script>"),
            "&lt;script&gt;x&lt;/script&gt;"
        );
    }

    #[test]
    fn lines_left_empty_by_markup_are_dropped_and_cues_left_empty_too() {
        let file = "1\n00:00:01,000 --> 00:00:02,000\n{\\an8}\nKept\n\n\
                    2\n00:00:03,000 --> 00:00:04,000\n<font color=red></font>\n";
        assert_eq!(parse(file), Ok(vec![cue(1000, 2000, "Kept")]));
    }

    #[test]
    fn a_file_that_is_no_srt_is_refused_at_its_first_line() {
        for other in [
            "[Script Info]\nTitle: x\n",
            "<?xml version=\"1.0\"?>\n<tt/>",
            "hello\nworld\n",
        ] {
            assert_eq!(
                parse(other),
                Err(CaptionError {
                    line: 1,
                    message: "not a WebVTT or SRT file".to_owned()
                })
            );
        }
        assert_eq!(parse("\n\nhello").map_err(|e| e.line), Err(3));
    }

    #[test]
    fn a_malformed_timing_is_refused_naming_its_line() {
        let file = "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03 --> 00:00:04\nB\n";
        let error = parse(file).unwrap_err();
        assert_eq!(error.line, 6);
        assert!(
            error
                .message
                .contains("malformed cue timing \"00:00:03 --> 00:00:04\""),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_block_without_a_timing_is_refused_after_the_first() {
        let file = "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\nB\n";
        let error = parse(file).unwrap_err();
        assert_eq!(error.line, 6);
        assert!(
            error.message.contains("expected a cue timing line"),
            "{}",
            error.message
        );
    }

    #[test]
    fn an_empty_file_has_no_cue() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("\n \n"), Ok(vec![]));
    }
}
