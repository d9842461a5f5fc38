//! The line structure both caption formats share: numbered lines (a line
//! ends at CRLF, LF or CR), blank lines between blocks, the `-->` of a cue
//! timing line, and the refusals that name a line.

use super::CaptionError;

/// The arrow between a cue's start and end times.
pub(super) const ARROW: &str = "-->";

/// One line of a caption file and its 1-based number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Line<'a> {
    /// 1-based line number in the file.
    pub number: usize,
    /// The line without its line end.
    pub text: &'a str,
}

impl Line<'_> {
    /// Whether the line has nothing but whitespace on it.
    pub fn is_blank(&self) -> bool {
        self.text.trim_ascii().is_empty()
    }

    /// Whether the line holds a `-->`, as a cue timing line does.
    pub fn has_arrow(&self) -> bool {
        self.text.contains(ARROW)
    }
}

/// The lines of `text`, numbered from 1; CRLF, LF and CR each end a line.
pub(super) fn lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        lines.push(Line {
            number: lines.len() + 1,
            text: &rest[..end],
        });
        rest = &rest[end..];
        rest = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix(['\r', '\n']))
            .unwrap_or(rest);
    }
    lines
}

/// The 1-based line the byte just after `before` is on.
pub(super) fn line_after(before: &[u8]) -> usize {
    let line_ends = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n')))
        .count();
    line_ends + 1
}

/// The index of the first line from `at` that is not blank (`lines.len()`
/// when there is none).
pub(super) fn skip_blank(lines: &[Line<'_>], at: usize) -> usize {
    (at..lines.len())
        .find(|&i| !lines[i].is_blank())
        .unwrap_or(lines.len())
}

/// The index of the first blank line after `at`, which ends the block
/// `lines[at]` is in (`lines.len()` when the file ends first).
pub(super) fn block_end(lines: &[Line<'_>], at: usize) -> usize {
    (at + 1..lines.len())
        .find(|&i| lines[i].is_blank())
        .unwrap_or(lines.len())
}

/// The index of the cue timing line of the block starting at `at`: that
/// line, or the next one after a cue identifier (WebVTT) or counter (SRT).
/// `example` is a timing line of the format, for the refusal.
pub(super) fn timing_line(
    lines: &[Line<'_>],
    at: usize,
    example: &str,
) -> Result<usize, CaptionError> {
    if lines[at].has_arrow() {
        return Ok(at);
    }
    match lines.get(at + 1).filter(|line| !line.is_blank()) {
        Some(next) if next.has_arrow() => Ok(at + 1),
        Some(next) => Err(no_timing(next, example)),
        None => Err(no_timing(&lines[at], example)),
    }
}

fn no_timing(line: &Line<'_>, example: &str) -> CaptionError {
    refusal(
        line.number,
        format!(
            "expected a cue timing line like `{example}`, found {}",
            quote(line.text)
        ),
    )
}

/// A refusal of the file at `line`.
pub(super) fn refusal(line: usize, message: impl Into<String>) -> CaptionError {
    CaptionError {
        line,
        message: message.into(),
    }
}

/// `text` in quotes for a message, cut after 60 characters.
pub(super) fn quote(text: &str) -> String {
    const SHOWN: usize = 60;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("\"{}…\"", &text[..cut]),
        None => format!("\"{text}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        lines(text).iter().map(|line| line.text).collect()
    }

    #[test]
    fn crlf_lf_and_cr_each_end_one_line() {
        assert_eq!(texts("a\r\nb\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(texts("a\r\n\r\nb"), ["a", "", "b"]);
        assert_eq!(texts("a\r\n\nb"), ["a", "", "b"]);
        assert_eq!(texts("a\r\rb"), ["a", "", "b"]);
        assert_eq!(texts("a\n"), ["a"]);
        assert!(texts("").is_empty());
    }

    #[test]
    fn lines_are_numbered_from_one() {
        let numbers: Vec<usize> = lines("a\n\nb").iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
    }

    #[test]
    fn the_line_of_a_byte_counts_every_kind_of_line_end() {
        assert_eq!(line_after(b""), 1);
        assert_eq!(line_after(b"abc"), 1);
        assert_eq!(line_after(b"a\r\nb\nc\r"), 4);
        assert_eq!(line_after(b"a\r\n"), 2);
    }

    #[test]
    fn a_line_of_whitespace_is_blank() {
        let line = |text| Line { number: 1, text };
        assert!(line("").is_blank());
        assert!(line(" \t").is_blank());
        assert!(!line(" a ").is_blank());
    }

    #[test]
    fn a_block_ends_at_the_first_blank_line() {
        let all = lines("a\nb\n\n  \nc");
        assert_eq!(block_end(&all, 0), 2);
        assert_eq!(skip_blank(&all, 2), 4);
        assert_eq!(block_end(&all, 4), 5);
        assert_eq!(skip_blank(&all, 5), 5);
    }

    #[test]
    fn the_timing_line_is_first_or_after_an_identifier() {
        let all = lines("1 --> 2\n\nid\n1 --> 2\n\nid\ntext\n\nalone");
        assert_eq!(timing_line(&all, 0, "x"), Ok(0));
        assert_eq!(timing_line(&all, 2, "x"), Ok(3));
        assert_eq!(timing_line(&all, 5, "x").map_err(|e| e.line), Err(7));
        assert_eq!(timing_line(&all, 8, "x").map_err(|e| e.line), Err(9));
    }

    #[test]
    fn a_quoted_line_is_cut_after_sixty_characters() {
        assert_eq!(quote("short"), "\"short\"");
        let long = "é".repeat(61);
        assert_eq!(quote(&long), format!("\"{}…\"", "é".repeat(60)));
    }
}
