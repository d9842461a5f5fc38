//! RFC 6381 codec strings, read from the `avcC`, `av1C` or `hvcC` box the
//! muxer wrote, so the manifests state exactly the profile and level the
//! encoder chose.

use crate::index::{read_header, BoxHeader, ByteRange, IndexError};

/// AAC-LC, what the audio rendition always carries.
pub const AAC_LC: &str = "mp4a.40.2";

/// Size of a `VisualSampleEntry` before its child boxes (ISO/IEC 14496-12 §12.1.3).
const VISUAL_SAMPLE_ENTRY_LEN: u64 = 78;

/// The codec string of the first video sample entry inside `init`:
/// `avc1.PPCCLL` for H.264 (`avc1`/`avc3`), `av01.P.LLT.DD` for AV1,
/// `hvc1.P.C.TLL.CC…` for HEVC (`hvc1`/`hev1`).
pub fn video(data: &[u8], init: ByteRange) -> Result<String, IndexError> {
    let moov = find(data, init.offset, init.end(), b"moov")?;
    let trak = find(data, moov.payload, moov.end, b"trak")?;
    let mdia = find(data, trak.payload, trak.end, b"mdia")?;
    let minf = find(data, mdia.payload, mdia.end, b"minf")?;
    let stbl = find(data, minf.payload, minf.end, b"stbl")?;
    let stsd = find(data, stbl.payload, stbl.end, b"stsd")?;
    // stsd: version/flags (4) + entry_count (4), then sample entries.
    let entry = read_header(data, stsd.payload + 8, stsd.end)?;
    let children = entry.payload + VISUAL_SAMPLE_ENTRY_LEN;
    // The first bytes of the configuration record after its own first byte.
    fn record<const N: usize>(
        data: &[u8],
        children: u64,
        entry: &BoxHeader,
        kind: &[u8; 4],
    ) -> Result<[u8; N], IndexError> {
        let config = find(data, children, entry.end, kind)?;
        let at = config.payload as usize;
        data.get(at + 1..at + 1 + N)
            .filter(|_| config.payload + 1 + N as u64 <= config.end)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(IndexError::Malformed(config.start))
    }
    match &entry.kind {
        b"avc1" | b"avc3" => {
            let [profile, compatibility, level] = record(data, children, &entry, b"avcC")?;
            Ok(format!("avc1.{profile:02x}{compatibility:02x}{level:02x}"))
        }
        b"av01" => {
            let [profile_level, flags, _] = record(data, children, &entry, b"av1C")?;
            Ok(av01(profile_level, flags))
        }
        kind @ (b"hvc1" | b"hev1") => {
            let general = record(data, children, &entry, b"hvcC")?;
            Ok(hevc(kind, general))
        }
        _ => Err(IndexError::Missing("an avc1, av01 or hvc1 sample entry")),
    }
}

/// `hvc1.P.C.TLL.CC…` (ISO/IEC 14496-15 Annex E) from the `hvcC` bytes
/// after its version: the profile space, tier and profile, the 32
/// profile-compatibility flags (written in reverse bit order, in hex), the
/// level, and the six constraint-flag bytes in hex, trailing zero bytes
/// left out.
fn hevc(kind: &[u8; 4], general: [u8; 12]) -> String {
    let space = ["", "A", "B", "C"][usize::from(general[0] >> 6)];
    let tier = if general[0] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = general[0] & 0x1f;
    let compatibility = u32::from_be_bytes([general[1], general[2], general[3], general[4]]);
    let level = general[11];
    let constraints = &general[5..11];
    let kept = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    let mut codec = format!(
        "{}.{space}{profile}.{:X}.{tier}{level}",
        String::from_utf8_lossy(kind),
        compatibility.reverse_bits()
    );
    for byte in &constraints[..kept] {
        codec.push_str(&format!(".{byte:02X}"));
    }
    codec
}

/// `av01.P.LLT.DD` (AV1 Codec ISO Media File Format Binding, Annex A) from
/// the `av1C` bytes holding `seq_profile`/`seq_level_idx_0` and
/// `seq_tier_0`/`high_bitdepth`/`twelve_bit`.
fn av01(profile_level: u8, flags: u8) -> String {
    let profile = profile_level >> 5;
    let level = profile_level & 0x1f;
    let tier = if flags & 0x80 != 0 { 'H' } else { 'M' };
    let depth = match (flags & 0x40 != 0, flags & 0x20 != 0) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    format!("av01.{profile}.{level:02}{tier}.{depth:02}")
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

    /// An init section whose one sample entry `kind` holds `config`.
    fn init_with(kind: &[u8; 4], config: Vec<u8>) -> (Vec<u8>, ByteRange) {
        let mut entry = vec![0; VISUAL_SAMPLE_ENTRY_LEN as usize];
        entry.extend(config);
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(bmff_box(kind, &entry));
        let stbl = bmff_box(b"stbl", &bmff_box(b"stsd", &stsd));
        let trak = bmff_box(b"trak", &bmff_box(b"mdia", &bmff_box(b"minf", &stbl)));
        let mut data = bmff_box(b"ftyp", b"iso6");
        data.extend(bmff_box(b"moov", &trak));
        let init = ByteRange {
            offset: 0,
            length: data.len() as u64,
        };
        (data, init)
    }

    #[test]
    fn reads_profile_compatibility_and_level_from_avcc() {
        let (data, init) = init_with(b"avc1", bmff_box(b"avcC", &[1, 0x64, 0x00, 0x1f, 0xff]));
        assert_eq!(video(&data, init).unwrap(), "avc1.64001f");
        assert!(video(&data[..data.len() - 3], init).is_err());
    }

    #[test]
    fn reads_profile_level_tier_and_depth_from_av1c() {
        // Main profile (0), level 4.0 (idx 8), Main tier, 8 bits, 4:2:0.
        let (data, init) = init_with(b"av01", bmff_box(b"av1C", &[0x81, 0x08, 0x0c, 0x00]));
        assert_eq!(video(&data, init).unwrap(), "av01.0.08M.08");
        // High profile (1), level 5.1 (idx 13), High tier, 10 bits.
        let (data, init) = init_with(b"av01", bmff_box(b"av1C", &[0x81, 0x2d, 0xc0, 0x00]));
        assert_eq!(video(&data, init).unwrap(), "av01.1.13H.10");
        assert_eq!(av01(0x48, 0x60), "av01.2.08M.12");
        let (data, init) = init_with(b"vp09", bmff_box(b"vpcC", &[1, 2, 3, 4]));
        assert!(video(&data, init).is_err());
    }

    #[test]
    fn reads_profile_compatibility_tier_level_and_constraints_from_hvcc() {
        // Main (1), compatible with Main and Main 10, Main tier, level 3.1
        // (93), progressive and frame-only: Apple's `hvc1.1.6.L93.B0`.
        let mut hvcc = vec![1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93];
        hvcc.extend([0xf0, 0x00, 0xfc]);
        let (data, init) = init_with(b"hvc1", bmff_box(b"hvcC", &hvcc));
        assert_eq!(video(&data, init).unwrap(), "hvc1.1.6.L93.B0");
        // Main 10 (2), High tier, level 5.1 (153), profile space 1, two
        // constraint bytes, in a `hev1` entry.
        let hvcc = [1, 0x62, 0x20, 0, 0, 0, 0x90, 0x01, 0, 0, 0, 0, 153];
        let (data, init) = init_with(b"hev1", bmff_box(b"hvcC", &hvcc));
        assert_eq!(video(&data, init).unwrap(), "hev1.A2.4.H153.90.01");
        assert_eq!(
            hevc(b"hvc1", [0x01, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 120]),
            "hvc1.1.2.L120"
        );
        // A record cut short is malformed, not read past its box.
        let (data, init) = init_with(b"hvc1", bmff_box(b"hvcC", &hvcc[..12]));
        assert!(video(&data, init).is_err());
    }
}
