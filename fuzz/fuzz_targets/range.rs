//! `Range` headers against a representation length: the parser never
//! panics, and every range it returns is non-empty, inside the
//! representation, apart from every other one, and at most `MAX_RANGES`.

#![no_main]

use goflix_origin::range::{self, RangeRequest, MAX_RANGES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first eight bytes are the length; small ones are the interesting edge.
    let (len, header) = match data.split_first_chunk::<8>() {
        Some((len, rest)) => (u64::from_le_bytes(*len) >> (len[0] % 64), rest),
        None => (0, data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let RangeRequest::Ranges(ranges) = range::parse(header, len) {
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES, "{ranges:?}");
        for r in &ranges {
            assert!(r.start < r.end && r.end <= len, "{r:?} of {len}");
        }
        let mut sorted = ranges.clone();
        sorted.sort_unstable_by_key(|r| r.start);
        for pair in sorted.windows(2) {
            assert!(pair[0].end < pair[1].start, "{ranges:?} overlap or touch");
        }
    }
});
