//! In-process token buckets for the endpoints that check secrets (login,
//! token, password reset, sign-up). A refused request gets `429` with
//! `Retry-After`.
//!
//! Guessing an account's secret is throttled per (account, client): the
//! failures one address makes against one account use up that pair's
//! bucket only, so nobody can lock an owner out by failing from elsewhere.
//! Across all addresses, an account's failures only *delay* further
//! attempts, by at most [`MAX_ACCOUNT_DELAY`], and never refuse them. Each
//! address also has a budget of secret checks (the hashing work it may
//! cause) whatever account it names.
//!
//! Clients are keyed by [`ClientKey`]: an IPv4 address, or the /64 network
//! of an IPv6 one (a subscriber holds a whole /64, so per-address keys
//! would hand one client 2^64 buckets). Every table is a bounded
//! [`quick_cache`] (S3-FIFO, O(1) eviction) of at most [`MAX_KEYS`] keys;
//! evicting a key forgets its bucket, and hot (throttled) keys are the last
//! to go. Each process limits on its own; behind N replicas the effective
//! limit is N times higher, which is still a fixed bound. Behind a reverse
//! proxy the client address comes from `X-Forwarded-For` only when the
//! peer is one of `GOFLIX_TRUSTED_PROXIES` ([`TrustedProxies`]).

use crate::error::ApiError;
use actix_web::http::header::HeaderName;
use actix_web::HttpRequest;
use goflix_shared::client_ip::TrustedProxies;
use sha2::{Digest, Sha256};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys one limiter tracks; beyond it, the coldest are evicted.
pub const MAX_KEYS: usize = 100_000;
/// Longest delay an account's failures from other addresses add to a sign-in.
pub const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(2);

/// A bucket size and refill rate.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Time to earn back one request.
    pub every: Duration,
}

impl Rate {
    fn per_sec(self) -> f64 {
        1.0 / self.every.as_secs_f64()
    }
}

/// Where a request comes from, as a rate-limit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 client (IPv4-mapped IPv6 included).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 client's address.
    V6Network(u64),
    /// No peer address (a Unix socket or a test request).
    Unknown,
}

impl From<Option<IpAddr>> for ClientKey {
    fn from(ip: Option<IpAddr>) -> Self {
        match ip {
            None => Self::Unknown,
            Some(IpAddr::V4(v4)) => Self::V4(v4),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Network((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// An account whose secret is presented: the first 128 bits of the SHA-256
/// of its kind and name, so hostile names of any length take 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountKey([u8; 16]);

impl AccountKey {
    /// A user, by normalized e-mail (known or not: limits reveal nothing).
    pub fn user(email: &str) -> Self {
        Self::named("user", email)
    }

    /// A service client, by client id.
    pub fn client(client_id: &str) -> Self {
        Self::named("client", client_id)
    }

    fn named(kind: &str, name: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(kind)
            .chain_update([0])
            .chain_update(name)
            .finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Self(key)
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: f64::from(rate.burst),
            updated: now,
        }
    }

    /// Adds what was earned since the last update, up to the burst.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let earned = now.saturating_duration_since(self.updated).as_secs_f64() * rate.per_sec();
        self.tokens = (self.tokens + earned).min(f64::from(rate.burst));
        self.updated = now;
    }

    /// Time until one token is available (zero when one is).
    fn wait(&self, rate: Rate) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate.per_sec())
        }
    }
}

/// Token buckets under one [`Rate`], keyed by `K`, in a table of bounded size.
#[derive(Debug)]
pub struct Limiter<K> {
    rate: Rate,
    buckets: Mutex<quick_cache::unsync::Cache<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    /// A limiter with `rate` per key, tracking at most [`MAX_KEYS`] keys.
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_KEYS)
    }

    /// A limiter with `rate` per key, tracking at most `capacity` keys.
    pub fn with_capacity(rate: Rate, capacity: usize) -> Self {
        Self {
            rate,
            buckets: Mutex::new(quick_cache::unsync::Cache::new(capacity)),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, quick_cache::unsync::Cache<K, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one request from `key`'s bucket at `now`, or says how long to
    /// wait for the next one.
    pub fn take_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let rate = self.rate;
        let mut table = self.table();
        let fresh = || Ok::<_, ()>(Bucket::full(rate, now));
        let Ok(Some(mut bucket)) = table.get_mut_or_insert_with(key, fresh) else {
            // Not admitted to the table (it cannot be, at unit weight): a
            // key the table does not hold has a full bucket.
            return Ok(());
        };
        bucket.refill(rate, now);
        match bucket.wait(rate) {
            Duration::ZERO => {
                bucket.tokens -= 1.0;
                Ok(())
            }
            wait => Err(wait),
        }
    }

    /// How long a request for `key` would wait at `now`, taking nothing.
    pub fn wait_at(&self, key: &K, now: Instant) -> Duration {
        self.table().peek(key).map_or(Duration::ZERO, |bucket| {
            let mut bucket = *bucket;
            bucket.refill(self.rate, now);
            bucket.wait(self.rate)
        })
    }

    /// Returns one request to `key`'s bucket (one taken that did no work).
    pub fn give_back(&self, key: &K) {
        if let Some(mut bucket) = self.table().peek_mut(key) {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(self.rate.burst));
        }
    }

    /// Forgets `key`'s bucket: it is full again.
    pub fn forget(&self, key: &K) {
        self.table().remove(key);
    }

    /// Keys tracked now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().len()
    }
}

/// How a checked secret turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The secret matched: the client's failures for the account are forgotten.
    Accepted,
    /// The secret did not match: a failure for the pair and the account.
    Rejected,
    /// The secret was never compared (hashing busy, database down): nothing counts.
    Unchecked,
}

/// One admitted attempt at an account's secret from one client; settle it
/// with how it went. An attempt dropped unsettled (the client went away)
/// stays counted against the pair.
#[derive(Debug)]
#[must_use = "settle the attempt with its outcome"]
pub struct SecretAttempt<'a> {
    limits: &'a RateLimits,
    account: AccountKey,
    client: ClientKey,
    delay: Duration,
}

impl SecretAttempt<'_> {
    /// How long to wait before checking the secret: the account's failures
    /// across all addresses slow it down, by at most [`MAX_ACCOUNT_DELAY`].
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Records how the check went.
    pub fn settle(self, outcome: AttemptOutcome) {
        let pair = (self.account, self.client);
        match outcome {
            AttemptOutcome::Accepted => self.limits.failures_per_pair.forget(&pair),
            AttemptOutcome::Rejected => {
                // An empty account bucket stays empty; the delay is capped anyway.
                let _ = self
                    .limits
                    .failures_per_account
                    .take_at(&self.account, Instant::now());
            }
            AttemptOutcome::Unchecked => {
                self.limits.failures_per_pair.give_back(&pair);
                self.limits.checks_per_ip.give_back(&self.client);
            }
        }
    }
}

/// The limits of the secret-checking endpoints.
#[derive(Debug)]
pub struct RateLimits {
    /// Secret checks (password or client-secret attempts) per client.
    checks_per_ip: Limiter<ClientKey>,
    /// Other token-endpoint requests per client (refresh grants, resets).
    token_per_ip: Limiter<ClientKey>,
    /// Attempts at one account's secret from one client; refused when empty.
    failures_per_pair: Limiter<(AccountKey, ClientKey)>,
    /// Failed attempts at one account's secret from anywhere; delays only.
    failures_per_account: Limiter<AccountKey>,
    /// Password-reset requests and sign-ups per client.
    reset_per_ip: Limiter<ClientKey>,
    /// Password-reset requests per e-mail address.
    reset_per_account: Limiter<AccountKey>,
    /// Proxies whose `X-Forwarded-For` names the client.
    proxies: TrustedProxies,
}

impl RateLimits {
    /// The limits, with client addresses read through `proxies`.
    pub fn new(proxies: TrustedProxies) -> Self {
        Self {
            proxies,
            checks_per_ip: Limiter::new(Rate {
                burst: 30,
                every: Duration::from_secs(2),
            }),
            token_per_ip: Limiter::new(Rate {
                burst: 30,
                every: Duration::from_secs(2),
            }),
            failures_per_pair: Limiter::new(Rate {
                burst: 10,
                every: Duration::from_secs(60),
            }),
            failures_per_account: Limiter::new(Rate {
                burst: 20,
                every: Duration::from_secs(5),
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

    /// The rate-limit key of `req`'s client.
    pub fn client_key(&self, req: &HttpRequest) -> ClientKey {
        self.client_ip(req).into()
    }

    /// One token-endpoint request that checks no secret (a refresh grant,
    /// a password reset) from `req`'s client.
    pub fn token_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        take(&self.token_per_ip, &self.client_key(req))
    }

    /// Admits one attempt at `account`'s secret from `client`, or refuses it
    /// (429) when this client failed too often for this account or checked
    /// too many secrets overall.
    pub fn secret_attempt(
        &self,
        account: AccountKey,
        client: ClientKey,
    ) -> Result<SecretAttempt<'_>, ApiError> {
        let now = Instant::now();
        let pair = (account, client);
        self.failures_per_pair
            .take_at(&pair, now)
            .map_err(ApiError::rate_limited)?;
        if let Err(wait) = self.checks_per_ip.take_at(&client, now) {
            self.failures_per_pair.give_back(&pair);
            return Err(ApiError::rate_limited(wait));
        }
        let delay = self
            .failures_per_account
            .wait_at(&account, now)
            .min(MAX_ACCOUNT_DELAY);
        Ok(SecretAttempt {
            limits: self,
            account,
            client,
            delay,
        })
    }

    /// One password-reset request (or sign-up) from `req`'s client.
    pub fn reset_request(&self, req: &HttpRequest) -> Result<(), ApiError> {
        take(&self.reset_per_ip, &self.client_key(req))
    }

    /// One password-reset request for the normalized `email`.
    pub fn reset_for(&self, email: &str) -> Result<(), ApiError> {
        take(&self.reset_per_account, &AccountKey::user(email))
    }
}

fn take<K: Eq + Hash + Clone>(limiter: &Limiter<K>, key: &K) -> Result<(), ApiError> {
    limiter
        .take_at(key, Instant::now())
        .map_err(ApiError::rate_limited)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientKey {
        Some(ip.parse::<IpAddr>().unwrap()).into()
    }

    #[test]
    fn a_bucket_refuses_past_its_burst_and_refills() {
        let limiter = Limiter::new(Rate {
            burst: 3,
            every: Duration::from_secs(10),
        });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take_at(&"a", start).unwrap();
        }
        let wait = limiter.take_at(&"a", start).unwrap_err();
        assert_eq!(wait.as_secs_f64().round(), 10.0);
        assert_eq!(limiter.wait_at(&"a", start).as_secs_f64().round(), 10.0);
        // Other keys have buckets of their own.
        limiter.take_at(&"b", start).unwrap();
        assert_eq!(limiter.wait_at(&"c", start), Duration::ZERO);
        // Half-way through the refill, five seconds remain.
        let wait = limiter
            .take_at(&"a", start + Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(wait.as_secs_f64().round(), 5.0);
        limiter
            .take_at(&"a", start + Duration::from_secs(10))
            .unwrap();
        // A long pause refills up to the burst, no further.
        let later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            limiter.take_at(&"a", later).unwrap();
        }
        assert!(limiter.take_at(&"a", later).is_err());
        limiter.give_back(&"a");
        limiter.take_at(&"a", later).unwrap();
        limiter.forget(&"a");
        limiter.take_at(&"a", later).unwrap();
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_bit_network() {
        assert_eq!(
            client("2001:db8:1:2:aaaa::1"),
            client("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(client("2001:db8:1:2::1"), client("2001:db8:1:3::1"));
        assert_eq!(
            client("2001:db8:1:2::1"),
            ClientKey::V6Network(0x2001_0db8_0001_0002)
        );
        // IPv4-mapped IPv6 is the IPv4 address, whatever the socket family.
        assert_eq!(client("::ffff:192.0.2.7"), client("192.0.2.7"));
        assert_ne!(client("192.0.2.7"), client("192.0.2.8"));
        assert_eq!(ClientKey::from(None), ClientKey::Unknown);
    }

    #[test]
    fn a_whole_64_shares_one_bucket() {
        let limits = RateLimits::new(TrustedProxies::default());
        let account = AccountKey::user("owner@example.com");
        for host in 1..=10 {
            let attempt = limits
                .secret_attempt(account, client(&format!("2001:db8::{host:x}")))
                .unwrap();
            attempt.settle(AttemptOutcome::Rejected);
        }
        assert!(limits
            .secret_attempt(account, client("2001:db8::ffff:1"))
            .is_err());
        limits
            .secret_attempt(account, client("2001:db8:0:1::1"))
            .unwrap()
            .settle(AttemptOutcome::Accepted);
    }

    #[test]
    fn the_table_never_exceeds_its_cap_and_evicts_in_constant_time() {
        const CAP: usize = 1_000;
        let limiter = Limiter::with_capacity(
            Rate {
                burst: 2,
                every: Duration::from_secs(60),
            },
            CAP,
        );
        let now = Instant::now();
        // A hot key, throttled and asked for over and over, survives a flood.
        limiter.take_at(&u32::MAX, now).unwrap();
        limiter.take_at(&u32::MAX, now).unwrap();
        let started = Instant::now();
        for key in 0..200_000u32 {
            limiter.take_at(&key, now).unwrap();
            if key % 100 == 0 {
                assert!(limiter.take_at(&u32::MAX, now).is_err());
            }
            assert!(limiter.len() <= CAP, "{} keys", limiter.len());
        }
        // Linear eviction (scanning the table per new key) takes minutes here.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(limiter.take_at(&u32::MAX, now).is_err());
    }

    #[test]
    fn failures_throttle_the_pair_and_only_delay_the_account() {
        let limits = RateLimits::new(TrustedProxies::default());
        let owner = AccountKey::user("owner@example.com");
        let attacker = client("203.0.113.66");
        let mut refused = 0;
        for _ in 0..12 {
            match limits.secret_attempt(owner, attacker) {
                Ok(attempt) => attempt.settle(AttemptOutcome::Rejected),
                Err(ApiError::RateLimited { retry_after_secs }) => {
                    assert!(retry_after_secs >= 1);
                    refused += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(refused, 2);
        // The owner from elsewhere, another account from the attacker's address.
        let home = limits
            .secret_attempt(owner, client("198.51.100.1"))
            .unwrap();
        assert_eq!(home.delay(), Duration::ZERO);
        home.settle(AttemptOutcome::Accepted);
        limits
            .secret_attempt(AccountKey::user("other@example.com"), attacker)
            .unwrap()
            .settle(AttemptOutcome::Rejected);
        // Failures from many addresses slow the account, never refuse it.
        for host in 0..100u8 {
            limits
                .secret_attempt(owner, client(&format!("192.0.2.{host}")))
                .unwrap()
                .settle(AttemptOutcome::Rejected);
        }
        let fresh = limits
            .secret_attempt(owner, client("198.51.100.2"))
            .unwrap();
        assert!(fresh.delay() > Duration::ZERO && fresh.delay() <= MAX_ACCOUNT_DELAY);
        fresh.settle(AttemptOutcome::Unchecked);
        // A client's failures are forgotten once it signs in.
        let pair = (owner, client("192.0.2.1"));
        limits
            .failures_per_pair
            .take_at(&pair, Instant::now())
            .unwrap();
        limits
            .secret_attempt(owner, client("192.0.2.1"))
            .unwrap()
            .settle(AttemptOutcome::Accepted);
        assert_eq!(
            limits.failures_per_pair.wait_at(&pair, Instant::now()),
            Duration::ZERO
        );
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
