//! Conditional requests (RFC 9110 §13): entity-tag comparison, HTTP dates,
//! and the precondition order `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since`; plus `If-Range`, which decides
//! whether a `Range` header is honoured.

use actix_web::http::header::{
    HeaderMap, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of the representation a request would get.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The strong entity tag, quotes included (`"abc"`).
    pub etag: &'a str,
    /// The modification time, if known.
    pub last_modified: Option<SystemTime>,
}

/// What the preconditions of a GET or HEAD say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the representation.
    Proceed,
    /// `304 Not Modified`: the client's copy is current.
    NotModified,
    /// `412 Precondition Failed`.
    Failed,
}

/// Evaluates the preconditions of a GET or HEAD in RFC 9110 §13.2.2 order.
pub fn evaluate(headers: &HeaderMap, v: Validators<'_>) -> Precondition {
    if let Some(value) = header_text(headers, IF_MATCH.as_str()) {
        if !matches_list(&value, v.etag, Compare::Strong) {
            return Precondition::Failed;
        }
    } else if let (Some(since), Some(modified)) = (
        header_date(headers, IF_UNMODIFIED_SINCE.as_str()),
        v.last_modified,
    ) {
        if seconds(modified) > since {
            return Precondition::Failed;
        }
    }
    if let Some(value) = header_text(headers, IF_NONE_MATCH.as_str()) {
        if matches_list(&value, v.etag, Compare::Weak) {
            return Precondition::NotModified;
        }
    } else if let (Some(since), Some(modified)) = (
        header_date(headers, IF_MODIFIED_SINCE.as_str()),
        v.last_modified,
    ) {
        if seconds(modified) <= since {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether a `Range` header may be honoured: no `If-Range`, or one that
/// names the current representation (strong tag match, or exactly its date).
pub fn range_applies(headers: &HeaderMap, v: Validators<'_>) -> bool {
    let Some(value) = header_text(headers, IF_RANGE.as_str()) else {
        return true;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return matches!(entity_tags(value).as_deref(), Some([tag]) if compare(tag, v.etag, Compare::Strong));
    }
    match (parse_date(value), v.last_modified) {
        (Some(date), Some(modified)) => seconds(modified) == date,
        _ => false,
    }
}

/// Formats a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

#[derive(Clone, Copy)]
enum Compare {
    Strong,
    Weak,
}

fn compare(tag: &str, ours: &str, how: Compare) -> bool {
    match how {
        Compare::Strong => !tag.starts_with("W/") && tag == ours,
        Compare::Weak => tag.trim_start_matches("W/") == ours.trim_start_matches("W/"),
    }
}

/// Whether an `If-Match` / `If-None-Match` value (`*` or a tag list) matches `ours`.
/// A malformed list matches nothing.
fn matches_list(value: &str, ours: &str, how: Compare) -> bool {
    if value.trim() == "*" {
        return true;
    }
    entity_tags(value).is_some_and(|tags| tags.iter().any(|tag| compare(tag, ours, how)))
}

/// Splits a comma-separated list of entity tags (`W/"a", "b"`); `None` if malformed.
fn entity_tags(value: &str) -> Option<Vec<&str>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return (!tags.is_empty()).then_some(tags);
        }
        let prefix = if rest.starts_with("W/") { 2 } else { 0 };
        let body = rest[prefix..].strip_prefix('"')?;
        let close = body.find('"')?;
        let (tag, after) = rest.split_at(prefix + 1 + close + 1);
        if !tag[prefix + 1..tag.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        {
            return None;
        }
        tags.push(tag);
        let after_trimmed = after.trim_start_matches([' ', '\t']);
        if !(after_trimmed.is_empty() || after_trimmed.starts_with(',')) {
            return None;
        }
        rest = after_trimmed;
    }
}

/// A header's value, with repeated field lines joined into one list
/// (RFC 9110 §5.3); bytes that are not visible ASCII become U+FFFD.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut text: Option<String> = None;
    for value in headers.get_all(name) {
        let value = String::from_utf8_lossy(value.as_bytes());
        match text.as_mut() {
            None => text = Some(value.into_owned()),
            Some(joined) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
        }
    }
    text
}

fn header_date(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_text(headers, name).as_deref().and_then(parse_date)
}

/// An HTTP-date as whole seconds since the epoch.
fn parse_date(value: &str) -> Option<u64> {
    httpdate::parse_http_date(value.trim()).ok().map(seconds)
}

/// HTTP dates have one-second resolution.
fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const ETAG: &str = "\"abc\"";

    fn v() -> Validators<'static> {
        Validators {
            etag: ETAG,
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_000_000_000)),
        }
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        for value in [
            "\"abc\"",
            "W/\"abc\"",
            "\"x\", W/\"abc\"",
            "*",
            " \"x\" ,\"abc\"",
        ] {
            let h = headers(&[(&IF_NONE_MATCH, value)]);
            assert_eq!(evaluate(&h, v()), Precondition::NotModified, "{value}");
        }
        for value in ["\"abd\"", "abc", "\"abc", ""] {
            let h = headers(&[(&IF_NONE_MATCH, value)]);
            assert_eq!(evaluate(&h, v()), Precondition::Proceed, "{value}");
        }
    }

    #[test]
    fn if_match_uses_strong_comparison() {
        let h = headers(&[(&IF_MATCH, "W/\"abc\"")]);
        assert_eq!(evaluate(&h, v()), Precondition::Failed);
        let h = headers(&[(&IF_MATCH, "\"abc\"")]);
        assert_eq!(evaluate(&h, v()), Precondition::Proceed);
    }

    #[test]
    fn dates_compare_at_second_resolution() {
        let at = http_date(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
        let h = headers(&[(&IF_MODIFIED_SINCE, at.as_str())]);
        assert_eq!(evaluate(&h, v()), Precondition::NotModified);
        let earlier = http_date(UNIX_EPOCH + Duration::from_secs(999_999_999));
        let h = headers(&[(&IF_MODIFIED_SINCE, earlier.as_str())]);
        assert_eq!(evaluate(&h, v()), Precondition::Proceed);
        // If-None-Match takes precedence over If-Modified-Since.
        let h = headers(&[
            (&IF_NONE_MATCH, "\"other\""),
            (&IF_MODIFIED_SINCE, at.as_str()),
        ]);
        assert_eq!(evaluate(&h, v()), Precondition::Proceed);
        let h = headers(&[(&IF_UNMODIFIED_SINCE, earlier.as_str())]);
        assert_eq!(evaluate(&h, v()), Precondition::Failed);
        let h = headers(&[(&IF_MODIFIED_SINCE, "yesterday")]);
        assert_eq!(evaluate(&h, v()), Precondition::Proceed);
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        assert!(range_applies(&HeaderMap::new(), v()));
        assert!(range_applies(&headers(&[(&IF_RANGE, "\"abc\"")]), v()));
        assert!(!range_applies(&headers(&[(&IF_RANGE, "W/\"abc\"")]), v()));
        assert!(!range_applies(&headers(&[(&IF_RANGE, "\"old\"")]), v()));
        assert!(!range_applies(
            &headers(&[(&IF_RANGE, "\"abc\", \"x\"")]),
            v()
        ));
        let at = http_date(UNIX_EPOCH + Duration::from_secs(1_000_000_000));
        assert!(range_applies(&headers(&[(&IF_RANGE, at.as_str())]), v()));
        let later = http_date(UNIX_EPOCH + Duration::from_secs(1_000_000_001));
        assert!(!range_applies(
            &headers(&[(&IF_RANGE, later.as_str())]),
            v()
        ));
        assert!(!range_applies(&headers(&[(&IF_RANGE, "garbage")]), v()));
    }
}
