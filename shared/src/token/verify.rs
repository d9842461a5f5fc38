//! Verifying tokens with the public keys alone ([`TokenVerifier`]): the
//! length limit, the signature, the structural [`shape`](super::shape)
//! check and the expiry before any datalog runs, then an authorizer under
//! tight [`limits`]; every refusal is counted by reason. Async callers
//! verify on the blocking pool ([`TokenVerifier::run_blocking`]).

use super::keys::VerifyingKeys;
use super::shape::{self, Authority, Shape};
use super::{AccessClaims, Operation, PlaybackClaims, Subject, TokenError, TokenKind};
use crate::domain::VideoId;
use crate::metrics;
use biscuit_auth::macros::authorizer;
use biscuit_auth::{error, AuthorizerBuilder, AuthorizerLimits, Biscuit};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::{Duration, SystemTime};

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

/// Checks tokens with public keys alone (the current one and, during a
/// rotation, the previous one); cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    pub(super) keys: VerifyingKeys,
}

impl TokenVerifier {
    /// Loads the public keys (hex, one a line, as
    /// [`TokenIssuer::load_or_generate`](super::TokenIssuer::load_or_generate)
    /// writes them).
    pub fn load(public_key_file: &Path) -> Result<Self, TokenError> {
        Ok(Self {
            keys: VerifyingKeys::load(public_key_file)?,
        })
    }

    /// Verifies an access token (possibly attenuated) presented for
    /// `operation`: our signature, every block one Goflix makes, not
    /// expired, every appended check passing. Returns who it speaks for and
    /// its revocation ids (which the caller checks against its revocation
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
    pub(super) fn checked(&self, token: &str) -> Result<(Biscuit, Shape), TokenError> {
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
            self.keys.find(id).ok_or(error::Format::UnknownPublicKey)
        })
        .map_err(|e| refused(Refusal::Unverifiable, TokenError::Invalid(e.to_string())))
    }
}

/// Why a token was refused, as `goflix_tokens_refused_total{reason}`
/// counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
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
pub(super) fn refused(reason: Refusal, error: TokenError) -> TokenError {
    metrics::TOKENS_REFUSED.counter(&[reason.label()]).inc();
    error
}

/// The hex revocation ids of every block of `token`, authority first.
pub(super) fn revocation_ids(token: &Biscuit) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{issuer, viewer, HOUR};
    use super::super::{PlaybackSession, Role};
    use super::*;
    use biscuit_auth::KeyPair;
    use uuid::Uuid;

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
}
