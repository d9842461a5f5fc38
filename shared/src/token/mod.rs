//! Token keys, issuance and verification. Tokens are ed25519-signed
//! [biscuits](https://www.biscuitsec.org/). The control plane holds the
//! private key ([`TokenIssuer`]) and issues these kinds of token:
//!
//! - **access** tokens for users: `kind("access")`, `user("<uuid>")`,
//!   `role("<role>")` and, when issued by a sign-in, `session("<uuid>")`
//!   (the refresh token family);
//! - **access** tokens for service clients: `kind("access")`,
//!   `client("<client id>")`, `owner("<uuid>")` (the admin who registered
//!   it) and one `scope("<scope>")` per granted scope;
//! - **upload** tokens: not issued but *attenuated* from the holder's
//!   access token ([`TokenVerifier::attenuate_for_upload`]) by appending a
//!   block with `check if operation($op), ["upload_video",
//!   "inspect"].contains($op)` and a shorter expiry, so they are good for
//!   one `POST /api/v1/videos` (the control plane consumes the block's
//!   revocation id) and nothing else, and die with the token they came from;
//! - **playback** tokens: `kind("playback")`, `video("<video id>")`,
//!   `user("<uuid>")`, `session("<uuid>")` when the user asked in a sign-in
//!   session, and `issued(<date>)`; scoped to that one video. They are the
//!   only tokens the origin accepts: an access token, an admin's too, plays
//!   nothing.
//!
//! All carry `expires(<date>)` and the check
//! `check if time($t), $t < <date>`, and name the signing key with a root
//! key id (the first four bytes of its public key). Every other role needs
//! only the public key ([`TokenVerifier`]), read from a hex file the control
//! plane writes. That file lists the current key first and, after a
//! rotation (a new `GOFLIX_TOKEN_KEY_FILE`), the previous one on the next
//! line, so tokens signed before the rotation stay valid until they expire.
//! Facts in blocks appended by a holder are never trusted: the authorizer
//! only trusts the authority block, so attenuation cannot grant rights.
//!
//! Each token's revocation ids (one per block, hex) identify it for the
//! control plane's revocation list; the origin, which has only the public
//! key, does not consult that list.

mod shape;

use crate::domain::VideoId;
use crate::metrics;
use biscuit_auth::builder::Algorithm;
use biscuit_auth::macros::{authorizer, biscuit};
use biscuit_auth::{
    error, AuthorizerBuilder, AuthorizerLimits, Biscuit, KeyPair, PrivateKey, PublicKey,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shape::{Authority, Shape};
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

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

/// Who a token speaks for, and with what rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user, with their role when the token was issued.
    User {
        /// The user.
        id: Uuid,
        /// Their role.
        role: Role,
    },
    /// A registered service client acting for the admin who registered it,
    /// limited to its scopes.
    Client {
        /// The public client id.
        client_id: String,
        /// The admin who registered the client.
        owner_id: Uuid,
        /// Granted scopes, such as `videos:read`.
        scopes: Vec<String>,
    },
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Any API call the subject's rights allow.
    Access,
    /// An access token with blocks appended by its holder (such as an
    /// upload token): only what every appended check allows, and single-use
    /// where the control plane consumes its last revocation id.
    Attenuated,
}

/// The operation a token is presented for; checks in attenuated blocks
/// see it as the fact `operation("<name>")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// An API call (`operation("api")`).
    Api,
    /// `POST /api/v1/videos` (`operation("upload_video")`).
    UploadVideo,
    /// Introspection or revocation of the token itself (`operation("inspect")`).
    Inspect,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::UploadVideo => "upload_video",
            Self::Inspect => "inspect",
        }
    }
}

/// A verified access or upload token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// Who it speaks for.
    pub subject: Subject,
    /// The sign-in session (refresh token family) a user's token was
    /// issued in; `None` for service clients.
    pub session: Option<Uuid>,
    /// Plain or attenuated.
    pub kind: TokenKind,
    /// Hex revocation ids, one per block, the authority block's first.
    pub revocation_ids: Vec<String>,
    /// When it stops being valid (the earliest `expires` of any block).
    pub expires_at: DateTime<Utc>,
}

impl AccessClaims {
    /// The revocation id naming this token and no other: the last block's.
    /// Revoking it leaves the token it was attenuated from valid; revoking
    /// the authority block's id kills every token derived from it.
    pub fn own_revocation_id(&self) -> Option<&str> {
        self.revocation_ids.last().map(String::as_str)
    }
}

/// Whom a playback token is issued to: the user (for a service client, its
/// owner) and the sign-in session they asked in, so revoking that session
/// (or the user's sessions) can stop the playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackSession {
    /// The user.
    pub user: Uuid,
    /// The session (refresh token family); `None` for service clients.
    pub session: Option<Uuid>,
}

/// A verified playback token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackClaims {
    /// The user it was issued to.
    pub user: Uuid,
    /// The session it was issued in, if any.
    pub session: Option<Uuid>,
    /// When it was issued (whole seconds).
    pub issued_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The base64 biscuit.
    pub token: String,
    /// The hex revocation id of its authority block.
    pub revocation_id: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// What a token to be issued grants.
#[derive(Debug, Clone)]
pub enum Grant<'a> {
    /// API access for a user.
    User {
        /// The user.
        id: Uuid,
        /// Their role.
        role: Role,
        /// The sign-in session (refresh token family) it is issued in.
        session: Option<Uuid>,
    },
    /// API access for a service client.
    Client {
        /// The public client id.
        client_id: &'a str,
        /// The admin who registered it.
        owner_id: Uuid,
        /// The scopes granted.
        scopes: &'a [String],
    },
}

/// Longest token accepted, in characters, checked before decoding: the
/// tokens Goflix makes are well under 2 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Runtime limits of token authorization, the second line of defence
/// behind the shape check: a token Goflix made has about a dozen facts and
/// no rules, so it needs one or two iterations and well under a
/// millisecond.
fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 64,
        max_iterations: 8,
        max_time: Duration::from_millis(10),
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
    /// Public keys of earlier signing keys that still verify.
    previous: Vec<PublicKey>,
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
    /// mode 0600) and keeps `public_key_file` listing its public key (hex)
    /// first. When the file named another key first (the key was rotated),
    /// that key stays on the second line so its tokens keep verifying; older
    /// keys are dropped.
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
        let current = keys.public();
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
        Ok(Self {
            key_id: key_id(&current),
            keys,
            previous,
        })
    }

    /// A user's access token for `user_id` acting as `role`, valid for `ttl`.
    pub fn issue_access(
        &self,
        user_id: Uuid,
        role: Role,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        self.issue(
            &Grant::User {
                id: user_id,
                role,
                session: None,
            },
            ttl,
        )
        .map(|issued| issued.token)
    }

    /// A token granting `grant` for `ttl`, with its revocation id.
    pub fn issue(&self, grant: &Grant<'_>, ttl: Duration) -> Result<Issued, TokenError> {
        let (expires, expires_at) = expiry(ttl);
        let builder = match grant {
            Grant::User { id, role, session } => {
                let user = id.to_string();
                let role = role.as_str();
                let builder = biscuit!(
                    r#"
                    kind("access");
                    user({user});
                    role({role});
                    "#
                );
                match session {
                    Some(session) => {
                        let session = session.to_string();
                        builder
                            .fact(biscuit_auth::macros::fact!("session({session})"))
                            .map_err(issue_error)?
                    }
                    None => builder,
                }
            }
            Grant::Client {
                client_id,
                owner_id,
                scopes,
            } => {
                let client = client_id.to_string();
                let owner = owner_id.to_string();
                let mut builder = biscuit!(
                    r#"
                    kind("access");
                    client({client});
                    owner({owner});
                    "#
                );
                for scope in scopes.iter() {
                    let scope = scope.as_str();
                    builder = builder
                        .fact(biscuit_auth::macros::fact!("scope({scope})"))
                        .map_err(issue_error)?;
                }
                builder
            }
        };
        let token = builder
            .fact(biscuit_auth::macros::fact!("expires({expires})"))
            .and_then(|b| {
                b.check(biscuit_auth::macros::check!(
                    "check if time($t), $t < {expires}"
                ))
            })
            .map_err(issue_error)?
            .root_key_id(self.key_id)
            .build(&self.keys)
            .map_err(issue_error)?;
        let revocation_id = revocation_ids(&token)
            .into_iter()
            .next()
            .ok_or_else(|| TokenError::Issue("token without a revocation id".into()))?;
        Ok(Issued {
            token: token.to_base64().map_err(issue_error)?,
            revocation_id,
            expires_at,
        })
    }

    /// A playback token for `video` alone, issued to `session`, valid for
    /// `ttl`; returns it with its expiry.
    pub fn issue_playback(
        &self,
        video: VideoId,
        session: &PlaybackSession,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), TokenError> {
        let (issued, _) = expiry(Duration::ZERO);
        let (expires, expires_at) = expiry(ttl);
        let requested = video.to_string();
        let video = video.to_string();
        let user = session.user.to_string();
        let mut builder = biscuit!(
            r#"
            kind("playback");
            video({video});
            user({user});
            issued({issued});
            "#
        );
        if let Some(session) = session.session {
            let session = session.to_string();
            builder = builder
                .fact(biscuit_auth::macros::fact!("session({session})"))
                .map_err(issue_error)?;
        }
        let token = builder
            .fact(biscuit_auth::macros::fact!("expires({expires})"))
            .and_then(|b| {
                b.check(biscuit_auth::macros::check!(
                    "check if time($t), $t < {expires}"
                ))
            })
            .and_then(|b| {
                b.check(biscuit_auth::macros::check!(
                    "check if requested_video({requested})"
                ))
            })
            .map_err(issue_error)?
            .root_key_id(self.key_id)
            .build(&self.keys)
            .and_then(|token| token.to_base64())
            .map_err(issue_error)?;
        Ok((token, expires_at))
    }

    /// A verifier for the tokens this issuer signs, and for those its
    /// previous key signed.
    pub fn verifier(&self) -> TokenVerifier {
        let keys = std::iter::once(self.keys.public())
            .chain(self.previous.iter().copied())
            .map(|key| (key_id(&key), key))
            .collect();
        TokenVerifier { keys }
    }
}

/// Checks tokens with public keys alone (the current one and, during a
/// rotation, the previous one); cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Vec<(u32, PublicKey)>,
}

impl TokenVerifier {
    /// Loads the public keys (hex, one a line, as
    /// [`TokenIssuer::load_or_generate`] writes them).
    pub fn load(public_key_file: &Path) -> Result<Self, TokenError> {
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
        Ok(Self {
            keys: keys.into_iter().map(|key| (key_id(&key), key)).collect(),
        })
    }

    /// Verifies an access token (possibly attenuated) presented for
    /// `operation`: our signature, every block one Goflix makes, not
    /// expired, every appended check passing. Returns who it speaks for and
    /// its revocation ids (which the caller checks against its revocation
    /// list).
    pub fn verify_access(
        &self,
        token: &str,
        operation: Operation,
    ) -> Result<AccessClaims, TokenError> {
        let (parsed, shape) = self.checked(token)?;
        let not_allowed = TokenError::NotAllowed(match operation {
            Operation::UploadVideo => "uploads",
            Operation::Api | Operation::Inspect => "API access",
        });
        let kind = match shape.upload {
            None => TokenKind::Access,
            Some(_) => TokenKind::Attenuated,
        };
        let (subject, session) = match shape.authority.clone() {
            Authority::User { id, role, session } => (Subject::User { id, role }, session),
            Authority::Client {
                client_id,
                owner_id,
                scopes,
            } => (
                Subject::Client {
                    client_id,
                    owner_id,
                    scopes,
                },
                None,
            ),
            Authority::Playback { .. } => return Err(refused(Refusal::NotGranted, not_allowed)),
        };
        let operation_name = operation.name();
        authorize(
            &parsed,
            authorizer!(
                r#"
                operation({operation_name});
                allow if kind("access");
                "#
            ),
        )
        .map_err(|e| match e {
            TokenError::NotAllowed(_) => not_allowed,
            other => other,
        })?;
        Ok(AccessClaims {
            subject,
            session,
            kind,
            revocation_ids: revocation_ids(&parsed),
            expires_at: DateTime::<Utc>::from(shape.expires_at()),
        })
    }

    /// Derives from `token` (a plain access token) an upload token: good
    /// only for `POST /api/v1/videos` (and for inspecting itself) for `ttl`
    /// or until `token` expires, whichever comes first. Returns it with its
    /// own revocation id, which the control plane records as issued and
    /// consumes on use.
    pub fn attenuate_for_upload(&self, token: &str, ttl: Duration) -> Result<Issued, TokenError> {
        let (parsed, shape) = self.checked(token)?;
        if shape.upload.is_some() || matches!(shape.authority, Authority::Playback { .. }) {
            return Err(refused(
                Refusal::NotGranted,
                TokenError::NotAllowed("attenuation"),
            ));
        }
        let (expires, _) = expiry(ttl);
        let expires = expires.min(shape.expires);
        let attenuated = parsed
            .append(biscuit_auth::macros::block!(
                r#"
                expires({expires});
                check if operation($op), ["upload_video", "inspect"].contains($op);
                check if time($t), $t < {expires};
                "#
            ))
            .map_err(issue_error)?;
        let revocation_id = revocation_ids(&attenuated)
            .pop()
            .ok_or_else(|| TokenError::Issue("token without a revocation id".into()))?;
        Ok(Issued {
            token: attenuated.to_base64().map_err(issue_error)?,
            revocation_id,
            expires_at: DateTime::<Utc>::from(expires),
        })
    }

    /// Verifies that `token` may play `video`: an unexpired playback token
    /// for that video. Access tokens, an admin's too, play nothing.
    pub fn verify_playback(
        &self,
        token: &str,
        video: VideoId,
    ) -> Result<PlaybackClaims, TokenError> {
        let (parsed, shape) = self.checked(token)?;
        let not_allowed = TokenError::NotAllowed("playback of this video");
        let video = video.to_string();
        let Authority::Playback {
            video: granted,
            user,
            session,
            issued,
        } = shape.authority.clone()
        else {
            return Err(refused(Refusal::NotGranted, not_allowed));
        };
        if granted != video {
            return Err(refused(Refusal::NotGranted, not_allowed));
        }
        authorize(
            &parsed,
            authorizer!(
                r#"
                requested_video({video});
                allow if kind("playback"), video({video});
                "#
            ),
        )
        .map_err(|e| match e {
            TokenError::NotAllowed(_) => not_allowed,
            other => other,
        })?;
        Ok(PlaybackClaims {
            user,
            session,
            issued_at: DateTime::<Utc>::from(issued),
            expires_at: DateTime::<Utc>::from(shape.expires_at()),
        })
    }

    /// Runs `work` (a verification) on the blocking thread pool, so async
    /// workers never run datalog; for every async caller.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&TokenVerifier) -> Result<T, TokenError> + Send + 'static,
    ) -> Result<T, TokenError> {
        let verifier = self.clone();
        tokio::task::spawn_blocking(move || work(&verifier))
            .await
            .map_err(|e| TokenError::Invalid(format!("token verification failed: {e}")))?
    }

    /// Our signature and a shape Goflix makes, not expired: everything that
    /// is checked before an authorizer is built.
    fn checked(&self, token: &str) -> Result<(Biscuit, Shape), TokenError> {
        let parsed = self.parse(token)?;
        let shape = shape::inspect(&parsed).map_err(|e| refused(Refusal::ForeignBlock, e))?;
        if shape.expires_at() <= SystemTime::now() {
            return Err(refused(Refusal::Expired, TokenError::Expired));
        }
        Ok((parsed, shape))
    }

    fn parse(&self, token: &str) -> Result<Biscuit, TokenError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_LEN {
            return Err(refused(
                Refusal::Oversized,
                TokenError::Invalid(format!("token longer than {MAX_TOKEN_LEN} bytes")),
            ));
        }
        Biscuit::from_base64(token, |id: Option<u32>| {
            self.keys
                .iter()
                .find(|(key_id, _)| Some(*key_id) == id)
                .map(|(_, key)| *key)
                .ok_or(error::Format::UnknownPublicKey)
        })
        .map_err(|e| refused(Refusal::Unverifiable, TokenError::Invalid(e.to_string())))
    }
}

/// Why a token was refused, as `goflix_tokens_refused_total{reason}`
/// counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Longer than [`MAX_TOKEN_LEN`]; not even decoded.
    Oversized,
    /// Not base64, not a biscuit, or not signed by our key.
    Unverifiable,
    /// A block Goflix does not make ([`shape`]).
    ForeignBlock,
    /// Past its expiry.
    Expired,
    /// Genuine but not for this (wrong kind, video or operation).
    NotGranted,
    /// The authorizer failed (a limit hit).
    Authorizer,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::Unverifiable => "unverifiable",
            Self::ForeignBlock => "foreign_block",
            Self::Expired => "expired",
            Self::NotGranted => "not_granted",
            Self::Authorizer => "authorizer",
        }
    }
}

/// Counts a refusal and passes its error on.
fn refused(reason: Refusal, error: TokenError) -> TokenError {
    metrics::TOKENS_REFUSED.counter(&[reason.label()]).inc();
    error
}

/// The hex revocation ids of every block of `token`, authority first.
fn revocation_ids(token: &Biscuit) -> Vec<String> {
    token
        .revocation_identifiers()
        .iter()
        .map(hex::encode)
        .collect()
}

/// Runs `policies` (plus the current time) against `token`, a token whose
/// shape was checked, under tight limits; counted in
/// `goflix_token_authorizers_total`.
fn authorize(token: &Biscuit, policies: AuthorizerBuilder) -> Result<(), TokenError> {
    metrics::TOKEN_AUTHORIZERS.counter(&[]).inc();
    let mut authorizer = policies
        .time()
        .set_limits(limits())
        .build(token)
        .map_err(|e| refused(Refusal::Authorizer, TokenError::Invalid(e.to_string())))?;
    match authorizer.authorize() {
        Ok(_) => Ok(()),
        Err(error::Token::FailedLogic(_)) => Err(refused(
            Refusal::NotGranted,
            TokenError::NotAllowed("this request"),
        )),
        Err(e) => Err(refused(
            Refusal::Authorizer,
            TokenError::Invalid(e.to_string()),
        )),
    }
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

    fn viewer() -> PlaybackSession {
        PlaybackSession {
            user: Uuid::new_v4(),
            session: Some(Uuid::new_v4()),
        }
    }

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
    fn expired_tokens_are_refused() {
        let (_dir, issuer) = issuer();
        let token = issuer
            .issue_access(Uuid::new_v4(), Role::Admin, Duration::ZERO)
            .unwrap();
        assert!(matches!(
            issuer.verifier().verify_access(&token, Operation::Api),
            Err(TokenError::Expired)
        ));
        let video = VideoId::new();
        let (token, _) = issuer
            .issue_playback(video, &viewer(), Duration::ZERO)
            .unwrap();
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
                    issuer.verifier().verify_access(&tampered, Operation::Api),
                    Err(TokenError::Invalid(_))
                ),
                "tampering at {at} went unnoticed"
            );
        }
        assert!(matches!(
            issuer.verifier().verify_access("garbage", Operation::Api),
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
            issuer.verifier().verify_access(&token, Operation::Api),
            Err(TokenError::Invalid(_))
        ));
        let video = VideoId::new();
        let (token, _) = other.issue_playback(video, &viewer(), HOUR).unwrap();
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
        let session = viewer();
        let (token, expires_at) = issuer.issue_playback(video, &session, HOUR).unwrap();
        assert!(expires_at > Utc::now());
        let claims = verifier.verify_playback(&token, video).unwrap();
        assert_eq!(claims.user, session.user);
        assert_eq!(claims.session, session.session);
        assert_eq!(claims.expires_at, expires_at);
        assert!(claims.issued_at <= Utc::now() && claims.issued_at > Utc::now() - HOUR);
        assert!(matches!(
            verifier.verify_playback(&token, VideoId::new()),
            Err(TokenError::NotAllowed(_))
        ));
        // A playback token is not an access token.
        assert!(matches!(
            verifier.verify_access(&token, Operation::Api),
            Err(TokenError::NotAllowed(_))
        ));
        // A service client's has no session.
        let client = PlaybackSession {
            user: Uuid::new_v4(),
            session: None,
        };
        let (token, _) = issuer.issue_playback(video, &client, HOUR).unwrap();
        let claims = verifier.verify_playback(&token, video).unwrap();
        assert_eq!((claims.user, claims.session), (client.user, None));
    }

    #[test]
    fn access_tokens_play_nothing_not_even_an_admins() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let video = VideoId::new();
        for role in [Role::Admin, Role::Uploader, Role::Viewer] {
            let token = issuer.issue_access(Uuid::new_v4(), role, HOUR).unwrap();
            assert!(
                matches!(
                    verifier.verify_playback(&token, video),
                    Err(TokenError::NotAllowed(_))
                ),
                "{role}"
            );
        }
    }

    #[test]
    fn user_access_tokens_name_their_session() {
        let (_dir, issuer) = issuer();
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let issued = issuer
            .issue(
                &Grant::User {
                    id: user,
                    role: Role::Viewer,
                    session: Some(session),
                },
                HOUR,
            )
            .unwrap();
        let claims = issuer
            .verifier()
            .verify_access(&issued.token, Operation::Api)
            .unwrap();
        assert_eq!(claims.session, Some(session));
        let plain = issuer.issue_access(user, Role::Viewer, HOUR).unwrap();
        let claims = issuer
            .verifier()
            .verify_access(&plain, Operation::Api)
            .unwrap();
        assert_eq!(claims.session, None);
    }

    /// `f(0)…f(39)`, a 5-way join over them and a check on it: billions of
    /// joins in one datalog iteration.
    fn bomb() -> biscuit_auth::BlockBuilder {
        let mut block = biscuit_auth::BlockBuilder::new();
        for i in 0..40i64 {
            block = block.fact(biscuit_auth::macros::fact!("f({i})")).unwrap();
        }
        block
            .code("r($a, $b, $c, $d, $e) <- f($a), f($b), f($c), f($d), f($e); check if r(1, 2, 3, 4, 5);")
            .unwrap()
    }

    #[test]
    fn appended_blocks_other_than_the_upload_block_are_refused_before_any_datalog() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let access = issuer
            .issue_access(Uuid::new_v4(), Role::Viewer, HOUR)
            .unwrap();
        let expired = issuer
            .issue_access(Uuid::new_v4(), Role::Admin, Duration::ZERO)
            .unwrap();
        let upload = verifier
            .attenuate_for_upload(&access, Duration::from_secs(600))
            .unwrap()
            .token;
        let video = VideoId::new();
        let (playback, _) = issuer.issue_playback(video, &viewer(), HOUR).unwrap();
        let append = |token: &str, block: biscuit_auth::BlockBuilder| {
            verifier
                .parse(token)
                .unwrap()
                .append(block)
                .unwrap()
                .to_base64()
                .unwrap()
        };
        let escalation = biscuit_auth::macros::block!(r#"role("admin"); kind("playback");"#);
        let authorizers = || metrics::TOKEN_AUTHORIZERS.counter(&[]).get();
        let before = authorizers();
        for token in [&access, &expired, &upload, &playback] {
            for block in [
                bomb(),
                escalation.clone(),
                biscuit_auth::BlockBuilder::new(),
            ] {
                let hostile = append(token, block);
                let started = std::time::Instant::now();
                for operation in [Operation::Api, Operation::UploadVideo, Operation::Inspect] {
                    assert!(matches!(
                        verifier.verify_access(&hostile, operation),
                        Err(TokenError::Invalid(_))
                    ));
                }
                assert!(matches!(
                    verifier.verify_playback(&hostile, video),
                    Err(TokenError::Invalid(_))
                ));
                assert!(verifier.attenuate_for_upload(&hostile, HOUR).is_err());
                assert!(started.elapsed() < Duration::from_millis(500));
            }
        }
        // Other tests build authorizers concurrently; this one built none of
        // its own only if the counter grew by less than its many refusals.
        assert!(
            authorizers() - before < 12,
            "hostile tokens reached an authorizer"
        );
        // The shape is checked structurally: an upload block whose check
        // allows more is no upload block.
        let wider = biscuit_auth::macros::block!(
            r#"expires(2100-01-01T00:00:00Z);
            check if operation($op), ["upload_video", "inspect", "api"].contains($op);
            check if time($t), $t < 2100-01-01T00:00:00Z;"#
        );
        assert!(matches!(
            verifier.verify_access(&append(&access, wider), Operation::Api),
            Err(TokenError::Invalid(_))
        ));
        // A third-party block is refused too.
        let third_party = KeyPair::new();
        let request = verifier
            .parse(&access)
            .unwrap()
            .third_party_request()
            .unwrap();
        let block = request
            .create_block(&third_party.private(), biscuit_auth::BlockBuilder::new())
            .unwrap();
        let signed = verifier
            .parse(&access)
            .unwrap()
            .append_third_party(third_party.public(), block)
            .unwrap()
            .to_base64()
            .unwrap();
        assert!(matches!(
            verifier.verify_access(&signed, Operation::Api),
            Err(TokenError::Invalid(_))
        ));
        // Absurdly long tokens are not even decoded.
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            verifier.verify_access(&long, Operation::Api),
            Err(TokenError::Invalid(message)) if message.contains("longer")
        ));
    }

    #[test]
    fn client_tokens_carry_their_scopes() {
        let (_dir, issuer) = issuer();
        let owner = Uuid::new_v4();
        let scopes = vec!["videos:write".to_owned(), "videos:read".to_owned()];
        let issued = issuer
            .issue(
                &Grant::Client {
                    client_id: "svc_1",
                    owner_id: owner,
                    scopes: &scopes,
                },
                HOUR,
            )
            .unwrap();
        let claims = issuer
            .verifier()
            .verify_access(&issued.token, Operation::Api)
            .unwrap();
        assert_eq!(claims.revocation_ids, vec![issued.revocation_id]);
        assert_eq!(
            claims.subject,
            Subject::Client {
                client_id: "svc_1".into(),
                owner_id: owner,
                scopes: vec!["videos:read".into(), "videos:write".into()],
            }
        );
        // A client token is no playback token for the origin.
        assert!(issuer
            .verifier()
            .verify_playback(&issued.token, VideoId::new())
            .is_err());
    }

    #[test]
    fn upload_tokens_are_attenuated_access_tokens_good_for_uploads_only() {
        let (_dir, issuer) = issuer();
        let verifier = issuer.verifier();
        let admin = Uuid::new_v4();
        let access = issuer.issue_access(admin, Role::Admin, HOUR).unwrap();
        let upload = verifier
            .attenuate_for_upload(&access, Duration::from_secs(600))
            .unwrap();
        assert!(matches!(
            verifier.verify_access(&upload.token, Operation::Api),
            Err(TokenError::NotAllowed(_))
        ));
        let claims = verifier
            .verify_access(&upload.token, Operation::UploadVideo)
            .unwrap();
        assert_eq!(claims.kind, TokenKind::Attenuated);
        assert_eq!(
            claims.subject,
            Subject::User {
                id: admin,
                role: Role::Admin
            }
        );
        assert_eq!(claims.expires_at, upload.expires_at);
        // Its own revocation id is the appended block's; the parent's comes first.
        let parent = verifier.verify_access(&access, Operation::Api).unwrap();
        assert_eq!(
            claims.own_revocation_id(),
            Some(upload.revocation_id.as_str())
        );
        assert_eq!(claims.revocation_ids[0], parent.revocation_ids[0]);
        verifier
            .verify_access(&upload.token, Operation::Inspect)
            .unwrap();
        // Even an admin's upload token plays nothing.
        assert!(verifier
            .verify_playback(&upload.token, VideoId::new())
            .is_err());
        // It never outlives its parent, and an elapsed one is expired.
        let short = issuer
            .issue_access(admin, Role::Admin, Duration::from_secs(60))
            .unwrap();
        let long = verifier.attenuate_for_upload(&short, HOUR).unwrap();
        let long = verifier
            .verify_access(&long.token, Operation::UploadVideo)
            .unwrap();
        assert!(long.expires_at <= Utc::now() + chrono::Duration::seconds(61));
        let elapsed = verifier
            .attenuate_for_upload(&access, Duration::ZERO)
            .unwrap();
        assert!(matches!(
            verifier.verify_access(&elapsed.token, Operation::UploadVideo),
            Err(TokenError::Expired)
        ));
        // Attenuating something that is not our token fails.
        assert!(verifier.attenuate_for_upload("garbage", HOUR).is_err());
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

    #[test]
    fn roles_parse_only_known_names() {
        for role in [Role::Admin, Role::Uploader, Role::Viewer] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }
}
