//! RFC 6381 codec strings, read from the `avcC` box the muxer wrote, so the
//! manifests state exactly the profile and level the encoder chose.

use crate::index::{read_header, BoxHeader, ByteRange, IndexError};

/// AAC-LC, what the audio rendition always carries.
pub const AAC_LC: &str = "mp4a.40.2";

/// Size of a `VisualSampleEntry` before its child boxes (ISO/IEC 14496-12 §12.1.3).
const VISUAL_SAMPLE_ENTRY_LEN: u64 = 78;

/// `avc1.PPCCLL` from the first `avc1`/`avc3` sample entry inside `init`.
pub fn avc1(data: &[u8], init: ByteRange) -> Result<String, IndexError> {
    let moov = find(data, init.offset, init.end(), b"moov")?;
    let trak = find(data, moov.payload, moov.end, b"trak")?;
    let mdia = find(data, trak.payload, trak.end, b"mdia")?;
    let minf = find(data, mdia.payload, mdia.end, b"minf")?;
    let stbl = find(data, minf.payload, minf.end, b"stbl")?;
    let stsd = find(data, stbl.payload, stbl.end, b"stsd")?;
    // stsd: version/flags (4) + entry_count (4), then sample entries.
    let entry = read_header(data, stsd.payload + 8, stsd.end)?;
    if !matches!(&entry.kind, b"avc1" | b"avc3") {
        return Err(IndexError::Missing("an avc1 sample entry"));
    }
    let avcc = find(
        data,
        entry.payload + VISUAL_SAMPLE_ENTRY_LEN,
        entry.end,
        b"avcC",
    )?;
    let at = avcc.payload as usize;
    let bytes = data
        .get(at + 1..at + 4)
        .ok_or(IndexError::Malformed(avcc.start))?;
    Ok(format!(
        "avc1.{:02x}{:02x}{:02x}",
        bytes[0], bytes[1], bytes[2]
    ))
}

/// The first child box of type `kind` between `from` and `to`.
fn find(data: &[u8], from: u64, to: u64, kind: &[u8; 4]) -> Result<BoxHeader, IndexError> {
    let mut offset = from;
    while offset < to {
        let header = read_header(data, offset, to)?;
        if &header.kind == kind {
            return Ok(header);
        }
        offset = header.end;
    }
    Err(IndexError::Missing("a box in the sample description"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::bmff_box;

    #[test]
    fn reads_profile_compatibility_and_level_from_avcc() {
        let avcc = bmff_box(b"avcC", &[1, 0x64, 0x00, 0x1f, 0xff]);
        let mut entry = vec![0; VISUAL_SAMPLE_ENTRY_LEN as usize];
        entry.extend(avcc);
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(bmff_box(b"avc1", &entry));
        let stbl = bmff_box(b"stbl", &bmff_box(b"stsd", &stsd));
        let trak = bmff_box(b"trak", &bmff_box(b"mdia", &bmff_box(b"minf", &stbl)));
        let mut data = bmff_box(b"ftyp", b"iso6");
        data.extend(bmff_box(b"moov", &trak));
        let init = ByteRange {
            offset: 0,
            length: data.len() as u64,
        };
        assert_eq!(avc1(&data, init).unwrap(), "avc1.64001f");
        assert!(avc1(&data[..data.len() - 3], init).is_err());
    }
}
