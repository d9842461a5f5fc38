//! In-process token buckets for the endpoints that check secrets (login,
//! token, password reset): one set keyed by client IP, one by account, so
//! neither one address guessing many passwords nor many addresses guessing
//! one account's get far. A refused request gets `429` with `Retry-After`.
//! Each process limits on its own; behind N replicas the effective limit
//! is N times higher, which is still a fixed bound. Behind a reverse proxy
//! the client address comes from `X-Forwarded-For` only when the peer is
//! one of `GOFLIX_TRUSTED_PROXIES` ([`TrustedProxies`]).

use crate::error::ApiError;
use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;
use goflix_shared::client_ip::TrustedProxies;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys one limiter tracks; beyond it, full (idle) buckets are dropped.
const MAX_KEYS: usize = 100_000;
/// Longest key kept (an e-mail address is at most 254 characters).
const MAX_KEY_CHARS: usize = 256;

/// A bucket size and refill rate.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Time to earn back one request.
    pub every: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets under one [`Rate`], keyed by string.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// A limiter with `rate` per key.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `key`'s bucket at `now`, or says how long to
    /// wait for the next one.
    pub fn take_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst);
        let per_sec = 1.0 / self.rate.every.as_secs_f64();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_sec < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let earned = now.saturating_duration_since(bucket.updated).as_secs_f64() * per_sec;
        bucket.tokens = (bucket.tokens + earned).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }

    /// Like [`Limiter::take_at`] now; keys are cut to [`MAX_KEY_CHARS`] so
    /// hostile input cannot grow the table's memory much.
    fn take(&self, key: &str) -> Result<(), ApiError> {
        let key: String = key.chars().take(MAX_KEY_CHARS).collect();
        self.take_at(&key, Instant::now())
            .map_err(ApiError::rate_limited)
    }
}

/// The limits of the secret-checking endpoints.
#[derive(Debug)]
pub struct RateLimits {
    /// Token endpoint requests per client IP.
    token_per_ip: Limiter,
    /// Password and client-credential attempts per account or client.
    token_per_account: Limiter,
    /// Password-reset requests and sign-ups per client IP.
    reset_per_ip: Limiter,
    /// Password-reset requests per e-mail address.
    reset_per_account: Limiter,
    /// Proxies whose `X-Forwarded-For` names the client.
    proxies: TrustedProxies,
}

impl RateLimits {
    /// The limits, with client addresses read through `proxies`.
    pub fn new(proxies: TrustedProxies) -> Self {
        Self {
            proxies,
            token_per_ip: Limiter::new(Rate {
                burst: 30,
                every: Duration::from_secs(2),
            }),
            token_per_account: Limiter::new(Rate {
                burst: 10,
                every: Duration::from_secs(60),
            }),
            reset_per_ip: Limiter::new(Rate {
                burst: 10,
                every: Duration::from_secs(60),
            }),
            reset_per_account: Limiter::new(Rate {
                burst: 3,
                every: Duration::from_secs(300),
            }),
        }
    }

    /// The client address of `req`: the peer, or the hop a trusted proxy names.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded_for = forwarded_for(req);
        self.proxies
            .client(req.peer_addr().map(|a| a.ip()), forwarded_for.as_deref())
    }

    /// One token-endpoint request from `req`'s client.
    pub fn token_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.token_per_ip.take(&ip_key(self.client_ip(req)))
    }

    /// One attempt at `account`'s secret (an e-mail or `client:<id>`),
    /// counted whether or not the account exists.
    pub fn account_attempt(&self, account: &str) -> Result<(), ApiError> {
        self.token_per_account.take(account)
    }

    /// One password-reset request (or sign-up) from `req`'s client.
    pub fn reset_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.reset_per_ip.take(&ip_key(self.client_ip(req)))
    }

    /// One password-reset request for `email`.
    pub fn reset_for(&self, email: &str) -> Result<(), ApiError> {
        self.reset_per_account.take(email)
    }
}

/// Every `X-Forwarded-For` line of `req` joined in order; `None` when absent
/// or not text (a non-text value is ignored like a missing one).
fn forwarded_for(req: &HttpRequest) -> Option<String> {
    let name = HeaderName::from_static("x-forwarded-for");
    let values: Option<Vec<&str>> = req
        .headers()
        .get_all(&name)
        .map(|v| v.to_str().ok())
        .collect();
    values.filter(|v| !v.is_empty()).map(|v| v.join(","))
}

fn ip_key(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_past_its_burst_and_refills() {
        let limiter = Limiter::new(Rate {
            burst: 3,
            every: Duration::from_secs(10),
        });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take_at("a", start).unwrap();
        }
        let wait = limiter.take_at("a", start).unwrap_err();
        assert_eq!(wait.as_secs_f64().round(), 10.0);
        // Other keys have buckets of their own.
        limiter.take_at("b", start).unwrap();
        // Half-way through the refill, five seconds remain.
        let wait = limiter
            .take_at("a", start + Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(wait.as_secs_f64().round(), 5.0);
        limiter
            .take_at("a", start + Duration::from_secs(10))
            .unwrap();
        // A long pause refills up to the burst, no further.
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            limiter.take_at("a", later).unwrap();
        }
        assert!(limiter.take_at("a", later).is_err());
    }

    #[test]
    fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
        use actix_web::test::TestRequest;
        let limits = RateLimits::new(TrustedProxies::parse("10.0.0.0/8").unwrap());
        let via_proxy = TestRequest::default()
            .peer_addr("10.1.2.3:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6"))
            .append_header(("X-Forwarded-For", "203.0.113.9"))
            .to_http_request();
        assert_eq!(
            limits.client_ip(&via_proxy),
            Some("203.0.113.9".parse().unwrap())
        );
        let direct = TestRequest::default()
            .peer_addr("198.51.100.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9"))
            .to_http_request();
        assert_eq!(
            limits.client_ip(&direct),
            Some("198.51.100.1".parse().unwrap())
        );
        // Two clients behind the same proxy get buckets of their own.
        for _ in 0..30 {
            limits.token_request(&via_proxy).unwrap();
        }
        assert!(limits.token_request(&via_proxy).is_err());
        let other = TestRequest::default()
            .peer_addr("10.1.2.3:4001".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.10"))
            .to_http_request();
        limits.token_request(&other).unwrap();
    }
}
