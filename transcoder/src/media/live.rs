//! Progressive publishing: while the ladder encodes, the pipeline writes a
//! live copy of every rendition into a live folder (`plan.json`, then per
//! rendition `{name}_init.mp4`, `{name}_NNNNN.mp4` segments and a growing
//! `EVENT` playlist `{name}.m3u8`, each file renamed into place only when
//! complete), and a [`LivePublisher`] in the worker copies what is new to
//! the object store under the job's live version. Once every rendition has
//! a segment it writes the live master playlist and a dynamic DASH MPD
//! ([`crate::media::live_dash`]): from then on the video is playable. The
//! playlists end with `EXT-X-ENDLIST` when the encode does, and the MPD
//! turns static. See `docs/design/progressive-publishing.md`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use goflix_shared::domain::{PlaybackRecord, Rendition, RenditionKind, VideoId};
use goflix_shared::layout;
use goflix_shared::store::{JobStore, StoreError};
use serde::{Deserialize, Deserializer, Serialize};

use crate::media::error::MediaError;
use crate::media::hls;
use crate::media::ladder::Ladder;
use crate::media::live_dash::{self, Phase, Timeline, Track};
use crate::media::package::{audio_name, audio_rendition};
use crate::media::probe::AudioStream;
use crate::media::{DASH_MANIFEST, MASTER_PLAYLIST};
use goflix_mp4::codecs;
use goflix_mp4::index::ByteRange;

/// The renditions the live folder will hold, written before the first frame.
const PLAN: &str = "plan.json";
/// Nominal AAC bitrate for the live master (the final one states the measured rate).
const AUDIO_BANDWIDTH: u64 = 128_000;

/// The renditions of a live folder with their nominal rates; the video
/// codec strings are filled in from the init segments once they exist.
#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    video: Vec<Rendition>,
    /// One per audio stream of the source, in order.
    #[serde(default, deserialize_with = "audio_or_none")]
    audio: Vec<Rendition>,
    /// The ladder's frame rate, `(num, den)`.
    frame_rate: (u32, u32),
}

/// The plan's audio renditions; `null` (how a plan without audio was
/// written before sources had several) reads as none.
fn audio_or_none<'de, D: Deserializer<'de>>(plan: D) -> Result<Vec<Rendition>, D::Error> {
    Ok(Option::<Vec<Rendition>>::deserialize(plan)?.unwrap_or_default())
}

/// Writes the plan of `ladder` and of the `audio` streams (the `i`-th
/// encoded as [`audio_name`]`(i)`) into the live folder `dir`, atomically.
pub fn write_plan(dir: &Path, ladder: &Ladder, audio: &[AudioStream]) -> Result<(), MediaError> {
    let (num, den) = ladder.frame_rate;
    let plan = Plan {
        video: ladder
            .rungs
            .iter()
            .map(|rung| Rendition {
                name: rung.name.clone(),
                kind: RenditionKind::Video,
                width: Some(rung.width),
                height: Some(rung.height),
                frame_rate: Some(f64::from(num) / f64::from(den)),
                codecs: String::new(),
                bandwidth: rung.maxrate,
                average_bandwidth: rung.bitrate,
                language: None,
                label: None,
                default: false,
                channels: None,
            })
            .collect(),
        audio: audio
            .iter()
            .enumerate()
            .map(|(position, stream)| {
                let name = audio_name(position);
                audio_rendition(&name, stream, AUDIO_BANDWIDTH, AUDIO_BANDWIDTH)
            })
            .collect(),
        frame_rate: ladder.frame_rate,
    };
    let json = serde_json::to_vec(&plan)
        .map_err(|e| MediaError::Internal(format!("serialising the live plan: {e}")))?;
    let io = |e| MediaError::internal("writing the live plan", e);
    let temp = dir.join(format!("{PLAN}.tmp"));
    std::fs::write(&temp, json).map_err(io)?;
    std::fs::rename(&temp, dir.join(PLAN)).map_err(io)
}

/// Why a live folder could not be published.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Storing failed (an outage is worth another try at the next sync).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The live folder holds something the muxer should not have written.
    #[error("live folder: {0}")]
    Invalid(String),
}

/// Copies a live folder to the store as it grows.
pub struct LivePublisher {
    store: Arc<dyn JobStore>,
    video: VideoId,
    version: String,
    dir: PathBuf,
    /// Init and segment files already stored.
    stored: HashSet<String>,
    /// Each playlist's text as last stored.
    playlists: HashMap<String, Bytes>,
    /// Each rendition's segments and whether its playlist has ended.
    timelines: HashMap<String, (Timeline, bool)>,
    /// The renditions, once the pipeline has written its plan.
    plan: Option<Plan>,
    /// The video renditions with their codec strings, once every init segment exists.
    renditions: Option<Vec<Rendition>>,
    /// Wall-clock time of segment time zero in the dynamic MPD, fixed when
    /// the first one is written.
    available_from: Option<DateTime<Utc>>,
    /// The longest segment a playlist announced (its target duration).
    segment_seconds: f64,
    playable: bool,
}

impl LivePublisher {
    /// A publisher of `dir` into `video`'s live `version`.
    pub fn new(
        store: impl Into<Arc<dyn JobStore>>,
        video: VideoId,
        version: String,
        dir: PathBuf,
    ) -> Self {
        Self {
            store: store.into(),
            video,
            version,
            dir,
            stored: HashSet::new(),
            playlists: HashMap::new(),
            timelines: HashMap::new(),
            plan: None,
            renditions: None,
            available_from: None,
            segment_seconds: 1.0,
            playable: false,
        }
    }

    /// The live version this publisher writes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the live master is stored (every rendition has a segment).
    pub fn is_playable(&self) -> bool {
        self.playable
    }

    /// Stores every segment completed since the last call, then the
    /// playlists naming them and the MPD, and the live master the first
    /// time every rendition has a segment. Returns whether this call made
    /// it playable.
    pub async fn sync(&mut self) -> Result<bool, LiveError> {
        if self.plan.is_none() {
            self.plan = self.read_plan();
        }
        let Some(plan) = &self.plan else {
            return Ok(false);
        };
        let mut every_one_started = true;
        let mut changed = false;
        let names: Vec<String> = plan
            .video
            .iter()
            .chain(&plan.audio)
            .map(|r| r.name.clone())
            .collect();
        for name in &names {
            let synced = self.sync_rendition(name).await?;
            every_one_started &= synced.started;
            changed |= synced.changed;
        }
        if !every_one_started {
            return Ok(false);
        }
        if self.renditions.is_none() {
            self.renditions = self.video_renditions();
        }
        let Some(video) = self.renditions.clone() else {
            return Ok(false);
        };
        if changed || !self.playable {
            let mpd = self.mpd(&video);
            self.put(DASH_MANIFEST, Source::Bytes(mpd.into())).await?;
        }
        if self.playable {
            return Ok(false);
        }
        let audio = self.plan.as_ref().map_or(&[][..], |plan| &plan.audio);
        let master = hls::live_master_playlist(&video, audio, &format!("{}/", self.version));
        self.put(MASTER_PLAYLIST, Source::Bytes(master.into()))
            .await?;
        self.playable = true;
        Ok(true)
    }

    fn read_plan(&self) -> Option<Plan> {
        let text = std::fs::read(self.dir.join(PLAN)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Stores what is new of one rendition.
    async fn sync_rendition(&mut self, name: &str) -> Result<Synced, LiveError> {
        let playlist_name = format!("{name}.m3u8");
        let Ok(text) = std::fs::read(self.dir.join(&playlist_name)) else {
            return Ok(Synced::default());
        };
        let text = Bytes::from(text);
        if self.playlists.get(&playlist_name) == Some(&text) {
            return Ok(Synced {
                started: true,
                changed: false,
            });
        }
        // The muxer renames a complete playlist into place; one that does
        // not parse is not ours to publish.
        let Ok(playlist) = m3u8_rs::parse_media_playlist_res(&text) else {
            return Ok(Synced::default());
        };
        let timeline = timeline(name, &playlist)?;
        let files = playlist
            .segments
            .iter()
            .flat_map(|segment| segment.map.iter().map(|map| &map.uri).chain([&segment.uri]));
        let mut missing = Vec::new();
        for file in files {
            if !self.stored.contains(file.as_str()) && !missing.contains(file) {
                missing.push(file.clone());
            }
        }
        for file in missing {
            if !is_live_file(name, &file) {
                return Err(LiveError::Invalid(format!(
                    "{playlist_name} names an unexpected file {file:?}"
                )));
            }
            let path = self.dir.join(&file);
            self.put(&file, Source::File(&path)).await?;
            self.stored.insert(file);
        }
        let published = hls::starting_at_beginning(&text);
        self.put(&playlist_name, Source::Bytes(published.into()))
            .await?;
        let started = !playlist.segments.is_empty();
        self.segment_seconds = self.segment_seconds.max(playlist.target_duration as f64);
        self.timelines
            .insert(name.to_owned(), (timeline, playlist.end_list));
        self.playlists.insert(playlist_name, text);
        Ok(Synced {
            started,
            changed: true,
        })
    }

    /// The plan's video renditions, once every init segment gives its codec string.
    fn video_renditions(&self) -> Option<Vec<Rendition>> {
        let mut video = self.plan.as_ref()?.video.clone();
        for rendition in &mut video {
            let init = std::fs::read(self.dir.join(format!("{}_init.mp4", rendition.name))).ok()?;
            let whole = ByteRange {
                offset: 0,
                length: init.len() as u64,
            };
            rendition.codecs = codecs::video(&init, whole).ok()?;
        }
        Some(video)
    }

    /// The MPD of what is stored now: dynamic until every playlist has
    /// ended, then static.
    fn mpd(&mut self, video: &[Rendition]) -> String {
        let Some(plan) = &self.plan else {
            return String::new();
        };
        let empty = (Timeline::default(), false);
        let timeline = |name: &str| self.timelines.get(name).unwrap_or(&empty);
        let ended = video.iter().chain(&plan.audio).all(|r| timeline(&r.name).1);
        let phase = if ended {
            Phase::Ended
        } else {
            let now = Utc::now();
            // Segment time zero is placed so that what is listed the first
            // time is exactly what is available then; from there the clock
            // and the encode run on.
            let listed = video
                .iter()
                .chain(&plan.audio)
                .map(|r| timeline(&r.name).0.end())
                .fold(f64::INFINITY, f64::min);
            let available_from = *self.available_from.get_or_insert_with(|| {
                now - TimeDelta::milliseconds((listed * 1000.0).round() as i64)
            });
            Phase::Growing {
                available_from,
                now,
            }
        };
        let tracks: Vec<Track<'_>> = video
            .iter()
            .map(|rendition| Track {
                rendition,
                timeline: &timeline(&rendition.name).0,
            })
            .collect();
        let audio: Vec<Track<'_>> = plan
            .audio
            .iter()
            .map(|rendition| Track {
                rendition,
                timeline: &timeline(&rendition.name).0,
            })
            .collect();
        live_dash::manifest(
            &tracks,
            &audio,
            plan.frame_rate,
            self.segment_seconds,
            phase,
        )
    }

    async fn put(&self, name: &str, source: Source<'_>) -> Result<(), LiveError> {
        let key = layout::media_file(self.video, &self.version, name)
            .ok_or_else(|| LiveError::Invalid(format!("{name:?} is not a publishable name")))?;
        match source {
            Source::File(path) => self.store.put_file(&key, path).await?,
            Source::Bytes(bytes) => self.store.put_bytes(&key, bytes).await?,
        }
        Ok(())
    }
}

/// What [`LivePublisher::sync_rendition`] found.
#[derive(Debug, Default)]
struct Synced {
    /// The playlist lists a segment.
    started: bool,
    /// The playlist changed since the last sync.
    changed: bool,
}

/// A playlist's segments as a DASH timeline: their names must number them
/// one after another.
fn timeline(name: &str, playlist: &m3u8_rs::MediaPlaylist) -> Result<Timeline, LiveError> {
    let mut timeline = Timeline::default();
    for (index, segment) in playlist.segments.iter().enumerate() {
        let number = segment_number(name, &segment.uri);
        match number {
            Some(n) if index == 0 => timeline.first_number = n,
            Some(n) if n == timeline.first_number + index as u64 => {}
            _ => {
                return Err(LiveError::Invalid(format!(
                    "{name}.m3u8 lists {:?} out of sequence",
                    segment.uri
                )))
            }
        }
        timeline.durations.push(f64::from(segment.duration));
    }
    Ok(timeline)
}

/// `n` of `{name}_n.mp4` (digits only).
fn segment_number(name: &str, file: &str) -> Option<u64> {
    live_file_stem(name, file)
        .filter(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

/// `stem` of `{name}_{stem}.mp4`.
fn live_file_stem<'a>(name: &str, file: &'a str) -> Option<&'a str> {
    file.strip_prefix(name)?
        .strip_prefix('_')?
        .strip_suffix(".mp4")
}

/// What [`LivePublisher::put`] stores.
enum Source<'a> {
    File(&'a Path),
    Bytes(Bytes),
}

/// `{name}_init.mp4` or `{name}_NNNNN.mp4`: the only files a live playlist may name.
fn is_live_file(name: &str, file: &str) -> bool {
    live_file_stem(name, file) == Some("init") || segment_number(name, file).is_some()
}

/// A job's live publishing, announced once: when the live master is stored
/// and the video has no published version, [`LivePlayback::sync`] returns
/// the live version for the worker to announce (`video.playable`), and the
/// control plane points the playback record at it with the video's
/// visibility. The worker only reads the record: who may watch is the
/// control plane's decision alone. A video that already has a published
/// version (a re-transcode) keeps playing it and does not go live; a job
/// that does not publish its final version removes its live copy.
pub struct LivePlayback {
    publisher: LivePublisher,
    store: Arc<dyn JobStore>,
    video: VideoId,
    /// The live version was announced.
    announced: bool,
    /// Set when the live folder proved unpublishable; the job goes on without it.
    abandoned: bool,
}

impl LivePlayback {
    /// Live playback of `video` through `publisher`.
    pub fn new(
        publisher: LivePublisher,
        store: impl Into<Arc<dyn JobStore>>,
        video: VideoId,
    ) -> Self {
        Self {
            publisher,
            store: store.into(),
            video,
            announced: false,
            abandoned: false,
        }
    }

    /// Syncs the live folder; returns the live version the first time it
    /// plays and may be announced.
    pub async fn sync(&mut self) -> Result<Option<String>, LiveError> {
        if self.abandoned {
            return Ok(None);
        }
        match self.publisher.sync().await {
            Ok(_) => {}
            Err(LiveError::Invalid(reason)) => {
                self.abandoned = true;
                return Err(LiveError::Invalid(reason));
            }
            Err(e) => return Err(e),
        }
        if !self.publisher.is_playable() || self.announced {
            return Ok(None);
        }
        let key = layout::playback_record(self.video);
        let current = match self.store.get_bytes(&key).await {
            Ok(bytes) => serde_json::from_slice::<PlaybackRecord>(&bytes).ok(),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let stale = current.as_ref().filter(|r| {
            r.live && layout::is_version(&r.version) && r.version != self.publisher.version()
        });
        if let Some(stale) = stale {
            // An earlier attempt went live and died: its live version goes.
            let prefix = layout::version_prefix(self.video, &stale.version);
            if let Err(e) = self.store.delete_prefix(&prefix).await {
                tracing::warn!(error = %e, "could not remove a dead attempt's live version");
            }
        }
        if current.is_some_and(|record| !record.live) {
            // A re-transcode: the published version keeps playing until the
            // new one is ready, so the live copy is not needed.
            tracing::info!("a published version plays meanwhile; not going live");
            self.abandoned = true;
            self.withdraw().await;
            return Ok(None);
        }
        self.announced = true;
        Ok(Some(self.publisher.version().to_owned()))
    }

    /// Removes the live version after a job that did not publish its final
    /// version (the control plane takes the playback record off it when it
    /// applies the failure). Best effort: failures are logged.
    pub async fn withdraw(&mut self) {
        let prefix = layout::version_prefix(self.video, self.publisher.version());
        if let Err(e) = self.store.delete_prefix(&prefix).await {
            tracing::warn!(error = %e, "could not remove the live version");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goflix_shared::store::{FsStore, ObjectKey, ObjectStore, Store};

    /// A folder store (kept while the guard lives).
    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::Fs(FsStore::open(dir.path()).await.unwrap()), dir)
    }

    fn master(video: VideoId, version: &str) -> ObjectKey {
        layout::media_file(video, version, MASTER_PLAYLIST).unwrap()
    }

    /// A stored version of `video` (its master) that the playback record
    /// points at, as the final one or (`live`) as an attempt's live copy.
    async fn played_version(store: &Store, video: VideoId, live: bool) -> String {
        let version = layout::new_version();
        ObjectStore::put_bytes(
            store,
            &master(video, &version),
            Bytes::from_static(b"#EXTM3U\n"),
        )
        .await
        .unwrap();
        let record = serde_json::json!({
            "version": version,
            "visibility": "public",
            "updated_at": "2026-01-01T00:00:00Z",
            "live": live,
        });
        let bytes = serde_json::to_vec(&record).unwrap();
        ObjectStore::put_bytes(store, &layout::playback_record(video), bytes.into())
            .await
            .unwrap();
        version
    }

    async fn record(store: &Store, video: VideoId) -> PlaybackRecord {
        let bytes = ObjectStore::get_bytes(store, &layout::playback_record(video))
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// A job's live playback of a new video, or of one whose record
    /// points at a `previous` version (`Some(live)`), and its live copy:
    /// a stored master under a new version that has just become playable.
    struct Fixture {
        store: Store,
        _dir: tempfile::TempDir,
        video: VideoId,
        previous: Option<String>,
        live: LivePlayback,
        version: String,
    }

    async fn fixture(previous: Option<bool>) -> Fixture {
        let (store, _dir) = store().await;
        let video = VideoId::new();
        let previous = match previous {
            Some(live) => Some(played_version(&store, video, live).await),
            None => None,
        };
        let version = layout::new_version();
        ObjectStore::put_bytes(
            &store,
            &master(video, &version),
            Bytes::from_static(b"#EXTM3U\n"),
        )
        .await
        .unwrap();
        // No live folder to sync: the copy counts as stored already.
        let mut publisher = LivePublisher::new(
            store.clone(),
            video,
            version.clone(),
            PathBuf::from("/nonexistent/live"),
        );
        publisher.playable = true;
        let live = LivePlayback::new(publisher, store.clone(), video);
        Fixture {
            store,
            _dir,
            video,
            previous,
            live,
            version,
        }
    }

    impl Fixture {
        async fn stored(&self, version: &str) -> bool {
            self.store.head(&master(self.video, version)).await.is_ok()
        }
    }

    #[test]
    fn the_plan_lists_every_audio_stream_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let ladder = Ladder {
            rungs: vec![crate::media::ladder::Rung {
                codec: goflix_shared::domain::VideoCodec::H264,
                name: "240p".into(),
                width: 426,
                height: 240,
                bitrate: 400_000,
                rate: crate::media::ladder::RateControl::Average,
                maxrate: 440_000,
                bufsize: 800_000,
                preset: "veryfast".into(),
            }],
            frame_rate: (30, 1),
        };
        let stream = |index: usize, label: Option<&str>, default| AudioStream {
            index,
            language: goflix_shared::captions::LanguageTag::undetermined(),
            label: label.map(str::to_owned),
            default,
        };
        let audio = [stream(1, None, false), stream(3, Some("VO"), true)];
        write_plan(dir.path(), &ladder, &audio).unwrap();
        let plan: Plan =
            serde_json::from_slice(&std::fs::read(dir.path().join(PLAN)).unwrap()).unwrap();
        let described: Vec<_> = plan
            .audio
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.language.as_deref(),
                    r.label.as_deref(),
                    r.default,
                    r.channels,
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                ("audio", Some("und"), None, false, Some(2)),
                ("audio_1", Some("und"), Some("VO"), true, Some(2)),
            ]
        );
        assert_eq!(plan.video[0].language, None);
    }

    #[tokio::test]
    async fn a_first_encode_goes_live() {
        let mut f = fixture(None).await;
        assert_eq!(f.live.sync().await.unwrap(), Some(f.version.clone()));
        // Announced once.
        assert_eq!(f.live.sync().await.unwrap(), None);
        assert!(f.stored(&f.version).await);
    }

    #[tokio::test]
    async fn a_retranscode_does_not_go_live_and_the_published_version_plays_on() {
        let mut f = fixture(Some(false)).await;
        let published = f.previous.clone().unwrap();
        assert_eq!(f.live.sync().await.unwrap(), None, "not announced");
        assert_eq!(f.live.sync().await.unwrap(), None, "nor later");
        // The live copy is withdrawn; the record and the published version stay.
        assert!(!f.stored(&f.version).await);
        assert!(f.stored(&published).await);
        let record = record(&f.store, f.video).await;
        assert_eq!(
            (record.version.as_str(), record.live),
            (published.as_str(), false)
        );
    }

    #[tokio::test]
    async fn a_dead_attempts_live_version_is_replaced() {
        let mut f = fixture(Some(true)).await;
        assert_eq!(f.live.sync().await.unwrap(), Some(f.version.clone()));
        assert!(!f.stored(f.previous.as_deref().unwrap()).await);
        assert!(f.stored(&f.version).await);
    }
}
