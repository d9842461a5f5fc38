//! Text subtitle streams, extracted in the one demux pass: FFmpeg's
//! subtitle decoder of each stream turns its packets into ASS events, whose
//! text (after the eighth comma of `ReadOrder,Layer,Style,Name,MarginL,
//! MarginR,MarginV,Effect,Text`) becomes a WebVTT cue timed by the packet,
//! on the video's timeline. At the end the cues are written with
//! [`to_webvtt`] as `text_{n}.vtt`.
//!
//! A text stream never fails the transcode: one whose decoder does not
//! open is left out, and packets that do not decode or time are skipped,
//! each with a warning.

use std::path::Path;

use ffmpeg_next::codec::subtitle::Rect;
use ffmpeg_next::{self as ffmpeg, decoder, Packet, Rational, Rescale};
use goflix_shared::captions::{to_webvtt, Cue};
use goflix_shared::domain::EmbeddedCaption;

use crate::media::error::MediaError;
use crate::media::probe::TextStream;

/// Milliseconds, the unit of cue times.
const MILLISECONDS: Rational = Rational(1, 1000);

/// Fields of an ASS event before its text.
const ASS_FIELDS_BEFORE_TEXT: usize = 8;

/// One text stream: its decoder and the cues decoded so far.
pub struct TextLane {
    stream: TextStream,
    decoder: decoder::Subtitle,
    time_base: Rational,
    /// The video's start time in milliseconds: cue time zero.
    start_ms: i64,
    cues: Vec<Cue>,
    /// Packets that did not decode, and the first reason.
    skipped: u32,
    first_error: Option<String>,
}

impl TextLane {
    /// Opens the decoder of `stream`; `video_start` is the video stream's
    /// start time in its time base. A decoder that does not open leaves
    /// the stream out, with a warning.
    pub fn open(
        input: &ffmpeg::format::context::Input,
        stream: TextStream,
        (video_start, video_time_base): (i64, Rational),
    ) -> Option<Self> {
        let opened = super::open_decoder(input, stream.index).and_then(|decoder| {
            decoder
                .subtitle()
                .map_err(|e| MediaError::decode("opening a subtitle decoder", e))
        });
        let decoder = match opened {
            Ok(decoder) => decoder,
            Err(error) => {
                tracing::warn!(stream = stream.index, %error, "text stream left out");
                return None;
            }
        };
        let time_base = input.stream(stream.index)?.time_base();
        Some(Self {
            stream,
            decoder,
            time_base,
            start_ms: video_start.rescale(video_time_base, MILLISECONDS),
            cues: Vec::new(),
            skipped: 0,
            first_error: None,
        })
    }

    /// The stream's index in the container.
    pub fn index(&self) -> usize {
        self.stream.index
    }

    /// Decodes one packet into a cue; a packet that does not decode is
    /// skipped, one without text or timing ignored.
    pub fn decode(&mut self, packet: &Packet) {
        let mut decoded = Decoded::default();
        match self.decoder.decode(packet, &mut decoded.0) {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                self.skipped += 1;
                self.first_error.get_or_insert_with(|| error.to_string());
                return;
            }
        }
        let text = cue_text(&decoded.0);
        if text.is_empty() {
            return;
        }
        if let Some((start_ms, end_ms)) = self.timing(packet, &decoded.0) {
            self.cues.push(Cue {
                start_ms,
                end_ms,
                settings: String::new(),
                text,
            });
        }
    }

    /// When the cue shows, in milliseconds of the video: from the packet's
    /// timestamp for its duration (else the subtitle's display time);
    /// `None` when that is unknown or entirely before the video starts.
    fn timing(&self, packet: &Packet, subtitle: &ffmpeg::Subtitle) -> Option<(u64, u64)> {
        let pts = packet.pts()?.rescale(self.time_base, MILLISECONDS);
        let shown = i64::from(subtitle.start());
        let hidden = match packet.duration() {
            duration if duration > 0 => duration.rescale(self.time_base, MILLISECONDS),
            _ if subtitle.end() != u32::MAX => i64::from(subtitle.end()),
            _ => return None,
        };
        let start = (pts + shown - self.start_ms).max(0);
        let end = pts + hidden - self.start_ms;
        (end > start).then_some((start as u64, end as u64))
    }

    /// Writes the cues as `text_{number}.vtt` into `out_dir` and describes
    /// the file; a stream without cues writes nothing.
    pub fn finish(
        self,
        out_dir: &Path,
        number: usize,
    ) -> Result<Option<EmbeddedCaption>, MediaError> {
        if let Some(error) = &self.first_error {
            tracing::warn!(
                stream = self.stream.index,
                skipped = self.skipped,
                error = %error,
                "skipped undecodable subtitle packets"
            );
        }
        if self.cues.is_empty() {
            return Ok(None);
        }
        let mut cues = self.cues;
        cues.sort_by_key(|cue| cue.start_ms);
        let file = format!("text_{number}.vtt");
        std::fs::write(out_dir.join(&file), to_webvtt(&cues))
            .map_err(|e| MediaError::internal(&format!("writing {file}"), e))?;
        Ok(Some(EmbeddedCaption {
            file,
            language: self.stream.language.to_string(),
            label: self.stream.label,
            kind: self.stream.kind,
        }))
    }
}

/// A decoded subtitle, its rects freed when dropped (the wrapper does not).
#[derive(Default)]
struct Decoded(ffmpeg::Subtitle);

impl Drop for Decoded {
    fn drop(&mut self) {
        // SAFETY: the AVSubtitle is zeroed or filled by the decoder;
        // avsubtitle_free frees its rects and zeroes it, once.
        unsafe { ffmpeg::ffi::avsubtitle_free(self.0.as_mut_ptr()) }
    }
}

/// The cue text of every ASS rect of `subtitle`, one after another.
/// FFmpeg 5.1's text decoders give ASS rects only (others are ignored), and
/// refuse a packet whose text is not UTF-8, as [`Ass::get`] requires.
///
/// [`Ass::get`]: ffmpeg_next::codec::subtitle::Ass::get
fn cue_text(subtitle: &ffmpeg::Subtitle) -> String {
    let texts: Vec<String> = subtitle
        .rects()
        .filter_map(|rect| match rect {
            Rect::Ass(ass) => Some(dialogue_text(ass.get())),
            _ => None,
        })
        .filter(|text| !text.is_empty())
        .collect();
    texts.join("\n")
}

/// The WebVTT cue text of an ASS event: the text field without override
/// blocks (`{\i1}`), `\N` and `\n` as line breaks, `\h` as a no-break
/// space, `&`, `<` and `>` escaped, blank lines dropped.
fn dialogue_text(event: &str) -> String {
    let text = event
        .splitn(ASS_FIELDS_BEFORE_TEXT + 1, ',')
        .nth(ASS_FIELDS_BEFORE_TEXT)
        .unwrap_or_default();
    let plain = without_overrides(text)
        .replace("\\N", "\n")
        .replace("\\n", "\n")
        .replace("\\h", "\u{a0}");
    let escaped = escape(&plain);
    let lines: Vec<&str> = escaped
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("\n")
}

/// `text` without its `{…}` override blocks (an unclosed one runs to the end).
fn without_overrides(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_block = false;
    for c in text.chars() {
        match c {
            '{' => in_block = true,
            '}' if in_block => in_block = false,
            c if !in_block => out.push(c),
            _ => {}
        }
    }
    out
}

/// Escapes the characters WebVTT cue text reserves.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_field_of_an_ass_event_becomes_cue_text() {
        assert_eq!(
            dialogue_text("0,0,Default,,0,0,0,,Hola, {\\i1}mundo{\\i0}"),
            "Hola, mundo"
        );
        assert_eq!(
            dialogue_text("3,0,Default,Ana,0,0,0,,Line one\\NLine two\\nthree"),
            "Line one\nLine two\nthree"
        );
        assert_eq!(
            dialogue_text("1,0,Default,,0,0,0,,Tom & Jerry <3 > all"),
            "Tom &amp; Jerry &lt;3 &gt; all"
        );
        assert_eq!(dialogue_text("1,0,Default,,0,0,0,,a\\h\\Nb"), "a\nb");
        assert_eq!(dialogue_text("1,0,Default,,0,0,0,,\\N\\N{\\pos(1,2)}"), "");
        assert_eq!(dialogue_text("not an event"), "");
        assert_eq!(without_overrides("a{b}c{d"), "ac");
    }
}
