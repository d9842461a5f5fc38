//! The token keys on disk, and their rotation. The control plane's private
//! signing key lives in `GOFLIX_TOKEN_KEY_FILE` (hex, mode 0600, generated
//! on first start); the public key file every other role reads lists the
//! current public key first and, after a rotation (a new private key file),
//! the previous one on the next line, so tokens signed before the rotation
//! stay valid until they expire. Tokens name their signing key by a root
//! key id ([`key_id`]), so a verifier can hold both.

use super::TokenError;
use biscuit_auth::builder::Algorithm;
use biscuit_auth::{KeyPair, PrivateKey, PublicKey};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The private key tokens are signed with, and the previous public key
/// that still verifies after a rotation.
pub(super) struct SigningKeys {
    /// The current key.
    pub pair: KeyPair,
    /// Public keys of earlier signing keys that still verify.
    previous: Vec<PublicKey>,
}

impl SigningKeys {
    /// What [`TokenIssuer::load_or_generate`](super::TokenIssuer::load_or_generate)
    /// does: load or generate the private key, and list its public key
    /// first in `public_key_file`, the previous one second.
    pub(super) fn load_or_generate(
        private_key_file: &Path,
        public_key_file: &Path,
    ) -> Result<Self, TokenError> {
        let pair = match std::fs::read_to_string(private_key_file) {
            Ok(text) => parse_private(private_key_file, &text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => generate(private_key_file)?,
            Err(source) => {
                return Err(TokenError::Io {
                    path: private_key_file.to_path_buf(),
                    source,
                })
            }
        };
        let current = pair.public();
        let listed = match std::fs::read_to_string(public_key_file) {
            Ok(text) => parse_public_list(public_key_file, &text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "replacing an unreadable public key file");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let previous: Vec<PublicKey> = match listed.first() {
            Some(first) if *first == current => listed[1..].iter().take(1).copied().collect(),
            Some(first) => {
                tracing::info!(path = %public_key_file.display(), "signing key rotated; the previous public key stays valid");
                vec![*first]
            }
            None => Vec::new(),
        };
        let wanted: Vec<PublicKey> = std::iter::once(current)
            .chain(previous.iter().copied())
            .collect();
        if listed != wanted {
            let text: String = wanted
                .iter()
                .map(|key| format!("{}\n", key.to_bytes_hex()))
                .collect();
            write_atomically(public_key_file, text.as_bytes(), 0o644).map_err(|source| {
                TokenError::Io {
                    path: public_key_file.to_path_buf(),
                    source,
                }
            })?;
        }
        Ok(Self { pair, previous })
    }

    /// The root key id tokens signed with the current key carry.
    pub(super) fn key_id(&self) -> u32 {
        key_id(&self.pair.public())
    }

    /// The public keys that verify: the current one, then the previous one.
    pub(super) fn verifying(&self) -> VerifyingKeys {
        VerifyingKeys::new(std::iter::once(self.pair.public()).chain(self.previous.iter().copied()))
    }
}

/// Public keys by root key id: all a verifier needs.
#[derive(Debug, Clone)]
pub(super) struct VerifyingKeys(Vec<(u32, PublicKey)>);

impl VerifyingKeys {
    fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Self(keys.into_iter().map(|key| (key_id(&key), key)).collect())
    }

    /// Loads the public keys (hex, one a line, as
    /// [`SigningKeys::load_or_generate`] writes them); an empty file is an
    /// error.
    pub(super) fn load(public_key_file: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(public_key_file).map_err(|source| TokenError::Io {
            path: public_key_file.to_path_buf(),
            source,
        })?;
        let keys = parse_public_list(public_key_file, &text)?;
        if keys.is_empty() {
            return Err(TokenError::BadKey {
                path: public_key_file.to_path_buf(),
                message: "no public key in the file".into(),
            });
        }
        Ok(Self::new(keys))
    }

    /// The key whose root key id is `id`.
    pub(super) fn find(&self, id: Option<u32>) -> Option<PublicKey> {
        self.0
            .iter()
            .find(|(key_id, _)| Some(*key_id) == id)
            .map(|(_, key)| *key)
    }
}

/// The root key id of a public key: its first four bytes. Tokens carry it so
/// a verifier can hold several keys during a rotation.
fn key_id(key: &PublicKey) -> u32 {
    let bytes = key.to_bytes();
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Every public key in a key list file (hex, one a line, blank lines ignored).
fn parse_public_list(path: &Path, text: &str) -> Result<Vec<PublicKey>, TokenError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let hex = line.strip_prefix("ed25519/").unwrap_or(line);
            PublicKey::from_bytes_hex(hex, Algorithm::Ed25519).map_err(|e| TokenError::BadKey {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        })
        .collect()
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
    use super::super::testing::{issuer, HOUR};
    use super::super::{Operation, Role, Subject, TokenIssuer, TokenKind, TokenVerifier};
    use chrono::Utc;
    use uuid::Uuid;

    #[test]
    fn access_tokens_round_trip_through_the_public_key_file() {
        let (dir, issuer) = issuer();
        let user = Uuid::new_v4();
        let token = issuer.issue_access(user, Role::Uploader, HOUR).unwrap();
        let verifier = TokenVerifier::load(&dir.path().join("token.pub")).unwrap();
        let claims = verifier.verify_access(&token, Operation::Api).unwrap();
        assert_eq!(
            claims.subject,
            Subject::User {
                id: user,
                role: Role::Uploader
            }
        );
        assert_eq!(claims.kind, TokenKind::Access);
        assert_eq!(claims.revocation_ids.len(), 1);
        assert!(claims.expires_at > Utc::now());
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
        again
            .verifier()
            .verify_access(&token, Operation::Api)
            .unwrap();
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
    fn a_rotated_key_keeps_verifying_until_the_next_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("token.pub");
        let first = TokenIssuer::load_or_generate(&dir.path().join("a.key"), &public).unwrap();
        let old = first
            .issue_access(Uuid::new_v4(), Role::Viewer, HOUR)
            .unwrap();
        let second = TokenIssuer::load_or_generate(&dir.path().join("b.key"), &public).unwrap();
        let new = second
            .issue_access(Uuid::new_v4(), Role::Viewer, HOUR)
            .unwrap();
        for verifier in [second.verifier(), TokenVerifier::load(&public).unwrap()] {
            verifier.verify_access(&old, Operation::Api).unwrap();
            verifier.verify_access(&new, Operation::Api).unwrap();
        }
        // The first key's tokens stop verifying after the key after next.
        let third = TokenIssuer::load_or_generate(&dir.path().join("c.key"), &public).unwrap();
        assert!(third
            .verifier()
            .verify_access(&old, Operation::Api)
            .is_err());
        third
            .verifier()
            .verify_access(&new, Operation::Api)
            .unwrap();
        assert_eq!(std::fs::read_to_string(&public).unwrap().lines().count(), 2);
        // Reloading the current key leaves the list alone.
        let again = TokenIssuer::load_or_generate(&dir.path().join("c.key"), &public).unwrap();
        again
            .verifier()
            .verify_access(&new, Operation::Api)
            .unwrap();
    }
}
