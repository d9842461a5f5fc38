//! Enums that travel by name (in JSON, columns, metric labels): the
//! [`wire_name!`] macro gives one `Display` (the name) and one `FromStr`
//! (only the exact names) to an enum with an `as_str`.

/// Implements `Display` as `as_str()` and `FromStr` accepting only the
/// names of the values `$all` yields, refusing others with `$refusal(s)`.
macro_rules! wire_name {
    ($type:ty, $all:expr, $refusal:expr) => {
        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $type {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $all.into_iter()
                    .find(|value: &$type| value.as_str() == s)
                    .ok_or_else(|| $refusal(s))
            }
        }
    };
}

pub(crate) use wire_name;
