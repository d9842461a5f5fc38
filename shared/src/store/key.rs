//! Validated object keys: `/`-separated segments of `[A-Za-z0-9._-]`, none
//! empty, none starting with a dot. Whatever a request asks for, a key can
//! never name a path outside the store's root.

use std::fmt;

/// A key that is safe as a relative path on every backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// The reason a string is not a valid key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object key {0:?}")]
pub struct InvalidKey(pub String);

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;

impl ObjectKey {
    /// Validates `key`.
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidKey> {
        let key = key.into();
        if is_valid(&key) {
            Ok(Self(key))
        } else {
            Err(InvalidKey(key))
        }
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_keys_are_refused() {
        for bad in [
            "", "/abs", "a//b", "..", "a/../b", "a/./b", ".hidden", "a\\b", "a\0b", "a/b/",
            "%2e%2e", "a b", "ä",
        ] {
            assert!(ObjectKey::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ObjectKey::new("x".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(ObjectKey::new("media/abc/v1/720p.mp4").is_ok());
    }

    proptest! {
        #[test]
        fn valid_keys_never_escape(key in "\\PC{0,64}") {
            if let Ok(k) = ObjectKey::new(key) {
                let path = std::path::Path::new(k.as_str());
                prop_assert!(path.is_relative());
                prop_assert!(path.components().all(|c| matches!(c, std::path::Component::Normal(_))));
            }
        }
    }
}
