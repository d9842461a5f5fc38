//! The `Range` request header (RFC 9110 §14.2): parses a `bytes=` range set
//! against a representation length into the byte ranges to send.
//!
//! The parser is total and bounded: it never panics, numbers too large for
//! a `u64` saturate (which gives the RFC's meaning: a first position past
//! the end, a last position clamped to the end, a suffix covering
//! everything), and a header naming more than [`MAX_SPECS`] ranges, or more
//! than [`MAX_RANGES`] after coalescing, is ignored so the full
//! representation is sent instead.

use std::ops::Range;

/// Range specs read before a header is judged abusive and ignored.
pub const MAX_SPECS: usize = 100;

/// Ranges served in one `multipart/byteranges` response, after coalescing.
pub const MAX_RANGES: usize = 16;

/// Ranges closer than this many bytes are merged: a part header costs about as much.
const COALESCE_GAP: u64 = 80;

/// What a `Range` header asks of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole representation (no header, another unit, malformed, or too many ranges).
    Full,
    /// Send these ranges: one means a single-part `206`, more a multipart one.
    /// Never empty; each range is non-empty and inside the representation.
    Ranges(Vec<Range<u64>>),
    /// Every range lies outside the representation: `416`.
    Unsatisfiable,
}

/// Interprets `header` (the raw `Range` value) for a representation of `len` bytes.
pub fn parse(header: &str, len: u64) -> RangeRequest {
    let Some((unit, set)) = header.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    let mut ranges = Vec::new();
    let mut specs = 0usize;
    // The `#` list rule allows empty elements ("0-1,,5-6"); skip them.
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        specs += 1;
        if specs > MAX_SPECS {
            return RangeRequest::Full;
        }
        match parse_spec(spec, len) {
            Spec::Invalid => return RangeRequest::Full,
            Spec::Unsatisfiable => {}
            Spec::Satisfiable(range) => ranges.push(range),
        }
    }
    if specs == 0 {
        return RangeRequest::Full;
    }
    if ranges.is_empty() {
        return RangeRequest::Unsatisfiable;
    }
    let ranges = coalesce(ranges);
    if ranges.len() > MAX_RANGES {
        return RangeRequest::Full;
    }
    RangeRequest::Ranges(ranges)
}

enum Spec {
    Invalid,
    Unsatisfiable,
    Satisfiable(Range<u64>),
}

fn parse_spec(spec: &str, len: u64) -> Spec {
    let Some((first, last)) = spec.split_once('-') else {
        return Spec::Invalid;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // suffix-range: the last `n` bytes.
        let Some(suffix) = digits(last) else {
            return Spec::Invalid;
        };
        if suffix == 0 || len == 0 {
            return Spec::Unsatisfiable;
        }
        return Spec::Satisfiable(len - suffix.min(len)..len);
    }
    let Some(first) = digits(first) else {
        return Spec::Invalid;
    };
    let last = if last.is_empty() {
        None
    } else {
        match digits(last) {
            Some(last) if last >= first => Some(last),
            _ => return Spec::Invalid,
        }
    };
    if first >= len {
        return Spec::Unsatisfiable;
    }
    let end = last.map_or(len, |last| last.saturating_add(1).min(len));
    Spec::Satisfiable(first..end)
}

/// A run of ASCII digits as a saturating `u64`; `None` if empty or not all digits.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// Merges overlapping or nearly adjacent ranges. When nothing merges, the
/// requested order is kept; otherwise the result is in ascending order.
fn coalesce(ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    if ranges.len() < 2 {
        return ranges;
    }
    let mut sorted = ranges.clone();
    sorted.sort_unstable_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(prev) if range.start <= prev.end.saturating_add(COALESCE_GAP) => {
                prev.end = prev.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    if merged.len() == ranges.len() {
        ranges
    } else {
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn single(header: &str, len: u64) -> Range<u64> {
        match ranges(header, len).as_slice() {
            [one] => one.clone(),
            more => panic!("{header:?} gave {more:?}"),
        }
    }

    fn ranges(header: &str, len: u64) -> Vec<Range<u64>> {
        match parse(header, len) {
            RangeRequest::Ranges(r) => r,
            other => panic!("{header:?} gave {other:?}"),
        }
    }

    #[test]
    fn single_ranges() {
        assert_eq!(single("bytes=0-0", 10), 0..1);
        assert_eq!(single("bytes=2-5", 10), 2..6);
        assert_eq!(single("bytes=2-", 10), 2..10);
        assert_eq!(single("bytes=-3", 10), 7..10);
        assert_eq!(single("bytes=-30", 10), 0..10);
        assert_eq!(single("bytes=5-100", 10), 5..10);
        assert_eq!(single("Bytes = 1-2", 10), 1..3);
        assert_eq!(single("bytes= 1 - 2 ", 10), 1..3);
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse("bytes=10-", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=10-20", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 10), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse("bytes=20-30,40-", 10), RangeRequest::Unsatisfiable);
        // One satisfiable spec is enough.
        assert_eq!(single("bytes=20-30,1-2", 10), 1..3);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-2",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=0x1-2",
            "bytes=1--2",
            "bytes=--1",
            "bytes=0-1,garbage",
            "items=0-1",
            "garbage",
            "bytes=١-٢",
        ] {
            assert_eq!(parse(header, 10), RangeRequest::Full, "{header:?}");
        }
    }

    #[test]
    fn huge_numbers_saturate_without_panicking() {
        let huge = "99999999999999999999999";
        assert_eq!(
            parse(&format!("bytes={huge}-"), 10),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(single(&format!("bytes=0-{huge}"), 10), 0..10);
        assert_eq!(single(&format!("bytes=-{huge}"), 10), 0..10);
        assert_eq!(
            single(&format!("bytes=0-{}", u64::MAX), u64::MAX),
            0..u64::MAX
        );
        assert_eq!(
            single(&format!("bytes=-{}", u64::MAX), u64::MAX),
            0..u64::MAX
        );
        let long_digits = "9".repeat(10_000);
        assert_eq!(
            parse(&format!("bytes={long_digits}-"), 10),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn multiple_ranges_keep_order_unless_merged() {
        assert_eq!(ranges("bytes=500-599,0-99", 1000), [500..600, 0..100]);
        assert_eq!(single("bytes=0-99,50-149", 1000), 0..150);
        // Adjacent or nearly adjacent ranges merge too.
        assert_eq!(single("bytes=0-9,10-19", 1000), 0..20);
        assert_eq!(ranges("bytes=0-0,,-1", 1000), [0..1, 999..1000]);
    }

    #[test]
    fn abusive_range_sets_are_ignored_or_collapsed() {
        let overlapping = vec!["0-"; 500].join(",");
        assert_eq!(
            parse(&format!("bytes={overlapping}"), 1000),
            RangeRequest::Full
        );
        let few_overlapping = vec!["0-999"; 50].join(",");
        assert_eq!(single(&format!("bytes={few_overlapping}"), 1000), 0..1000);
        let scattered = (0..17)
            .map(|i| format!("{0}-{0}", i * 1000))
            .collect::<Vec<_>>();
        assert_eq!(
            parse(&format!("bytes={}", scattered.join(",")), 100_000),
            RangeRequest::Full
        );
        let sixteen = (0..16)
            .map(|i| format!("{0}-{0}", i * 1000))
            .collect::<Vec<_>>();
        assert_eq!(
            ranges(&format!("bytes={}", sixteen.join(",")), 100_000).len(),
            16
        );
    }

    /// The slice a single valid spec names, computed independently.
    fn oracle(spec: &SpecCase, len: u64) -> Option<Range<u64>> {
        match *spec {
            SpecCase::FromTo(a, b) => (a < len).then(|| a..(b + 1).min(len)),
            SpecCase::From(a) => (a < len).then_some(a..len),
            SpecCase::Suffix(n) => (n > 0 && len > 0).then(|| len.saturating_sub(n)..len),
        }
    }

    /// The ranges a multi-range request is served as, computed independently:
    /// the requested ranges in ascending order, each merged into the one
    /// before it when it starts at most [`COALESCE_GAP`] bytes past its end.
    fn merged_oracle(wanted: &[Range<u64>]) -> Vec<Range<u64>> {
        let mut sorted = wanted.to_vec();
        sorted.sort_by_key(|r| (r.start, r.end));
        let mut merged: Vec<Range<u64>> = Vec::new();
        for r in sorted {
            match merged.last_mut() {
                Some(last) if r.start <= last.end + COALESCE_GAP => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }

    #[derive(Debug, Clone)]
    enum SpecCase {
        FromTo(u64, u64),
        From(u64),
        Suffix(u64),
    }

    impl SpecCase {
        fn header(&self) -> String {
            match self {
                Self::FromTo(a, b) => format!("bytes={a}-{b}"),
                Self::From(a) => format!("bytes={a}-"),
                Self::Suffix(n) => format!("bytes=-{n}"),
            }
        }
    }

    fn spec_case() -> impl Strategy<Value = SpecCase> {
        prop_oneof![
            (0u64..300, 0u64..300).prop_map(|(a, d)| SpecCase::FromTo(a, a + d)),
            (0u64..300).prop_map(SpecCase::From),
            (0u64..300).prop_map(SpecCase::Suffix),
        ]
    }

    proptest! {
        #[test]
        fn valid_single_ranges_match_the_oracle(
            data in proptest::collection::vec(any::<u8>(), 0..256),
            spec in spec_case(),
        ) {
            let len = data.len() as u64;
            match (parse(&spec.header(), len), oracle(&spec, len)) {
                (RangeRequest::Ranges(got), Some(want)) => {
                    prop_assert_eq!(got.len(), 1);
                    let got = &got[0];
                    prop_assert_eq!(got, &want);
                    let slice = &data[got.start as usize..got.end as usize];
                    prop_assert_eq!(slice, &data[want.start as usize..want.end as usize]);
                }
                (RangeRequest::Unsatisfiable, None) => {}
                (got, want) => prop_assert!(false, "{:?}: got {:?}, want {:?}", spec, got, want),
            }
        }

        #[test]
        fn multiple_ranges_cover_exactly_the_requested_bytes(
            len in 0u64..2000,
            specs in proptest::collection::vec(spec_case(), 1..40),
        ) {
            let header = format!(
                "bytes={}",
                specs.iter().map(|s| s.header()["bytes=".len()..].to_string()).collect::<Vec<_>>().join(", ")
            );
            let wanted: Vec<Range<u64>> = specs.iter().filter_map(|s| oracle(s, len)).collect();
            let merged = merged_oracle(&wanted);
            match parse(&header, len) {
                RangeRequest::Unsatisfiable => prop_assert!(wanted.is_empty()),
                // Only a set too scattered to serve is answered whole.
                RangeRequest::Full => prop_assert!(merged.len() > MAX_RANGES, "{:?}", merged),
                RangeRequest::Ranges(got) => {
                    // Exactly the requested bytes, merged across small gaps:
                    // in the requested order when nothing merged, else ascending.
                    if merged.len() == wanted.len() {
                        prop_assert_eq!(got, wanted);
                    } else {
                        prop_assert_eq!(got, merged);
                    }
                }
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(header in "\\PC{0,200}", len in any::<u64>()) {
            if let RangeRequest::Ranges(got) = parse(&header, len) {
                prop_assert!(!got.is_empty() && got.len() <= MAX_RANGES);
                for r in got {
                    prop_assert!(r.start < r.end && r.end <= len);
                }
            }
        }

        #[test]
        fn range_like_garbage_never_panics(
            header in "(bytes|BYTES|items)?=?[0-9, -]{0,120}",
            len in any::<u64>(),
        ) {
            let _ = parse(&header, len);
        }
    }
}
