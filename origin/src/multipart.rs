//! `multipart/byteranges` (RFC 9110 §14.6): the layout of a multi-range
//! response, computed up front so the body's exact length is known before
//! any byte is read and the response carries `Content-Length`.

use bytes::Bytes;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

/// One part: its header block and the byte range that follows it.
#[derive(Debug, Clone)]
pub struct Part {
    /// `--boundary`, `Content-Type` and `Content-Range` lines, then a blank line.
    pub head: Bytes,
    /// The slice of the representation this part carries.
    pub range: Range<u64>,
}

/// A planned multipart body.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The boundary string (also in the response's `Content-Type`).
    pub boundary: String,
    /// The parts in order.
    pub parts: Vec<Part>,
    /// The closing delimiter.
    pub tail: Bytes,
    /// Total body length in bytes.
    pub len: u64,
}

impl Layout {
    /// Lays out `ranges` of a representation of `total` bytes and `content_type`.
    pub fn new(ranges: &[Range<u64>], total: u64, content_type: &str) -> Self {
        let boundary = boundary();
        let parts: Vec<Part> = ranges
            .iter()
            .map(|r| Part {
                head: Bytes::from(format!(
                    "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{total}\r\n\r\n",
                    r.start,
                    r.end - 1
                )),
                range: r.clone(),
            })
            .collect();
        let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
        let len = parts
            .iter()
            .map(|p| p.head.len() as u64 + (p.range.end - p.range.start))
            .sum::<u64>()
            + tail.len() as u64;
        Self {
            boundary,
            parts,
            tail,
            len,
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }
}

/// 128 random bits as hex: a boundary that media bytes will not contain.
fn boundary() -> String {
    let word = || RandomState::new().build_hasher().finish();
    format!("goflix-{:016x}{:016x}", word(), word())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_matches_the_assembled_body() {
        let layout = Layout::new(&[0..10, 20..25], 100, "video/mp4");
        let body: Vec<u8> = layout
            .parts
            .iter()
            .flat_map(|p| {
                let mut part = p.head.to_vec();
                part.extend(std::iter::repeat_n(
                    b'x',
                    (p.range.end - p.range.start) as usize,
                ));
                part
            })
            .chain(layout.tail.iter().copied())
            .collect();
        assert_eq!(body.len() as u64, layout.len);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("Content-Range: bytes 0-9/100\r\n"));
        assert!(text.contains("Content-Range: bytes 20-24/100\r\n"));
        assert!(text.ends_with(&format!("--{}--\r\n", layout.boundary)));
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
    }
}
