//! `GOFLIX_FRAME_ANCESTORS`: which sites may frame the embed page, as a
//! checked CSP `frame-ancestors` source list (nothing in it can end the
//! directive or start another).

use std::fmt;

/// `GOFLIX_FRAME_ANCESTORS`: the CSP `frame-ancestors` sources allowed to
/// frame the embed page of a public or unlisted video (`*`, `'self'`,
/// `https://blog.example.com`, `https://*.example.org`, separated by spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameAncestors(String);

/// Why a `frame-ancestors` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFrameAncestors(String);

impl fmt::Display for InvalidFrameAncestors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidFrameAncestors {}

impl Default for FrameAncestors {
    /// Anyone may embed a shared video.
    fn default() -> Self {
        Self("*".to_owned())
    }
}

impl FrameAncestors {
    /// Parses a space-separated source list; each source is `*`, `'self'`,
    /// `'none'` (alone), a scheme (`https:`) or a `scheme://host[:port]`
    /// whose host may start with `*.` — nothing that could end the
    /// directive or add another.
    pub fn parse(value: &str) -> Result<Self, InvalidFrameAncestors> {
        let sources: Vec<&str> = value.split_ascii_whitespace().collect();
        if sources.is_empty() {
            return Err(InvalidFrameAncestors("no source given".to_owned()));
        }
        if sources.contains(&"'none'") && sources.len() > 1 {
            return Err(InvalidFrameAncestors("'none' must stand alone".to_owned()));
        }
        for source in &sources {
            if !valid_source(source) {
                return Err(InvalidFrameAncestors(format!(
                    "{source:?} is not a frame-ancestors source (`*`, `'self'`, `'none'`, `https:` or `https://host[:port]`)"
                )));
            }
        }
        Ok(Self(sources.join(" ")))
    }

    /// The source list, as it goes into the policy.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_source(source: &str) -> bool {
    if matches!(source, "*" | "'self'" | "'none'") {
        return true;
    }
    let Some((scheme, rest)) = source.split_once(':') else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if rest.is_empty() {
        return scheme_ok;
    }
    let Some(authority) = rest.strip_prefix("//") else {
        return false;
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = port.is_none_or(|p| {
        p == "*" || (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    scheme_ok && host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_checked() {
        for ok in [
            "*",
            "'self'",
            "'none'",
            "https:",
            "https://blog.example.com",
            "https://*.example.org:8443 'self'",
        ] {
            assert!(FrameAncestors::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "'none' 'self'",
            "https://a.example; script-src *",
            "https://a.example,b",
            "javascript",
            "https://",
            "'unsafe-inline'",
            "https://a/b",
        ] {
            assert!(FrameAncestors::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            FrameAncestors::parse("  'self'   https://x.example ")
                .unwrap()
                .0,
            "'self' https://x.example"
        );
    }
}
