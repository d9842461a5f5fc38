//! The optional CDN shared secret (`GOFLIX_ORIGIN_CDN_SECRET`): when set,
//! every `/v/…` request (preflights included) must carry it in
//! `X-Goflix-Cdn-Secret`, so players cannot bypass the CDN and load the
//! origin directly; others get `403 cdn_secret_required`. Health routes are
//! the binary's and are not affected.
//!
//! The comparison is constant-time: the presented value is hashed with
//! SHA-256 and its digest compared with the secret's using `subtle`, so
//! timing reveals neither the secret's bytes nor its length.

use actix_web::http::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The request header a CDN adds to every request it sends to the origin.
pub const HEADER: &str = "x-goflix-cdn-secret";

/// The secret, kept only as its digest.
#[derive(Clone)]
pub struct CdnSecret {
    digest: [u8; 32],
}

impl CdnSecret {
    /// Remembers the digest of `secret`.
    pub fn new(secret: &SecretString) -> Self {
        Self {
            digest: Sha256::digest(secret.expose_secret().as_bytes()).into(),
        }
    }

    /// Whether the request carries the secret, exactly once.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(HEADER);
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(HEADER),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_the_exact_secret_once_is_admitted() {
        let secret = CdnSecret::new(&SecretString::from("s3cret"));
        assert!(secret.admits(&headers(&["s3cret"])));
        for wrong in [
            &[][..],
            &["s3cre"],
            &["s3cret "],
            &["S3CRET"],
            &["s3cret", "s3cret"],
        ] {
            assert!(!secret.admits(&headers(wrong)), "{wrong:?}");
        }
    }
}
