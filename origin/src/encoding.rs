//! Content negotiation for manifests (RFC 9110 §12.5.3): whether the
//! client's `Accept-Encoding` allows gzip. Media is never compressed.

use actix_web::http::header::{HeaderMap, ACCEPT_ENCODING};

/// Whether `gzip` is acceptable: named (or `x-gzip`) with a non-zero
/// weight, or covered by `*` with a non-zero weight and not refused by name.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut named = None;
    let mut wildcard = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for item in value.split(',') {
            let mut params = item.split(';');
            let coding = params.next().unwrap_or_default().trim();
            let accepted = params
                .filter_map(|p| p.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .is_none_or(|(_, q)| q_nonzero(q.trim()));
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                named = Some(named.unwrap_or(false) || accepted);
            } else if coding == "*" {
                wildcard = Some(accepted);
            }
        }
    }
    named.or(wildcard).unwrap_or(false)
}

/// Whether a qvalue (`0`, `0.5`, `1.000`) is above zero; malformed is zero.
fn q_nonzero(q: &str) -> bool {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    let well_formed =
        matches!(int, "0" | "1") && frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
    well_formed && (int == "1" || frac.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts("gzip"));
        assert!(accepts("br, gzip;q=0.5, deflate"));
        assert!(accepts("GZIP"));
        assert!(accepts("*"));
        assert!(accepts("x-gzip"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("gzip;q=0.000"));
        assert!(!accepts("*;q=0"));
        assert!(!accepts("gzip;q=0, *"));
        assert!(!accepts("identity"));
        assert!(!accepts("br"));
        assert!(!accepts(""));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
