//! Who may do what: a user's [`Role`] and a service client's [`Scope`]s,
//! with the wire names tokens, the API and the database carry.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do.
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including other users' videos.
    Admin,
    /// Uploads and manages their own videos.
    Uploader,
    /// Reads public videos.
    Viewer,
}

impl Role {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Uploader => "uploader",
            Self::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "uploader" => Ok(Self::Uploader),
            "viewer" => Ok(Self::Viewer),
            other => Err(format!(
                "role must be admin, uploader or viewer, not {other:?}"
            )),
        }
    }
}

/// What a service client may be granted. Ordered as its wire names sort,
/// so a sorted list of scopes reads the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read videos like a viewer (`videos:read`).
    VideosRead,
    /// Upload and manage the owner's videos like an uploader (`videos:write`).
    VideosWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 2] = [Scope::VideosRead, Scope::VideosWrite];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VideosRead => "videos:read",
            Self::VideosWrite => "videos:write",
        }
    }

    /// `scopes` as a space-separated list (RFC 6749 §3.3).
    pub fn list(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}; known: {}", Self::list(&Self::ALL)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_only_known_names() {
        for role in [Role::Admin, Role::Uploader, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn scopes_parse_only_known_names_and_sort_as_their_names() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        for bad in ["admin", "videos:*", "VIDEOS:READ", ""] {
            assert!(bad.parse::<Scope>().is_err(), "{bad}");
        }
        let mut by_name = Scope::ALL.map(Scope::as_str);
        by_name.sort();
        assert_eq!(by_name, Scope::ALL.map(Scope::as_str));
        assert_eq!(Scope::list(&Scope::ALL), "videos:read videos:write");
    }
}
