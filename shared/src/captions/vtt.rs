//! Reading WebVTT: the header, then blocks separated by blank lines;
//! `NOTE`, `STYLE` and `REGION` blocks are skipped, every other block is a
//! cue (an optional identifier, the timing line, the cue text). As in the
//! WebVTT parsing rules, a line holding `-->` starts a new block even
//! without a blank line before it.

use super::text::{self, Line};
use super::{timing, CaptionError, Cue, CueList};

/// A WebVTT timing line, for refusals.
const EXAMPLE: &str = "00:00:01.000 --> 00:00:04.000";

/// Whether `text` (without a BOM) is a WebVTT file: it starts with
/// `WEBVTT` followed by a space, a tab, a line end or nothing.
pub(super) fn is_webvtt(text: &str) -> bool {
    text.strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// The cues of the WebVTT file `text`, in file order; there may be none.
pub(super) fn parse(text: &str) -> Result<Vec<Cue>, CaptionError> {
    let lines = text::lines(text);
    let mut cues = CueList::default();
    // The header: the `WEBVTT` line and the lines after it up to a blank one.
    let mut at = block_end(&lines, 0);
    loop {
        at = text::skip_blank(&lines, at);
        let Some(first) = lines.get(at) else {
            return Ok(cues.into_cues());
        };
        at = if is_skipped(first) {
            block_end(&lines, at)
        } else {
            read_cue(&lines, at, &mut cues)?
        };
    }
}

/// Whether the block starting with `line` is a comment, style sheet or
/// region definition.
fn is_skipped(line: &Line<'_>) -> bool {
    ["NOTE", "STYLE", "REGION"].iter().any(|keyword| {
        line.text
            .strip_prefix(keyword)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

/// Reads the cue starting at `lines[at]` into `cues`; the index of the
/// line after it.
fn read_cue(lines: &[Line<'_>], at: usize, cues: &mut CueList) -> Result<usize, CaptionError> {
    let timing_at = text::timing_line(lines, at, EXAMPLE)?;
    let line = &lines[timing_at];
    let timing = timing::webvtt(line.text).ok_or_else(|| malformed(line))?;
    let end = block_end(lines, timing_at);
    let payload: Vec<String> = lines[timing_at + 1..end]
        .iter()
        .map(|line| escape_bare_ampersands(line.text.trim_ascii_end()))
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

/// The index of the line ending the block `lines[at]` is in: the first
/// blank line after it, or the first holding `-->`.
fn block_end(lines: &[Line<'_>], at: usize) -> usize {
    let end = text::block_end(lines, at);
    (at + 1..end).find(|&i| lines[i].has_arrow()).unwrap_or(end)
}

fn malformed(line: &Line<'_>) -> CaptionError {
    text::refusal(
        line.number,
        format!(
            "malformed cue timing {}: expected `{EXAMPLE}` (the hours may be left out)",
            text::quote(line.text)
        ),
    )
}

/// `line` with each `&` that does not start a character reference
/// (`&amp;`, `&#39;`, …) written `&amp;`.
fn escape_bare_ampersands(line: &str) -> String {
    let mut escaped = String::with_capacity(line.len());
    for (i, piece) in line.split('&').enumerate() {
        if i > 0 {
            escaped.push_str(if starts_reference(piece) {
                "&"
            } else {
                "&amp;"
            });
        }
        escaped.push_str(piece);
    }
    escaped
}

/// Whether `after` (what follows a `&`) is a character reference's name
/// or number and its `;`.
fn starts_reference(after: &str) -> bool {
    after.split_once(';').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_ms: u64, end_ms: u64, settings: &str, text: &str) -> Cue {
        Cue {
            start_ms,
            end_ms,
            settings: settings.to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn the_signature_is_webvtt_then_whitespace_or_the_end() {
        for vtt in [
            "WEBVTT",
            "WEBVTT\n",
            "WEBVTT\r\n",
            "WEBVTT\r",
            "WEBVTT - a title",
            "WEBVTT\tx",
        ] {
            assert!(is_webvtt(vtt), "{vtt:?}");
        }
        for other in [
            "WEBVTTX",
            "webvtt",
            " WEBVTT",
            "WEBVT",
            "1\n00:00:01,000 --> 00:00:02,000",
        ] {
            assert!(!is_webvtt(other), "{other:?}");
        }
    }

    #[test]
    fn header_notes_styles_and_regions_are_skipped() {
        let file = "WEBVTT - title\nKind: captions\nLanguage: en\n\n\
                    NOTE a comment\nspanning lines\n\n\
                    STYLE\n::cue { color: yellow }\n\n\
                    REGION\nid:fred width:40%\n\n\
                    NOTE\n\n\
                    00:01.000 --> 00:02.000\nHello\n";
        assert_eq!(parse(file), Ok(vec![cue(1000, 2000, "", "Hello")]));
    }

    #[test]
    fn identifiers_are_optional_and_settings_are_kept() {
        let file = "WEBVTT\n\n\
                    intro\n00:00:01.000 --> 00:00:02.000 align:start  line:0\nOne\n\n\
                    00:00:03.000 --> 00:00:04.000\nTwo\nlines\n";
        assert_eq!(
            parse(file),
            Ok(vec![
                cue(1000, 2000, "align:start line:0", "One"),
                cue(3000, 4000, "", "Two\nlines"),
            ])
        );
    }

    #[test]
    fn crlf_and_cr_line_ends_are_read_like_lf() {
        let lf = "WEBVTT\n\n00:01.000 --> 00:02.000\nA\nB\n\n00:03.000 --> 00:04.000\nC\n";
        let expected = parse(lf);
        assert_eq!(expected.as_ref().map(Vec::len), Ok(2));
        assert_eq!(parse(&lf.replace('\n', "\r\n")), expected);
        assert_eq!(parse(&lf.replace('\n', "\r")), expected);
    }

    #[test]
    fn a_line_with_an_arrow_starts_a_new_cue_without_a_blank_line() {
        let file = "WEBVTT\n00:01.000 --> 00:02.000\nOne\n00:03.000 --> 00:04.000\nTwo";
        assert_eq!(
            parse(file),
            Ok(vec![cue(1000, 2000, "", "One"), cue(3000, 4000, "", "Two")])
        );
    }

    #[test]
    fn a_malformed_timing_is_refused_naming_its_line() {
        let error = parse("WEBVTT\n\n1\n00:01.000 --> 00:02\nHello\n").unwrap_err();
        assert_eq!(error.line, 4);
        assert!(
            error.message.contains("malformed cue timing"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_block_without_a_timing_is_refused_naming_the_line_where_it_was_expected() {
        let error = parse("WEBVTT\n\n00:01.000 --> 00:02.000\nA\n\nstray\ntext\n").unwrap_err();
        assert_eq!(error.line, 7);
        assert!(
            error.message.contains("expected a cue timing line"),
            "{}",
            error.message
        );
    }

    #[test]
    fn bare_ampersands_are_escaped_and_references_kept() {
        let file = "WEBVTT\n\n00:01.000 --> 00:02.000\nTom & Jerry &amp; <i>&#39;s&nbsp;&</i>  \n";
        assert_eq!(
            parse(file).map(|cues| cues[0].text.clone()),
            Ok("Tom &amp; Jerry &amp; <i>&#39;s&nbsp;&amp;</i>".to_owned())
        );
    }

    #[test]
    fn a_file_of_only_a_header_has_no_cue() {
        assert_eq!(
            parse("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n"),
            Ok(vec![])
        );
        assert_eq!(parse("WEBVTT"), Ok(vec![]));
    }
}
