//! In-process token buckets for the endpoints that check secrets (login,
//! token, password reset): one set keyed by client IP, one by account, so
//! neither one address guessing many passwords nor many addresses guessing
//! one account's get far. A refused request gets `429` with `Retry-After`.
//! Each process limits on its own; behind N replicas the effective limit
//! is N times higher, which is still a fixed bound.

use crate::error::ApiError;
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
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
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
}

impl RateLimits {
    /// One token-endpoint request from `ip`.
    pub fn token_request(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.token_per_ip.take(&ip_key(ip))
    }

    /// One attempt at `account`'s secret (an e-mail or `client:<id>`),
    /// counted whether or not the account exists.
    pub fn account_attempt(&self, account: &str) -> Result<(), ApiError> {
        self.token_per_account.take(account)
    }

    /// One password-reset request (or sign-up) from `ip`.
    pub fn reset_request(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.reset_per_ip.take(&ip_key(ip))
    }

    /// One password-reset request for `email`.
    pub fn reset_for(&self, email: &str) -> Result<(), ApiError> {
        self.reset_per_account.take(email)
    }
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
}
