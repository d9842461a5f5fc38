//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes).
//! Hashing runs on the blocking pool so it never stalls an HTTP worker, and
//! verification of an unknown user runs against a dummy hash, so "no such
//! user" and "wrong password" look the same from outside, timing included.

use crate::error::ApiError;
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password (bounds hashing work).
pub const MAX_PASSWORD_LEN: usize = 1024;

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash of a random password with the same parameters as real ones.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 16]>());
        hash_now(&random).expect("hashing a random password succeeds")
    })
}

/// Hashes `password` after checking its length.
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("passwords need at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("passwords are at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Whether `password` matches `stored`; with no stored hash (unknown user)
/// the same work is done against a dummy hash and the answer is `false`.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool, ApiError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let phc = hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", Some(phc.clone())).await.unwrap());
        assert!(!verify("wrong horse", Some(phc)).await.unwrap());
        assert!(!verify("correct horse", None).await.unwrap());
        assert!(hash("short").await.is_err());
    }
}
