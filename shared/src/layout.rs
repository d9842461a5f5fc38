//! Where things live in the object store. One place names every key so the
//! control plane, the transcoder and the origin agree.

use crate::captions::LanguageTag;
use crate::domain::VideoId;
use crate::store::{ObjectKey, ResumableObject};

/// The uploaded master of a video.
pub fn master(video: VideoId) -> ObjectKey {
    ObjectKey::new(format!("masters/{video}")).expect("video ids are valid keys")
}

/// A tus upload of video `video`'s master: the master itself once
/// complete, its bytes staged under `uploads/{video}` meanwhile.
pub fn upload(video: VideoId) -> ResumableObject {
    ResumableObject {
        target: master(video),
        staging: ObjectKey::new(format!("uploads/{video}")).expect("video ids are valid keys"),
    }
}

/// Everything published for a video (every version and the playback record).
pub fn media_prefix(video: VideoId) -> String {
    format!("media/{video}/")
}

/// Every object of one version of a video (for deleting the version).
pub fn version_prefix(video: VideoId, version: &str) -> String {
    format!("media/{video}/{version}/")
}

/// Every caption source of a video.
pub fn captions_prefix(video: VideoId) -> String {
    format!("captions/{video}/")
}

/// The WebVTT source of a video's caption in `language` (a BCP 47 tag:
/// letters, digits and hyphens only), uploaded or extracted from the master;
/// each manifest version's subtitle files are made from it.
pub fn caption_source(video: VideoId, language: &LanguageTag) -> ObjectKey {
    ObjectKey::new(format!("captions/{video}/{language}.vtt"))
        .expect("video ids and language tags are valid keys")
}

/// The HLS multivariant playlist of a version.
pub const MASTER_PLAYLIST: &str = "master.m3u8";
/// The DASH manifest of a version.
pub const DASH_MANIFEST: &str = "manifest.mpd";

/// The CMAF file of the rendition named `rendition` (`720p`, `audio`, …) in a version.
pub fn rendition_file(rendition: &str) -> String {
    format!("{rendition}.mp4")
}

/// The progressive MP4 for downloads in a version that has one.
pub const DOWNLOAD: &str = "download.mp4";

/// The poster (a JPEG frame) in a published version.
pub const POSTER: &str = "poster.jpg";
/// The thumbnail storyboard sprite in a published version.
pub const STORYBOARD_IMAGE: &str = "storyboard.jpg";
/// The storyboard's WebVTT cues (regions of [`STORYBOARD_IMAGE`]) in a published version.
pub const STORYBOARD_CUES: &str = "storyboard.vtt";

/// The playback record: current version and visibility.
pub fn playback_record(video: VideoId) -> ObjectKey {
    ObjectKey::new(format!("media/{video}/playback.json")).expect("video ids are valid keys")
}

/// The playback revocation feed the control plane writes and every origin
/// re-reads (see [`crate::revocation_feed`]).
pub fn playback_revocations() -> ObjectKey {
    ObjectKey::new("revocations/playback.json").expect("a valid constant key")
}

/// A published file (`name` such as `720p.mp4`) under one immutable version.
pub fn media_file(video: VideoId, version: &str, name: &str) -> Option<ObjectKey> {
    if !is_version(version) {
        return None;
    }
    // Built in one allocation: the origin does this for every request.
    let mut id = uuid::Uuid::encode_buffer();
    let id = video.0.hyphenated().encode_lower(&mut id);
    let mut key = String::with_capacity(6 + id.len() + 1 + version.len() + 1 + name.len());
    for part in ["media/", id, "/", version, "/", name] {
        key.push_str(part);
    }
    ObjectKey::new(key).ok()
}

/// Versions are opaque lowercase tokens made by the transcoder: `[0-9a-z]{1,40}`.
pub fn is_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 40
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// A fresh version token: time-ordered, unique per transcode attempt.
pub fn new_version() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The two version folders one transcode attempt writes: its outputs, and
/// the live copy it publishes while encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptVersions {
    /// Where the finished outputs go (`video.ready` names it).
    pub output: String,
    /// Where the live copy grows (`video.playable` names it).
    pub live: String,
}

impl AttemptVersions {
    /// Two fresh versions.
    pub fn fresh() -> Self {
        Self {
            output: new_version(),
            live: new_version(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `docs/interface.md`, the public interface the tests below hold to the code.
    const INTERFACE: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/interface.md"));

    /// The body rows of the table between `<!-- {name} -->` and
    /// `<!-- end of {name} -->` in `docs/interface.md`, as trimmed cells.
    pub(crate) fn interface_table(name: &str) -> Vec<Vec<String>> {
        let (start, end) = (
            format!("<!-- {name} -->\n"),
            format!("<!-- end of {name} -->"),
        );
        let from = INTERFACE
            .find(&start)
            .unwrap_or_else(|| panic!("docs/interface.md has no line {start:?}"))
            + start.len();
        let to = from
            + INTERFACE[from..]
                .find(&end)
                .unwrap_or_else(|| panic!("docs/interface.md has no line {end:?}"));
        let rows = INTERFACE[from..to].lines().skip(2); // the header and |---|
        rows.map(|row| {
            let cells = row.trim().trim_matches('|').split('|');
            cells.map(|cell| cell.trim().to_owned()).collect()
        })
        .collect()
    }

    /// The `code spans` of a table cell, in order.
    pub(crate) fn code_spans(cell: &str) -> Vec<&str> {
        cell.split('`').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_storage_section_names_every_key_the_layout_makes() {
        let (video, version) = (VideoId::new(), new_version());
        let documented: Vec<String> = interface_table("object keys")
            .iter()
            .map(|row| {
                code_spans(&row[0])[0]
                    .replace("{video_id}", &video.to_string())
                    .replace("{version}", &version)
                    .replace("{rung}", "720p")
                    .replace("{n}", "0000000007")
                    .replace("{language}", "pt-BR")
            })
            .collect();
        let staged = upload(video);
        let fixed = [
            master(video),
            playback_record(video),
            playback_revocations(),
            staged.folder_data(),
            staged.tail(7),
            caption_source(video, &LanguageTag::parse("pt-BR").unwrap()),
        ];
        for key in &documented {
            let made = match key.strip_prefix(&version_prefix(video, &version)) {
                Some(name) => media_file(video, &version, name),
                None => fixed.iter().find(|k| k.as_str() == key).cloned(),
            };
            assert_eq!(
                made.as_ref().map(ObjectKey::as_str),
                Some(key.as_str()),
                "docs/interface.md (Storage layout) names a key no layout function makes"
            );
        }
        let assets = [POSTER, STORYBOARD_IMAGE, STORYBOARD_CUES]
            .map(|name| media_file(video, &version, name).unwrap());
        for key in fixed.iter().chain(&assets) {
            assert!(
                documented.iter().any(|d| d == key.as_str()),
                "docs/interface.md (Storage layout) does not name {key:?}"
            );
        }
    }

    #[test]
    fn versions_are_safe_path_segments() {
        assert!(is_version(&new_version()));
        assert!(!is_version(".."));
        assert!(!is_version(""));
        assert!(!is_version("a/b"));
        assert!(media_file(VideoId::new(), "v1", "../x").is_none());
    }

    #[test]
    fn media_files_live_under_their_video_and_version() {
        let video = VideoId::new();
        let key = media_file(video, "v1", "720p.m3u8").unwrap();
        assert_eq!(key.as_str(), format!("media/{video}/v1/720p.m3u8"));
    }
}
