//! The download file: one progressive, "faststart" MP4 remuxed from the
//! rendition files the pipeline wrote.
//!
//! The renditions are fragmented (CMAF: `ftyp`, `moov` with empty sample
//! tables, `sidx`, then `moof`/`mdat` pairs), which adaptive players want but
//! many download targets (desktop players, editors, phones saving a file)
//! handle poorly. [`write`] turns one video file and optionally the audio file
//! into a classic MP4 — `ftyp`, a `moov` with complete sample tables, then one
//! `mdat` — so a player can start from the first bytes and seek anywhere.
//!
//! It is a pure remux: nothing is decoded or encoded and FFmpeg is not used.
//! Each fragment's `tfhd`/`trun` (with the `trex` defaults) give the sample
//! sizes, durations, flags and composition offsets; the sample tables are
//! built from them in memory, while the media payload is streamed from the
//! inputs into the output, video fragment by video fragment, each followed
//! by the audio covering the same time, so the file interleaves as it plays.
//! The `stsd` of each input is copied verbatim, as is its edit list if it
//! has one (rescaled to the movie timescale).
//!
//! Limits: one track per input file with one sample description (what the
//! pipeline writes); a `moof` with several track fragments is read for its
//! track only, with the `moof` as the base of a fragment without an explicit
//! base offset.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::index::{read_header, BoxHeader, ByteRange, IndexError};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progressive {
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Duration of the movie (its longest track) in seconds.
    pub duration_s: f64,
}

/// Writes `dest` from `video` and, if given, `audio` (both CMAF files written
/// by the pipeline): `ftyp`, `moov` (video track 1, audio track 2), `mdat`.
/// The file is written next to `dest` as `{name}.tmp` and renamed when
/// complete, so `dest` is either absent, the previous file or the whole new one.
pub fn write(video: &Path, audio: Option<&Path>, dest: &Path) -> Result<Progressive, RemuxError> {
    let mut inputs = vec![Input::open(video, Handler::Video)?];
    if let Some(audio) = audio {
        inputs.push(Input::open(audio, Handler::Audio)?);
    }
    let tmp = temp_path(dest)?;
    let written = write_file(&mut inputs, &tmp).and_then(|written| {
        fs::rename(&tmp, dest)
            .map_err(|e| RemuxError::new(format!("renaming {}", tmp.display()), e))?;
        Ok(written)
    });
    if written.is_err() {
        // Best effort: the error being returned matters more than the leftover.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// The movie timescale (`mvhd`, `tkhd`, `elst` durations): milliseconds.
const MOVIE_TIMESCALE: u32 = 1000;

/// `ftyp`: major brand, minor version and compatible brands.
const MAJOR_BRAND: &[u8; 4] = b"isom";
const MINOR_VERSION: u32 = 512;
const COMPATIBLE_BRANDS: [&[u8; 4]; 4] = [b"isom", b"iso2", b"avc1", b"mp41"];

/// `tkhd` flags: track enabled and used in the presentation.
const TRACK_ENABLED_IN_MOVIE: u32 = 0x03;

/// The bytes of a `tkhd` after its duration (reserved, layer, alternate
/// group, volume, matrix, width, height), the same in both versions.
const TKHD_TAIL: usize = 60;

/// `sample_is_non_sync_sample` in the sample flags (ISO/IEC 14496-12 §8.8.3.1).
const NON_SYNC_SAMPLE: u32 = 0x0001_0000;

/// `url ` flag: the media data is in this file.
const SELF_CONTAINED: u32 = 0x01;

/// The output buffer (the input keeps a small one: it also reads box headers).
const COPY_BUFFER: usize = 1 << 20;

/// Largest `moov` or `moof` read into memory.
const MAX_HEADER_BOX: u64 = 64 << 20;

/// `tfhd` flags (ISO/IEC 14496-12 §8.8.7). Without a base data offset the
/// base is the `moof` (`default-base-is-moof`, which CMAF requires).
mod tfhd {
    pub const BASE_DATA_OFFSET: u32 = 0x01;
    pub const SAMPLE_DESCRIPTION_INDEX: u32 = 0x02;
    pub const DEFAULT_DURATION: u32 = 0x08;
    pub const DEFAULT_SIZE: u32 = 0x10;
    pub const DEFAULT_FLAGS: u32 = 0x20;
}

/// `trun` flags (ISO/IEC 14496-12 §8.8.8).
mod trun {
    pub const DATA_OFFSET: u32 = 0x01;
    pub const FIRST_SAMPLE_FLAGS: u32 = 0x04;
    pub const DURATION: u32 = 0x100;
    pub const SIZE: u32 = 0x200;
    pub const FLAGS: u32 = 0x400;
    pub const COMPOSITION_OFFSET: u32 = 0x800;
}

/// Why the download could not be written: what was being done (naming the
/// file) and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {reason}")]
pub struct RemuxError {
    context: String,
    reason: String,
}

impl RemuxError {
    fn new(context: String, reason: impl std::fmt::Display) -> Self {
        Self {
            context,
            reason: reason.to_string(),
        }
    }
}

/// Why reading an input failed; turned into a [`RemuxError`] naming the file.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Box(#[from] IndexError),
}

/// The kind of a track, from its `hdlr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    Video,
    Audio,
}

impl Handler {
    fn from_type(handler_type: [u8; 4]) -> Option<Self> {
        match &handler_type {
            b"vide" => Some(Self::Video),
            b"soun" => Some(Self::Audio),
            _ => None,
        }
    }

    fn handler_type(self) -> &'static [u8; 4] {
        match self {
            Self::Video => b"vide",
            Self::Audio => b"soun",
        }
    }

    /// The `hdlr` name, NUL-terminated.
    fn name(self) -> &'static [u8] {
        match self {
            Self::Video => b"VideoHandler\0",
            Self::Audio => b"SoundHandler\0",
        }
    }

    /// `vmhd` (graphics mode copy, flags 1) or `smhd` (centred balance).
    fn media_header(self) -> Vec<u8> {
        match self {
            Self::Video => full_box(b"vmhd", 0, 1, &[0; 8]),
            Self::Audio => full_box(b"smhd", 0, 0, &[0; 4]),
        }
    }
}

/// Sample defaults from `trex`, overridden by `tfhd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// One sample: where its bytes are in the input and its timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    offset: u64,
    size: u32,
    duration: u32,
    flags: u32,
    composition_offset: i32,
}

impl Sample {
    fn is_sync(&self) -> bool {
        self.flags & NON_SYNC_SAMPLE == 0
    }
}

/// One `elst` entry; the duration in the timescale of the file it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edit {
    duration: u64,
    media_time: i64,
    /// `media_rate_integer` and `media_rate_fraction`.
    rate: u32,
}

/// What the input's `moov` says about its track.
#[derive(Debug, Clone, PartialEq)]
struct TrackInfo {
    handler: Handler,
    track_id: u32,
    timescale: u32,
    /// Packed ISO-639-2/T code from `mdhd`.
    language: u16,
    tkhd_tail: Vec<u8>,
    /// The whole `stsd` box.
    stsd: Vec<u8>,
    /// The input's edit list, in `movie_timescale`.
    edits: Vec<Edit>,
    movie_timescale: u32,
    trex: Defaults,
}

/// A track with all its samples, in decode order.
#[derive(Debug, Clone, PartialEq)]
struct Track {
    info: TrackInfo,
    samples: Vec<Sample>,
    /// Index one past each fragment's last sample.
    fragment_ends: Vec<usize>,
}

impl Track {
    fn media_duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// The edit list in [`MOVIE_TIMESCALE`]; an edit of duration 0 (a
    /// fragmented file's "up to the end") gets the rest of the media.
    fn edits(&self) -> Vec<Edit> {
        let media = self.media_duration();
        let info = &self.info;
        info.edits
            .iter()
            .map(|edit| {
                let duration = match (edit.duration, u64::try_from(edit.media_time)) {
                    (0, Ok(start)) => {
                        rescale(media.saturating_sub(start), info.timescale, MOVIE_TIMESCALE)
                    }
                    (duration, _) => rescale(duration, info.movie_timescale, MOVIE_TIMESCALE),
                };
                Edit { duration, ..*edit }
            })
            .collect()
    }

    /// Presentation duration in [`MOVIE_TIMESCALE`].
    fn movie_duration(&self) -> u64 {
        let edits = self.edits();
        if edits.is_empty() {
            rescale(self.media_duration(), self.info.timescale, MOVIE_TIMESCALE)
        } else {
            edits.iter().map(|e| e.duration).sum()
        }
    }

    fn bytes(&self, samples: &Range<usize>) -> u64 {
        self.samples[samples.clone()]
            .iter()
            .map(|s| u64::from(s.size))
            .sum()
    }
}

/// `value` from timescale `from` to `to`, rounded to the nearest unit.
fn rescale(value: u64, from: u32, to: u32) -> u64 {
    let scaled = (u128::from(value) * u128::from(to) + u128::from(from) / 2) / u128::from(from);
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// An input file: its track and a reader positioned somewhere in it.
struct Input {
    path: PathBuf,
    reader: BufReader<File>,
    position: u64,
    track: Track,
}

impl Input {
    /// Reads the track of `path`, which must be a `handler` track.
    fn open(path: &Path, handler: Handler) -> Result<Self, RemuxError> {
        let context = || format!("reading {}", path.display());
        let file = File::open(path).map_err(|e| RemuxError::new(context(), e))?;
        let len = file
            .metadata()
            .map_err(|e| RemuxError::new(context(), e))?
            .len();
        let mut reader = BufReader::new(file);
        let track = read_track(&mut reader, len).map_err(|e| RemuxError::new(context(), e))?;
        if track.info.handler != handler {
            return Err(RemuxError::new(
                context(),
                format!("not a {handler:?} track"),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            reader,
            position: u64::MAX,
            track,
        })
    }

    /// Copies `range` of the input to `out`.
    fn copy(&mut self, range: ByteRange, out: &mut impl Write) -> io::Result<()> {
        if self.position != range.offset {
            self.reader.seek(SeekFrom::Start(range.offset))?;
        }
        let copied = io::copy(&mut (&mut self.reader).take(range.length), out)?;
        if copied != range.length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} ends inside a sample", self.path.display()),
            ));
        }
        self.position = range.end();
        Ok(())
    }
}

/// Reads the `moov` and every `moof` of a CMAF file, skipping the media data.
fn read_track<R: Read + Seek>(reader: &mut R, len: u64) -> Result<Track, ReadError> {
    let mut info = None;
    let mut samples = Vec::new();
    let mut fragment_ends = Vec::new();
    let mut at = 0;
    while at < len {
        let header = header_at(reader, at, len)?;
        at = match &header.kind {
            b"moov" => {
                info = Some(parse_moov(&read_box(reader, &header)?)?);
                header.end
            }
            b"moof" => {
                let info = info
                    .as_ref()
                    .ok_or(IndexError::Missing("moov before the first moof"))?;
                let (fragment, next) = read_fragment(reader, &header, len, info)?;
                samples.extend(fragment);
                fragment_ends.push(samples.len());
                next
            }
            _ => header.end,
        };
    }
    let info = info.ok_or(IndexError::Missing("moov"))?;
    if samples.is_empty() {
        return Err(IndexError::Missing("at least one sample").into());
    }
    if u32::try_from(samples.len()).is_err() {
        return Err(IndexError::Unsupported("more than 2^32 samples").into());
    }
    Ok(Track {
        info,
        samples,
        fragment_ends,
    })
}

/// The samples of the `moof` at `moof` and where the box after its `mdat` starts.
fn read_fragment<R: Read + Seek>(
    reader: &mut R,
    moof: &BoxHeader,
    len: u64,
    info: &TrackInfo,
) -> Result<(Vec<Sample>, u64), ReadError> {
    let bytes = read_box(reader, moof)?;
    let mdat = header_at(reader, moof.end, len)?;
    if &mdat.kind != b"mdat" {
        return Err(IndexError::Missing("mdat after moof").into());
    }
    let samples = fragment_samples(&bytes, moof.start, info.track_id, info.trex)?;
    let inside = |s: &Sample| s.offset >= mdat.payload && s.offset + u64::from(s.size) <= mdat.end;
    if !samples.iter().all(inside) {
        return Err(IndexError::Malformed(moof.start).into());
    }
    Ok((samples, mdat.end))
}

/// The header of the box at `at` in a file of `len` bytes.
fn header_at<R: Read + Seek>(reader: &mut R, at: u64, len: u64) -> Result<BoxHeader, ReadError> {
    reader.seek(SeekFrom::Start(at))?;
    let mut bytes = Vec::with_capacity(16);
    (&mut *reader).take(16).read_to_end(&mut bytes)?;
    let header = read_header(&bytes, 0, len - at).map_err(|_| IndexError::Malformed(at))?;
    Ok(BoxHeader {
        start: at,
        payload: at + header.payload,
        end: at + header.end,
        ..header
    })
}

/// The whole box (header included) of `header`.
fn read_box<R: Read + Seek>(reader: &mut R, header: &BoxHeader) -> Result<Vec<u8>, ReadError> {
    let len = header.end - header.start;
    if len > MAX_HEADER_BOX {
        return Err(IndexError::Unsupported("a moov or moof over 64 MiB").into());
    }
    reader.seek(SeekFrom::Start(header.start))?;
    let mut bytes = Vec::with_capacity(len as usize);
    (&mut *reader).take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(IndexError::Malformed(header.start).into());
    }
    Ok(bytes)
}

/// Big-endian fields of a box payload, read in order.
struct Fields<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    /// The payload of `header` within `data`.
    fn of(data: &'a [u8], header: &BoxHeader) -> Self {
        Self {
            data: &data[header.payload as usize..header.end as usize],
            at: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        let bytes = self
            .data
            .get(self.at..self.at + n)
            .ok_or(IndexError::Malformed(self.at as u64))?;
        self.at += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        let at = self.at as u64;
        self.take(N)?
            .try_into()
            .map_err(|_| IndexError::Malformed(at))
    }

    fn u16(&mut self) -> Result<u16, IndexError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, IndexError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, IndexError> {
        self.array().map(u64::from_be_bytes)
    }

    /// The next `u32` if `present`, else `default`.
    fn u32_if(&mut self, present: bool, default: u32) -> Result<u32, IndexError> {
        if present {
            self.u32()
        } else {
            Ok(default)
        }
    }

    /// `version` and `flags` of a full box.
    fn version_flags(&mut self) -> Result<(u8, u32), IndexError> {
        let word = self.u32()?;
        Ok(((word >> 24) as u8, word & 0x00ff_ffff))
    }

    /// A 32-bit field in version 0, 64-bit in version 1.
    fn sized(&mut self, version: u8) -> Result<u64, IndexError> {
        if version == 1 {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }
}

/// The child boxes of `parent`.
fn children(data: &[u8], parent: &BoxHeader) -> Result<Vec<BoxHeader>, IndexError> {
    let mut found = Vec::new();
    let mut at = parent.payload;
    while at < parent.end {
        let header = read_header(data, at, parent.end)?;
        at = header.end;
        found.push(header);
    }
    Ok(found)
}

/// The first child of `parent` of type `kind`, if any.
fn find(data: &[u8], parent: &BoxHeader, kind: &[u8; 4]) -> Result<Option<BoxHeader>, IndexError> {
    Ok(children(data, parent)?
        .into_iter()
        .find(|b| &b.kind == kind))
}

/// The first child of `parent` of type `kind`; `missing` names it otherwise.
fn require(
    data: &[u8],
    parent: &BoxHeader,
    kind: &[u8; 4],
    missing: &'static str,
) -> Result<BoxHeader, IndexError> {
    find(data, parent, kind)?.ok_or(IndexError::Missing(missing))
}

/// The track of a `moov` box (the whole box in `moov`).
fn parse_moov(moov: &[u8]) -> Result<TrackInfo, IndexError> {
    let root = read_header(moov, 0, moov.len() as u64)?;
    let mvhd = require(moov, &root, b"mvhd", "mvhd in moov")?;
    let trak = require(moov, &root, b"trak", "trak in moov")?;
    let tkhd = require(moov, &trak, b"tkhd", "tkhd in trak")?;
    let mdia = require(moov, &trak, b"mdia", "mdia in trak")?;
    let mdhd = require(moov, &mdia, b"mdhd", "mdhd in mdia")?;
    let hdlr = require(moov, &mdia, b"hdlr", "hdlr in mdia")?;
    let minf = require(moov, &mdia, b"minf", "minf in mdia")?;
    let stbl = require(moov, &minf, b"stbl", "stbl in minf")?;
    let stsd = require(moov, &stbl, b"stsd", "stsd in stbl")?;

    let movie_timescale = parse_mvhd(&mut Fields::of(moov, &mvhd))?;
    let (track_id, tkhd_tail) = parse_tkhd(&mut Fields::of(moov, &tkhd))?;
    let (timescale, language) = parse_mdhd(&mut Fields::of(moov, &mdhd))?;
    let handler = parse_hdlr(&mut Fields::of(moov, &hdlr))?;
    let mut entries = Fields::of(moov, &stsd);
    entries.version_flags()?;
    if entries.u32()? != 1 {
        return Err(IndexError::Unsupported("more than one sample description"));
    }
    let edits = match find(moov, &trak, b"edts")? {
        Some(edts) => match find(moov, &edts, b"elst")? {
            Some(elst) => parse_elst(&mut Fields::of(moov, &elst))?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    Ok(TrackInfo {
        handler,
        track_id,
        timescale,
        language,
        tkhd_tail,
        stsd: moov[stsd.start as usize..stsd.end as usize].to_vec(),
        edits,
        movie_timescale,
        trex: trex_defaults(moov, &root, track_id)?,
    })
}

/// The movie timescale.
fn parse_mvhd(f: &mut Fields) -> Result<u32, IndexError> {
    let (version, _) = f.version_flags()?;
    f.sized(version)?;
    f.sized(version)?;
    nonzero(f.u32()?)
}

/// `track_ID` and the bytes after the duration.
fn parse_tkhd(f: &mut Fields) -> Result<(u32, Vec<u8>), IndexError> {
    let (version, _) = f.version_flags()?;
    f.sized(version)?;
    f.sized(version)?;
    let track_id = f.u32()?;
    f.u32()?;
    f.sized(version)?;
    Ok((track_id, f.take(TKHD_TAIL)?.to_vec()))
}

/// Media timescale and language.
fn parse_mdhd(f: &mut Fields) -> Result<(u32, u16), IndexError> {
    let (version, _) = f.version_flags()?;
    f.sized(version)?;
    f.sized(version)?;
    let timescale = nonzero(f.u32()?)?;
    f.sized(version)?;
    Ok((timescale, f.u16()?))
}

fn parse_hdlr(f: &mut Fields) -> Result<Handler, IndexError> {
    f.version_flags()?;
    f.u32()?;
    Handler::from_type(f.array()?).ok_or(IndexError::Unsupported("a track neither video nor audio"))
}

fn parse_elst(f: &mut Fields) -> Result<Vec<Edit>, IndexError> {
    let (version, _) = f.version_flags()?;
    let count = f.u32()?;
    (0..count)
        .map(|_| {
            let duration = f.sized(version)?;
            let media_time = match version {
                1 => f.u64()? as i64,
                _ => i64::from(f.u32()? as i32),
            };
            Ok(Edit {
                duration,
                media_time,
                rate: f.u32()?,
            })
        })
        .collect()
}

/// The `mvex/trex` defaults of `track_id`, zero without one.
fn trex_defaults(moov: &[u8], root: &BoxHeader, track_id: u32) -> Result<Defaults, IndexError> {
    let Some(mvex) = find(moov, root, b"mvex")? else {
        return Ok(Defaults::default());
    };
    for trex in children(moov, &mvex)?.iter().filter(|b| &b.kind == b"trex") {
        let mut f = Fields::of(moov, trex);
        f.version_flags()?;
        if f.u32()? == track_id {
            f.u32()?; // default_sample_description_index
            return Ok(Defaults {
                duration: f.u32()?,
                size: f.u32()?,
                flags: f.u32()?,
            });
        }
    }
    Ok(Defaults::default())
}

fn nonzero(timescale: u32) -> Result<u32, IndexError> {
    if timescale == 0 {
        return Err(IndexError::Unsupported("zero timescale"));
    }
    Ok(timescale)
}

/// The samples of `track_id` in one `moof` (the whole box in `moof`, which
/// starts at `moof_start` in the file), with their offsets in the file.
fn fragment_samples(
    moof: &[u8],
    moof_start: u64,
    track_id: u32,
    trex: Defaults,
) -> Result<Vec<Sample>, IndexError> {
    let root = read_header(moof, 0, moof.len() as u64)?;
    let mut samples = Vec::new();
    for traf in children(moof, &root)?.iter().filter(|b| &b.kind == b"traf") {
        let tfhd = require(moof, traf, b"tfhd", "tfhd in traf")?;
        let mut f = Fields::of(moof, &tfhd);
        let (id, base, defaults) = parse_tfhd(&mut f, trex)?;
        if id != track_id {
            continue;
        }
        let base = base.unwrap_or(moof_start);
        let mut next = base;
        for run in children(moof, traf)?.iter().filter(|b| &b.kind == b"trun") {
            let run = parse_trun(&mut Fields::of(moof, run), base, next, defaults)?;
            if let Some(last) = run.last() {
                next = last.offset + u64::from(last.size);
            }
            samples.extend(run);
        }
    }
    Ok(samples)
}

/// `track_ID`, the explicit base data offset if any, and the sample defaults.
fn parse_tfhd(f: &mut Fields, trex: Defaults) -> Result<(u32, Option<u64>, Defaults), IndexError> {
    let (_, flags) = f.version_flags()?;
    let track_id = f.u32()?;
    let base = if flags & tfhd::BASE_DATA_OFFSET != 0 {
        Some(f.u64()?)
    } else {
        None
    };
    if flags & tfhd::SAMPLE_DESCRIPTION_INDEX != 0 {
        f.u32()?;
    }
    let defaults = Defaults {
        duration: f.u32_if(flags & tfhd::DEFAULT_DURATION != 0, trex.duration)?,
        size: f.u32_if(flags & tfhd::DEFAULT_SIZE != 0, trex.size)?,
        flags: f.u32_if(flags & tfhd::DEFAULT_FLAGS != 0, trex.flags)?,
    };
    Ok((track_id, base, defaults))
}

/// The samples of one `trun`: its data starts at `base` plus its data offset,
/// or without one at `next` (where the previous run's data ended).
fn parse_trun(
    f: &mut Fields,
    base: u64,
    next: u64,
    defaults: Defaults,
) -> Result<Vec<Sample>, IndexError> {
    let (version, flags) = f.version_flags()?;
    let count = f.u32()?;
    let mut offset = if flags & trun::DATA_OFFSET != 0 {
        let data_offset = i64::from(f.u32()? as i32);
        base.checked_add_signed(data_offset)
            .ok_or(IndexError::Malformed(0))?
    } else {
        next
    };
    let first_flags = if flags & trun::FIRST_SAMPLE_FLAGS != 0 {
        Some(f.u32()?)
    } else {
        None
    };
    let mut samples = Vec::new();
    for i in 0..count {
        let duration = f.u32_if(flags & trun::DURATION != 0, defaults.duration)?;
        let size = f.u32_if(flags & trun::SIZE != 0, defaults.size)?;
        let sample_flags = f.u32_if(flags & trun::FLAGS != 0, defaults.flags)?;
        let raw_offset = f.u32_if(flags & trun::COMPOSITION_OFFSET != 0, 0)?;
        let composition_offset = match version {
            0 => i32::try_from(raw_offset)
                .map_err(|_| IndexError::Unsupported("a composition offset over 2^31"))?,
            _ => raw_offset as i32,
        };
        samples.push(Sample {
            offset,
            size,
            duration,
            flags: first_flags.filter(|_| i == 0).unwrap_or(sample_flags),
            composition_offset,
        });
        offset = offset
            .checked_add(u64::from(size))
            .ok_or(IndexError::Malformed(0))?;
    }
    Ok(samples)
}

/// Where the video and the audio track are among the inputs (and the
/// output's tracks, numbered from 1).
const VIDEO: usize = 0;
const AUDIO: usize = 1;

/// A run of samples of one track stored together in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chunk {
    /// [`VIDEO`] or [`AUDIO`].
    track: usize,
    samples: Range<usize>,
}

/// The output's chunks in file order: each video fragment, then the audio
/// samples that start before that fragment ends; any audio left goes last.
fn interleave(video: &Track, audio: Option<&Track>) -> Vec<Chunk> {
    let audio_starts: Vec<u64> = audio
        .map(|audio| decode_times(&audio.samples))
        .unwrap_or_default();
    let mut chunks = Vec::new();
    let (mut video_start, mut video_time, mut audio_start) = (0, 0u64, 0);
    for &end in &video.fragment_ends {
        chunks.push(Chunk {
            track: VIDEO,
            samples: video_start..end,
        });
        video_time += video.samples[video_start..end]
            .iter()
            .map(|s| u64::from(s.duration))
            .sum::<u64>();
        video_start = end;
        if let Some(audio) = audio {
            let before = |&t: &u64| {
                u128::from(t) * u128::from(video.info.timescale)
                    < u128::from(video_time) * u128::from(audio.info.timescale)
            };
            let audio_end = audio_starts.partition_point(before);
            push_audio(&mut chunks, audio_start..audio_end);
            audio_start = audio_end;
        }
    }
    push_audio(&mut chunks, audio_start..audio_starts.len());
    chunks
}

fn push_audio(chunks: &mut Vec<Chunk>, samples: Range<usize>) {
    if !samples.is_empty() {
        chunks.push(Chunk {
            track: AUDIO,
            samples,
        });
    }
}

/// The decode time of every sample.
fn decode_times(samples: &[Sample]) -> Vec<u64> {
    samples
        .iter()
        .scan(0u64, |time, s| {
            let start = *time;
            *time += u64::from(s.duration);
            Some(start)
        })
        .collect()
}

/// Writes the whole output to `path`.
fn write_file(inputs: &mut [Input], path: &Path) -> Result<Progressive, RemuxError> {
    let context = || format!("writing {}", path.display());
    let tracks: Vec<&Track> = inputs.iter().map(|i| &i.track).collect();
    let chunks = interleave(tracks[VIDEO], tracks.get(AUDIO).copied());
    let payload: u64 = chunks
        .iter()
        .map(|c| tracks[c.track].bytes(&c.samples))
        .sum();
    let ftyp = ftyp();
    let mdat = mdat_header(payload);
    let moov = layout_moov(&tracks, &chunks, (ftyp.len() + mdat.len()) as u64);
    let duration = movie_duration(&tracks);

    let file = File::create(path).map_err(|e| RemuxError::new(context(), e))?;
    let mut out = BufWriter::with_capacity(COPY_BUFFER, file);
    let head = [ftyp.as_slice(), &moov, &mdat].concat();
    out.write_all(&head)
        .map_err(|e| RemuxError::new(context(), e))?;
    for chunk in &chunks {
        let input = &mut inputs[chunk.track];
        for range in contiguous(&input.track.samples[chunk.samples.clone()]) {
            input
                .copy(range, &mut out)
                .map_err(|e| RemuxError::new(format!("copying {}", input.path.display()), e))?;
        }
    }
    let file = out
        .into_inner()
        .map_err(|e| RemuxError::new(context(), e.into_error()))?;
    file.sync_all().map_err(|e| RemuxError::new(context(), e))?;
    Ok(Progressive {
        bytes: head.len() as u64 + payload,
        duration_s: duration as f64 / f64::from(MOVIE_TIMESCALE),
    })
}

/// `{dest}.tmp`, in the same folder so the rename stays on one file system.
fn temp_path(dest: &Path) -> Result<PathBuf, RemuxError> {
    let name = dest
        .file_name()
        .ok_or_else(|| RemuxError::new(dest.display().to_string(), "not a file path"))?;
    let mut tmp = name.to_owned();
    tmp.push(".tmp");
    Ok(dest.with_file_name(tmp))
}

/// The byte ranges of `samples`, adjacent samples merged.
fn contiguous(samples: &[Sample]) -> Vec<ByteRange> {
    let mut ranges: Vec<ByteRange> = Vec::new();
    for s in samples {
        match ranges.last_mut() {
            Some(last) if last.end() == s.offset => last.length += u64::from(s.size),
            _ => ranges.push(ByteRange {
                offset: s.offset,
                length: u64::from(s.size),
            }),
        }
    }
    ranges
}

/// The longest track, in [`MOVIE_TIMESCALE`].
fn movie_duration(tracks: &[&Track]) -> u64 {
    tracks.iter().map(|t| t.movie_duration()).max().unwrap_or(0)
}

/// Builds the `moov` for media data starting `before_data` bytes plus the
/// `moov`'s own size into the file. Its size depends on the chunk offsets
/// (`stco` or `co64`) and they on its size: rebuild until the size holds.
fn layout_moov(tracks: &[&Track], chunks: &[Chunk], before_data: u64) -> Vec<u8> {
    let mut moov = build_moov(tracks, chunks, before_data);
    loop {
        let again = build_moov(tracks, chunks, before_data + moov.len() as u64);
        if again.len() == moov.len() {
            return again;
        }
        moov = again;
    }
}

/// Per track, the file offset and sample count of each of its chunks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ChunkTable {
    offsets: Vec<u64>,
    counts: Vec<u32>,
}

fn chunk_tables(tracks: &[&Track], chunks: &[Chunk], data_start: u64) -> Vec<ChunkTable> {
    let mut tables = vec![ChunkTable::default(); tracks.len()];
    let mut offset = data_start;
    for chunk in chunks {
        let table = &mut tables[chunk.track];
        table.offsets.push(offset);
        table.counts.push(chunk.samples.len() as u32);
        offset += tracks[chunk.track].bytes(&chunk.samples);
    }
    tables
}

fn build_moov(tracks: &[&Track], chunks: &[Chunk], data_start: u64) -> Vec<u8> {
    let tables = chunk_tables(tracks, chunks, data_start);
    let mut children = vec![mvhd(movie_duration(tracks), tracks.len() as u32 + 1)];
    for (i, (track, table)) in tracks.iter().zip(&tables).enumerate() {
        children.push(trak(track, i as u32 + 1, table));
    }
    container(b"moov", &children)
}

fn ftyp() -> Vec<u8> {
    let mut body = MAJOR_BRAND.to_vec();
    body.extend_from_slice(&MINOR_VERSION.to_be_bytes());
    for brand in COMPATIBLE_BRANDS {
        body.extend_from_slice(brand);
    }
    plain_box(b"ftyp", &body)
}

/// The `mdat` header for `payload` bytes, 64-bit when they need it.
fn mdat_header(payload: u64) -> Vec<u8> {
    match u32::try_from(payload + 8) {
        Ok(size) => [size.to_be_bytes().as_slice(), b"mdat"].concat(),
        Err(_) => [
            1u32.to_be_bytes().as_slice(),
            b"mdat",
            &(payload + 16).to_be_bytes(),
        ]
        .concat(),
    }
}

/// A box of `body`, with a 64-bit size if it needs one.
fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let len = body.len() as u64;
    let mut out = match u32::try_from(len + 8) {
        Ok(size) => [size.to_be_bytes().as_slice(), kind].concat(),
        Err(_) => [
            1u32.to_be_bytes().as_slice(),
            kind,
            &(len + 16).to_be_bytes(),
        ]
        .concat(),
    };
    out.extend_from_slice(body);
    out
}

fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let word = (u32::from(version) << 24) | (flags & 0x00ff_ffff);
    plain_box(kind, &[word.to_be_bytes().as_slice(), body].concat())
}

fn container(kind: &[u8; 4], children: &[Vec<u8>]) -> Vec<u8> {
    plain_box(kind, &children.concat())
}

/// Version 1 (64-bit times) only when `duration` needs it.
fn time_version(duration: u64) -> u8 {
    u8::from(u32::try_from(duration).is_err())
}

/// Appends a field 32 bits wide in version 0 and 64 in version 1.
fn put_sized(out: &mut Vec<u8>, version: u8, value: u64) {
    if version == 1 {
        out.extend_from_slice(&value.to_be_bytes());
    } else {
        out.extend_from_slice(&(value as u32).to_be_bytes());
    }
}

/// Creation and modification times (zero: unknown), then `middle`, then the duration.
fn timed(version: u8, middle: &[u8], duration: u64) -> Vec<u8> {
    let mut body = Vec::new();
    put_sized(&mut body, version, 0);
    put_sized(&mut body, version, 0);
    body.extend_from_slice(middle);
    put_sized(&mut body, version, duration);
    body
}

/// The unity matrix of `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn mvhd(duration: u64, next_track_id: u32) -> Vec<u8> {
    let version = time_version(duration);
    let mut body = timed(version, &MOVIE_TIMESCALE.to_be_bytes(), duration);
    body.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    body.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    body.extend_from_slice(&[0; 10]);
    for value in UNITY_MATRIX {
        body.extend_from_slice(&value.to_be_bytes());
    }
    body.extend_from_slice(&[0; 24]);
    body.extend_from_slice(&next_track_id.to_be_bytes());
    full_box(b"mvhd", version, 0, &body)
}

fn trak(track: &Track, track_id: u32, chunks: &ChunkTable) -> Vec<u8> {
    let info = &track.info;
    let mut children = vec![tkhd(track, track_id)];
    let edits = track.edits();
    if !edits.is_empty() {
        children.push(container(b"edts", &[elst(&edits)]));
    }
    let media_duration = track.media_duration();
    let version = time_version(media_duration);
    let mut language = info.language.to_be_bytes().to_vec();
    language.extend_from_slice(&[0; 2]);
    let mut mdhd = timed(version, &info.timescale.to_be_bytes(), media_duration);
    mdhd.extend_from_slice(&language);
    let minf = container(
        b"minf",
        &[info.handler.media_header(), dinf(), stbl(track, chunks)],
    );
    let mdia = container(
        b"mdia",
        &[
            full_box(b"mdhd", version, 0, &mdhd),
            hdlr(info.handler),
            minf,
        ],
    );
    children.push(mdia);
    container(b"trak", &children)
}

fn tkhd(track: &Track, track_id: u32) -> Vec<u8> {
    let duration = track.movie_duration();
    let version = time_version(duration);
    let mut middle = track_id.to_be_bytes().to_vec();
    middle.extend_from_slice(&[0; 4]);
    let mut body = timed(version, &middle, duration);
    body.extend_from_slice(&track.info.tkhd_tail);
    full_box(b"tkhd", version, TRACK_ENABLED_IN_MOVIE, &body)
}

fn elst(edits: &[Edit]) -> Vec<u8> {
    let wide = edits
        .iter()
        .any(|e| u32::try_from(e.duration).is_err() || i32::try_from(e.media_time).is_err());
    let version = u8::from(wide);
    let mut body = (edits.len() as u32).to_be_bytes().to_vec();
    for edit in edits {
        put_sized(&mut body, version, edit.duration);
        put_sized(&mut body, version, edit.media_time as u64);
        body.extend_from_slice(&edit.rate.to_be_bytes());
    }
    full_box(b"elst", version, 0, &body)
}

fn hdlr(handler: Handler) -> Vec<u8> {
    let mut body = vec![0; 4];
    body.extend_from_slice(handler.handler_type());
    body.extend_from_slice(&[0; 12]);
    body.extend_from_slice(handler.name());
    full_box(b"hdlr", 0, 0, &body)
}

/// A data reference to this file.
fn dinf() -> Vec<u8> {
    let url = full_box(b"url ", 0, SELF_CONTAINED, &[]);
    let dref = full_box(
        b"dref",
        0,
        0,
        &[1u32.to_be_bytes().as_slice(), &url].concat(),
    );
    container(b"dinf", &[dref])
}

fn stbl(track: &Track, chunks: &ChunkTable) -> Vec<u8> {
    let samples = &track.samples;
    let mut children = vec![track.info.stsd.clone(), stts(samples)];
    children.extend(ctts(samples));
    children.extend(stss(samples));
    children.push(stsc(&chunks.counts));
    children.push(stsz(samples));
    children.push(chunk_offsets(&chunks.offsets));
    container(b"stbl", &children)
}

/// Runs of equal values: `(count, value)`.
fn runs<T: PartialEq + Copy>(values: impl Iterator<Item = T>) -> Vec<(u32, T)> {
    let mut out: Vec<(u32, T)> = Vec::new();
    for value in values {
        match out.last_mut() {
            Some((count, last)) if *last == value => *count += 1,
            _ => out.push((1, value)),
        }
    }
    out
}

/// A table box: entry count, then each entry's bytes.
fn table(kind: &[u8; 4], version: u8, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = (entries.len() as u32).to_be_bytes().to_vec();
    body.extend(entries.concat());
    full_box(kind, version, 0, &body)
}

fn pair(a: u32, b: u32) -> Vec<u8> {
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

/// Decode durations, run-length coded.
fn stts(samples: &[Sample]) -> Vec<u8> {
    let entries: Vec<_> = runs(samples.iter().map(|s| s.duration))
        .into_iter()
        .map(|(count, delta)| pair(count, delta))
        .collect();
    table(b"stts", 0, &entries)
}

/// Composition offsets, run-length coded; none when all are zero, version 1
/// (signed) when any is negative.
fn ctts(samples: &[Sample]) -> Option<Vec<u8>> {
    if samples.iter().all(|s| s.composition_offset == 0) {
        return None;
    }
    let version = u8::from(samples.iter().any(|s| s.composition_offset < 0));
    let entries: Vec<_> = runs(samples.iter().map(|s| s.composition_offset))
        .into_iter()
        .map(|(count, offset)| pair(count, offset as u32))
        .collect();
    Some(table(b"ctts", version, &entries))
}

/// The 1-based numbers of the sync samples; none when every sample is one.
fn stss(samples: &[Sample]) -> Option<Vec<u8>> {
    if samples.iter().all(Sample::is_sync) {
        return None;
    }
    let entries: Vec<_> = (1u32..)
        .zip(samples)
        .filter(|(_, s)| s.is_sync())
        .map(|(number, _)| number.to_be_bytes().to_vec())
        .collect();
    Some(table(b"stss", 0, &entries))
}

/// Samples per chunk: one entry where the count changes (sample description 1).
fn stsc(counts: &[u32]) -> Vec<u8> {
    let mut first_chunk = 1u32;
    let entries: Vec<_> = runs(counts.iter().copied())
        .into_iter()
        .map(|(chunks, per_chunk)| {
            let entry = [pair(first_chunk, per_chunk), 1u32.to_be_bytes().to_vec()].concat();
            first_chunk += chunks;
            entry
        })
        .collect();
    table(b"stsc", 0, &entries)
}

/// Sample sizes: one size for all when they are equal, else a table.
fn stsz(samples: &[Sample]) -> Vec<u8> {
    let first = samples.first().map_or(0, |s| s.size);
    let count = samples.len() as u32;
    let mut body = Vec::new();
    if samples.iter().all(|s| s.size == first) {
        body.extend(pair(first, count));
    } else {
        body.extend(pair(0, count));
        for s in samples {
            body.extend_from_slice(&s.size.to_be_bytes());
        }
    }
    full_box(b"stsz", 0, 0, &body)
}

/// `stco`, or `co64` when an offset is past 4 GiB.
fn chunk_offsets(offsets: &[u64]) -> Vec<u8> {
    let narrow: Option<Vec<u32>> = offsets.iter().map(|&o| u32::try_from(o).ok()).collect();
    match narrow {
        Some(narrow) => {
            let entries: Vec<_> = narrow.iter().map(|o| o.to_be_bytes().to_vec()).collect();
            table(b"stco", 0, &entries)
        }
        None => {
            let entries: Vec<_> = offsets.iter().map(|o| o.to_be_bytes().to_vec()).collect();
            table(b"co64", 0, &entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::bmff_box;

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// The payload of a box written here, after its version and flags.
    fn body(written: &[u8]) -> &[u8] {
        &written[12..]
    }

    fn sample(duration: u32, size: u32, composition_offset: i32) -> Sample {
        Sample {
            offset: 0,
            size,
            duration,
            flags: 0,
            composition_offset,
        }
    }

    #[test]
    fn stts_is_run_length_coded() {
        let samples: Vec<_> = [512, 512, 512, 1024, 512]
            .iter()
            .map(|&d| sample(d, 1, 0))
            .collect();
        let written = stts(&samples);
        assert_eq!(&written[4..8], b"stts");
        assert_eq!(body(&written), words(&[3, 3, 512, 1, 1024, 1, 512]));
    }

    #[test]
    fn ctts_only_with_offsets_and_signed_when_negative() {
        assert_eq!(ctts(&[sample(1, 1, 0), sample(1, 1, 0)]), None);
        let positive = ctts(&[sample(1, 1, 0), sample(1, 1, 2), sample(1, 1, 2)]).unwrap();
        assert_eq!(positive[8], 0, "version 0");
        assert_eq!(body(&positive), words(&[2, 1, 0, 2, 2]));
        let negative = ctts(&[sample(1, 1, 512), sample(1, 1, -512)]).unwrap();
        assert_eq!(negative[8], 1, "version 1");
        assert_eq!(body(&negative), words(&[2, 1, 512, 1, (-512i32) as u32]));
    }

    #[test]
    fn stss_lists_sync_samples_unless_all_are() {
        let mut samples = vec![sample(1, 1, 0); 4];
        assert_eq!(stss(&samples), None);
        samples[1].flags = NON_SYNC_SAMPLE;
        samples[3].flags = NON_SYNC_SAMPLE;
        assert_eq!(body(&stss(&samples).unwrap()), words(&[2, 1, 3]));
    }

    #[test]
    fn stsc_has_an_entry_where_the_count_changes() {
        let written = stsc(&[60, 60, 60, 30, 30, 1]);
        assert_eq!(body(&written), words(&[3, 1, 60, 1, 4, 30, 1, 6, 1, 1]));
    }

    #[test]
    fn stsz_uses_one_size_when_all_are_equal() {
        let same = vec![sample(1, 7, 0); 3];
        assert_eq!(body(&stsz(&same)), words(&[7, 3]));
        let mixed = [sample(1, 7, 0), sample(1, 9, 0)];
        assert_eq!(body(&stsz(&mixed)), words(&[0, 2, 7, 9]));
    }

    #[test]
    fn chunk_offsets_switch_to_co64_past_4_gib() {
        let small = chunk_offsets(&[8, u64::from(u32::MAX)]);
        assert_eq!(&small[4..8], b"stco");
        assert_eq!(body(&small), words(&[2, 8, u32::MAX]));
        let large = chunk_offsets(&[8, 1 << 32]);
        assert_eq!(&large[4..8], b"co64");
        assert_eq!(body(&large), words(&[2, 0, 8, 1, 0]));
    }

    #[test]
    fn mdat_header_is_64_bit_when_needed() {
        assert_eq!(
            mdat_header(100),
            [words(&[108]).as_slice(), b"mdat"].concat()
        );
        let large = mdat_header(1 << 32);
        assert_eq!(&large[..8], [words(&[1]).as_slice(), b"mdat"].concat());
        assert_eq!(large[8..], ((1u64 << 32) + 16).to_be_bytes());
    }

    fn full(kind: &[u8; 4], version: u8, flags: u32, fields: &[u32]) -> Vec<u8> {
        let word = (u32::from(version) << 24) | flags;
        bmff_box(kind, &[words(&[word]), words(fields)].concat())
    }

    fn moof(trafs: &[Vec<u8>]) -> Vec<u8> {
        bmff_box(b"moof", &trafs.concat())
    }

    const TREX: Defaults = Defaults {
        duration: 1024,
        size: 5,
        flags: NON_SYNC_SAMPLE,
    };

    #[test]
    fn trun_with_per_sample_fields() {
        // default-base-is-moof only; every field in the run, signed offsets.
        let tfhd = full(b"tfhd", 0, 0x02_0000, &[1]);
        let flags = trun::DATA_OFFSET
            | trun::DURATION
            | trun::SIZE
            | trun::FLAGS
            | trun::COMPOSITION_OFFSET;
        let minus_512 = (-512i32) as u32;
        let fields = [2, 100, 512, 40, 0, 0, 512, 30, NON_SYNC_SAMPLE, minus_512];
        let run = full(b"trun", 1, flags, &fields);
        let data = moof(&[bmff_box(b"traf", &[tfhd, run].concat())]);
        let samples = fragment_samples(&data, 1000, 1, TREX).unwrap();
        assert_eq!(
            samples,
            [
                Sample {
                    offset: 1100,
                    size: 40,
                    duration: 512,
                    flags: 0,
                    composition_offset: 0
                },
                Sample {
                    offset: 1140,
                    size: 30,
                    duration: 512,
                    flags: NON_SYNC_SAMPLE,
                    composition_offset: -512
                },
            ]
        );
    }

    #[test]
    fn trun_without_per_sample_fields_uses_tfhd_then_trex_defaults() {
        // Sample description index, default size and flags; duration from trex.
        let tfhd_flags = tfhd::SAMPLE_DESCRIPTION_INDEX | tfhd::DEFAULT_SIZE | tfhd::DEFAULT_FLAGS;
        let tfhd = full(b"tfhd", 0, tfhd_flags, &[1, 1, 9, NON_SYNC_SAMPLE]);
        let first = full(
            b"trun",
            0,
            trun::DATA_OFFSET | trun::FIRST_SAMPLE_FLAGS,
            &[2, 64, 0],
        );
        // No data offset: right after the first run's data.
        let second = full(b"trun", 0, 0, &[1]);
        let other_track = bmff_box(b"traf", &full(b"tfhd", 0, 0, &[2]));
        let traf = bmff_box(b"traf", &[tfhd, first, second].concat());
        let data = moof(&[other_track, traf]);
        let samples = fragment_samples(&data, 0, 1, TREX).unwrap();
        let found: Vec<_> = samples
            .iter()
            .map(|s| (s.offset, s.size, s.duration, s.is_sync()))
            .collect();
        assert_eq!(
            found,
            [
                (64, 9, 1024, true),
                (73, 9, 1024, false),
                (82, 9, 1024, false)
            ]
        );
    }

    #[test]
    fn explicit_base_data_offset_wins_over_the_moof() {
        let tfhd = bmff_box(
            b"tfhd",
            &[
                words(&[tfhd::BASE_DATA_OFFSET, 1]),
                5000u64.to_be_bytes().to_vec(),
            ]
            .concat(),
        );
        let run = full(b"trun", 0, trun::DATA_OFFSET, &[1, 8]);
        let data = moof(&[bmff_box(b"traf", &[tfhd, run].concat())]);
        let samples = fragment_samples(&data, 100, 1, TREX).unwrap();
        assert_eq!(samples[0].offset, 5008);
        assert_eq!(samples[0].size, TREX.size);
    }

    #[test]
    fn truncated_trun_is_an_error() {
        let tfhd = full(b"tfhd", 0, 0, &[1]);
        let run = full(b"trun", 0, trun::SIZE, &[3, 10, 10]);
        let data = moof(&[bmff_box(b"traf", &[tfhd, run].concat())]);
        assert!(fragment_samples(&data, 0, 1, TREX).is_err());
    }

    fn track(handler: Handler, timescale: u32, fragments: &[(usize, u32)]) -> Track {
        let mut samples = Vec::new();
        let mut fragment_ends = Vec::new();
        for &(count, duration) in fragments {
            for _ in 0..count {
                let offset = samples.len() as u64 * 10;
                samples.push(Sample {
                    offset,
                    ..sample(duration, 10, 0)
                });
            }
            fragment_ends.push(samples.len());
        }
        Track {
            info: TrackInfo {
                handler,
                track_id: 1,
                timescale,
                language: 0x55c4,
                tkhd_tail: vec![0; TKHD_TAIL],
                stsd: full(b"stsd", 0, 0, &[1]),
                edits: Vec::new(),
                movie_timescale: 1000,
                trex: Defaults::default(),
            },
            samples,
            fragment_ends,
        }
    }

    #[test]
    fn audio_follows_each_video_fragment_up_to_its_end() {
        // Two 1 s video fragments; audio of 0.4 s samples.
        let video = track(Handler::Video, 30, &[(30, 1), (30, 1)]);
        let audio = track(Handler::Audio, 10, &[(6, 4)]);
        let chunks = interleave(&video, Some(&audio));
        let found: Vec<_> = chunks
            .iter()
            .map(|c| (c.track, c.samples.clone()))
            .collect();
        // Audio samples start at 0, .4, .8 | 1.2, 1.6 | 2.0.
        assert_eq!(
            found,
            [(0, 0..30), (1, 0..3), (0, 30..60), (1, 3..5), (1, 5..6)]
        );
        let alone = interleave(&video, None);
        assert_eq!(alone.len(), 2);
    }

    #[test]
    fn chunk_offsets_hold_after_the_moov_grows_to_co64() {
        let video = track(Handler::Video, 30, &[(2, 1), (1, 1)]);
        let tracks = [&video];
        let chunks = interleave(&video, None);
        let before_data = u64::from(u32::MAX) - 100;
        let moov = layout_moov(&tracks, &chunks, before_data);
        let at = moov.windows(4).position(|w| w == b"co64").unwrap();
        let first = u64::from_be_bytes(moov[at + 12..at + 20].try_into().unwrap());
        let second = u64::from_be_bytes(moov[at + 20..at + 28].try_into().unwrap());
        assert_eq!(first, before_data + moov.len() as u64);
        assert_eq!(second, first + 20);
        assert_eq!(
            read_header(&moov, 0, moov.len() as u64).unwrap().end,
            moov.len() as u64
        );
    }

    #[test]
    fn moov_round_trips_through_the_reader() {
        let video = track(Handler::Video, 15360, &[(3, 512)]);
        let moov = layout_moov(&[&video], &interleave(&video, None), 40);
        let info = parse_moov(&moov).unwrap();
        assert_eq!(info.handler, Handler::Video);
        assert_eq!((info.timescale, info.language), (15360, 0x55c4));
        assert_eq!(info.movie_timescale, MOVIE_TIMESCALE);
        assert_eq!(info.stsd, video.info.stsd);
        assert_eq!(info.tkhd_tail, video.info.tkhd_tail);
    }

    #[test]
    fn edits_are_rescaled_and_an_open_ended_one_gets_the_rest() {
        let mut audio = track(Handler::Audio, 48_000, &[(10, 1024)]);
        audio.info.movie_timescale = 48_000;
        audio.info.edits = vec![
            Edit {
                duration: 9216,
                media_time: 1024,
                rate: 0x0001_0000,
            },
            Edit {
                duration: 0,
                media_time: 2048,
                rate: 0x0001_0000,
            },
        ];
        let edits = audio.edits();
        assert_eq!(edits[0].duration, 192);
        assert_eq!(edits[1].duration, rescale(8 * 1024, 48_000, 1000));
        assert_eq!(audio.movie_duration(), 192 + 171);
    }
}
