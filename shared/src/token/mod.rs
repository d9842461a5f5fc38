//! Tokens: what they grant, and the API that issues and verifies them.
//! Tokens are ed25519-signed [biscuits](https://www.biscuitsec.org/);
//! roles and scopes are the domain's ([`Role`] is re-exported here, client
//! scopes are [`crate::domain::Scope`]). The control plane holds the
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
//!
//! The work is split by concern: `keys` (key files and rotation), `issue`
//! (issuing and attenuation), `verify` (verification, limits and the
//! blocking pool) and `shape` (the structural check before any datalog).

mod issue;
mod keys;
mod shape;
#[cfg(test)]
mod testing;
mod verify;

pub use crate::domain::Role;
pub use issue::TokenIssuer;
pub use verify::{TokenVerifier, MAX_TOKEN_LEN};

use crate::domain::Scope;
use chrono::{DateTime, Utc};
use std::io;
use std::path::PathBuf;
use uuid::Uuid;

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
        /// Granted scopes, sorted; scope names this version does not know
        /// grant nothing and are left out.
        scopes: Vec<Scope>,
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
        scopes: &'a [Scope],
    },
}
