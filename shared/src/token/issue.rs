//! Issuing tokens: the control plane's [`TokenIssuer`] signs access
//! tokens (users' and service clients') and playback tokens, and any
//! verifier attenuates an access token into an upload token
//! ([`TokenVerifier::attenuate_for_upload`]).

use super::keys::SigningKeys;
use super::shape::Authority;
use super::verify::{refused, revocation_ids, Refusal};
use super::{Grant, Issued, PlaybackSession, TokenError, TokenVerifier};
use crate::domain::{Role, VideoId};
use biscuit_auth::builder::BiscuitBuilder;
use biscuit_auth::macros::biscuit;
use biscuit_auth::{error, Biscuit};
use chrono::{DateTime, Utc};
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Signs tokens; held by the control plane only.
pub struct TokenIssuer {
    keys: SigningKeys,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("public_key", &self.keys.pair.public().to_bytes_hex())
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
        Ok(Self {
            keys: SigningKeys::load_or_generate(private_key_file, public_key_file)?,
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
        let token = self.sign(expiring(builder, expires)?)?;
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
        let builder = expiring(builder, expires)?
            .check(biscuit_auth::macros::check!(
                "check if requested_video({requested})"
            ))
            .map_err(issue_error)?;
        let token = self.sign(builder)?.to_base64().map_err(issue_error)?;
        Ok((token, expires_at))
    }

    /// `builder` signed with the current key, which it names by its root
    /// key id.
    fn sign(&self, builder: BiscuitBuilder) -> Result<Biscuit, TokenError> {
        builder
            .root_key_id(self.keys.key_id())
            .build(&self.keys.pair)
            .map_err(issue_error)
    }

    /// A verifier for the tokens this issuer signs, and for those its
    /// previous key signed.
    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier {
            keys: self.keys.verifying(),
        }
    }
}

impl TokenVerifier {
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

/// `builder` with the authority block's `expires` fact and the check that
/// enforces it (the first check, as [`super::shape`] expects).
fn expiring(builder: BiscuitBuilder, expires: SystemTime) -> Result<BiscuitBuilder, TokenError> {
    builder
        .fact(biscuit_auth::macros::fact!("expires({expires})"))
        .and_then(|b| {
            b.check(biscuit_auth::macros::check!(
                "check if time($t), $t < {expires}"
            ))
        })
        .map_err(issue_error)
}

fn issue_error(e: error::Token) -> TokenError {
    TokenError::Issue(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{issuer, HOUR};
    use super::super::{Operation, Subject, TokenError, TokenKind};
    use super::*;
    use crate::domain::Scope;

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

    #[test]
    fn client_tokens_carry_their_scopes() {
        let (_dir, issuer) = issuer();
        let owner = Uuid::new_v4();
        let scopes = vec![Scope::VideosWrite, Scope::VideosRead];
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
                scopes: vec![Scope::VideosRead, Scope::VideosWrite],
            }
        );
        // A client token is no playback token for the origin.
        assert!(issuer
            .verifier()
            .verify_playback(&issued.token, VideoId::new())
            .is_err());
    }

    #[test]
    fn scope_names_this_version_does_not_know_grant_nothing() {
        let (_dir, issuer) = issuer();
        let owner_id = Uuid::new_v4();
        let owner = owner_id.to_string();
        let builder = biscuit!(
            r#"
            kind("access");
            client("svc_1");
            owner({owner});
            scope("videos:read");
            scope("videos:delete");
            "#
        );
        let (expires, _) = expiry(HOUR);
        let token = issuer
            .sign(expiring(builder, expires).unwrap())
            .unwrap()
            .to_base64()
            .unwrap();
        let claims = issuer
            .verifier()
            .verify_access(&token, Operation::Api)
            .unwrap();
        assert_eq!(
            claims.subject,
            Subject::Client {
                client_id: "svc_1".into(),
                owner_id,
                scopes: vec![Scope::VideosRead],
            }
        );
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
}
