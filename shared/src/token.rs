//! Token keys, issuance and verification. Tokens are ed25519-signed
//! [biscuits](https://www.biscuitsec.org/). The control plane holds the
//! private key ([`TokenIssuer`]) and issues two kinds of token:
//!
//! - **access** tokens: `kind("access")`, `user("<uuid>")`, `role("<role>")`;
//! - **playback** tokens: `kind("playback")`, `video("<video id>")`, scoped
//!   to that one video.
//!
//! Both carry `expires(<date>)` and the check
//! `check if time($t), $t < <date>`, and name the signing key with a
//! root key id, so keys can rotate later. Every other role needs only the
//! public key ([`TokenVerifier`]), read from a hex file the control plane
//! writes. Facts in blocks appended by a holder are never trusted: the
//! authorizer only trusts the authority block, so attenuation cannot grant
//! rights.

use crate::domain::VideoId;
use biscuit_auth::builder::Algorithm;
use biscuit_auth::macros::{authorizer, biscuit};
use biscuit_auth::{
    error, AuthorizerBuilder, AuthorizerLimits, Biscuit, KeyPair, PrivateKey, PublicKey,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// What a user may do.
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

/// Why a key could not be loaded or a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A key file could not be read or written.
    #[error("token key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: io::Error,
    },
    /// A key file does not hold a valid ed25519 key.
    #[error("token key file {path}: {message}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Not a token signed by our key (malformed, tampered, or another key).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token was valid but has expired.
    #[error("token expired")]
    Expired,
    /// A genuine, unexpired token that does not grant this (wrong kind or video).
    #[error("token does not grant {0}")]
    NotAllowed(&'static str),
    /// Building a token failed (an internal error).
    #[error("cannot issue token: {0}")]
    Issue(String),
}

/// Who an access token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user.
    pub user_id: Uuid,
    /// Their role when the token was issued.
    pub role: Role,
}

/// Runtime limits of token authorization: generous enough for slow debug
/// builds, small enough that a hostile appended block cannot burn CPU.
fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(50),
    }
}

/// The root key id of a public key: its first four bytes. Tokens carry it so
/// a verifier can hold several keys during a rotation.
fn key_id(key: &PublicKey) -> u32 {
    let bytes = key.to_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// `now + ttl`, truncated to whole seconds (the resolution of biscuit dates).
fn expiry(ttl: Duration) -> (SystemTime, DateTime<Utc>) {
    let secs = SystemTime::now()
        .checked_add(ttl)
        .unwrap_or_else(SystemTime::now)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let at = DateTime::<Utc>::from_timestamp(secs as i64, 0).unwrap_or_default();
    (UNIX_EPOCH + Duration::from_secs(secs), at)
}

fn issue_error(e: error::Token) -> TokenError {
    TokenError::Issue(e.to_string())
}

/// Signs tokens; held by the control plane only.
pub struct TokenIssuer {
    keys: KeyPair,
    key_id: u32,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("public_key", &self.keys.public().to_bytes_hex())
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Loads the private key from `private_key_file` or generates one (file
    /// mode 0600) and writes the public key (hex) to `public_key_file`
    /// whenever that file is missing or holds another key.
    pub fn load_or_generate(
        private_key_file: &Path,
        public_key_file: &Path,
    ) -> Result<Self, TokenError> {
        let keys = match std::fs::read_to_string(private_key_file) {
            Ok(text) => parse_private(private_key_file, &text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => generate(private_key_file)?,
            Err(source) => {
                return Err(TokenError::Io {
                    path: private_key_file.to_path_buf(),
                    source,
                })
            }
        };
        let public_hex = keys.public().to_bytes_hex();
        let current = std::fs::read_to_string(public_key_file).ok();
        if current.as_deref().map(str::trim) != Some(public_hex.as_str()) {
            if current.is_some() {
                tracing::warn!(path = %public_key_file.display(), "replacing a public key file that did not match the private key");
            }
            write_atomically(public_key_file, format!("{public_hex}\n").as_bytes(), 0o644)
                .map_err(|source| TokenError::Io {
                    path: public_key_file.to_path_buf(),
                    source,
                })?;
        }
        Ok(Self::from_keys(keys))
    }

    fn from_keys(keys: KeyPair) -> Self {
        let key_id = key_id(&keys.public());
        Self { keys, key_id }
    }

    /// An access token for `user_id` acting as `role`, valid for `ttl`.
    pub fn issue_access(
        &self,
        user_id: Uuid,
        role: Role,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let (expires, _) = expiry(ttl);
        let user = user_id.to_string();
        let role = role.as_str();
        biscuit!(
            r#"
            kind("access");
            user({user});
            role({role});
            expires({expires});
            check if time($t), $t < {expires};
            "#
        )
        .root_key_id(self.key_id)
        .build(&self.keys)
        .and_then(|token| token.to_base64())
        .map_err(issue_error)
    }

    /// A playback token for `video` alone, valid for `ttl`; returns it with its expiry.
    pub fn issue_playback(
        &self,
        video: VideoId,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let (expires, expires_at) = expiry(ttl);
        let video = video.to_string();
        let token = biscuit!(
            r#"
            kind("playback");
            video({video});
            expires({expires});
            check if time($t), $t < {expires};
            check if requested_video({video});
            "#
        )
        .root_key_id(self.key_id)
        .build(&self.keys)
        .and_then(|token| token.to_base64())
        .map_err(issue_error)?;
        Ok((token, expires_at))
    }

    /// A verifier for the tokens this issuer signs.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier {
            public: self.keys.public(),
            key_id: self.key_id,
        }
    }
}

/// Checks tokens with the public key alone; cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    public: PublicKey,
    key_id: u32,
}

impl TokenVerifier {
    /// Loads the public key (hex, as [`TokenIssuer::load_or_generate`] writes it).
    pub fn load(public_key_file: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(public_key_file).map_err(|source| TokenError::Io {
            path: public_key_file.to_path_buf(),
            source,
        })?;
        let hex = text.trim();
        let hex = hex.strip_prefix("ed25519/").unwrap_or(hex);
        let public =
            PublicKey::from_bytes_hex(hex, Algorithm::Ed25519).map_err(|e| TokenError::BadKey {
                path: public_key_file.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Self {
            public,
            key_id: key_id(&public),
        })
    }

    /// Verifies an access token: our signature, not expired, an access
    /// (not a playback) token. Returns who it speaks for.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let token = self.parse(token)?;
        let mut authorizer = authorize(&token, authorizer!(r#"allow if kind("access");"#))
            .map_err(|e| match e {
                TokenError::NotAllowed(_) => TokenError::NotAllowed("API access"),
                other => other,
            })?;
        let (user, role): (String, String) = authorizer
            .query_exactly_one("claims($u, $r) <- user($u), role($r)")
            .map_err(|e| {
                TokenError::Invalid(format!("access token without one user and role: {e}"))
            })?;
        Ok(AccessClaims {
            user_id: user
                .parse()
                .map_err(|_| TokenError::Invalid("access token with a malformed user id".into()))?,
            role: role.parse().map_err(TokenError::Invalid)?,
        })
    }

    /// Verifies that `token` may play `video`: an unexpired playback token
    /// for that video, or an admin's access token.
    pub fn verify_playback(&self, token: &str, video: VideoId) -> Result<(), TokenError> {
        let token = self.parse(token)?;
        let video = video.to_string();
        authorize(
            &token,
            authorizer!(
                r#"
                requested_video({video});
                allow if kind("playback"), video({video});
                allow if kind("access"), role("admin");
                "#
            ),
        )
        .map(drop)
        .map_err(|e| match e {
            TokenError::NotAllowed(_) => TokenError::NotAllowed("playback of this video"),
            other => other,
        })
    }

    fn parse(&self, token: &str) -> Result<Biscuit, TokenError> {
        let expected = self.key_id;
        let public = self.public;
        Biscuit::from_base64(token.trim(), move |id: Option<u32>| {
            if id == Some(expected) {
                Ok(public)
            } else {
                Err(error::Format::UnknownPublicKey)
            }
        })
        .map_err(|e| TokenError::Invalid(e.to_string()))
    }
}

/// Runs `policies` (plus the current time) against `token`, telling an
/// expired token apart from one that does not grant the request.
fn authorize(
    token: &Biscuit,
    policies: AuthorizerBuilder,
) -> Result<biscuit_auth::Authorizer, TokenError> {
    let mut authorizer = policies
        .time()
        .set_limits(limits())
        .build(token)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let expires: Vec<(SystemTime,)> = authorizer
        .query("expiry($e) <- expires($e)")
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let now = SystemTime::now();
    match expires.as_slice() {
        [(at,)] if *at > now => {}
        [_] => return Err(TokenError::Expired),
        _ => return Err(TokenError::Invalid("token without one expiry".into())),
    }
    match authorizer.authorize() {
        Ok(_) => Ok(authorizer),
        Err(error::Token::FailedLogic(_)) => Err(TokenError::NotAllowed("this request")),
        Err(e) => Err(TokenError::Invalid(e.to_string())),
    }
}

fn parse_private(path: &Path, text: &str) -> Result<KeyPair, TokenError> {
    let hex = text.trim();
    let hex = hex.strip_prefix("ed25519-private/").unwrap_or(hex);
    PrivateKey::from_bytes_hex(hex, Algorithm::Ed25519)
        .map(|key| KeyPair::from(&key))
        .map_err(|e| TokenError::BadKey {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Generates a key and stores it at `path` (mode 0600) unless another
/// process got there first, in which case that key wins.
fn generate(path: &Path) -> Result<KeyPair, TokenError> {
    let io_error = |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    let keys = KeyPair::new();
    let hex = keys.private().to_bytes_hex();
    let temp = write_temp(path, format!("{hex}\n").as_bytes(), 0o600).map_err(io_error)?;
    // A hard link creates the key only if it does not exist yet, atomically.
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a new token signing key");
            Ok(keys)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io_error)?;
            parse_private(path, &text)
        }
        Err(e) => Err(io_error(e)),
    }
}

/// Writes `bytes` to a fresh file next to `path` with `mode`; returns its path.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(temp)
}

/// Replaces `path` with `bytes` so readers see the old or the new contents.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = write_temp(path, bytes, mode)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> (tempfile::TempDir, TokenIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let issuer = TokenIssuer::load_or_generate(
            &dir.path().join("token.key"),
            &dir.path().join("token.pub"),
        )
        .unwrap();
        (dir, issuer)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn access_tokens_round_trip_through_the_public_key_file() {
        let (dir, issuer) = issuer();
        let user = Uuid::new_v4();
        let token = issuer.issue_access(user, Role::Uploader, HOUR).unwrap();
        let verifier = TokenVerifier::load(&dir.path().join("token.pub")).unwrap();
        let claims = verifier.verify_access(&token).unwrap();
        assert_eq!(
            claims,
            AccessClaims {
                user_id: user,
                role: Role::Uploader
            }
        );
    }

    #[test]
    fn keys_persist_with_private_mode() {
        let (dir, issuer) = issuer();
        let token = issuer
            .issue_access(Uuid::new_v4(), Role::Admin, HOUR)
            .unwrap();
        let again = TokenIssuer::load_or_generate(
            &dir.path().join("token.key"),
            &dir.path().join("token.pub"),
        )
        .unwrap();
        again.verifier().verify_access(&token).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("token.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (_dir, issuer) = issuer();
        let token = issuer
            .issue_access(Uuid::new_v4(), Role::Admin, Duration::ZERO)
            .unwrap();
        assert!(matches!(
            issuer.verifier().verify_access(&token),
            Err(TokenError::Expired)
        ));
        let video = VideoId::new();
        let (token, _) = issuer.issue_playback(video, Duration::ZERO).unwrap();
        assert!(matches!(
            issuer.verifier().verify_playback(&token, video),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let (_dir, issuer) = issuer();
        let token = issuer
            .issue_access(Uuid::new_v4(), Role::Viewer, HOUR)
            .unwrap();
        for at in [10, token.len() / 2, token.len() - 5] {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(
                matches!(
                    issuer.verifier().verify_access(&tampered),
                    Err(TokenError::Invalid(_))
                ),
                "tampering at {at} went unnoticed"
            );
        }
        assert!(matches!(
            issuer.verifier().verify_access("garbage"),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn tokens_of_another_key_are_refused() {
        let (_a, issuer) = issuer();
        let (_b, other) = self::issuer();
        let token = other
            .issue_access(Uuid::new_v4(), Role::Admin, HOUR)
            .unwrap();
        assert!(matches!(
            issuer.verifier().verify_access(&token),
            Err(TokenError::Invalid(_))
        ));
        let video = VideoId::new();
        let (token, _) = other.issue_playback(video, HOUR).unwrap();
        assert!(matches!(
            issuer.verifier().verify_playback(&token, video),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn playback_tokens_are_scoped_to_one_video() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let video = VideoId::new();
        let (token, expires_at) = issuer.issue_playback(video, HOUR).unwrap();
        assert!(expires_at > Utc::now());
        verifier.verify_playback(&token, video).unwrap();
        assert!(matches!(
            verifier.verify_playback(&token, VideoId::new()),
            Err(TokenError::NotAllowed(_))
        ));
        // A playback token is not an access token.
        assert!(matches!(
            verifier.verify_access(&token),
            Err(TokenError::NotAllowed(_))
        ));
    }

    #[test]
    fn only_admin_access_tokens_play_any_video() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let video = VideoId::new();
        let admin = issuer
            .issue_access(Uuid::new_v4(), Role::Admin, HOUR)
            .unwrap();
        verifier.verify_playback(&admin, video).unwrap();
        for role in [Role::Uploader, Role::Viewer] {
            let token = issuer.issue_access(Uuid::new_v4(), role, HOUR).unwrap();
            assert!(matches!(
                verifier.verify_playback(&token, video),
                Err(TokenError::NotAllowed(_))
            ));
        }
    }

    #[test]
    fn appended_blocks_cannot_grant_rights() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let token = issuer
            .issue_access(Uuid::new_v4(), Role::Viewer, HOUR)
            .unwrap();
        let parsed = verifier.parse(&token).unwrap();
        let escalated = parsed
            .append(biscuit_auth::macros::block!(
                r#"role("admin"); kind("playback");"#
            ))
            .unwrap()
            .to_base64()
            .unwrap();
        assert_eq!(
            verifier.verify_access(&escalated).unwrap().role,
            Role::Viewer
        );
        assert!(verifier
            .verify_playback(&escalated, VideoId::new())
            .is_err());
    }

    #[test]
    fn roles_parse_only_known_names() {
        for role in [Role::Admin, Role::Uploader, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }
}
