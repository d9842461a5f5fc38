//! A small ISO-BMFF reader for the CMAF files the pipeline writes.
//!
//! It finds the init section (`ftyp` + `moov`), the global `sidx` and, from
//! the `sidx` references, every segment's byte range and duration — the
//! numbers HLS byte-range playlists and DASH `SegmentBase` need. Each segment
//! is checked to start with a `moof` box.

/// A byte range in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

impl ByteRange {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.length)
    }
}

/// One media segment (a `moof` + `mdat` pair, or several).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Where the segment's bytes are.
    pub range: ByteRange,
    /// Duration in seconds.
    pub duration: f64,
}

/// Where everything is in one CMAF file.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackIndex {
    /// `ftyp` + `moov`.
    pub init: ByteRange,
    /// The `sidx` box.
    pub index: ByteRange,
    /// Media segments in order, contiguous.
    pub segments: Vec<Segment>,
}

impl TrackIndex {
    /// Sum of segment durations in seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// Highest bitrate of any segment, bits per second.
    pub fn peak_bandwidth(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| s.duration > 0.0)
            .map(|s| (s.range.length as f64 * 8.0 / s.duration).ceil() as u64)
            .max()
            .unwrap_or(0)
    }

    /// Bitrate over all segments, bits per second.
    pub fn average_bandwidth(&self) -> u64 {
        let bytes: u64 = self.segments.iter().map(|s| s.range.length).sum();
        let duration = self.duration();
        if duration > 0.0 {
            (bytes as f64 * 8.0 / duration).ceil() as u64
        } else {
            0
        }
    }
}

/// Why a file could not be indexed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    /// A box header runs past the end of the data or is malformed.
    #[error("malformed box at byte {0}")]
    Malformed(u64),
    /// A required box is absent or out of order.
    #[error("expected {0}")]
    Missing(&'static str),
    /// A `sidx` form this reader does not handle.
    #[error("unsupported sidx: {0}")]
    Unsupported(&'static str),
}

/// A box header: type, where the box starts and where its payload starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BoxHeader {
    pub kind: [u8; 4],
    pub start: u64,
    pub payload: u64,
    pub end: u64,
}

/// Reads the box header at `offset` within `data[..limit]`.
pub(crate) fn read_header(data: &[u8], offset: u64, limit: u64) -> Result<BoxHeader, IndexError> {
    let bad = || IndexError::Malformed(offset);
    if offset >= limit {
        return Err(bad());
    }
    let at = usize::try_from(offset).map_err(|_| bad())?;
    let size32 = u64::from(be_u32(data, at).ok_or_else(bad)?);
    let kind: [u8; 4] = data
        .get(at + 4..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let (size, header_len) = match size32 {
        0 => (limit - offset, 8),
        1 => (be_u64(data, at + 8).ok_or_else(bad)?, 16),
        n => (n, 8),
    };
    let end = offset.checked_add(size).ok_or_else(bad)?;
    if size < header_len || end > limit {
        return Err(bad());
    }
    Ok(BoxHeader {
        kind,
        start: offset,
        payload: offset + header_len,
        end,
    })
}

/// Indexes a whole CMAF file held in memory.
pub fn parse(data: &[u8]) -> Result<TrackIndex, IndexError> {
    let limit = data.len() as u64;
    let ftyp = read_header(data, 0, limit)?;
    if &ftyp.kind != b"ftyp" {
        return Err(IndexError::Missing("ftyp first"));
    }
    let mut offset = ftyp.end;
    let mut moov = None;
    let sidx = loop {
        if offset >= limit {
            return Err(IndexError::Missing("sidx"));
        }
        let header = read_header(data, offset, limit)?;
        match &header.kind {
            b"moov" => moov = Some(header),
            b"sidx" => break header,
            b"moof" | b"mdat" => return Err(IndexError::Missing("sidx before the first fragment")),
            _ => {}
        }
        offset = header.end;
    };
    let moov = moov.ok_or(IndexError::Missing("moov before sidx"))?;
    let segments = parse_sidx(data, &sidx)?;
    for segment in &segments {
        let header = read_header(data, segment.range.offset, limit)?;
        if !matches!(&header.kind, b"moof" | b"styp") {
            return Err(IndexError::Missing("moof at a segment start"));
        }
        if segment.range.end() > limit {
            return Err(IndexError::Malformed(segment.range.offset));
        }
    }
    Ok(TrackIndex {
        init: ByteRange {
            offset: 0,
            length: moov.end,
        },
        index: ByteRange {
            offset: sidx.start,
            length: sidx.end - sidx.start,
        },
        segments,
    })
}

/// Segment ranges and durations from a `sidx` (ISO/IEC 14496-12 §8.16.3).
fn parse_sidx(data: &[u8], sidx: &BoxHeader) -> Result<Vec<Segment>, IndexError> {
    let bad = || IndexError::Malformed(sidx.start);
    let body = &data[sidx.payload as usize..sidx.end as usize];
    let version = *body.first().ok_or_else(bad)?;
    let timescale = be_u32(body, 8).ok_or_else(bad)?;
    if timescale == 0 {
        return Err(IndexError::Unsupported("zero timescale"));
    }
    let (first_offset, mut at) = match version {
        0 => (u64::from(be_u32(body, 16).ok_or_else(bad)?), 20),
        1 => (be_u64(body, 20).ok_or_else(bad)?, 28),
        _ => return Err(IndexError::Unsupported("unknown version")),
    };
    let count = be_u16(body, at + 2).ok_or_else(bad)?;
    at += 4;
    let mut offset = sidx.end.checked_add(first_offset).ok_or_else(bad)?;
    let mut segments = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let reference = be_u32(body, at).ok_or_else(bad)?;
        let duration = be_u32(body, at + 4).ok_or_else(bad)?;
        if reference & 0x8000_0000 != 0 {
            return Err(IndexError::Unsupported("hierarchical sidx"));
        }
        let length = u64::from(reference & 0x7fff_ffff);
        segments.push(Segment {
            range: ByteRange { offset, length },
            duration: f64::from(duration) / f64::from(timescale),
        });
        offset += length;
        at += 12;
    }
    if segments.is_empty() {
        return Err(IndexError::Missing("at least one sidx reference"));
    }
    Ok(segments)
}

/// For every segment, the bytes an I-frame playlist names: from the segment's
/// `moof` through the end of its first sample, which must be a sync sample
/// (a keyframe). That is what HLS I-frame playlists over fragmented MP4
/// address: the `moof`, the `mdat` header and the keyframe's data.
pub fn keyframes(data: &[u8], index: &TrackIndex) -> Result<Vec<ByteRange>, IndexError> {
    index
        .segments
        .iter()
        .map(|segment| keyframe(data, segment.range))
        .collect()
}

/// The keyframe range of one segment starting with a `moof` (ISO/IEC
/// 14496-12 §8.8.7 `tfhd`, §8.8.8 `trun`).
fn keyframe(data: &[u8], segment: ByteRange) -> Result<ByteRange, IndexError> {
    let limit = segment.end().min(data.len() as u64);
    let moof = read_header(data, segment.offset, limit)?;
    if &moof.kind != b"moof" {
        return Err(IndexError::Missing("moof at a segment start"));
    }
    let mdat = read_header(data, moof.end, limit)?;
    if &mdat.kind != b"mdat" {
        return Err(IndexError::Missing("mdat after moof"));
    }
    let traf = child(data, &moof, b"traf")?;
    let tfhd = child(data, &traf, b"tfhd")?;
    let trun = child(data, &traf, b"trun")?;
    let bad = || IndexError::Malformed(traf.start);
    let at = |offset: u64| usize::try_from(offset).map_err(|_| bad());

    // tfhd: version/flags, track_ID, then the optional fields in flag order.
    let tfhd_flags = be_u32(data, at(tfhd.payload)?).ok_or_else(bad)? & 0x00ff_ffff;
    let mut cursor = tfhd.payload + 8;
    let mut base = moof.start;
    if tfhd_flags & 0x01 != 0 {
        base = be_u64(data, at(cursor)?).ok_or_else(bad)?;
        cursor += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        cursor += 4;
    }
    if tfhd_flags & 0x08 != 0 {
        cursor += 4;
    }
    let mut default_size = None;
    if tfhd_flags & 0x10 != 0 {
        default_size = Some(be_u32(data, at(cursor)?).ok_or_else(bad)?);
        cursor += 4;
    }
    let mut sample_flags = None;
    if tfhd_flags & 0x20 != 0 {
        sample_flags = Some(be_u32(data, at(cursor)?).ok_or_else(bad)?);
    }

    // trun: version/flags, sample_count, optional data_offset and first_sample_flags, samples.
    let trun_flags = be_u32(data, at(trun.payload)?).ok_or_else(bad)? & 0x00ff_ffff;
    let count = be_u32(data, at(trun.payload + 4)?).ok_or_else(bad)?;
    if count == 0 {
        return Err(IndexError::Missing("a sample in every fragment"));
    }
    let mut cursor = trun.payload + 8;
    let mut data_offset = 0i64;
    if trun_flags & 0x01 != 0 {
        data_offset = i64::from(be_u32(data, at(cursor)?).ok_or_else(bad)? as i32);
        cursor += 4;
    }
    if trun_flags & 0x04 != 0 {
        sample_flags = Some(be_u32(data, at(cursor)?).ok_or_else(bad)?);
        cursor += 4;
    }
    if trun_flags & 0x100 != 0 {
        cursor += 4;
    }
    let mut size = default_size;
    if trun_flags & 0x200 != 0 {
        size = Some(be_u32(data, at(cursor)?).ok_or_else(bad)?);
        cursor += 4;
    }
    if trun_flags & 0x400 != 0 && trun_flags & 0x04 == 0 {
        sample_flags = Some(be_u32(data, at(cursor)?).ok_or_else(bad)?);
    }
    let size = size.ok_or(IndexError::Unsupported("sample size only in trex"))?;
    // sample_is_non_sync_sample is bit 16 of the sample flags.
    if sample_flags.is_some_and(|flags| flags & 0x0001_0000 != 0) {
        return Err(IndexError::Missing("a keyframe at the fragment start"));
    }
    let start = base.checked_add_signed(data_offset).ok_or_else(bad)?;
    let end = start.checked_add(u64::from(size)).ok_or_else(bad)?;
    if start < mdat.payload || end > mdat.end {
        return Err(IndexError::Malformed(mdat.start));
    }
    Ok(ByteRange {
        offset: moof.start,
        length: end - moof.start,
    })
}

/// The first child box of `parent` with type `kind`.
fn child(data: &[u8], parent: &BoxHeader, kind: &'static [u8; 4]) -> Result<BoxHeader, IndexError> {
    let mut offset = parent.payload;
    while offset < parent.end {
        let header = read_header(data, offset, parent.end)?;
        if &header.kind == kind {
            return Ok(header);
        }
        offset = header.end;
    }
    Err(IndexError::Missing(match kind {
        b"traf" => "traf in moof",
        b"tfhd" => "tfhd in traf",
        _ => "trun in traf",
    }))
}

pub(crate) fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn bmff_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }

    fn sidx(version: u8, timescale: u32, first_offset: u64, refs: &[(u32, u32)]) -> Vec<u8> {
        let mut p = vec![version, 0, 0, 0];
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&timescale.to_be_bytes());
        if version == 0 {
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&(first_offset as u32).to_be_bytes());
        } else {
            p.extend_from_slice(&0u64.to_be_bytes());
            p.extend_from_slice(&first_offset.to_be_bytes());
        }
        p.extend_from_slice(&0u16.to_be_bytes());
        p.extend_from_slice(&(refs.len() as u16).to_be_bytes());
        for &(size, duration) in refs {
            p.extend_from_slice(&size.to_be_bytes());
            p.extend_from_slice(&duration.to_be_bytes());
            p.extend_from_slice(&0x9000_0000u32.to_be_bytes());
        }
        bmff_box(b"sidx", &p)
    }

    /// A file of `ftyp, moov, sidx, (moof, mdat)*` with the given mdat payload sizes.
    fn file(version: u8, timescale: u32, fragments: &[(usize, u32)]) -> Vec<u8> {
        let mut media = Vec::new();
        let mut refs = Vec::new();
        for &(mdat_len, duration) in fragments {
            let start = media.len();
            media.extend(bmff_box(b"moof", &[0; 16]));
            media.extend(bmff_box(b"mdat", &vec![0xAB; mdat_len]));
            refs.push(((media.len() - start) as u32, duration));
        }
        let mut out = bmff_box(b"ftyp", b"iso6cmfc");
        out.extend(bmff_box(b"moov", &[0; 40]));
        out.extend(sidx(version, timescale, 0, &refs));
        out.extend(media);
        out
    }

    #[test]
    fn indexes_a_small_file() {
        let data = file(0, 90_000, &[(100, 180_000), (50, 90_000)]);
        let index = parse(&data).unwrap();
        assert_eq!(
            index.init,
            ByteRange {
                offset: 0,
                length: 16 + 48
            }
        );
        assert_eq!(index.index.offset, 64);
        let first = index.segments[0];
        assert_eq!(first.range.offset, index.index.end());
        assert_eq!(first.range.length, 24 + 108);
        assert_eq!(first.duration, 2.0);
        assert_eq!(index.segments[1].range.offset, first.range.end());
        assert_eq!(index.segments[1].range.end(), data.len() as u64);
        assert_eq!(index.duration(), 3.0);
        assert_eq!(index.peak_bandwidth(), 82 * 8);
    }

    #[test]
    fn rejects_files_without_sidx_or_with_bad_offsets() {
        let mut no_sidx = bmff_box(b"ftyp", b"isom");
        no_sidx.extend(bmff_box(b"moov", &[]));
        no_sidx.extend(bmff_box(b"moof", &[]));
        assert!(parse(&no_sidx).is_err());
        let mut data = file(0, 1000, &[(10, 1000)]);
        data.truncate(data.len() - 1);
        assert!(parse(&data).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&[0, 0, 0, 4, b'f', b't']).is_err());
    }

    #[test]
    fn segment_must_start_with_moof() {
        let mut out = bmff_box(b"ftyp", b"isom");
        out.extend(bmff_box(b"moov", &[]));
        out.extend(sidx(0, 1000, 0, &[(16, 1000)]));
        out.extend(bmff_box(b"mdat", &[0; 8]));
        assert_eq!(
            parse(&out),
            Err(IndexError::Missing("moof at a segment start"))
        );
    }

    proptest! {
        #[test]
        fn segments_are_contiguous_and_match_the_fragments(
            version in 0u8..2,
            timescale in 1u32..1_000_000,
            fragments in prop::collection::vec((0usize..2000, 0u32..10_000_000), 1..20),
        ) {
            let data = file(version, timescale, &fragments);
            let index = parse(&data).unwrap();
            prop_assert_eq!(index.segments.len(), fragments.len());
            prop_assert_eq!(index.init.offset, 0);
            prop_assert_eq!(index.init.end(), index.index.offset);
            let mut expected = index.index.end();
            for (segment, &(mdat_len, duration)) in index.segments.iter().zip(&fragments) {
                prop_assert_eq!(segment.range.offset, expected);
                prop_assert_eq!(segment.range.length, (mdat_len + 32) as u64);
                prop_assert_eq!(&data[segment.range.offset as usize + 4..][..4], b"moof");
                prop_assert!((segment.duration - f64::from(duration) / f64::from(timescale)).abs() < 1e-9);
                expected = segment.range.end();
            }
            prop_assert_eq!(expected, data.len() as u64);
        }

        #[test]
        fn never_panics_on_garbage(data in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&data);
        }
    }
}
