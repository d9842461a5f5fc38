//! Content negotiation for manifests (RFC 9110 §12.5.3): which content
//! coding, if any, the client's `Accept-Encoding` asks for. Media is never
//! compressed.

use actix_web::http::header::{HeaderMap, ACCEPT_ENCODING};

/// A content coding the origin applies to manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `br` (RFC 7932): the smaller, preferred on a tie.
    Brotli,
    /// `gzip`.
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        }
    }

    /// What the `ETag` of a variant in this coding ends with, so every
    /// coding of a manifest has a tag of its own.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Self::Brotli => "-br",
            Self::Gzip => "-gz",
        }
    }
}

/// The coding to answer with: among `br` and `gzip` (or `x-gzip`), each
/// acceptable when named, or covered by `*`, with a non-zero weight, the one
/// with the higher weight, `br` on a tie; `None` for identity.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let (mut brotli, mut gzip, mut wildcard) = (None, None, None);
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for item in value.split(',') {
            let mut params = item.split(';');
            let coding = params.next().unwrap_or_default().trim();
            let weight = params
                .filter_map(|p| p.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .map_or(1000, |(_, q)| qvalue(q.trim()));
            let slot = if coding.eq_ignore_ascii_case("br") {
                &mut brotli
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if coding == "*" {
                &mut wildcard
            } else {
                continue;
            };
            *slot = Some(slot.unwrap_or(0).max(weight));
        }
    }
    let brotli = brotli.or(wildcard).unwrap_or(0);
    let gzip = gzip.or(wildcard).unwrap_or(0);
    match (brotli, gzip) {
        (0, 0) => None,
        (b, g) if b >= g => Some(Coding::Brotli),
        _ => Some(Coding::Gzip),
    }
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths; malformed is zero.
fn qvalue(q: &str) -> u16 {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match int {
        "1" => 1000,
        "0" => frac
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0, |n, digit| n * 10 + u16::from(digit - b'0')),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn chosen(value: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn negotiation_prefers_the_higher_weight_then_brotli() {
        use Coding::{Brotli, Gzip};
        assert_eq!(chosen("gzip"), Some(Gzip));
        assert_eq!(chosen("GZIP"), Some(Gzip));
        assert_eq!(chosen("x-gzip"), Some(Gzip));
        assert_eq!(chosen("br"), Some(Brotli));
        assert_eq!(chosen("gzip, deflate, br"), Some(Brotli));
        assert_eq!(chosen("br;q=0.5, gzip"), Some(Gzip));
        assert_eq!(chosen("br, gzip;q=0.5, deflate"), Some(Brotli));
        assert_eq!(chosen("br;q=0.05, gzip;q=0.049"), Some(Brotli));
        assert_eq!(chosen("br;q=0, gzip"), Some(Gzip));
        assert_eq!(chosen("*"), Some(Brotli));
        assert_eq!(chosen("br;q=0, *"), Some(Gzip));
        assert_eq!(chosen("gzip;q=0.2, *;q=0.5"), Some(Brotli));
        assert_eq!(chosen("gzip;q=0"), None);
        assert_eq!(chosen("gzip;q=0.000"), None);
        assert_eq!(chosen("gzip;q=2"), None);
        assert_eq!(chosen("gzip;q=0.5x"), None);
        assert_eq!(chosen("*;q=0"), None);
        assert_eq!(chosen("gzip;q=0, br;q=0, *"), None);
        assert_eq!(chosen("identity"), None);
        assert_eq!(chosen(""), None);
        assert_eq!(negotiate(&HeaderMap::new()), None);
    }

    #[test]
    fn qvalues_are_thousandths() {
        assert_eq!(qvalue("1"), 1000);
        assert_eq!(qvalue("1.000"), 1000);
        assert_eq!(qvalue("0.5"), 500);
        assert_eq!(qvalue("0.05"), 50);
        assert_eq!(qvalue("0.001"), 1);
        assert_eq!(qvalue("0"), 0);
        assert_eq!(qvalue("0.0001"), 0);
        assert_eq!(qvalue(".5"), 0);
    }
}
