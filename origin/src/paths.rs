//! Path safety: every request path is checked here before anything touches
//! storage. Hostile shapes (traversal, backslashes, NUL and other control
//! bytes, percent-encoded separators, overlong paths) are `400`; well-formed
//! segments that cannot name a published file (bad video id, bad version,
//! file name outside the allow-list) are `404`.

use crate::error::OriginError;
use goflix_shared::domain::VideoId;
use goflix_shared::layout;

/// Longest request path accepted, in bytes; real ones are about 120.
pub const MAX_PATH_LEN: usize = 512;

/// Percent-escapes (the two hex digits, lowercased) that no valid segment
/// contains: NUL, slash, backslash, dot and percent.
const HOSTILE_ESCAPES: [[u8; 2]; 5] = [*b"00", *b"2f", *b"5c", *b"2e", *b"25"];

/// Longest file stem in a versioned path (`[a-z0-9_]{1,32}`).
const MAX_STEM_LEN: usize = 32;

/// Rejects raw request paths (as sent, still percent-encoded) that no
/// legitimate player produces.
pub fn check_raw(path: &str) -> Result<(), OriginError> {
    let bytes = path.as_bytes();
    let hostile = bytes.len() > MAX_PATH_LEN
        || bytes.iter().enumerate().any(|(i, &b)| match b {
            b'\\' => true,
            // Encoded NUL, separators, dots and percent signs: no valid segment contains them.
            b'%' => bytes.get(i + 1..i + 3).is_some_and(|hex| {
                HOSTILE_ESCAPES
                    .contains(&[hex[0].to_ascii_lowercase(), hex[1].to_ascii_lowercase()])
            }),
            _ => b.is_ascii_control() || b >= 0x80,
        })
        || bytes.split(|&b| b == b'/').any(|s| s == b"." || s == b"..");
    if hostile {
        Err(OriginError::BadPath)
    } else {
        Ok(())
    }
}

/// A video id segment: the canonical lowercase hyphenated UUID only.
pub fn video_id(segment: &str) -> Result<VideoId, OriginError> {
    segment.parse().map_err(|_| OriginError::NotFound)
}

/// A version segment: `[0-9a-z]{1,40}`, as the transcoder makes them.
pub fn version(segment: &str) -> Result<&str, OriginError> {
    if layout::is_version(segment) {
        Ok(segment)
    } else {
        Err(OriginError::NotFound)
    }
}

/// What a published file is, which decides how it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// An HLS playlist (`.m3u8`): cached, token-rewritten, gzip-able.
    Hls,
    /// A DASH MPD (`.mpd`): cached, token-rewritten, gzip-able.
    Dash,
    /// A video track (`.mp4` other than `audio.mp4`).
    Video,
    /// The audio track (`audio.mp4`).
    Audio,
    /// A thumbnail (`.jpg`).
    Image,
    /// Subtitles (`.vtt` other than the storyboard's cues).
    Subtitles,
    /// The storyboard's WebVTT cues (`storyboard.vtt`): cached and
    /// token-rewritten like a manifest, since its cues point at
    /// `storyboard.jpg`.
    Storyboard,
}

impl FileKind {
    /// The `Content-Type` to serve.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Hls => "application/vnd.apple.mpegurl",
            Self::Dash => "application/dash+xml",
            Self::Video => "video/mp4",
            Self::Audio => "audio/mp4",
            Self::Image => "image/jpeg",
            Self::Subtitles | Self::Storyboard => "text/vtt",
        }
    }

    /// Whether the file is a manifest (served from the manifest cache, a
    /// `?token=` carried into its URIs): playlists, MPDs and the
    /// storyboard's cues.
    pub fn is_manifest(self) -> bool {
        matches!(self, Self::Hls | Self::Dash | Self::Storyboard)
    }
}

/// A file name segment: `[a-z0-9_]{1,32}\.(m3u8|mp4|mpd|jpg|vtt)`.
pub fn file_name(segment: &str) -> Result<FileKind, OriginError> {
    let (stem, ext) = segment.split_once('.').ok_or(OriginError::NotFound)?;
    let stem_ok = !stem.is_empty()
        && stem.len() <= MAX_STEM_LEN
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !stem_ok {
        return Err(OriginError::NotFound);
    }
    match ext {
        "m3u8" => Ok(FileKind::Hls),
        "mpd" => Ok(FileKind::Dash),
        // `audio.mp4`, and the live copy's `audio_init.mp4` and `audio_NNNNN.mp4`.
        "mp4" if stem == "audio" || stem.starts_with("audio_") => Ok(FileKind::Audio),
        "mp4" => Ok(FileKind::Video),
        "jpg" => Ok(FileKind::Image),
        "vtt" if segment == layout::STORYBOARD_CUES => Ok(FileKind::Storyboard),
        "vtt" => Ok(FileKind::Subtitles),
        _ => Err(OriginError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_raw_paths_are_bad_requests() {
        for path in [
            "/v/x/..%2F..%2Fetc/passwd",
            "/v/x/..%2f..%2fetc/passwd",
            "/v/x/../../etc/passwd",
            "/v/x/./master.m3u8",
            "/v/x/%2e%2e/master.m3u8",
            "/v/x\\..\\etc",
            "/v/x/v1/720p.mp4%00.jpg",
            "/v/x/v1/%25%32%65",
            "/v/x/v1/\u{0}",
            "/v/x/v1/é.mp4",
        ] {
            assert!(
                matches!(check_raw(path), Err(OriginError::BadPath)),
                "{path}"
            );
        }
        assert!(check_raw(&format!("/v/{}", "a".repeat(MAX_PATH_LEN))).is_err());
        assert!(check_raw("/v/0190b5a2-7c1e-7d3a-9f1e-1234567890ab/v1/720p.mp4").is_ok());
    }

    #[test]
    fn only_allow_listed_file_names_pass() {
        assert_eq!(file_name("720p.mp4").unwrap(), FileKind::Video);
        assert_eq!(file_name("audio.mp4").unwrap(), FileKind::Audio);
        assert_eq!(file_name("master.m3u8").unwrap(), FileKind::Hls);
        assert_eq!(file_name("manifest.mpd").unwrap(), FileKind::Dash);
        assert_eq!(file_name("thumb_01.jpg").unwrap(), FileKind::Image);
        assert_eq!(file_name("en.vtt").unwrap(), FileKind::Subtitles);
        assert_eq!(file_name("storyboard.vtt").unwrap(), FileKind::Storyboard);
        for bad in [
            "",
            ".mp4",
            "720p",
            "720P.mp4",
            "720p.MP4",
            "a.b.mp4",
            "playback.json",
            "a-b.mp4",
            "720p.mp4.jpg",
            "x.exe",
        ] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
        assert!(file_name(&format!("{}.mp4", "a".repeat(33))).is_err());
        assert!(file_name(&format!("{}.mp4", "a".repeat(32))).is_ok());
    }

    proptest! {
        #[test]
        fn accepted_segments_are_plain(segment in "\\PC{0,50}") {
            if file_name(&segment).is_ok() {
                prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'));
                prop_assert_eq!(segment.matches('.').count(), 1);
            }
            if version(&segment).is_ok() {
                prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
    }
}
