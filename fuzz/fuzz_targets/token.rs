//! Token parsing and verification of attacker strings: a raw string as
//! `Authorization: Bearer` or `?token=` carries it, and a token this
//! process issued with an attacker's datalog block appended. Verification
//! never panics or hangs (libFuzzer's `-timeout` catches a slow input), and
//! an appended block never widens what a token speaks for.

#![no_main]

use biscuit_auth::builder::BlockBuilder;
use biscuit_auth::UnverifiedBiscuit;
use goflix_shared::domain::VideoId;
use goflix_shared::token::{
    Operation, PlaybackSession, Role, Subject, TokenIssuer, TokenVerifier,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

const USER: Uuid = Uuid::from_u128(0x0189_0a5d_ac96_774b_bcce_b302_0990_8057);
const VIDEO: Uuid = Uuid::from_u128(0x0189_0a5d_ac96_774b_bcce_b302_0990_8058);
const OPERATIONS: [Operation; 3] = [Operation::Api, Operation::UploadVideo, Operation::Inspect];

/// Tokens a real caller could hold, to append blocks to.
struct Keys {
    verifier: TokenVerifier,
    access: String,
    upload: String,
    playback: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let issuer =
            TokenIssuer::load_or_generate(&dir.path().join("token.key"), &dir.path().join("token.pub"))
                .unwrap();
        let verifier = issuer.verifier();
        let access = issuer
            .issue_access(USER, Role::Uploader, Duration::from_secs(3600))
            .unwrap();
        let upload = verifier
            .attenuate_for_upload(&access, Duration::from_secs(600))
            .unwrap()
            .token;
        let session = PlaybackSession {
            user: USER,
            session: None,
        };
        let (playback, _) = issuer
            .issue_playback(VideoId(VIDEO), &session, Duration::from_secs(3600))
            .unwrap();
        Keys {
            verifier,
            access,
            upload,
            playback,
        }
    })
}

/// Every check a presented token goes through; an accepted access token
/// speaks for the user it was issued to, as the role it was issued with.
fn verify_everywhere(keys: &Keys, token: &str) {
    for operation in OPERATIONS {
        if let Ok(claims) = keys.verifier.verify_access(token, operation) {
            assert_eq!(
                claims.subject,
                Subject::User {
                    id: USER,
                    role: Role::Uploader
                }
            );
        }
    }
    let _ = keys.verifier.verify_playback(token, VideoId(VIDEO));
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 4 {
        0 => verify_everywhere(keys, text),
        base => {
            let token = match base {
                1 => &keys.access,
                2 => &keys.upload,
                _ => &keys.playback,
            };
            let Ok(block) = BlockBuilder::new().code(text) else {
                return;
            };
            let Ok(appended) = UnverifiedBiscuit::from_base64(token)
                .and_then(|t| t.append(block))
                .and_then(|t| t.to_base64())
            else {
                return;
            };
            verify_everywhere(keys, &appended);
        }
    }
});
